"""A gateway's clock that jumps (a bad NTP step, an RTC battery, a suspended machine): the
read plans neither invent interval values for slots long gone nor read anything twice."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from edge.config import PlanConfig
from edge.plans import PlanRunner

TZ = ZoneInfo("Asia/Shanghai")
INTERVAL = PlanConfig("interval", "interval", every_min=15)
FREEZE = PlanConfig("daily_freeze", "daily_freeze", at="00:05")


class JumpClock:
    """A clock the test sets anywhere, forwards or back; sleeping is a short real wait."""

    def __init__(self, start: datetime) -> None:
        self._now = start
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, t: datetime) -> None:
        with self._lock:
            self._now = t

    def sleep(self, seconds: float) -> None:
        time.sleep(0.01)


def running(clock: JumpClock) -> tuple[PlanRunner, list[tuple[str, datetime]]]:
    fired: list[tuple[str, datetime]] = []
    lock = threading.Lock()

    def fire(plan: PlanConfig, when: datetime) -> None:
        with lock:
            fired.append((plan.name, when))

    runner = PlanRunner((INTERVAL, FREEZE), TZ, clock, fire)
    runner.start()
    return runner, fired


def settle() -> None:
    time.sleep(0.3)


def test_forward_jump_skips_missed_interval_slots_and_fires_the_freeze_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    t0 = datetime(2026, 11, 10, 22, 0, 30, tzinfo=TZ)
    clock = JumpClock(t0)
    runner, fired = running(clock)
    try:
        clock.set(t0 + timedelta(minutes=15))  # 22:15:30: the 22:15 slot is 30 s late: fires
        settle()
        assert fired == [("interval", datetime(2026, 11, 10, 22, 15, tzinfo=TZ))]
        with caplog.at_level(logging.WARNING, logger="edge.plans"):
            clock.set(datetime(2026, 11, 11, 3, 0, 40, tzinfo=TZ))  # jumps 4 h 45 min on
            settle()
        # no storm of 19 interval readings stamped with slots long gone; the freeze missed
        # at 00:05 fires once (it reads what the meter froze at midnight)
        assert fired[1:] == [("daily_freeze", datetime(2026, 11, 11, 0, 5, tzinfo=TZ))]
        assert (
            "19 slots from 2026-11-10 22:30:00+08:00 to 2026-11-11 03:00:00+08:00 missed"
            in caplog.text
        )
        clock.set(datetime(2026, 11, 11, 3, 15, 5, tzinfo=TZ))  # on schedule again
        settle()
        assert fired[-1] == ("interval", datetime(2026, 11, 11, 3, 15, tzinfo=TZ))
    finally:
        runner.stop()


def test_backward_jump_fires_nothing_twice() -> None:
    t0 = datetime(2026, 11, 10, 10, 0, 30, tzinfo=TZ)
    clock = JumpClock(t0)
    runner, fired = running(clock)
    try:
        for minutes in (15, 30):
            clock.set(t0 + timedelta(minutes=minutes))
            settle()
        clock.set(t0 - timedelta(hours=1))  # back to 09:00:30
        for minutes in (-45, -30, 0, 15, 30, 45):
            clock.set(t0 + timedelta(minutes=minutes))
            settle()
        whens = [w for _, w in fired]
        assert whens == sorted(set(whens))  # strictly increasing: nothing read twice
        assert whens == [datetime(2026, 11, 10, 10, m, tzinfo=TZ) for m in (15, 30, 45)]
    finally:
        runner.stop()
