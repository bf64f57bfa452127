"""The jobs' bookkeeping on a real database: one process at a time runs a job, and every run
is recorded in ``job_runs`` with its outcome."""

from __future__ import annotations

import zlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest

from server.context import AppContext
from server.db.pool import open_pool
from server.jobs import run_locked

from .conftest import settings_for


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        pass


def _runs(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT job, outcome, detail, finished_at IS NOT NULL FROM job_runs ORDER BY id"
        ).fetchall()


def test_run_locked_records_each_run_and_skips_a_job_running_elsewhere(
    migrated: str, tmp_path: Path
) -> None:
    pool = open_pool(migrated)
    clock = FixedClock(datetime(2026, 1, 2, tzinfo=UTC))
    ctx = AppContext(settings_for(migrated, "mqtt://127.0.0.1:9", tmp_path), pool, clock, "")
    try:
        assert run_locked(ctx, "demo", lambda conn: {"n": 1, "day": clock.now()}) == {
            "n": 1,
            "day": clock.now(),
        }

        def fails(conn: Any) -> None:
            raise ValueError("no luck")

        with pytest.raises(ValueError, match="no luck"):
            run_locked(ctx, "demo", fails)
        with psycopg.connect(migrated) as other:  # another process runs the job now
            other.execute("SELECT pg_advisory_lock(%s)", (zlib.crc32(b"demo"),))
            assert run_locked(ctx, "demo", lambda conn: "ran") is None
    finally:
        pool.close()
    assert _runs(migrated) == [
        ("demo", "ok", {"n": 1, "day": "2026-01-02 00:00:00+00:00"}, True),
        ("demo", "error", {"error": "no luck"}, True),
    ]
