"""Curve facts (migration 0940): the load-curve points (forward-active interval readings)
of each meter and local day, counted once the day has closed, so that a day report reads
one row per meter instead of counting the day's readings.

One owner for the promise "``curve_points`` equals the count of the readings":

- :func:`count_day` counts a day from the readings and marks it (``curve_point_days``, with
  the zone it was counted in), holding the curve-facts lock exclusively;
- every ingestion transaction that stores forward-active interval readings first holds the
  lock shared (:func:`hold`, which also says which of its days are marked) and then adds
  what it stored for a marked day (:func:`add`); so a reading is either seen by the count or
  added after it, never both, never neither;
- retention drops a day's facts with its readings (:func:`drop_before`);
- the nightly job (:func:`count_closed_days`) counts the closed days not yet marked and
  counts the last two again, which also catches readings written outside ingestion (by hand
  in SQL) on those days.

A report asks :data:`DAY_POINTS` / :data:`DAY_POINTS_OF`: the facts for a day marked in the
report's zone, and a live count of the readings for any other day (today, a day the job has
not reached, a zone other than the one counted in), so the answer is always the count."""

from __future__ import annotations

import zlib
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

#: the quantity and kind whose points make the load curve (96 a day at 15 minutes)
CURVE_QUANTITY = "energy_import_total"
CURVE_KIND = "interval"

LOCK = zlib.crc32(b"meterlink.curve_points")

#: days the nightly job counts again though they are marked (the latest closed ones)
RECOUNT_DAYS = 2
#: how far back the nightly job looks for closed days not yet counted
LOOK_BACK_DAYS = 62

_MARKED = "EXISTS (SELECT 1 FROM curve_point_days k WHERE k.data_date = {d} AND k.tz = %(tz)s)"


def _live(day: str) -> str:
    return (
        f"readings_between(({day})::timestamp AT TIME ZONE %(tz)s, "
        f"(({day}) + 1)::timestamp AT TIME ZONE %(tz)s)"
    )


def day_points(day: str = "%(s)s::date") -> str:
    """SQL of (``meter_id``, ``n``): the load-curve points per meter of the local day
    ``day`` (an SQL date expression without a column; the zone is ``%(tz)s``): the facts
    when the day is marked in that zone, else counted from the readings (the branch not
    taken is not run: its condition is a constant of the statement)."""
    marked = _MARKED.format(d=day)
    return f"""
SELECT c.meter_id, c.n FROM curve_points c WHERE c.data_date = {day} AND {marked}
UNION ALL
SELECT p.meter_id, count(*) AS n FROM {_live(day)} p
WHERE p.quantity = '{CURVE_QUANTITY}' AND p.kind = '{CURVE_KIND}' AND NOT {marked}
GROUP BY p.meter_id
"""


#: :func:`day_points` of the day ``%(s)s``
DAY_POINTS = day_points()

#: The points of one meter's local day, as an SQL expression with ``{m}`` and ``{d}`` to
#: format in (the meter's and the day's SQL expressions; they may be columns) and the zone
#: as ``%(tz)s``: the fact when the day is marked, else the live count.
DAY_POINTS_OF = (
    "(CASE WHEN " + _MARKED + " THEN coalesce((SELECT c.n FROM curve_points c "
    "WHERE c.data_date = {d} AND c.meter_id = {m}), 0) "
    "ELSE (SELECT count(*) FROM " + _live("{d}") + " p WHERE p.meter_id = {m} "
    f"AND p.quantity = '{CURVE_QUANTITY}' AND p.kind = '{CURVE_KIND}') END)::int"
)


def curve_days(rows: Iterable[tuple[Any, ...]], tz: str) -> set[date]:
    """The local days of the load-curve points among reading rows (meter, quantity, ts,
    value, kind, ...)."""
    zone = ZoneInfo(tz)
    stamps = {r[2] for r in rows if r[1] == CURVE_QUANTITY and r[4] == CURVE_KIND}
    return {ts.astimezone(zone).date() for ts in stamps}


def hold(conn: psycopg.Connection[Any], days: set[date], tz: str) -> frozenset[date]:
    """In an ingestion transaction about to store load-curve points of ``days``: hold the
    curve-facts lock shared until the transaction ends, and return which of ``days`` are
    marked (counted) in ``tz``: the points stored for those must be :func:`add`-ed. The
    marks are read after the lock is granted, so a count that committed while this waited
    is seen."""
    if not days:
        return frozenset()
    conn.execute("SELECT pg_advisory_xact_lock_shared(%s)", (LOCK,))
    rows = conn.execute(
        "SELECT data_date FROM curve_point_days WHERE tz = %s AND data_date = ANY(%s::date[])",
        (tz, sorted(days)),
    ).fetchall()
    return frozenset(r[0] for r in rows)


def add(
    conn: psycopg.Connection[Any],
    rows: Iterable[tuple[Any, ...]],
    marked: frozenset[date],
    tz: str,
) -> int:
    """Add to the facts the load-curve points among ``rows`` (reading rows as
    :func:`curve_days` takes them, each newly stored by the caller's transaction) whose
    day is in ``marked`` (:func:`hold`). Returns the points added."""
    if not marked:
        return 0
    zone = ZoneInfo(tz)
    day_of: dict[datetime, date] = {}
    counts: Counter[tuple[date, str]] = Counter()
    for r in rows:
        if r[1] != CURVE_QUANTITY or r[4] != CURVE_KIND:
            continue
        d = day_of.get(r[2])
        if d is None:
            d = day_of[r[2]] = r[2].astimezone(zone).date()
        if d in marked:
            counts[(d, r[0])] += 1
    if not counts:
        return 0
    keys = sorted(counts)  # key order: concurrent writers lock the rows alike
    conn.execute(
        "INSERT INTO curve_points (data_date, meter_id, n) "
        "SELECT * FROM unnest(%s::date[], %s::text[], %s::int[]) "
        "ON CONFLICT (data_date, meter_id) DO UPDATE SET n = curve_points.n + excluded.n",
        ([d for d, _ in keys], [m for _, m in keys], [counts[k] for k in keys]),
    )
    return sum(counts.values())


def count_day(
    conn: psycopg.Connection[Any], day: date, tz: str, *, lock_timeout_ms: int = 60_000
) -> int:
    """Count ``day``'s load-curve points per meter from the readings, replace its facts
    and mark it counted in ``tz``, in one transaction holding the curve-facts lock
    exclusively (ingestion of curve points waits meanwhile; a wait for the lock longer
    than ``lock_timeout_ms`` fails with LockNotAvailable and changes nothing). Returns the
    meters with points. ``conn`` must be outside a transaction (the lock ends with this
    one)."""
    _outside_transaction(conn)
    with conn.transaction():
        conn.execute(f"SET LOCAL lock_timeout = {int(lock_timeout_ms)}")
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK,))
        conn.execute("DELETE FROM curve_points WHERE data_date = %s", (day,))
        n = conn.execute(
            "INSERT INTO curve_points (data_date, meter_id, n) "
            f"SELECT %(s)s::date, p.meter_id, count(*) FROM {_live('%(s)s::date')} p "
            f"WHERE p.quantity = '{CURVE_QUANTITY}' AND p.kind = '{CURVE_KIND}' "
            "GROUP BY p.meter_id ORDER BY p.meter_id",
            {"s": day, "tz": tz},
        ).rowcount
        conn.execute(
            "INSERT INTO curve_point_days (data_date, tz) VALUES (%s, %s) "
            "ON CONFLICT (data_date) DO UPDATE SET tz = excluded.tz, counted_at = now()",
            (day, tz),
        )
    return max(n, 0)


def count_closed_days(
    conn: psycopg.Connection[Any],
    today: date,
    tz: str,
    *,
    recount: int = RECOUNT_DAYS,
    look_back: int = LOOK_BACK_DAYS,
    at_most: int = 14,
) -> dict[str, int]:
    """The nightly job: count the closed days (before ``today``) of the last ``look_back``
    not yet marked in ``tz`` (the newest first, at most ``at_most`` in one run) and the
    last ``recount`` closed days again; each day in its own transaction (``conn`` outside
    one). Returns the meters
    with points per day counted."""
    first = today - timedelta(days=look_back)
    _outside_transaction(conn)
    with conn.transaction():
        marked = {
            r[0]
            for r in conn.execute(
                "SELECT data_date FROM curve_point_days WHERE tz = %s AND data_date >= %s",
                (tz, first),
            )
        }
    days = [today - timedelta(days=k) for k in range(1, look_back + 1)]
    todo = [d for d in days if d not in marked][:at_most]
    todo += [d for d in days[:recount] if d not in todo]
    return {str(d): count_day(conn, d, tz) for d in sorted(todo)}


def _outside_transaction(conn: psycopg.Connection[Any]) -> None:
    if conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
        raise RuntimeError("count curve points outside a transaction: commit first")


def drop_before(conn: psycopg.Connection[Any], cutoff: datetime) -> int:
    """Retention: unmark the days that begin before ``cutoff`` (in the zone each was
    counted in; readings before the cutoff may be gone) and drop their facts; such a day is
    counted live again. Returns the facts dropped."""
    gone = [
        r[0]
        for r in conn.execute(
            "DELETE FROM curve_point_days WHERE data_date::timestamp AT TIME ZONE tz < %s "
            "RETURNING data_date",
            (cutoff,),
        )
    ]
    if not gone:
        return 0
    return max(
        conn.execute(
            "DELETE FROM curve_points WHERE data_date = ANY(%s::date[])", (gone,)
        ).rowcount,
        0,
    )
