"""The field tools: `meterlink-edge read`, `discover` (DL/T 645 and Modbus), `check-config`."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from simulators.harness import RunningFleet

REPO = Path(__file__).resolve().parents[2]


def edge(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO,
    )


def test_read_prints_values(running: RunningFleet) -> None:
    out = edge(
        "read",
        "--port",
        running.urls["b1"],
        "--address",
        "000000000001",
        "--timeout-ms",
        "500",
        "energy_import_total",
        "0201FF00",
        "04000401",
    )
    assert out.returncode == 1, out.stderr  # the block of three phases is refused: exit 1
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert lines[0]["item"] == "00010000" and lines[0]["unit"] == "kWh"
    assert lines[0]["values"][0] == pytest.approx(
        running.sim.expected("C1")["energy_import_total"], abs=0.005
    )
    assert "no_such_data" in lines[1]["error"]  # a single-phase meter has no voltage block
    assert lines[2]["values"] == ["000000000001"]


def test_read_reports_a_dead_meter(running: RunningFleet) -> None:
    running.sim.inject("C2", "dead")
    out = edge(
        "read",
        "--port",
        running.urls["b1"],
        "--address",
        "000000000002",
        "--protocol",
        "2007",
        "--timeout-ms",
        "300",
        "energy_import_total",
    )
    assert out.returncode == 1 and "timeout" in out.stdout


def test_discover_prints_a_configuration_snippet(running: RunningFleet) -> None:
    out = edge("discover", "--port", running.urls["b1"], "--timeout-ms", "300")
    assert out.returncode == 0, out.stderr
    assert "# 4 DL/T 645-2007 meters" in out.stdout
    assert 'address = "000000000900"' in out.stdout


def test_discover_finds_1997_meters(running: RunningFleet) -> None:
    out = edge("discover", "--port", running.urls["b2"], "--timeout-ms", "300")
    assert out.returncode == 0, out.stderr
    assert "# 1 DL/T 645-1997 meters" in out.stdout
    assert 'address = "000000001997"\nprotocol = "1997"' in out.stdout


def test_discover_modbus_units(running: RunningFleet) -> None:
    out = edge(
        "discover",
        "--port",
        running.urls["mb"],
        "--modbus",
        "--units",
        "1-4",
        "--timeout-ms",
        "300",
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith(f"# 2 Modbus meters on {running.urls['mb']}: unit ids [1, 2]")
    snippet = out.stdout
    assert snippet.count("[[bus.meter]]") == 2
    assert 'protocol = "modbus"' in snippet and "unit = 2" in snippet
    # the model cannot be told from a unit id: the installer fills it in
    assert "# profile" in snippet and "dtsu666" in snippet


def test_read_a_modbus_meter(running: RunningFleet) -> None:
    out = edge(
        "read",
        "--port",
        running.urls["mb"],
        "--protocol",
        "modbus",
        "--profile",
        "sdm120",
        "--unit",
        "2",
        "--timeout-ms",
        "500",
        "energy_import_total",
        "voltage_c",
    )
    assert out.returncode == 1, out.stderr  # sdm120 is single-phase: no voltage_c
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    assert lines[0]["item"] == "energy_import_total" and lines[0]["unit"] == "kWh"
    assert lines[0]["values"][0] == pytest.approx(
        running.sim.expected("MB2")["energy_import_total"], abs=0.01
    )
    assert "no quantity 'voltage_c'" in lines[1]["error"]


def test_check_config_reports_field_errors(tmp_path: Path) -> None:
    bad = tmp_path / "edge.toml"
    bad.write_text(
        '[gateway]\nid = "gw-1"\n[[bus]]\nname = "b"\nport = "/dev/ttyS1"\n'
        '[[bus.meter]]\nid = "M1"\naddress = "12AB"\n'
    )
    out = edge("check-config", str(bad))
    assert out.returncode == 2
    assert "bus[0].meter[0].address: expected 12 digits" in out.stderr


def test_check_config_refuses_an_outbox_path_that_holds_another_file(tmp_path: Path) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("not an outbox\n")
    cfg = tmp_path / "edge.toml"
    base = (
        '[gateway]\nid = "gw-1"\n[[bus]]\nname = "b"\nport = "/dev/ttyS1"\n'
        '[[bus.meter]]\nid = "M1"\naddress = "000000000001"\n'
    )
    cfg.write_text(base + f'[outbox]\npath = "{notes}"\n')
    out = edge("check-config", str(cfg))
    assert out.returncode == 1, out.stdout + out.stderr
    assert f"NOT AN OUTBOX {notes} exists and is not an SQLite database" in out.stdout
    assert notes.read_text() == "not an outbox\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edge.toml", "notes.txt"]
    cfg.write_text(base + f'[outbox]\npath = "{tmp_path / "outbox.sqlite"}"\n')
    out = edge("check-config", str(cfg))
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"OK    outbox {tmp_path / 'outbox.sqlite'}" in out.stdout
    assert not (tmp_path / "outbox.sqlite").exists()  # checking creates nothing
