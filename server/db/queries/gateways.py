"""SQL for gateways' commands and reported status (tables ``gateway_commands`` and
``gateways``): what :mod:`server.gateways` writes (the wire checks and the sending are
there) and what the API reads back about one gateway or command."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


class PendingCommand(NamedTuple):
    id: str
    gateway_id: str
    name: str
    args: dict[str, Any]
    created_at: datetime


def gateway_exists(conn: Connection[Any], *, gateway_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway_id,)).fetchone() is not None
    )


def get_command(conn: Connection[Any], *, command_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM gateway_commands WHERE id = %s", (command_id,)).fetchone()


def insert_command(
    conn: Connection[Any],
    *,
    command_id: str,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    requested_by: str,
) -> None:
    conn.execute(
        "INSERT INTO gateway_commands (id, gateway_id, name, args, requested_by) "
        "VALUES (%s, %s, %s, %s, %s)",
        (command_id, gateway_id, name, Jsonb(args), requested_by),
    )


def lock_pending_commands(conn: Connection[Any], *, limit: int) -> list[PendingCommand]:
    """The oldest pending commands, locked for the caller's transaction (rows another
    transaction holds are skipped, so two senders never send one command twice)."""
    rows = conn.execute(
        "SELECT id, gateway_id, name, args, created_at FROM gateway_commands "
        "WHERE status = 'pending' ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    ).fetchall()
    return [PendingCommand(i, gw, name, args or {}, created) for i, gw, name, args, created in rows]


def mark_command_sent(conn: Connection[Any], *, command_id: str) -> None:
    conn.execute(
        "UPDATE gateway_commands SET status = 'sent', sent_at = now() WHERE id = %s",
        (command_id,),
    )


def finish_command(
    conn: Connection[Any],
    *,
    command_id: str,
    gateway_id: str,
    ok: bool,
    finished_at: datetime,
    result: dict[str, Any],
    error: str | None,
) -> bool:
    """Close a command with its result; False when the gateway has no such command."""
    row = conn.execute(
        "UPDATE gateway_commands SET status = %s, finished_at = %s, result = %s, error = %s "
        "WHERE id = %s AND gateway_id = %s RETURNING id",
        ("ok" if ok else "error", finished_at, Jsonb(result), error, command_id, gateway_id),
    ).fetchone()
    return row is not None


def upsert_status(
    conn: Connection[Any],
    *,
    gateway_id: str,
    online: bool,
    status_at: datetime,
    status: dict[str, Any],
    version: str | None,
) -> datetime | None:
    """Record a gateway's reported status; a gateway not in the archive appears with
    ``known = false``, and a status older than the stored one changes nothing. Returns the
    time of the status stored before (None for a gateway's first status)."""
    before = conn.execute(
        "SELECT status_at FROM gateways WHERE id = %s FOR UPDATE", (gateway_id,)
    ).fetchone()
    conn.execute(
        "INSERT INTO gateways (id, online, known, last_seen, status, status_at, version) "
        "VALUES (%s, %s, false, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
        "online = excluded.online, last_seen = greatest(gateways.last_seen, "
        "excluded.last_seen), status = excluded.status, status_at = excluded.status_at, "
        "version = coalesce(nullif(excluded.version, ''), gateways.version), "
        "updated_at = now() WHERE gateways.status_at IS NULL OR "
        "gateways.status_at <= excluded.status_at",
        (gateway_id, online, status_at, Jsonb(status), status_at, version),
    )
    return before[0] if before else None
