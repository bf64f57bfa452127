"""The connection pool (sync psycopg 3)."""

from __future__ import annotations

from psycopg.conninfo import conninfo_to_dict, make_conninfo
from psycopg_pool import ConnectionPool


def without_jit(url: str) -> str:
    """``url`` with ``-c jit=off`` added to its options, unless they set ``jit`` already.

    PostgreSQL compiles a plan whose estimated cost passes ``jit_above_cost``; the
    workbench's reports over 100,000 meters pass it and spent 0.5-1.7 s of a 5.7 s
    request compiling (EXPLAIN ANALYZE on plain PostgreSQL 15, 2026-12-02), for queries
    that then run in well under a second. The TimescaleDB script turns JIT off for the
    whole cluster; this does the same for the server's own sessions on any PostgreSQL.
    """
    options = str(conninfo_to_dict(url).get("options") or "")
    if "jit" in options:
        return url
    return make_conninfo(url, options=f"{options} -c jit=off".strip())


def open_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool:
    pool = ConnectionPool(
        without_jit(url),
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False},
        name="meterlink",
    )
    pool.open(wait=True, timeout=30)
    return pool
