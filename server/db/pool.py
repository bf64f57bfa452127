"""The connection pool (sync psycopg 3)."""

from __future__ import annotations

from psycopg_pool import ConnectionPool


def open_pool(url: str, *, min_size: int = 1, max_size: int = 10) -> ConnectionPool:
    pool = ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        kwargs={"autocommit": False},
        name="meterlink",
    )
    pool.open(wait=True, timeout=30)
    return pool
