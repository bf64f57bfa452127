"""The one clock shape of meterlink: every part that asks "what time is it" or waits takes a
:class:`Clock`, so a simulated day of read plans, a week of broker outage or a month of server
jobs runs in seconds in a test.

This module holds only the shape (``protocols/`` does no I/O). The clocks themselves live
with their users: ``edge/clock.py`` (system, scaled for test benches, manual for tests),
``server/clock.py`` and ``simulators/clock.py`` (the fleet's virtual time). Only those clock
modules read the host's time (``datetime.now``, ``time.time``); elapsed-time measurements
(``time.monotonic``, ``perf_counter``) are not "the time" and may be taken anywhere.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds`` of this clock's time."""
        ...
