"""Scheduled jobs inside the server (APScheduler): the daily anomaly scan, automatic
re-reading after the collection window, retention, the nightly compaction of days older
than the hot window, the nightly count of the closed days' load-curve points, and expiring
unanswered commands. With
several server processes only one runs a job at a time: each run takes a PostgreSQL
advisory lock and skips if another process holds it. Every run is recorded in ``job_runs``
(visible through the API)."""

from __future__ import annotations

import json
import logging
import zlib
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import psycopg
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from protocols import wire

from .audit import SYSTEM, record_check_run
from .checks.reread import auto_reread
from .checks.rules import run_incremental, run_rules
from .context import AppContext, Service
from .db.compact import compact
from .db.curve_points import LOOK_BACK_DAYS, count_closed_days
from .db.partitions import drop_old
from .db.queries import job_runs as q
from .gateways.commands import expire

log = logging.getLogger(__name__)


def run_locked(ctx: AppContext, name: str, fn: Callable[[Any], Any]) -> Any:
    """Run ``fn(conn)`` if no other process runs job ``name`` now; None if skipped. Its work
    is committed when it returns (outcome ``ok``, or ``partial`` when its result lists
    ``failed`` parts), rolled back when it raises (``error``)."""
    key = zlib.crc32(name.encode())
    with ctx.pool.connection() as conn:
        got = q.try_job_lock(conn, key=key)
        conn.commit()
        if not got:
            log.info("job %s runs in another process; skipped", name)
            return None
        run_id = q.start_job_run(conn, job=name)
        conn.commit()
        outcome, detail = "error", None
        try:
            result = fn(conn)
            conn.commit()  # what the job did is kept, in a transaction of its own or not
            outcome, detail = "ok", result
            if isinstance(result, dict) and result.get("failed"):
                outcome = "partial"  # it ran, but some part failed: the detail says which
            return result
        except Exception as exc:
            detail = {"error": str(exc)}
            log.exception("job %s failed", name)
            raise
        finally:
            conn.rollback()
            q.finish_job_run(conn, run_id=run_id, outcome=outcome, detail=_plain(detail))
            q.release_job_lock(conn, key=key)
            conn.commit()


def _plain(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))


class JobsService:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.scheduler = BackgroundScheduler(timezone=ctx.settings.utility_timezone)
        tz = ctx.settings.tz
        hh, mm = (int(x) for x in ctx.settings.collection_window_end.split(":"))
        self.scheduler.add_job(
            self.retention,
            CronTrigger(hour=3, minute=17, timezone=tz),
            id="retention",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.compact,
            CronTrigger(hour=2, minute=41, timezone=tz),
            id="compact",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.curve_points,
            CronTrigger(hour=0, minute=7, timezone=tz),
            id="curve_points",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.anomaly_scan,
            CronTrigger(hour=hh, minute=mm, timezone=tz),
            id="anomaly_scan",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.reread,
            CronTrigger(hour=f"{hh}-23", minute="*/10", timezone=tz),
            id="reread",
            max_instances=1,
            coalesce=True,
        )
        self.scheduler.add_job(
            self.expire_commands,
            IntervalTrigger(seconds=expire_every_s(ctx.settings.command_ttl_s)),
            id="expire_commands",
            max_instances=1,
            coalesce=True,
        )

        if ctx.settings.checks_incremental_s:
            self.scheduler.add_job(
                self.incremental_checks,
                IntervalTrigger(seconds=ctx.settings.checks_incremental_s),
                id="incremental_checks",
                max_instances=1,
                coalesce=True,
            )

    def incremental_checks(self) -> Any:
        return run_locked(
            self.ctx,
            "incremental_checks",
            lambda conn: run_incremental(conn, self.ctx.settings.utility_timezone),
        )

    def _yesterday(self) -> date:
        return self.ctx.clock.now().astimezone(self.ctx.settings.tz).date() - timedelta(days=1)

    def anomaly_scan(self) -> Any:
        day = self._yesterday()

        def scan(conn: Any) -> dict[str, Any]:
            run = run_rules(conn, day, self.ctx.settings.utility_timezone)
            record_check_run(
                conn, actor=SYSTEM, day=day, found=run.found, failed=run.failed, job="anomaly_scan"
            )
            return {"date": str(day), "found": run.found, "failed": run.failed}

        return run_locked(self.ctx, "anomaly_scan", scan)

    def reread(self) -> Any:
        today = self._yesterday() + timedelta(days=1)
        return run_locked(
            self.ctx,
            "reread",
            lambda conn: auto_reread(conn, today, per_gateway=self.reread_per_gateway()),
        )

    def reread_per_gateway(self) -> int:
        """Meter-days one run asks of a gateway: ten minutes at the re-read rate, and never
        more than one command carries (the rest waits for the next runs)."""
        return min(self.ctx.settings.reread_rate_per_gateway_per_min * 10, wire.MAX_COMMAND_ITEMS)

    def expire_commands(self) -> Any:
        def run(conn: Any) -> Any:
            with conn.transaction():
                ids = expire(conn, now=self.ctx.clock.now(), ttl_s=self.ctx.settings.command_ttl_s)
            if ids:
                log.warning("expired %d unanswered commands", len(ids))
            return {"expired": len(ids), "ids": ids[:20]}

        return run_locked(self.ctx, "expire_commands", run)

    def curve_points(self) -> Any:
        """Count the closed days' load-curve points (:mod:`server.db.curve_points`)."""
        today = self._yesterday() + timedelta(days=1)
        settings = self.ctx.settings
        # not the days retention is dropping (it unmarks them)
        back = min(LOOK_BACK_DAYS, settings.retention_days - 1)
        return run_locked(
            self.ctx,
            "curve_points",
            lambda conn: count_closed_days(conn, today, settings.utility_timezone, look_back=back),
        )

    def retention(self) -> Any:
        def run(conn: Any) -> Any:
            with conn.transaction():
                dropped = drop_old(conn, self.ctx.settings.retention_days, self.ctx.clock.now())
            log.info("retention: dropped %s", dropped or "nothing")
            return dropped

        return run_locked(self.ctx, "retention", run)

    def compact_before(self) -> date:
        """The first day that stays hot: today minus the hot window."""
        return self._yesterday() + timedelta(days=1) - timedelta(days=self.ctx.settings.hot_days)

    def compact(self) -> Any:
        before = self.compact_before()

        def run(conn: Any) -> Any:
            # a connection of its own: each chunk of meters commits on its own, and VACUUM
            # runs outside a transaction
            with psycopg.connect(str(self.ctx.pool.conninfo), autocommit=True) as own:
                res = compact(own, before, self.ctx.settings.utility_timezone)
            return res.as_dict() if res else {"skipped": "another compaction runs"}

        return run_locked(self.ctx, "compact", run)

    def start(self) -> None:
        self.scheduler.start()

    def stop(self) -> None:
        self.scheduler.shutdown(wait=False)


def expire_every_s(ttl_s: float) -> float:
    """How often expiry runs: a quarter of the time to live, between 30 s and 5 minutes."""
    return min(max(ttl_s / 4, 30.0), 300.0)


def jobs_service(ctx: AppContext) -> Service:
    return JobsService(ctx)
