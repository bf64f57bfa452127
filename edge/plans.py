"""Read plans: what to read when. The only user of APScheduler in the edge agent.

APScheduler's triggers compute the fire times (an ``IntervalTrigger`` anchored at local
midnight, so a 15-minute plan fires on the quarter hours and builds 96-point days; a
``CronTrigger`` for the daily plans, in the meters' time zone). The firing itself is driven
by our own loop on the injected clock, so tests run a virtual day in seconds
(:meth:`PlanRunner.run_until`) and the live agent waits on the real clock
(:meth:`PlanRunner.start`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from .clock import Clock
from .config import PlanConfig

log = logging.getLogger(__name__)

Fire = Callable[[PlanConfig, datetime], None]

# A plan found due later than this (the clock jumped forward, or the machine was suspended)
# does not fire for every slot it missed: an interval value read now is not the value of a
# slot hours ago, so the missed interval slots are skipped (logged); a daily plan (freeze,
# events, clock check) reads what the meter keeps, so it fires once for the latest missed
# day. A clock that jumps back fires nothing twice: the next slot stays where it was.
MISFIRE_GRACE_S = 60.0


def trigger_for(plan: PlanConfig, tz: ZoneInfo, now: datetime) -> BaseTrigger:
    if plan.kind == "interval":
        local = now.astimezone(tz)
        midnight = datetime(local.year, local.month, local.day, tzinfo=tz) - timedelta(days=1)
        return IntervalTrigger(minutes=plan.every_min, start_date=midnight, timezone=tz)
    hh, mm = (int(x) for x in plan.at.split(":"))
    return CronTrigger(hour=hh, minute=mm, timezone=tz)


class PlanRunner:
    def __init__(
        self, plans: tuple[PlanConfig, ...], tz: ZoneInfo, clock: Clock, fire: Fire
    ) -> None:
        self.plans, self.tz, self.clock, self.fire = plans, tz, clock, fire
        now = clock.now()
        self.triggers = {p.name: trigger_for(p, tz, now) for p in plans}
        self.next: dict[str, datetime | None] = {
            p.name: self.triggers[p.name].get_next_fire_time(None, now) for p in plans
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _due(self) -> tuple[PlanConfig, datetime] | None:
        best: tuple[PlanConfig, datetime] | None = None
        for p in self.plans:
            t = self.next[p.name]
            if t is not None and (best is None or t < best[1]):
                best = (p, t)
        return best

    def _advance(self, plan: PlanConfig, fired: datetime) -> None:
        self.next[plan.name] = self.triggers[plan.name].get_next_fire_time(
            fired, fired + timedelta(microseconds=1)
        )

    def run_until(
        self, end: datetime, set_clock: Callable[[datetime], None], wait_idle: Callable[[], None]
    ) -> int:
        """Fire every plan due up to ``end`` in order, moving a manual clock to each fire
        time and waiting for the buses to finish before the next. Returns the firings."""
        fired = 0
        while (due := self._due()) is not None and due[1] <= end:
            plan, when = due
            set_clock(when)
            self.fire(plan, when)
            wait_idle()
            self._advance(plan, when)
            fired += 1
        set_clock(end)
        return fired

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="plans", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)

    def _loop(self) -> None:
        while not self._stop.is_set():
            due = self._due()
            if due is None:
                return
            plan, when = due
            now = self.clock.now()
            left = (when - now).total_seconds()
            if left > 0:
                self.clock.sleep(min(left, 1.0))
                continue
            if -left > MISFIRE_GRACE_S:
                self._misfired(plan, when, now)
                continue
            try:
                self.fire(plan, when)
            except Exception:
                log.exception("plan %s failed to fire at %s", plan.name, when)
            self._advance(plan, when)

    def _misfired(self, plan: PlanConfig, when: datetime, now: datetime) -> None:
        trigger = self.triggers[plan.name]
        nxt = trigger.get_next_fire_time(None, now)
        missed, latest, t = 0, when, when
        while t is not None and t <= now:
            missed, latest = missed + 1, t
            t = trigger.get_next_fire_time(t, t + timedelta(microseconds=1))
        if plan.kind == "interval":
            log.warning(
                "plan %s: %d slots from %s to %s missed (the clock jumped forward "
                "or the agent was stalled); interval values cannot be read after "
                "their time, skipped",
                plan.name,
                missed,
                when,
                latest,
            )
        else:
            log.warning(
                "plan %s: %d firings missed up to %s (the clock jumped forward or "
                "the agent was stalled); firing once for %s",
                plan.name,
                missed,
                latest,
                latest,
            )
            try:
                self.fire(plan, latest)
            except Exception:
                log.exception("plan %s failed to fire at %s", plan.name, latest)
        self.next[plan.name] = nxt
