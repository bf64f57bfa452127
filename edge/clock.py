"""Clocks the edge runs on: the system clock, or a manual one that tests move by hand.

Everything that asks "what time is it" or waits takes a :class:`Clock`, so a simulated day of
read plans or a week of broker outage runs in seconds in a test.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

from protocols.clock import Clock

__all__ = ["Clock", "ManualClock", "ScaledClock", "SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


class ScaledClock:
    """Simulated time for a test bench, shared across processes without talking:
    ``now = start + (wall time - epoch) * speed``. Every process given the same three numbers
    (a simulated fleet, the edge agents, restarted ones too) agrees on the time."""

    def __init__(self, start: datetime, epoch: float, speed: float) -> None:
        if start.tzinfo is None:
            raise ValueError("ScaledClock needs an aware start time")
        if speed <= 0:
            raise ValueError(f"clock speed must be > 0, got {speed}")
        self.start, self.epoch, self.speed = start.astimezone(UTC), epoch, speed

    @classmethod
    def parse(cls, spec: str) -> ScaledClock:
        """``START,EPOCH,SPEED``: an ISO time with offset, a Unix time, a factor."""
        try:
            start, epoch, speed = spec.split(",")
            return cls(datetime.fromisoformat(start), float(epoch), float(speed))
        except ValueError as exc:
            raise ValueError(
                f"virtual clock {spec!r}: expected START,EPOCH,SPEED (ISO time "
                f"with offset, Unix time, factor): {exc}"
            ) from None

    def now(self) -> datetime:
        return self.start + timedelta(seconds=(time.time() - self.epoch) * self.speed)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds / self.speed)


class ManualClock:
    """Time moves only when :meth:`set` or :meth:`advance` is called; ``sleep`` waits for it."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware start time")
        self._now = start.astimezone(UTC)
        self._cond = threading.Condition()

    def now(self) -> datetime:
        with self._cond:
            return self._now

    def set(self, instant: datetime) -> None:
        with self._cond:
            if instant < self._now:
                raise ValueError("a manual clock does not run backwards")
            self._now = instant.astimezone(UTC)
            self._cond.notify_all()

    def advance(self, seconds: float) -> None:
        self.set(self.now() + timedelta(seconds=seconds))

    def sleep(self, seconds: float) -> None:
        """Wait until the clock has been moved ``seconds`` on (or 50 ms of real time)."""
        with self._cond:
            due = self._now + timedelta(seconds=seconds)
            self._cond.wait_for(lambda: self._now >= due, timeout=0.05)
