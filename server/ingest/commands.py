"""Commands to gateways: queued as rows by anyone (staff via the API, the re-read job), sent
by the ingest service, and closed by the gateway's result."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from protocols import wire

_CHECK_STAMP = datetime(2000, 1, 1, tzinfo=UTC)


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
    conn.execute(
        "INSERT INTO gateway_commands (id, gateway_id, name, args, requested_by) "
        "VALUES (%s, %s, %s, %s, %s)",
        (cmd_id, gateway_id, name, Jsonb(args), requested_by),
    )
    return cmd_id


def take_pending(conn: psycopg.Connection[Any], limit: int = 100) -> list[tuple[str, str, bytes]]:
    """Pending commands as (id, gateway, payload), marked sent (in the caller's transaction)."""
    rows = conn.execute(
        "SELECT id, gateway_id, name, args, created_at FROM gateway_commands "
        "WHERE status = 'pending' ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    ).fetchall()
    out = []
    for cmd_id, gw, name, args, created in rows:
        payload = wire.encode_command(
            wire.Command(cmd_id, wire.CommandName(name), created, args or {})
        )
        out.append((cmd_id, gw, payload))
        conn.execute(
            "UPDATE gateway_commands SET status = 'sent', sent_at = now() WHERE id = %s", (cmd_id,)
        )
    return out


def record_result(conn: psycopg.Connection[Any], gateway: str, res: wire.CommandResult) -> bool:
    """Close a command with its result; False when no such command of this gateway exists."""
    row = conn.execute(
        "UPDATE gateway_commands SET status = %s, finished_at = %s, result = %s, error = %s "
        "WHERE id = %s AND gateway_id = %s RETURNING id",
        (
            "ok" if res.ok else "error",
            res.finished_at,
            Jsonb(dict(res.result)),
            res.error,
            res.id,
            gateway,
        ),
    ).fetchone()
    return row is not None


def result_json(res: wire.CommandResult) -> str:
    return json.dumps(dict(res.result))
