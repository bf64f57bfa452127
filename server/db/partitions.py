"""Native PostgreSQL partitions of ``readings`` (one per local day) where TimescaleDB is absent,
and retention for both flavours (drop chunks / drop partitions, compact rows, and the
health logs' superseded changes)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from . import curve_points
from .compact import drop_old as compact_drop_old
from .queries.gateways import drop_old_health

log = logging.getLogger(__name__)
_known: dict[str, set[date]] = {}
_lock = threading.Lock()


def is_partitioned(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'").fetchone()
    return row is not None and row[0] == "p"


def _key(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


def partition_bounds(conn: psycopg.Connection[Any]) -> list[tuple[str, datetime, datetime]]:
    """(name, lower, upper bound) of each native range partition of readings, from the
    catalogue (daily ones, and a yearly one of a site from before daily partitions, cut or
    not; a DEFAULT partition, which no migration creates, has no bounds and is left out)."""
    rows = conn.execute(
        "SELECT c.relname, b[1]::timestamptz, b[2]::timestamptz "
        "FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "CROSS JOIN LATERAL regexp_match(pg_get_expr(c.relpartbound, c.oid), "
        "'FROM \\(''([^'']*)''\\) TO \\(''([^'']*)''\\)') b "
        "WHERE i.inhparent = 'readings'::regclass AND b IS NOT NULL ORDER BY 2"
    ).fetchall()
    return [(n, lo.astimezone(UTC), hi.astimezone(UTC)) for n, lo, hi in rows]


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """Local midnight of ``day`` and of the next day, as UTC (23 or 25 hours apart on a
    daylight-saving change)."""
    lo = datetime.combine(day, time.min, zone).astimezone(UTC)
    hi = datetime.combine(day + timedelta(days=1), time.min, zone).astimezone(UTC)
    return lo, hi


def _free_pieces(
    lo: datetime, hi: datetime, taken: list[tuple[str, datetime, datetime]]
) -> list[tuple[datetime, datetime]]:
    """The parts of [lo, hi) no existing partition covers."""
    pieces, at = [], lo
    for _, a, b in sorted((t for t in taken if t[1] < hi and t[2] > lo), key=lambda t: t[1]):
        if a > at:
            pieces.append((at, a))
        at = max(at, b)
    if at < hi:
        pieces.append((at, hi))
    return pieces


def ensure_partitions(conn: psycopg.Connection[Any], days: set[date], tz: str) -> None:
    """Create the partitions of the local days ``days`` (in the utility time zone ``tz``)
    if readings is natively partitioned, in the caller's transaction: one a day, named
    ``readings_dYYYYMMDD``, bounded by the day's local midnights; a part of the day an
    existing partition already covers (a yearly one of an older site) is left to it. The
    caller passes only the days of readings at or after the compact zone's start (older
    ones go to compact rows or ``readings_cold``), so a compacted day never gets a hot
    partition again. A day is remembered per database (so a batch normally costs no
    catalogue query) only once its partition is seen committed: one created here could
    still be rolled back with the caller's transaction. Creators are serialized by an
    advisory lock (CREATE TABLE IF NOT EXISTS alone fails when two transactions race on a
    new day)."""
    key = _key(conn)
    with _lock:
        missing = days - _known.setdefault(key, set())
    if not missing:
        return
    if not is_partitioned(conn):
        with _lock:
            _known[key] |= days
        return
    zone = ZoneInfo(tz)
    seen = set()
    taken: list[tuple[str, datetime, datetime]] | None = None
    for day in sorted(missing):
        name = f"readings_d{day:%Y%m%d}"
        row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        if row is not None and row[0] is not None:
            seen.add(day)
            continue
        if taken is None:
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('meterlink.readings_partitions'))")
            taken = partition_bounds(conn)
        lo, hi = local_day_bounds(day, zone)
        pieces = _free_pieces(lo, hi, taken)
        if not pieces:
            seen.add(day)  # wholly in an older (committed) partition
        for i, (a, b) in enumerate(pieces):
            part = name if i == 0 else f"{name}_{i}"
            conn.execute(
                f"CREATE TABLE {part} PARTITION OF readings FOR VALUES FROM "
                f"('{a.isoformat()}') TO ('{b.isoformat()}')"
            )
            taken.append((part, a, b))
    with _lock:
        _known[key] |= seen


def drop_old(conn: psycopg.Connection[Any], retention_days: int, now: datetime) -> list[str]:
    """Drop readings older than the retention: whole chunks or partitions of the hot
    table, the residue table's rows before the cutoff, the compact history's rows of whole
    days before the cutoff, the MACs of the readings so removed, and the gateway and meter
    health logs' rows before each one's state at the cutoff, and the curve facts of the days
    that begin before the cutoff."""
    cutoff = now - timedelta(days=retention_days)
    facts = curve_points.drop_before(conn, cutoff)
    n = compact_drop_old(conn, cutoff)
    logs = [f"{t}: {k} rows" for t, k in drop_old_health(conn, cutoff).items() if k]
    dropped = ([f"readings_compact: {n} rows"] if n else []) + logs + _drop_hot(conn, cutoff)
    macs = drop_orphan_macs(conn, cutoff)
    dropped += [f"reading_macs: {macs} rows"] if macs else []
    return dropped + ([f"curve_points: {facts} rows"] if facts else [])


def drop_orphan_macs(conn: psycopg.Connection[Any], cutoff: datetime) -> int:
    """The MACs (issue 21) of readings before ``cutoff`` that retention removed: a MAC goes
    with its reading, and only then (a partition outlives the cutoff until its whole span
    is past it). Freeze MACs follow their freeze by foreign key."""
    return conn.execute(
        "DELETE FROM reading_macs k WHERE k.ts < %(c)s AND NOT EXISTS ("
        " SELECT 1 FROM readings_between(k.ts, k.ts + interval '1 microsecond') r"
        " WHERE r.meter_id = k.meter_id AND r.quantity = k.quantity)",
        {"c": cutoff},
    ).rowcount


def _drop_hot(conn: psycopg.Connection[Any], cutoff: datetime) -> list[str]:
    """Retention of the hot table (whole partitions or chunks before ``cutoff``) and of the
    residue table (its rows before ``cutoff``)."""
    # the residue's events and clock checks go back to meter_events, which keeps events
    # past the readings' retention (as it did when every event had a copy there)
    row = conn.execute(
        "WITH gone AS (DELETE FROM readings_cold WHERE ts < %s RETURNING *), "
        "events AS (INSERT INTO meter_events (meter_id, ts, quantity, value, gateway_id, "
        " received_at) SELECT meter_id, ts, quantity, value, gateway_id, received_at "
        " FROM gone WHERE kind IN ('event', 'clock') "
        " ON CONFLICT (meter_id, quantity, ts) DO NOTHING) "
        "SELECT count(*) FROM gone",
        (cutoff,),
    ).fetchone()
    cold = row[0] if row else 0
    dropped = [f"readings_cold: {cold} rows"] if cold else []
    if is_partitioned(conn):
        for name, _lo, hi in partition_bounds(conn):
            if hi <= cutoff:
                conn.execute(f"DROP TABLE {name}")
                dropped.append(name)
        with _lock:
            _known.pop(_key(conn), None)
        return dropped
    rows = conn.execute("SELECT drop_chunks('readings', older_than => %s)", (cutoff,)).fetchall()
    return dropped + [str(r[0]) for r in rows]


def drop_emptied(conn: psycopg.Connection[Any], before: datetime, lock: int) -> list[str]:
    """Drop the hot table's partitions (daily ones, or a yearly one cut by migration 0910)
    or chunks that end at or before ``before`` and hold no row: compaction moved their rows
    to the compact and residue tables, and deleted rows would leave their index pages
    behind (a plain VACUUM returns no index space). Each is checked and dropped holding
    ``lock`` (the compaction zone's) exclusively, so no late reading is being written into
    it (ingestion holds it shared and sends no reading before the zone's start to the hot
    table)."""
    spans: list[tuple[str, datetime | None, datetime]]
    if is_partitioned(conn):
        spans = [(n, None, hi) for n, _lo, hi in partition_bounds(conn)]
    else:
        spans = conn.execute(
            "SELECT format('%%I.%%I', chunk_schema, chunk_name), range_start, range_end "
            "FROM timescaledb_information.chunks WHERE hypertable_name = 'readings' "
            "AND range_end <= %s ORDER BY range_start",
            (before,),
        ).fetchall()
    dropped = []
    for name, lo, hi in spans:
        if hi > before:
            continue
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock,))
            if conn.execute(f"SELECT 1 FROM {name} LIMIT 1").fetchone() is not None:
                continue
            if lo is None:
                conn.execute(f"DROP TABLE {name}")
            else:
                conn.execute(
                    "SELECT drop_chunks('readings', older_than => %s, newer_than => %s)",
                    (hi, lo - timedelta(microseconds=1)),
                )
            dropped.append(name)
    if dropped:
        with _lock:
            _known.pop(_key(conn), None)
    return dropped
