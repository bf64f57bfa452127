"""Password hashing in its own small pool, so a flood of sign-ins cannot starve the API.

Argon2id costs tens of milliseconds of CPU and 64 MiB of memory per check. Run in the
request thread pool (40 threads), a flood of wrong-password sign-ins took every thread and
an ordinary GET waited 15 s. Here at most ``workers`` hashes run at once and at most
``queue`` more wait; one more is refused at once (:class:`HashingBusy`, answered 503 with
``Retry-After``) instead of queueing without end. Sign-in's database work is gated too
(:attr:`HashingPool.database`). The sign-in route is ``async`` and awaits
the pool, so a waiting sign-in holds neither a request thread nor a database connection.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")


class HashingBusy(Exception):
    """Every hashing worker is busy and the queue is full: try again in a moment."""


class HashingPool:
    def __init__(self, workers: int = 2, queue: int = 16) -> None:
        self.workers = workers
        self.queue = queue
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="pw-hash")
        self._slots = threading.BoundedSemaphore(workers + queue)
        #: sign-in's share of the database: at most this many of its short transactions at
        #: once (waiting here holds no thread and no connection), so a flood leaves the
        #: connection pool and the request threads to everything else
        self.database = asyncio.Semaphore(max(2, workers))

    @contextmanager
    def reserve(self) -> Iterator[None]:
        """A place in the pool for a whole sign-in (taken before any database work, so a
        flood beyond the pool is refused at once); :meth:`run_reserved` uses it."""
        if not self._slots.acquire(blocking=False):
            raise HashingBusy("password checks are all busy")
        try:
            yield
        finally:
            self._slots.release()

    async def run_reserved(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        future: Future[T] = self._executor.submit(fn, *args, **kwargs)
        return await asyncio.wrap_future(future)

    async def run(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        with self.reserve():
            return await self.run_reserved(fn, *args, **kwargs)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
