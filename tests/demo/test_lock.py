"""One demo per data directory: a second is refused naming the first's pid, and the lock of
a demo that died is taken over with a message."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from simulators.demo import script
from simulators.demo.lock import LOCK_NAME, DemoLock, DemoLocked

HOLD = """
import sys, time
from pathlib import Path
from simulators.demo.lock import DemoLock
lock = DemoLock.acquire(Path(sys.argv[1]))
print("held", flush=True)
time.sleep(60)
"""


def _holder(data_dir: Path) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def _stop(proc: subprocess.Popen[str]) -> None:
    proc.kill()
    proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def test_a_second_demo_on_the_same_data_dir_is_refused_naming_the_first(tmp_path: Path) -> None:
    proc = _holder(tmp_path)
    try:
        with pytest.raises(DemoLocked, match=f"another meterlink demo \\(pid {proc.pid}\\)"):
            DemoLock.acquire(tmp_path)
    finally:
        _stop(proc)
    with DemoLock.acquire(tmp_path) as lock:  # the holder died: free again
        assert lock.took_over == proc.pid
        assert (tmp_path / LOCK_NAME).read_text().strip() == str(os.getpid())
    assert (tmp_path / LOCK_NAME).read_text() == ""  # a clean exit leaves no pid behind
    with DemoLock.acquire(tmp_path) as lock:
        assert lock.took_over is None


def test_a_stale_pid_file_is_taken_over_even_when_the_pid_is_in_use(tmp_path: Path) -> None:
    """The file names a pid that now belongs to some other process (here: this one's
    parent): nobody holds the lock, so it is taken over; a pid alone decides nothing."""
    (tmp_path / LOCK_NAME).write_text(f"{os.getppid()}\n")
    with DemoLock.acquire(tmp_path) as lock:
        assert lock.took_over == os.getppid()


def test_the_demo_refuses_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    proc = _holder(tmp_path)
    try:
        args = argparse.Namespace(
            data_dir=str(tmp_path), port=0, days=1, duration=0, database_url=None, mqtt_url=None
        )
        started = time.monotonic()
        assert script.run_demo(args) == 3
        assert time.monotonic() - started < 5
    finally:
        _stop(proc)
    out = capsys.readouterr().out
    assert f"pid {proc.pid}" in out and "--data-dir" in out
    assert not (tmp_path / "server").exists()  # no database was made
