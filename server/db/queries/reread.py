"""SQL of staff re-read requests: where a meter's concentrator is. The requests themselves
are written (never deleted) by :func:`server.checks.reread.request`."""

from __future__ import annotations

from typing import Any

import psycopg


def meter_gateway(conn: psycopg.Connection[Any], *, meter: str | None) -> str | None:
    """The meter's concentrator; None when the meter is not in the archive or has none."""
    row = conn.execute("SELECT gateway_id FROM meters WHERE id = %s", (meter,)).fetchone()
    return None if row is None else row[0]


def meter_gateway_protocol(
    conn: psycopg.Connection[Any], *, meter: str | None
) -> tuple[str | None, str] | None:
    """(the meter's concentrator, its protocol); None when the meter is not in the archive."""
    row = conn.execute("SELECT gateway_id, protocol FROM meters WHERE id = %s", (meter,)).fetchone()
    return None if row is None else (row[0], row[1])
