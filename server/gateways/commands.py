"""Commands to gateways: queued as rows by anyone (staff via the API, the re-read job) and
taken for sending by :mod:`server.gateways.dispatch`; closed by the result the gateway
sends back (:func:`record_result`, called through :mod:`.results`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, NamedTuple

import psycopg

from protocols import wire

from ..db.queries import gateways as q

_CHECK_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


class OutgoingCommand(NamedTuple):
    """A command taken for sending: its id, its gateway and the encoded payload."""

    id: str
    gateway: str
    payload: bytes


def queue_command(
    conn: psycopg.Connection[Any],
    *,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    requested_by: str,
    command_id: str | None = None,
) -> str:
    """Insert a pending command after checking it against the wire contract."""
    cmd_id = command_id or uuid.uuid4().hex
    wire.check_gateway_id(gateway_id)
    # The command's time on the wire is its row's created_at (set by take_pending); the check
    # needs only the name and arguments, so any valid instant stands in here.
    cmd = wire.Command(cmd_id, wire.CommandName(name), _CHECK_STAMP, args)
    wire.encode_command(cmd)  # raises WireError for bad arguments
    q.insert_command(
        conn,
        command_id=cmd_id,
        gateway_id=gateway_id,
        name=name,
        args=args,
        requested_by=requested_by,
    )
    return cmd_id


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
    """Close a command with its result; False when no such command of this gateway exists."""
    return q.finish_command(
        conn,
        command_id=res.id,
        gateway_id=gateway,
        ok=res.ok,
        finished_at=res.finished_at,
        result=dict(res.result),
        error=res.error,
    )
