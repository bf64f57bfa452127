"""The outbox: committed means safe; over budget the oldest go, counted; corruption is kept."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from edge.outbox import Outbox
from protocols.model import Reading


def readings(n: int, start: int = 0, meter: str = "M1") -> list[Reading]:
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    return [
        Reading(
            meter,
            "energy_import_total",
            t0 + timedelta(minutes=15 * (start + i)),
            100.0 + start + i,
        )
        for i in range(n)
    ]


def test_add_take_ack_in_order(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    box.add(readings(10))
    first = box.take(4)
    assert [r.value for r in first.readings] == [100.0, 101.0, 102.0, 103.0]
    assert box.take(4, after_id=first.ids[-1]).readings[0].value == 104.0
    box.ack(first.ids)
    assert box.depth() == 6
    assert box.oldest_age_s() is not None
    assert [r.value for r in box.take_newest(2).readings] == [108.0, 109.0]
    box.close()
    again = Outbox(tmp_path / "o.sqlite")
    assert again.depth() == 6  # survives a restart
    assert again.counter("acked") == 4


def test_budget_drops_oldest_and_counts(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", budget_bytes=200_000)
    for k in range(40):
        box.add(readings(100, start=k * 100))
    assert box.dropped > 0
    assert box.depth() + box.dropped == 4000
    remaining = box.take(1).readings[0].value
    assert remaining >= 100.0 + box.dropped  # the oldest went first
    assert box._used_bytes() <= 200_000


def test_corrupt_file_is_moved_aside_not_deleted(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    path.write_bytes(b"this is not sqlite" * 100)
    box = Outbox(path)
    assert box.corrupt_files == 1 and box.counter("corrupt_files") == 1
    aside = list(tmp_path.glob("o.sqlite.corrupt-*"))
    assert aside and aside[0].read_bytes().startswith(b"this is not sqlite")
    box.add(readings(3))
    assert box.depth() == 3


def test_commands_are_remembered(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.command_seen("c1") is False
    assert box.command_seen("c1") is True
    box.close()
    assert Outbox(tmp_path / "o.sqlite").command_seen("c1") is True


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from edge.outbox import Outbox
from protocols.model import Reading
box = Outbox(sys.argv[1])
t0 = datetime(2026, 11, 1, tzinfo=UTC)
n = 0
while True:
    batch = [Reading("M1", "energy_import_total", t0 + timedelta(minutes=n + i), float(n + i))
             for i in range(50)]
    box.add(batch)
    n += 50
    print(n, flush=True)
"""


def test_kill_9_while_writing_loses_nothing_committed(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    rng = random.Random(5)
    committed = 0
    for _round in range(3):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path)],
            stdout=subprocess.PIPE,
            text=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        time.sleep(0.3 + rng.random() * 0.5)
        os.kill(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        lines = out.split()
        last_reported = int(lines[-1]) if lines else 0
        box = Outbox(path)
        depth = box.depth()
        box.close()
        # every batch whose add() returned (and was reported) is there
        assert depth >= committed + last_reported
        committed = depth
    assert committed > 0


def test_journal_keeps_every_committed_reading_after_delivery(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite", journal=True)
    box.add(readings(5))
    box.ack(box.take(10).ids)
    assert box.depth() == 0
    assert [(r.meter, r.ts, r.value) for r in box.journaled()] == [
        (r.meter, r.ts, r.value) for r in readings(5)
    ]
    box.close()
    plain = Outbox(tmp_path / "p.sqlite")
    plain.add(readings(3))
    assert plain.journaled() == []  # off by default: the field never grows a journal
    plain.close()


def test_scaled_clock_is_shared_by_processes_that_know_the_same_numbers() -> None:
    import time
    from datetime import UTC, datetime

    import pytest

    from edge.clock import ScaledClock

    epoch = time.time()
    a = ScaledClock.parse(f"2026-11-01T00:00:00+08:00,{epoch},600")
    b = ScaledClock(datetime(2026, 10, 31, 16, tzinfo=UTC), epoch, 600)
    assert abs((a.now() - b.now()).total_seconds()) < 5  # 600 x the few ms between calls
    assert a.now() >= datetime(2026, 10, 31, 16, tzinfo=UTC)
    for bad in (
        "2026-11-01T00:00:00+08:00,1",
        "2026-11-01T00:00:00,1,600",
        "2026-11-01T00:00:00+08:00,1,0",
        "yesterday,1,2",
    ):
        with pytest.raises(ValueError, match="virtual clock"):
            ScaledClock.parse(bad)
