"""The server's clock: the host's time, as a :class:`protocols.clock.Clock`.

Everything in ``server/`` that asks "what time is it" takes the clock it was given (the app's
``app.state.clock``, the :class:`~server.context.AppContext`'s ``clock``), so a test can run
the jobs, the consumer and the API on a fixed or simulated time. Only this module reads the
host's time.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime

from protocols.clock import Clock

__all__ = ["Clock", "SystemClock"]


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)
