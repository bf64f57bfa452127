"""SQL of staff re-read requests: where a meter's concentrator is. The requests themselves
are written (never deleted) by :func:`server.checks.reread.request`."""

from __future__ import annotations

from typing import Any

import psycopg


def meter_gateway(conn: psycopg.Connection[Any], *, meter: str | None) -> str | None:
    """The meter's concentrator; None when the meter is not in the archive or has none."""
    row = conn.execute("SELECT gateway_id FROM meters WHERE id = %s", (meter,)).fetchone()
    return None if row is None else row[0]
