"""Native PostgreSQL partitions of ``readings`` (one per year) where TimescaleDB is absent,
and retention for both flavours (drop chunks / drop partitions)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg

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
    """Drop readings older than the retention: whole chunks or whole yearly partitions."""
    cutoff = now - timedelta(days=retention_days)
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
