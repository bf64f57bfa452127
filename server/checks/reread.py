"""Automatic re-reading (补抄): failed meter-days still inside the meters' 62-day freeze
history become ``backfill`` commands to their concentrators, tracked to their results.
Only meters of :data:`~protocols.vocabulary.REREADABLE_PROTOCOLS` are asked (DL/T
645-2007 and DL/T 698.45 keep a freeze history; the others cannot give a day back).
The daily job covers the whole history, oldest day first (the oldest days leave the meters'
history first: asked now or never; the newer ones are still there at the next runs). Never a
flood: at most ``per_gateway`` meter-days per gateway per run, no meter-day asked twice, and
no new automatic request to a gateway whose previous one is still unanswered. A staff request
always queues what it asks that is not already pending (a new command, beside the pending
one) and says per gateway what was requested and what was already pending. Each gateway's
request is its own savepoint: one gateway whose archive record cannot make a command (an id
outside the wire's grammar, stored before the archive checked it) is logged and skipped,
and every other gateway is still asked."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import psycopg

from protocols.vocabulary import (
    CURVE_HISTORY_DAYS,
    CURVE_REREADABLE_PROTOCOLS,
    FREEZE_HISTORY_DAYS,
    REREADABLE_PROTOCOLS,
)
from server.db import curve_points
from server.gateways.commands import (
    PreparedCommand,
    prepare_command,
    queue_command,
    queue_prepared,
)

log = logging.getLogger(__name__)

HISTORY_DAYS = FREEZE_HISTORY_DAYS  # the meters' daily-freeze depth (DL/T 645 0506xxnn)
CURVE_DAYS = CURVE_HISTORY_DAYS  # the DL/T 698.45 meters' minute-freeze (5002) depth
#: The protocols' names as the archive stores them, for SQL: the one table each, here.
REREADABLE = sorted(map(str, REREADABLE_PROTOCOLS))
CURVE_REREADABLE = sorted(map(str, CURVE_REREADABLE_PROTOCOLS))


def missing_meter_days(
    conn: psycopg.Connection[Any], start: date, end: date
) -> list[tuple[str, str, date]]:
    """(meter, gateway, day) due and unread, oldest first, not yet requested."""
    return [
        (m, g, d)
        for m, g, d in conn.execute(
            """
        SELECT m.id, m.gateway_id, d::date
        FROM meters m CROSS JOIN generate_series(%(s)s::date, %(e)s::date, '1 day') d
        WHERE m.gateway_id IS NOT NULL AND m.protocol = ANY(%(rereadable)s)
          AND m.installed_on <= d::date AND (m.removed_on IS NULL OR m.removed_on > d::date)
          AND NOT EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                          AND f.data_date = d::date AND f.quantity = 'energy_import_total')
          AND NOT EXISTS (SELECT 1 FROM reread_requests r WHERE r.meter_id = m.id
                          AND r.data_date = d::date)
        ORDER BY d, m.gateway_id, m.id""",
            {"s": start, "e": end, "rereadable": REREADABLE},
        )
    ]


@dataclass
class Requested:
    """What a request did, per gateway: meter-days queued now, and meter-days left alone
    because an earlier command still asks for them."""

    requested: dict[str, int] = field(default_factory=dict)
    already_pending: dict[str, int] = field(default_factory=dict)


def request(
    conn: psycopg.Connection[Any],
    items: list[tuple[str, str, date]],
    *,
    requested_by: str,
    per_gateway: int,
    beside_pending: bool = False,
) -> Requested:
    """Queue backfill commands for ``items``. The automatic job (``beside_pending`` False)
    asks nothing of a gateway that has a backfill still unanswered; staff requests
    (``beside_pending`` True) queue a new command beside it for the meter-days it does not
    already ask for. A meter-day whose earlier command is still pending is never asked again
    and never loses the record of that request."""
    by_gw = _by_gateway(items)
    try:
        with conn.transaction():
            return _request_all(
                conn,
                by_gw,
                requested_by=requested_by,
                per_gateway=per_gateway,
                beside_pending=beside_pending,
            )
    except Exception as exc:  # a record the set statements trip on: gateway by gateway
        log.warning("re-read request in one pass failed (%s); asking gateway by gateway", exc)
    return _request_each(
        conn,
        by_gw,
        requested_by=requested_by,
        per_gateway=per_gateway,
        beside_pending=beside_pending,
    )


def _by_gateway(items: list[tuple[str, str, date]]) -> dict[str, list[tuple[str, date]]]:
    by_gw: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for meter, gw, day in items:
        by_gw[gw].append((meter, day))
    return by_gw


def _request_all(
    conn: psycopg.Connection[Any],
    by_gw: dict[str, list[tuple[str, date]]],
    *,
    requested_by: str,
    per_gateway: int,
    beside_pending: bool,
) -> Requested:
    """:func:`request` for every gateway at once: one query for the meter-days already
    pending (and, for the job, the gateways still busy), then every command in one
    statement, their audit rows in one and the request records in one, whatever the number
    of gateways (a staff list of 10,000 meter-days can reach thousands of concentrators).
    A gateway whose command fails the wire checks is logged and skipped, as
    :func:`_request_each` does."""
    out = Requested()
    every = [p for pairs in by_gw.values() for p in pairs]
    pending = _pending(conn, every)
    busy: set[str] = set() if beside_pending else _busy(conn, sorted(by_gw))
    commands: list[PreparedCommand] = []
    asked: list[tuple[str, date, str, str]] = []
    for gw, pairs in sorted(by_gw.items()):
        held = [p for p in pairs if p in pending]
        fresh = [p for p in pairs if p not in pending]
        take = [] if gw in busy else fresh[:per_gateway]
        if take:
            try:
                cmd = prepare_command(gateway_id=gw, name="backfill", args=_backfill_args(take))
            except ValueError as exc:  # WireError, CommandRefused
                log.warning("re-read request to gateway %r skipped: %s", gw, exc)
                continue
            commands.append(cmd)
            asked.extend((m, d, gw, cmd.id) for m, d in take)
            out.requested[gw] = len(take)
        if held:
            out.already_pending[gw] = len(held)
    queue_prepared(conn, commands, requested_by=requested_by)
    _record(conn, asked, requested_by=requested_by)
    return out


def _request_each(
    conn: psycopg.Connection[Any],
    by_gw: dict[str, list[tuple[str, date]]],
    *,
    requested_by: str,
    per_gateway: int,
    beside_pending: bool,
) -> Requested:
    """:func:`request` gateway by gateway, each in its own savepoint (the fallback when the
    one-pass statements fail: one bad record then costs only its gateway)."""
    out = Requested()
    for gw, pairs in sorted(by_gw.items()):
        try:
            with conn.transaction():
                pending = _pending(conn, pairs)
                fresh = [p for p in pairs if p not in pending]
                n = _request_one(
                    conn,
                    gw,
                    fresh,
                    requested_by=requested_by,
                    per_gateway=per_gateway,
                    beside_pending=beside_pending,
                )
        except Exception as exc:  # one bad record never stops the utility-wide job
            log.warning("re-read request to gateway %r skipped: %s", gw, exc)
            continue
        if n:
            out.requested[gw] = n
        if pending:
            out.already_pending[gw] = len(pending)
    return out


def _pending(conn: psycopg.Connection[Any], pairs: list[tuple[str, date]]) -> set[tuple[str, date]]:
    """The meter-days of ``pairs`` an unanswered backfill command already asks for."""
    rows = conn.execute(
        "SELECT r.meter_id, r.data_date FROM reread_requests r "
        "JOIN gateway_commands c ON c.id = r.command_id "
        "JOIN unnest(%s::text[], %s::date[]) AS x(m, d) ON x.m = r.meter_id "
        "AND x.d = r.data_date WHERE c.status IN ('pending', 'sent')",
        ([m for m, _ in pairs], [d for _, d in pairs]),
    ).fetchall()
    return {(m, d) for m, d in rows}


def _request_one(
    conn: psycopg.Connection[Any],
    gw: str,
    pairs: list[tuple[str, date]],
    *,
    requested_by: str,
    per_gateway: int,
    beside_pending: bool,
) -> int:
    if not pairs:
        return 0
    if not beside_pending and _busy(conn, [gw]):
        return 0
    take = pairs[:per_gateway]
    cmd = queue_command(
        conn,
        gateway_id=gw,
        name="backfill",
        requested_by=requested_by,
        args=_backfill_args(take),
    )
    _record(conn, [(m, d, gw, cmd) for m, d in take], requested_by=requested_by)
    return len(take)


def _busy(conn: psycopg.Connection[Any], gateways: list[str]) -> set[str]:
    """Of ``gateways``, those with a backfill asked within the hour and still unanswered
    (the automatic job leaves them alone)."""
    return {
        r[0]
        for r in conn.execute(
            "SELECT DISTINCT gateway_id FROM gateway_commands WHERE gateway_id = ANY(%s) "
            "AND name = 'backfill' AND status IN ('pending', 'sent') "
            "AND created_at > now() - interval '1 hour'",
            (gateways,),
        )
    }


def _backfill_args(take: list[tuple[str, date]]) -> dict[str, Any]:
    return {"items": [{"meter": m, "date": d.isoformat()} for m, d in take]}


def _record(
    conn: psycopg.Connection[Any], asked: list[tuple[str, date, str, str]], *, requested_by: str
) -> None:
    """Record each asked meter-day ``(meter, day, gateway, command)`` in one statement: a
    meter-day asked again points at the new command (the earlier one stays in
    gateway_commands with its items and result); each meter-day once (the last)."""
    if not asked:
        return
    rows = list({(m, d): (m, d, gw, c) for m, d, gw, c in asked}.values())
    conn.execute(
        "INSERT INTO reread_requests (meter_id, data_date, gateway_id, command_id, "
        "requested_by, missing_when_asked) "
        "SELECT x.m, x.d, x.g, x.c, %s, NOT EXISTS (SELECT 1 FROM daily_freeze f "
        "WHERE f.meter_id = x.m AND f.data_date = x.d "
        "AND f.quantity = 'energy_import_total') "
        "FROM unnest(%s::text[], %s::date[], %s::text[], %s::text[]) AS x(m, d, g, c) "
        "ON CONFLICT (meter_id, data_date) DO UPDATE SET command_id = "
        "excluded.command_id, gateway_id = excluded.gateway_id, requested_by = "
        "excluded.requested_by, requested_at = now(), missing_when_asked = "
        "excluded.missing_when_asked",
        (
            requested_by,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        ),
    )


def auto_reread(
    conn: psycopg.Connection[Any], today: date, *, per_gateway: int, days: int = HISTORY_DAYS
) -> dict[str, int]:
    """The daily job: the last ``days`` days (the whole 62-day history unless told fewer),
    oldest first; returns meter-days requested per gateway."""
    start = today - timedelta(days=min(days, HISTORY_DAYS))
    with conn.transaction():
        return request(
            conn,
            missing_meter_days(conn, start, today - timedelta(days=1)),
            requested_by="reread-job",
            per_gateway=per_gateway,
        ).requested


def recovered(conn: psycopg.Connection[Any], day: date) -> dict[str, int]:
    """Meter-days of ``day`` asked again, and how many of those that were missing when asked
    have a daily freeze now (a day already read when asked recovers nothing)."""
    row = conn.execute(
        """
        SELECT count(*), count(f.meter_id) FILTER (WHERE r.missing_when_asked)
        FROM reread_requests r
        LEFT JOIN daily_freeze f ON f.meter_id = r.meter_id AND f.data_date = r.data_date
             AND f.quantity = 'energy_import_total'
        WHERE r.data_date = %s""",
        (day,),
    ).fetchone()
    return {"requested": int(row[0]) if row else 0, "recovered": int(row[1]) if row else 0}


def request_curves(
    conn: psycopg.Connection[Any],
    items: list[tuple[str, str, date]],
    *,
    requested_by: str,
    tz: str,
) -> Requested:
    """Queue curve re-reads (曲线补抄, ``backfill_curve`` commands) for ``items`` (meter,
    gateway, local day), one command per gateway beside any pending one, for the meter-days
    no unanswered command already asks for (those are counted, never asked twice). Each
    meter-day asked is kept in ``curve_reread_requests`` with the points stored when asked.
    The caller checks the meters' protocols and the days' window."""
    by_gw: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for meter, gw, day in items:
        by_gw[gw].append((meter, day))
    out = Requested()
    for gw, pairs in sorted(by_gw.items()):
        try:
            pending = _request_curves_one(conn, gw, pairs, requested_by, tz, out)
        except Exception as exc:  # one bad archive record never stops the other gateways
            log.warning("curve re-read request to gateway %r skipped: %s", gw, exc)
            continue
        if pending:
            out.already_pending[gw] = len(pending)
    return out


def _request_curves_one(
    conn: psycopg.Connection[Any],
    gw: str,
    pairs: list[tuple[str, date]],
    requested_by: str,
    tz: str,
    out: Requested,
) -> set[tuple[str, date]]:
    """One gateway's part of :func:`request_curves` (its own savepoint); returns the
    meter-days an unanswered command already asks for."""
    with conn.transaction():
        rows = conn.execute(
            "SELECT r.meter_id, r.data_date FROM curve_reread_requests r "
            "JOIN gateway_commands c ON c.id = r.command_id "
            "JOIN unnest(%s::text[], %s::date[]) AS x(m, d) ON x.m = r.meter_id "
            "AND x.d = r.data_date WHERE c.status IN ('pending', 'sent')",
            ([m for m, _ in pairs], [d for _, d in pairs]),
        ).fetchall()
        pending = {(m, d) for m, d in rows}
        fresh = [p for p in pairs if p not in pending]
        if fresh:
            cmd = queue_command(
                conn,
                gateway_id=gw,
                name="backfill_curve",
                requested_by=requested_by,
                args={"items": [{"meter": m, "date": d.isoformat()} for m, d in fresh]},
            )
            points = curve_points.DAY_POINTS_OF.format(m="x.m", d="x.d")
            conn.execute(
                "INSERT INTO curve_reread_requests (meter_id, data_date, gateway_id, "
                "command_id, requested_by, points_when_asked) "
                f"SELECT x.m, x.d, %(gw)s, %(cmd)s, %(by)s, {points} "
                "FROM unnest(%(ms)s::text[], %(ds)s::date[]) AS x(m, d) "
                "ON CONFLICT (meter_id, data_date) DO UPDATE SET command_id = "
                "excluded.command_id, gateway_id = excluded.gateway_id, requested_by = "
                "excluded.requested_by, requested_at = now(), points_when_asked = "
                "excluded.points_when_asked",
                {
                    "gw": gw,
                    "cmd": cmd,
                    "by": requested_by,
                    "tz": tz,
                    "ms": [m for m, _ in fresh],
                    "ds": [d for _, d in fresh],
                },
            )
            out.requested[gw] = len(fresh)
    return pending
