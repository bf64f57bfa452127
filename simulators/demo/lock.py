"""One demo per data directory: ``demo.lock`` in it holds the running demo's pid.

Two demos on one data directory would share its embedded PostgreSQL, its edges' outboxes
and its ground truth, and fight over them. The lock is an exclusive ``flock`` on the file,
held while the demo runs, so it goes with the process however that ends (a crash, kill -9):
a second demo finds it held and is refused, naming the pid in the file. A file left by a
demo that died is not held: the next demo takes it over and says whose it was (never a
guess from a pid alone, which the system may have given to another process since).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

LOCK_NAME = "demo.lock"


class DemoLocked(RuntimeError):
    """Another demo runs on this data directory; the message names its pid."""


class DemoLock:
    """The held lock of one data directory (use :meth:`acquire`, release on exit)."""

    def __init__(self, path: Path, fd: int, took_over: int | None) -> None:
        self.path = path
        self._fd: int | None = fd
        #: the pid of a demo that died holding the lock's file, if this run took it over
        self.took_over = took_over

    @classmethod
    def acquire(cls, data_dir: Path) -> DemoLock:
        """Take the lock of ``data_dir`` or raise :class:`DemoLocked`."""
        path = data_dir / LOCK_NAME
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _pid_in(fd)
            os.close(fd)
            who = f"pid {holder}" if holder is not None else "another process"
            raise DemoLocked(
                f"another meterlink demo ({who}) is running on {data_dir}: stop it first "
                f"(Ctrl-C in its terminal, or kill {holder if holder is not None else 'it'}) "
                "or give this one another --data-dir"
            ) from None
        previous = _pid_in(fd)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        took_over = previous if previous is not None and previous != os.getpid() else None
        return cls(path, fd, took_over)

    def release(self) -> None:
        """Empty the file and let it go (the file stays: removing it would race a demo
        that opened it meanwhile)."""
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)
        finally:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DemoLock:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _pid_in(fd: int) -> int | None:
    """The pid written in the lock file, or None (empty, or not a pid)."""
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None
