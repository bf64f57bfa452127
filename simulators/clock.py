"""The virtual clock every simulated meter reads: real time, sped up, or stepped by tests.

``now() = start + (monotonic elapsed) * speed + manual advance``. A test builds a clock
with ``speed=0`` (frozen) and calls :meth:`VirtualClock.advance` or :meth:`set`; a demo
runs at ``speed=60`` to live an hour a minute. The clock is thread-safe.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class ClockError(ValueError):
    """A clock built or moved with a bad value (naive time, negative speed)."""


class VirtualClock:
    """Simulated UTC time: ``start`` at creation, running ``speed`` times real time."""

    def __init__(
        self,
        start: datetime | None = None,
        speed: float = 1.0,
        *,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start is None:
            start = datetime.now(UTC)
        if start.tzinfo is None or start.utcoffset() is None:
            raise ClockError(f"clock start {start.isoformat()} has no time zone")
        if speed < 0:
            raise ClockError(f"clock speed must be >= 0, got {speed}")
        self._lock = threading.Lock()
        self._monotonic = monotonic
        self._base = start.astimezone(UTC)
        self._base_mono = monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now(self) -> datetime:
        """The current simulated instant (aware, UTC)."""
        with self._lock:
            elapsed = (self._monotonic() - self._base_mono) * self._speed
            return self._base + timedelta(seconds=elapsed)

    def timestamp(self) -> float:
        """The current simulated instant as POSIX seconds."""
        return self.now().timestamp()

    def edge_spec(self) -> str:
        """``START,EPOCH,SPEED`` for ``meterlink-edge run --virtual-clock``: the simulated
        instant now, the Unix time of the same moment and the speed, so an edge's clock
        (``START + (time.time() - EPOCH) * SPEED``) shows what the meters show. Needs a
        running clock (speed > 0): a frozen one cannot be followed by another process."""
        with self._lock:
            if self._speed <= 0:
                raise ClockError("a frozen virtual clock (speed 0) has no edge clock")
            epoch = time.time()
            elapsed = (self._monotonic() - self._base_mono) * self._speed
            start = self._base + timedelta(seconds=elapsed)
        return f"{start.isoformat()},{epoch:.6f},{self._speed!r}"

    def advance(self, delta: timedelta | float) -> datetime:
        """Move simulated time forward by ``delta`` (seconds or timedelta); returns now()."""
        seconds = delta.total_seconds() if isinstance(delta, timedelta) else float(delta)
        if seconds < 0:
            raise ClockError("a virtual clock does not run backwards; use set()")
        with self._lock:
            self._base += timedelta(seconds=seconds)
        return self.now()

    def set(self, instant: datetime, speed: float | None = None) -> None:
        """Jump to ``instant`` (and optionally change speed) from this moment on."""
        if instant.tzinfo is None or instant.utcoffset() is None:
            raise ClockError(f"clock time {instant.isoformat()} has no time zone")
        if speed is not None and speed < 0:
            raise ClockError(f"clock speed must be >= 0, got {speed}")
        with self._lock:
            self._base = instant.astimezone(UTC)
            self._base_mono = self._monotonic()
            if speed is not None:
                self._speed = float(speed)
