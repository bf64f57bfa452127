"""SQL the API needs about gateway commands: is there such a gateway, and one command as
stored. Queuing, sending and closing commands is the gateways' room."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def gateway_exists(conn: psycopg.Connection[Any], *, gateway_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway_id,)).fetchone() is not None
    )


def get_command(conn: psycopg.Connection[Any], *, command_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM gateway_commands WHERE id = %s", (command_id,)).fetchone()
