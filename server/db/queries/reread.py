"""SQL of staff re-read requests: where a meter's concentrator is, and clearing earlier
requests so the same meter-days can be asked again. The requests themselves are written by
:func:`server.checks.reread.request`."""

from __future__ import annotations

from datetime import date
from typing import Any

import psycopg


def meter_gateway(conn: psycopg.Connection[Any], *, meter: str | None) -> str | None:
    """The meter's concentrator; None when the meter is not in the archive or has none."""
    row = conn.execute("SELECT gateway_id FROM meters WHERE id = %s", (meter,)).fetchone()
    return None if row is None else row[0]


def forget_requests(conn: psycopg.Connection[Any], *, meter_days: list[tuple[str, date]]) -> None:
    """Delete earlier re-read requests of these (meter, data date) pairs."""
    conn.execute(
        "DELETE FROM reread_requests WHERE (meter_id, data_date) IN "
        "(SELECT * FROM unnest(%s::text[], %s::date[]))",
        ([m for m, _ in meter_days], [d for _, d in meter_days]),
    )
