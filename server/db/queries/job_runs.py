"""The log of scheduled job runs, read back for the API (the jobs write it)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row


def recent(conn: psycopg.Connection[Any], *, limit: int) -> list[dict[str, Any]]:
    """The newest ``limit`` runs, newest first."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
