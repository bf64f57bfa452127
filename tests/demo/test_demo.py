"""The README's main command works on a machine with no services: `meterlink demo`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.slow
def test_meterlink_demo_runs_and_stops_cleanly(tmp_path: Path) -> None:
    exe = shutil.which("meterlink") or str(Path(sys.executable).with_name("meterlink"))
    out = subprocess.run(
        [
            exe,
            "demo",
            "--duration",
            "2",
            "--days",
            "3",
            "--data-dir",
            str(tmp_path / "demo"),
            "--port",
            "18080",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "COLUMNS": "120", "TERM": "dumb"},
    )
    text = out.stdout + out.stderr
    assert out.returncode == 0, text[-3000:]
    assert "server up on http://127.0.0.1:" in text
    assert "embedded PostgreSQL + embedded MQTT broker" in text
    assert "48 simulated meters" in text
    assert "sign in as admin" in text
    assert "stopped; nothing left running." in text
    # history arrived: the summary table has freeze days for every area
    rows = [line for line in text.splitlines() if "TA-00" in line]
    assert len(rows) == 4  # TA-004: the DL/T 698.45 district
    for row in rows:
        cells = [c.strip() for c in row.replace("│", "|").split("|") if c.strip()]
        assert int(cells[2]) > 0, row  # freeze days loaded
    # nothing left listening on the demo's database socket directory
    pg = tmp_path / "demo" / "server" / "pg" / "postmaster.pid"
    assert not pg.exists()
