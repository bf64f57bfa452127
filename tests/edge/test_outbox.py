"""The outbox: committed means safe; over budget the oldest go, counted; corruption is kept."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from edge.outbox import (
    APPLICATION_ID,
    SCHEMA,
    ForeignOutboxError,
    Outbox,
    outbox_path_problem,
)
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


BODY = {
    "meter": "M1",
    "quantity": "energy_import_total",
    "ts": "2026-11-01T00:00:00Z",
    "value": 1.0,
    "unit": "kWh",
    "kind": "interval",
    "source": "scheduled",
    "quality": [],
}


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
    """A meterlink outbox whose pages are damaged (its header, with the stamp, intact)."""
    path = tmp_path / "o.sqlite"
    box = Outbox(path)
    box.add(readings(500))
    box.close()
    data = bytearray(path.read_bytes())
    data[100:] = b"this is not sqlite" * ((len(data) - 100) // 18) + b"x" * ((len(data) - 100) % 18)
    path.write_bytes(bytes(data))
    box = Outbox(path)
    assert box.corrupt_files == 1 and box.counter("corrupt_files") == 1
    aside = [p for p in tmp_path.glob("o.sqlite.corrupt-*") if not p.name.endswith("-shm")]
    aside = [p for p in aside if not p.name.endswith("-wal")]
    assert aside and aside[0].read_bytes()[100:].startswith(b"this is not sqlite")
    box.add(readings(3))
    assert box.depth() == 3


def test_a_file_that_is_not_an_outbox_is_refused_and_left_untouched(tmp_path: Path) -> None:
    """A wrong ``[outbox] path`` used to rename an unrelated file aside and put a database in
    its place."""
    text = tmp_path / "notes.txt"
    text.write_bytes(b"this is not sqlite" * 100)
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE invoices (id INTEGER PRIMARY KEY, amount REAL)")
    conn.execute("INSERT INTO invoices(amount) VALUES (9.5)")
    conn.commit()
    conn.close()
    stamped = tmp_path / "stamped.db"
    conn = sqlite3.connect(stamped)
    conn.execute("PRAGMA application_id = 1234")
    conn.executescript(SCHEMA)  # even with our tables: another application's id
    conn.close()
    folder = tmp_path / "folder"
    folder.mkdir()
    for path in (text, other, stamped, folder):
        before = sorted(p.name for p in tmp_path.iterdir())
        content = path.read_bytes() if path.is_file() else None
        with pytest.raises(ForeignOutboxError, match=re.escape(str(path))):
            Outbox(path)
        assert sorted(p.name for p in tmp_path.iterdir()) == before  # nothing renamed, added
        assert (path.read_bytes() if path.is_file() else None) == content
        assert outbox_path_problem(path) is not None


def test_an_outbox_made_before_the_stamp_is_recognised_and_stamped(tmp_path: Path) -> None:
    path = tmp_path / "o.sqlite"
    conn = sqlite3.connect(path)
    conn.executescript(SCHEMA)  # what Outbox made before the stamp
    conn.execute("INSERT INTO outbox(created, body) VALUES (0, ?)", (json.dumps(BODY),))
    conn.commit()
    conn.close()
    assert outbox_path_problem(path) is None
    box = Outbox(path)
    assert box.depth() == 1 and box.corrupt_files == 0
    box.close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID == 0x4D4C4F42
    conn.close()
    assert Outbox(path).depth() == 1


def test_a_new_or_empty_path_becomes_a_stamped_outbox(tmp_path: Path) -> None:
    empty = tmp_path / "empty.sqlite"
    empty.touch()  # e.g. a crash right after SQLite made the file
    for path in (tmp_path / "new" / "o.sqlite", empty):
        assert outbox_path_problem(path) is None
        Outbox(path).close()
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
        conn.close()
        assert outbox_path_problem(path) is None


def test_commands_are_remembered(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.sqlite")
    assert box.command_seen("c1") is False
    assert box.command_seen("c1") is True
    box.close()
    assert Outbox(tmp_path / "o.sqlite").command_seen("c1") is True


WRITER = """
import sys
from datetime import UTC, datetime, timedelta
import pytest

from edge.outbox import (
    APPLICATION_ID,
    SCHEMA,
    ForeignOutboxError,
    Outbox,
    outbox_path_problem,
)
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


def test_an_esam_reading_keeps_its_mac_and_rn_in_the_outbox_and_journal(tmp_path: Path) -> None:
    """A DL/T 698.45 ESAM meter's reading: the MAC it returned and the RN the edge sent
    (issue 21) survive the outbox (and a restart) and the journal, for the uplink."""
    from protocols.model import Quality, ReadingKind

    r = Reading(
        "O2",
        "energy_import_total",
        datetime(2026, 11, 5, 16, 0, tzinfo=UTC),
        1234.5,
        "kWh",
        ReadingKind.FREEZE,
        quality=frozenset({Quality.UNVERIFIED}),
        mac=bytes.fromhex("1a2b3c4d"),
        rn=bytes(range(16)),
    )
    box = Outbox(tmp_path / "o.sqlite", journal=True)
    box.add([r, readings(1)[0]])
    box.close()
    again = Outbox(tmp_path / "o.sqlite", journal=True)
    taken = again.take(10).readings
    assert taken[0] == r and taken[0].mac == bytes.fromhex("1A2B3C4D")
    assert taken[1].mac is None and taken[1].rn is None
    assert again.journaled()[0] == r
    again.close()
