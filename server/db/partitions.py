"""Native PostgreSQL partitions of ``readings`` (one per year) where TimescaleDB is absent,
and retention for both flavours (drop chunks / drop partitions, compact rows, and the
health logs' superseded changes)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

from .compact import drop_old as compact_drop_old
from .queries.gateways import drop_old_health

log = logging.getLogger(__name__)
_known: dict[str, set[int]] = {}
_lock = threading.Lock()


def is_partitioned(conn: psycopg.Connection[Any]) -> bool:
    row = conn.execute("SELECT relkind FROM pg_class WHERE relname = 'readings'").fetchone()
    return row is not None and row[0] == "p"


def _key(conn: psycopg.Connection[Any]) -> str:
    info = conn.info
    return f"{info.host}:{info.port}/{info.dbname}"


def ensure_partitions(conn: psycopg.Connection[Any], years: set[int]) -> None:
    """Create the yearly partitions for ``years`` if readings is natively partitioned, in the
    caller's transaction. A year is remembered per database (so a batch normally costs no
    catalogue query) only once its partition is seen committed: one created here could still
    be rolled back with the caller's transaction. Creators are serialized by an advisory lock
    (CREATE TABLE IF NOT EXISTS alone fails when two transactions race on a new year)."""
    key = _key(conn)
    with _lock:
        missing = years - _known.setdefault(key, set())
    if not missing:
        return
    if not is_partitioned(conn):
        with _lock:
            _known[key] |= years
        return
    seen = set()
    for year in sorted(missing):
        name = f"readings_y{year}"
        row = conn.execute("SELECT to_regclass(%s)", (name,)).fetchone()
        if row is not None and row[0] is not None:
            seen.add(year)
            continue
        conn.execute("SELECT pg_advisory_xact_lock(hashtext('meterlink.readings_partitions'))")
        conn.execute(
            f"CREATE TABLE IF NOT EXISTS {name} PARTITION OF readings FOR VALUES FROM "
            f"('{year}-01-01 00:00:00+00') TO ('{year + 1}-01-01 00:00:00+00')"
        )
    with _lock:
        _known[key] |= seen


def drop_old(conn: psycopg.Connection[Any], retention_days: int, now: datetime) -> list[str]:
    """Drop readings older than the retention: whole chunks or whole yearly partitions of
    the hot table, the compact history's rows of whole days before the cutoff, the MACs of
    the readings so removed, and the gateway and meter health logs' rows before each one's
    state at the cutoff."""
    cutoff = now - timedelta(days=retention_days)
    n = compact_drop_old(conn, cutoff)
    logs = [f"{t}: {k} rows" for t, k in drop_old_health(conn, cutoff).items() if k]
    dropped = ([f"readings_compact: {n} rows"] if n else []) + logs + _drop_hot(conn, cutoff)
    macs = drop_orphan_macs(conn, cutoff)
    return dropped + ([f"reading_macs: {macs} rows"] if macs else [])


def drop_orphan_macs(conn: psycopg.Connection[Any], cutoff: datetime) -> int:
    """The MACs (issue 21) of readings before ``cutoff`` that retention removed: a MAC goes
    with its reading, and only then (a yearly partition outlives the cutoff until its whole
    year is past it). Freeze MACs follow their freeze by foreign key."""
    return conn.execute(
        "DELETE FROM reading_macs k WHERE k.ts < %(c)s AND NOT EXISTS ("
        " SELECT 1 FROM readings_between(k.ts, k.ts + interval '1 microsecond') r"
        " WHERE r.meter_id = k.meter_id AND r.quantity = k.quantity)",
        {"c": cutoff},
    ).rowcount


def _drop_hot(conn: psycopg.Connection[Any], cutoff: datetime) -> list[str]:
    if is_partitioned(conn):
        dropped = []
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON "
            "c.oid = i.inhrelid JOIN pg_class p ON p.oid = i.inhparent "
            "WHERE p.relname = 'readings'"
        ).fetchall()
        for (name,) in rows:
            year = int(name.removeprefix("readings_y"))
            if datetime(year + 1, 1, 1, tzinfo=UTC) <= cutoff:
                conn.execute(f"DROP TABLE {name}")
                dropped.append(name)
        with _lock:
            _known.pop(_key(conn), None)
        return dropped
    rows = conn.execute("SELECT drop_chunks('readings', older_than => %s)", (cutoff,)).fetchall()
    return [str(r[0]) for r in rows]


def drop_emptied(conn: psycopg.Connection[Any], before: datetime, lock: int) -> list[str]:
    """Drop the hot table's chunks or yearly partitions that end before ``before`` and hold
    no row: compaction emptied them, and deleted rows would leave their index pages behind
    (a plain VACUUM returns no index space). Each is checked and dropped holding ``lock``
    (the compaction zone's) exclusively, so no late reading is being written into it."""
    if is_partitioned(conn):
        rows = conn.execute(
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "JOIN pg_class p ON p.oid = i.inhparent WHERE p.relname = 'readings'"
        ).fetchall()
        spans = [
            (name, None, datetime(int(name.removeprefix("readings_y")) + 1, 1, 1, tzinfo=UTC))
            for (name,) in rows
        ]
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
