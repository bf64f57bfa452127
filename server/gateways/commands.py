"""Commands to gateways: queued as rows by anyone (staff via the API, the re-read job) and
taken for sending by :mod:`server.gateways.dispatch`; closed by the result the gateway
sends back (:func:`record_result`, called through :mod:`.results`), or marked expired by
:func:`expire` when no answer came within the time to live.

What a gateway is asked is bounded here: a command carries at most
:data:`~protocols.wire.MAX_COMMAND_ITEMS` items, a backfill asks each meter-day once, and
(given the utility's ``today``) only days the meters still keep: yesterday back to
:data:`~protocols.vocabulary.FREEZE_HISTORY_DAYS` days ago."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

import psycopg

from protocols import wire
from protocols.vocabulary import CURVE_HISTORY_DAYS, FREEZE_HISTORY_DAYS

from ..audit import record_command, record_commands
from ..db.queries import gateways as q

_CHECK_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


class OutgoingCommand(NamedTuple):
    """A command taken for sending: its id, its gateway and the encoded payload."""

    id: str
    gateway: str
    payload: bytes


class CommandRefused(ValueError):
    """A command the server will not queue; the message says why (the API answers 422)."""


def backfill_window(today: date) -> tuple[date, date]:
    """The oldest and newest data dates a backfill may ask for: the meters keep the daily
    freezes of the last :data:`FREEZE_HISTORY_DAYS` days, and today's is not frozen yet."""
    return date.fromordinal(today.toordinal() - FREEZE_HISTORY_DAYS), date.fromordinal(
        today.toordinal() - 1
    )


def curve_window(today: date) -> tuple[date, date]:
    """The oldest and newest local days a curve re-read (backfill_curve) may ask for: the
    DL/T 698.45 meters' minute freeze keeps :data:`CURVE_HISTORY_DAYS` days, and today's
    curve is not whole yet."""
    return date.fromordinal(today.toordinal() - CURVE_HISTORY_DAYS), date.fromordinal(
        today.toordinal() - 1
    )


def checked_backfill(
    args: Mapping[str, Any],
    *,
    today: date | None,
    name: wire.CommandName = wire.CommandName.BACKFILL,
) -> dict[str, Any]:
    """A backfill's (or backfill_curve's) arguments as they will be sent: every item valid,
    within the history (when ``today`` is given: the daily freezes' for a backfill, the
    minute freeze's for a curve), each meter-day once in first-seen order. Raises WireError
    for malformed or too many items, CommandRefused for a day outside the history."""
    items = args.get("items")
    if isinstance(items, list) and len(items) > wire.MAX_COMMAND_ITEMS:
        raise CommandRefused(
            f"args.items: {len(items)} meter-days exceed the limit of "
            f"{wire.MAX_COMMAND_ITEMS} per command; split the work into several commands"
        )
    parsed = wire.Command("check", name, _CHECK_STAMP, args).backfill_items()
    if today is not None:
        curve = name is wire.CommandName.BACKFILL_CURVE
        oldest, newest = curve_window(today) if curve else backfill_window(today)
        history = (
            f"{CURVE_HISTORY_DAYS}-day curve (minute freeze) history"
            if curve
            else f"{FREEZE_HISTORY_DAYS}-day freeze history"
        )
        for i, it in enumerate(parsed):
            if not oldest <= it.date <= newest:
                raise CommandRefused(
                    f"args.items[{i}].date: {it.date} is outside the meters' {history} "
                    f"({oldest} to {newest}, today being {today})"
                )
    unique = dict.fromkeys((it.meter, it.date) for it in parsed)
    return {"items": [{"meter": m, "date": d.isoformat()} for m, d in unique]}


def queue_command(
    conn: psycopg.Connection[Any],
    *,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    requested_by: str,
    command_id: str | None = None,
    today: date | None = None,
) -> str:
    """Insert a pending command after checking it against the wire contract; a backfill is
    also checked by :func:`checked_backfill` (its days against the history only when the
    caller passes the utility's ``today``; the re-read job picks days inside it itself).
    Audited: as ``requested_by``, or as the system when a scheduled job asks (its name in
    the row)."""
    cmd = prepare_command(
        gateway_id=gateway_id, name=name, args=args, command_id=command_id, today=today
    )
    q.insert_command(
        conn,
        command_id=cmd.id,
        gateway_id=gateway_id,
        name=name,
        args=cmd.args,
        requested_by=requested_by,
    )
    record_command(
        conn, actor=requested_by, command_id=cmd.id, gateway=gateway_id, name=name, args=cmd.args
    )
    return cmd.id


class PreparedCommand(NamedTuple):
    """A command checked against the wire contract, not stored yet."""

    id: str
    gateway: str
    name: str
    args: dict[str, Any]


def prepare_command(
    *,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    command_id: str | None = None,
    today: date | None = None,
) -> PreparedCommand:
    """The checks of :func:`queue_command` without the writing: the command as it will be
    stored (a backfill's items checked and each meter-day once). Raises WireError or
    CommandRefused as :func:`queue_command` does."""
    cmd_id = command_id or uuid.uuid4().hex
    wire.check_gateway_id(gateway_id)
    if name in wire.BACKFILL_COMMANDS:
        args = checked_backfill(args, today=today, name=wire.CommandName(name))
    # The command's time on the wire is its row's created_at (set by take_pending); the check
    # needs only the name and arguments, so any valid instant stands in here.
    cmd = wire.Command(cmd_id, wire.CommandName(name), _CHECK_STAMP, args)
    wire.encode_command(cmd)  # raises WireError for bad arguments
    return PreparedCommand(cmd_id, gateway_id, name, args)


def queue_prepared(
    conn: psycopg.Connection[Any], commands: list[PreparedCommand], *, requested_by: str
) -> None:
    """Store commands made by :func:`prepare_command` and their audit rows (one each, as
    :func:`queue_command` writes them), in one statement for the commands and one for the
    audit rows, whatever their number."""
    if not commands:
        return
    q.insert_commands(
        conn, [(c.id, c.gateway, c.name, c.args) for c in commands], requested_by=requested_by
    )
    record_commands(
        conn, actor=requested_by, commands=[(c.id, c.gateway, c.name, c.args) for c in commands]
    )


def take_pending(conn: psycopg.Connection[Any], limit: int = 100) -> list[OutgoingCommand]:
    """Pending commands, encoded, marked sent (in the caller's transaction)."""
    out = []
    for cmd in q.lock_pending_commands(conn, limit=limit):
        payload = wire.encode_command(
            wire.Command(cmd.id, wire.CommandName(cmd.name), cmd.created_at, cmd.args)
        )
        out.append(OutgoingCommand(cmd.id, cmd.gateway_id, payload))
        q.mark_command_sent(conn, command_id=cmd.id)
    return out


def record_result(conn: psycopg.Connection[Any], gateway: str, res: wire.CommandResult) -> bool:
    """Close a command with its result (see :func:`~server.db.queries.gateways.finish_command`
    for which answer stands); False when no such command of this gateway exists. A backfill
    the gateway calls done is recorded by what it read: none of its meter-days is an
    ``error``, some of them ``partial``, all ``ok``."""
    outcome, error = backfill_outcome(res)
    return (
        q.finish_command(
            conn,
            command_id=res.id,
            gateway_id=gateway,
            ok=res.ok,
            finished_at=res.finished_at,
            result=dict(res.result),
            error=error,
            duplicate=wire.is_duplicate_answer(res),
            outcome=outcome,
        )
        is not q.Finish.UNKNOWN
    )


def backfill_outcome(res: wire.CommandResult) -> tuple[str | None, str | None]:
    """The status a successful backfill (or backfill_curve) answer deserves and the error
    text to store: the edge answers ``{"read": n, "failed": [...]}`` (or ``failed_count``
    when the detail did not fit); None for any other answer (its ``ok`` decides). An edge
    older than curve re-reads refuses backfill_curve as a command it does not know: its
    error is stored saying so."""
    if not res.ok and res.command == wire.CommandName.BACKFILL_CURVE.value:
        if res.error is not None and OLD_EDGE_REFUSAL in res.error:
            return None, (
                "the gateway's edge agent predates curve re-reads (曲线补抄) and refused "
                f"the command: update the agent. Its answer: {res.error}"
            )
    if not res.ok or res.command not in wire.BACKFILL_COMMANDS:
        return None, res.error
    r = res.result
    read = r.get("read")
    failed = r.get("failed")
    n_failed = len(failed) if isinstance(failed, list) else r.get("failed_count")
    if not isinstance(read, int) or not isinstance(n_failed, int) or n_failed <= 0:
        return None, res.error
    asked = read + n_failed
    if read <= 0:
        return "error", f"read 0 of {asked} meter-days"
    return "partial", f"read {read} of {asked} meter-days"


#: Line time a gateway may take per backfill item before its command counts as unanswered:
#: a DL/T 645-2007 freeze read is about three transactions of ~50 bytes, 0.23 s each on the
#: line at 2400 baud plus the meter's turnaround, so about 0.85 s (a 10,000-item backfill is
#: hours of work on one bus and must not be called expired while it runs).
BACKFILL_ITEM_ALLOWANCE_S = 1.0
#: The same for a backfill_curve item (a meter's day of 15-minute curve): four record reads
#: whose replies carry 96 points of the interval quantities, about 6.7 KB on the line for the
#: default quantities (measured on the simulated line: 6,400 bytes answered, 344 asked), 31 s
#: at 2400 baud 8E1; 45 s leaves room for turnarounds and a few more quantities.
CURVE_ITEM_ALLOWANCE_S = 45.0
#: What an edge that predates backfill_curve answers it: the command name is not one it knows.
OLD_EDGE_REFUSAL = "command: 'backfill_curve' is not one of"


def expire(conn: psycopg.Connection[Any], *, now: datetime, ttl_s: float) -> list[str]:
    """Mark expired the commands unanswered ``ttl_s`` after sending (a backfill also gets
    :data:`BACKFILL_ITEM_ALLOWANCE_S` per item, a backfill_curve
    :data:`CURVE_ITEM_ALLOWANCE_S`); returns their ids."""
    return q.expire_commands(
        conn,
        now=now,
        ttl_s=ttl_s,
        per_item_s=BACKFILL_ITEM_ALLOWANCE_S,
        per_curve_item_s=CURVE_ITEM_ALLOWANCE_S,
    )
