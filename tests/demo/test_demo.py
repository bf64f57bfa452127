"""The README's main command works on a machine with no services (`meterlink demo`) and tells
the story the README tells: within its first minute the anomaly archive holds every fault
the fleet carries and nothing on a healthy meter, two areas have a line loss (the thief's
flagged), no warning is printed or logged and no dead letter is left; a second run on the
same data directory counts itself, not the first."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import pytest

from simulators.demo.api import ServerApi

ROOT = Path(__file__).resolve().parents[2]
# the archive the demo's faults must produce, and nothing else: (rule, meter or area)
EXPECTED = {
    ("line_loss", "TA-001"),  # R-THEFT
    ("zero_consumption", "F-STOPPED"),  # its register stood for days, no load read those days
    ("phase_break", "F-PHASE"),
    ("clock", "S-DRIFT"),
}
HISTORY_METERS = 45  # the fleet's DL/T 645-2007 and 698.45 meters: those with a freeze history


@contextmanager
def demo(
    data_dir: Path, home: Path, *args: str
) -> Iterator[tuple[subprocess.Popen[str], list[str]]]:
    """``meterlink demo`` running; yields the process and its output lines so far (a thread
    keeps reading them)."""
    exe = shutil.which("meterlink") or str(Path(sys.executable).with_name("meterlink"))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(home),
        "COLUMNS": "160",
        "TERM": "dumb",
        "PYTHONPATH": str(ROOT),  # this tree, whatever the installed entry point points at
    }
    proc = subprocess.Popen(
        [exe, "demo", "--data-dir", str(data_dir), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    assert proc.stdout is not None
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout or ()), daemon=True)
    reader.start()
    try:
        yield proc, lines
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(60)
        reader.join(10)
        proc.stdout.close()


def wait_for(lines: list[str], text: str, proc: subprocess.Popen[str], timeout: float) -> str:
    """The first output line containing ``text``, waiting for it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for line in list(lines):
            if text in line:
                return line
        if proc.poll() is not None:
            break
        time.sleep(0.2)
    raise AssertionError(f"no {text!r} in the demo's output:\n{''.join(lines)[-4000:]}")


def area_rows(text: str) -> dict[str, list[str]]:
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.replace("│", "|").split("|") if c.strip()]
        if cells and re.fullmatch(r"TA-00\d", cells[0]):
            rows[cells[0]] = cells
    return rows


@pytest.fixture
def data_home() -> Iterator[Path]:
    """A directory the embedded PostgreSQL's own user can reach when the tests run as root
    (pytest's tmp_path lies under a 0700 directory: its pg_ctl could start the server but
    not stop it, and logged that as an error)."""
    path = Path(tempfile.mkdtemp(prefix="meterlink-demo-test-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
# two demos one after the other (75 s, then a short one), each step bounded by its own wait;
# the suite's 300 s for a whole test cut the second demo short on a loaded machine (CI
# beside another demo run), while the story's minute is asserted below
@pytest.mark.timeout(900)
def test_meterlink_demo_tells_its_story_within_a_minute(tmp_path: Path, data_home: Path) -> None:
    data = data_home / "demo"
    with demo(data, tmp_path, "--duration", "75", "--port", "18080") as (proc, lines):
        wait_for(lines, "Running for", proc, 300)
        text = "".join(lines)
        url = re.search(r"server up on (http://127\.0\.0\.1:\d+)", text)
        assert url is not None, text
        password = (data / "admin_password").read_text().strip()
        api = ServerApi(url.group(1))
        api.login("admin", password)
        # the archive: every advertised fault, nothing on a healthy meter
        rows = api.get("/api/anomalies", limit=500)["items"]
        found = {(a["rule"], a.get("meter_id") or a.get("area_id")) for a in rows}
        assert found == EXPECTED
        # a second demo on the same data directory is refused while this one runs
        second = subprocess.run(
            [sys.executable, "-m", "simulators.demo.cli", "demo", "--data-dir", str(data)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"},
            timeout=60,
        )
        assert second.returncode == 3
        assert f"another meterlink demo (pid {proc.pid}) is running on {data}" in second.stdout
        # line loss of yesterday, as the server reports it
        yesterday = date.fromisoformat(
            re.search(r"read on (\d{4}-\d\d-\d\d)", text).group(1)  # type: ignore[union-attr]
        )
        loss = {a["area_id"]: a for a in api.get("/api/line-loss", date=yesterday)["areas"]}
        assert loss["TA-001"]["complete"] and loss["TA-001"]["loss"] > 0.10
        assert loss["TA-002"]["complete"] and 0 < loss["TA-002"]["loss"] < 0.10
        assert loss["TA-003"]["loss"] is None
        assert api.get("/api/dead-letters")["total"] == 0
        assert proc.wait(240) == 0
    text = "".join(lines)
    assert "server up on http://127.0.0.1:" in text
    assert "embedded PostgreSQL + embedded MQTT broker" in text
    assert "48 simulated meters" in text
    assert "sign in as admin" in text
    assert "stopped; nothing left running." in text
    assert "warning" not in text.lower(), text
    log = (data / "demo.log").read_text()
    assert not [line for line in log.splitlines() if " WARNING " in line or " ERROR " in line]
    # the summary: this run's history per area, yesterday's rate and line loss
    rows = area_rows(text)
    assert rows["TA-001"][1:] == ["16", "480/480", "16/16", "100.0 %", rows["TA-001"][-1]]
    assert rows["TA-002"][1:5] == ["12", "360/360", "12/12", "100.0 %"]
    assert rows["TA-003"][1:5] == ["13", "270/300", "9/13", "69.2 %"]
    assert float(rows["TA-001"][-1].rstrip(" %")) > 10
    assert 0 < float(rows["TA-002"][-1].rstrip(" %")) < 10
    assert rows["TA-003"][-1] == "– (incomplete)"
    # TA-004: the DL/T 698.45 district (7 meters, one with an ESAM), every day read back
    assert rows["TA-004"][1:5] == ["7", "210/210", "7/7", "100.0 %"]
    story = re.search(r"the archive complete (\d+) s after the start", text)
    assert story is not None and int(story.group(1)) <= 60, text[-3000:]
    assert f"{1110 + 210} of {30 * HISTORY_METERS} meter-days" in text
    truth = (data / "ground_truth.jsonl").read_text().splitlines()
    # nothing left listening on the demo's database socket directory
    assert not (data / "server" / "pg" / "postmaster.pid").exists()
    assert (data / "demo.lock").read_text() == ""

    # a second run on the same data directory counts itself only
    with demo(data, tmp_path, "--duration", "1", "--days", "2") as (proc, lines):
        assert proc.wait(300) == 0
    again = "".join(lines)
    assert f"of {2 * HISTORY_METERS} meter-days of freeze history read" in again, again
    rows = area_rows(again)
    assert rows["TA-001"][2] == "32/32" and rows["TA-003"][2] == "18/20"
    # the truth file names this run's meters and faults once, not every run's appended
    assert len((data / "ground_truth.jsonl").read_text().splitlines()) == len(truth)
    assert (data / "ground_truth.previous.jsonl").exists()
