"""Read days counted from the collection facts (``collection_month``, migration 0930): per
meter and month, a bit for each day with the meter's forward-active daily freeze
(``read_bits``) and for each of those read without re-reading (``first_bits``), kept by
triggers on ``daily_freeze`` and ``reread_requests``. A month report reads one row per meter
instead of one per meter-day, and a trend sums bit positions instead of grouping freezes by
date; both count only a meter's due days (:data:`server.checks.completeness.PERIOD_DUE`'s
``a``..``b``).

The SQL here needs ``%(months)s`` (:func:`months`) among its parameters."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

#: Read and first-pass-read days per meter of a ``due`` relation (``id``, ``a`` its first
#: due day, ``b`` its last, both within the period), for the months in ``%(months)s``.
READ_DAYS = """
SELECT c.meter_id,
       sum(bit_count((c.read_bits & collection_day_mask(c.month, d.a, d.b))::bit(32))) AS n,
       sum(bit_count((c.first_bits & collection_day_mask(c.month, d.a, d.b))::bit(32)))
         AS n_first
FROM due d JOIN collection_month c ON c.meter_id = d.id AND c.month = ANY(%(months)s::date[])
GROUP BY c.meter_id
"""

#: The same for a period within one month (``%(month)s``), as a join to each row ``m`` of
#: ``due`` giving ``r.n`` and ``r.n_first``: no grouping per meter, and ``due`` read once.
_ONE_MONTH_JOIN = """
LEFT JOIN LATERAL (
    SELECT bit_count((c.read_bits & collection_day_mask(c.month, m.a, m.b))::bit(32)) AS n,
           bit_count((c.first_bits & collection_day_mask(c.month, m.a, m.b))::bit(32))
             AS n_first
    FROM collection_month c WHERE c.month = %(month)s AND c.meter_id = m.id) r ON true
"""


def read_days(start: date, end: date) -> tuple[str, str, dict[str, Any]]:
    """How a query over the ``due`` CTE (``m``) of the period gets each meter's read days
    as ``r.n`` and ``r.n_first``: (CTEs to add after ``due``, the join, parameters)."""
    span = months(start, end)
    if len(span) == 1:
        return "", _ONE_MONTH_JOIN, {"month": span[0], "months": span}
    return f", rd AS ({READ_DAYS})", "LEFT JOIN rd r ON r.meter_id = m.id", {"months": span}


#: the day-of-month bit positions a trend sums (day k + 1 is bit k)
_BITS = range(31)

#: Per month in ``%(months)s``: for each day of the month (``r0``..``r30``, ``f0``..``f30``)
#: how many meters of ``due`` (``id``, ``a``, ``b``) were read on it, and read on the first
#: pass, counting only each meter's due days.
DAY_SUMS = (
    "SELECT x.month, "
    + ", ".join(f"sum((x.r >> {k}) & 1) AS r{k}" for k in _BITS)
    + ", "
    + ", ".join(f"sum((x.f >> {k}) & 1) AS f{k}" for k in _BITS)
    + """
FROM (SELECT c.month, c.read_bits & collection_day_mask(c.month, d.a, d.b) AS r,
             c.first_bits & collection_day_mask(c.month, d.a, d.b) AS f
      FROM due d JOIN collection_month c ON c.meter_id = d.id
           AND c.month = ANY(%(months)s::date[])
      -- (OFFSET 0 keeps the subquery whole: flattened, each of the 62 sums would compute
      -- its mask again)
      OFFSET 0) x
GROUP BY x.month
"""
)


def months(start: date, end: date) -> list[date]:
    """The first days of the months from ``start``'s to ``end``'s."""
    out, m = [], start.replace(day=1)
    while m <= end:
        out.append(m)
        m = (m + timedelta(days=32)).replace(day=1)
    return out


def per_day(rows: list[dict[str, Any]]) -> dict[date, tuple[int, int]]:
    """:data:`DAY_SUMS`' rows as date -> (read, read on the first pass), days with a meter
    read only."""
    out: dict[date, tuple[int, int]] = {}
    for row in rows:
        month: date = row["month"]
        for k in _BITS:
            read, first = int(row[f"r{k}"] or 0), int(row[f"f{k}"] or 0)
            if read or first:
                out[month + timedelta(days=k)] = (read, first)
    return out
