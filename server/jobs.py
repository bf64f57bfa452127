"""Scheduled jobs inside the server (APScheduler): retention now; completeness and re-reading
jobs are added by ``server.checks``. With several server processes only one runs a job at a
time: each run takes a PostgreSQL advisory lock and skips if another process holds it."""

from __future__ import annotations

import logging
import zlib
from collections.abc import Callable
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from .db.partitions import drop_old
from .services import AppContext

log = logging.getLogger(__name__)


def run_locked(ctx: AppContext, name: str, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(conn)`` if no other process runs job ``name`` now; None if skipped."""
    key = zlib.crc32(name.encode())
    with ctx.pool.connection() as conn:
        got = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
        conn.commit()
        if not got or not got[0]:
            log.info("job %s runs in another process; skipped", name)
            return None
        try:
            return fn(conn)
        finally:
            conn.rollback()
            conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
            conn.commit()


class JobsService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.scheduler = BackgroundScheduler(timezone=ctx.settings.utility_timezone)
        self.scheduler.add_job(self.retention, CronTrigger(hour=3, minute=17,
                                                           timezone=ctx.settings.tz),
                               id="retention", max_instances=1, coalesce=True)

    def retention(self) -> Any:
        def run(conn: Any) -> Any:
            with conn.transaction():
                dropped = drop_old(conn, self.ctx.settings.retention_days, self.ctx.clock())
            log.info("retention: dropped %s", dropped or "nothing")
            return dropped

        return run_locked(self.ctx, "retention", run)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)
