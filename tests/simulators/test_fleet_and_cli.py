"""Fleet files are validated with clear errors; the command line runs, injects and stops."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from edge.clock import ScaledClock
from protocols import dlt645 as d
from simulators.cli import example_text
from simulators.fleet import FleetError, fleet_from_dict, load_fleet
from simulators.harness import edge_config_dict, running_fleet
from tests.conftest import free_port

from .conftest import START, fleet_dict


def test_shipped_example_fleet_loads() -> None:
    path = Path(__file__).resolve().parents[2] / "simulators" / "fleets" / "example.toml"
    fleet = load_fleet(path)
    assert len(fleet.areas) == 2
    protocols = {m.protocol for m, _ in fleet.meters}
    assert protocols == {"dlt645-2007", "dlt645-1997", "modbus", "dlt698"}
    assert example_text() == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda f: f["buses"][0].update(baud="fast"), "buses[0].baud"),
        (lambda f: f["areas"][0]["meters"][0].update(address="12AB"), "areas[0].meters[0].address"),
        (lambda f: f["areas"][0]["meters"][0].update(bus="nowhere"), "no bus named 'nowhere'"),
        (lambda f: f["areas"][0]["meters"][1].update(address="000000000001"), "used by C1"),
        (lambda f: f["areas"][0]["meters"][0].update(colour="red"), "colour"),
        (lambda f: f["areas"][0]["meters"][0].update(faults=[{"kind": "melted"}]), "melted"),
        (lambda f: f.update(timezone="Mars/Base"), "timezone"),
        (
            lambda f: f["areas"][0]["meters"][0].update(theft_days_ago=3),
            "theft_days_ago: needs a theft_fraction above 0",
        ),
        (
            lambda f: f["areas"][0]["meters"][0].update(theft_fraction=0.3, theft_days_ago=0),
            "theft_days_ago",
        ),
        (lambda f: f["areas"][0]["meters"][0].update(frame_size=100), "frame_size is a DL/T 698"),
    ],
)
def test_bad_fleet_names_the_field(change, message: str) -> None:  # noqa: ANN001
    data = fleet_dict()
    change(data)
    with pytest.raises(FleetError, match=message.replace("(", r"\(").replace("[", r"\[")):
        fleet_from_dict(data)


def test_a_theft_that_began_on_a_day_changes_only_the_days_after_it() -> None:
    """``theft_days_ago``: before that day the meter registers its customer's whole
    consumption (as a healthy one), from that day on only 1 - theft_fraction of it; the
    area master sees the true consumption on every day."""
    from zoneinfo import ZoneInfo

    from simulators.simulation import build_meters

    plain, thief = fleet_dict(), fleet_dict()
    thief["areas"][0]["meters"][0].update(theft_fraction=0.5, theft_days_ago=3)
    fa, fb = fleet_from_dict(plain), fleet_from_dict(thief)
    a, b = build_meters(fa), build_meters(fb)
    tz = ZoneInfo(fa.timezone)
    start_day = START.astimezone(tz).date()

    def use(meter: object, back: int) -> float:
        t0 = datetime.combine(start_day - timedelta(days=back), datetime.min.time(), tz)
        e0 = meter.primary_energy_at(t0)  # type: ignore[attr-defined]
        return float(meter.primary_energy_at(t0 + timedelta(days=1)) - e0)  # type: ignore[attr-defined]

    for back in (6, 5, 4):  # before the theft: the same meter as without it
        assert use(b["C1"], back) == pytest.approx(use(a["C1"], back), abs=0.02)
    for back in (3, 2, 1):  # the theft's days: half of it
        assert use(b["C1"], back) == pytest.approx(use(a["C1"], back) * 0.5, abs=0.02)
    for back in range(1, 7):  # the master sees the line's energy either way
        assert use(b["M-A1"], back) == pytest.approx(use(a["M-A1"], back), abs=0.02)
    spec = next(m for m, _ in fb.meters if m.archive_id == "C1")
    assert spec.theft_since == start_day - timedelta(days=3)


def test_bad_toml_file(tmp_path: Path) -> None:
    bad = tmp_path / "f.toml"
    bad.write_text("seed = = 1\n")
    with pytest.raises(FleetError, match="not valid TOML"):
        load_fleet(bad)
    with pytest.raises(FleetError, match="does not exist"):
        load_fleet(tmp_path / "missing.toml")


def test_harness_and_edge_config(tmp_path: Path) -> None:
    fleet = fleet_from_dict(fleet_dict())
    with running_fleet(fleet, ground_truth=tmp_path / "gt.jsonl") as run:
        assert run.urls["b1"].startswith("socket://127.0.0.1:")
        assert run.urls["mb"].startswith("modbus-tcp://127.0.0.1:")
        cfg = edge_config_dict(fleet, run.urls, "gw-1")
        buses = {b["name"]: b for b in cfg["bus"]}
        assert {m["id"] for m in buses["b2"]["meter"]} == {"C97"}
        assert buses["b2"]["meter"][0]["protocol"] == "1997"
        assert {m["unit"] for m in buses["mb"]["meter"]} == {1, 2}
        assert cfg["gateway"]["id"] == "gw-1"


def test_cli_run_fault_and_stop(tmp_path: Path) -> None:
    fleet_file = tmp_path / "fleet.toml"
    subprocess.run(
        [sys.executable, "-m", "simulators.cli", "example", str(fleet_file)], check=True, timeout=60
    )
    control_port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "simulators.cli",
            "run",
            str(fleet_file),
            "--fast",
            "--control-port",
            str(control_port),
            "--ground-truth",
            str(tmp_path / "gt.jsonl"),
            "--duration",
            "60",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        lines = []
        assert proc.stdout is not None
        while len(lines) < 5:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else "no output"
            lines.append(json.loads(line))
        buses = {x["bus"]: x for x in lines if "bus" in x}
        # the clock an edge needs to live on the fleet's time, and it does agree
        (spec,) = [x["virtual_clock"] for x in lines if "virtual_clock" in x]
        edge_now = ScaledClock.parse(spec).now()
        assert (
            abs((edge_now - datetime.fromisoformat("2026-11-01T00:00:00+08:00")).total_seconds())
            < 30
        )
        assert buses["rs485-1"]["type"] == "tcp" and buses["rs485-1"]["port"] > 0
        # a gateway can read a meter on the printed port
        import socket

        with socket.create_connection(("127.0.0.1", buses["rs485-1"]["port"]), 5) as s:
            s.sendall(d.build_read("000000000001", "00010000"))
            dec = d.StreamDecoder(accept="replies")
            frames: list[d.Frame] = []
            deadline = time.monotonic() + 5
            while not frames and time.monotonic() < deadline:
                frames = dec.feed(s.recv(256))
            assert d.parse_reply(frames[0]).values[0] > 0
        # inject and clear a fault through the command
        url = f"http://127.0.0.1:{control_port}"
        for _ in range(50):
            try:
                urllib.request.urlopen(f"{url}/buses", timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "simulators.cli",
                "fault",
                "C000001",
                "intermittent",
                "--param",
                "drop_rate=0.25",
                "--control",
                url,
            ],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert out.returncode == 0, out.stderr
        assert json.loads(out.stdout)["params"]["drop_rate"] == 0.25
        bad = subprocess.run(
            [sys.executable, "-m", "simulators.cli", "fault", "NOPE", "dead", "--control", url],
            capture_output=True,
            text=True,
            timeout=30,
        )
        assert bad.returncode == 1 and "NOPE" in bad.stderr
        truth = [json.loads(x) for x in (tmp_path / "gt.jsonl").read_text().splitlines()]
        assert any(r["meter"] == "C000001" and r.get("kind") == "intermittent" for r in truth)
        # the CT-connected master is in the ground truth with its ratio
        ratios = {r["meter"]: (r["ct"], r["pt"]) for r in truth if r["action"] == "meter"}
        assert ratios["TA001-M"] == (40, 1)
        theft = {r["meter"]: r["theft_fraction"] for r in truth if r["action"] == "meter"}
        assert theft["C000102"] == 0.3 and theft["TA001-M"] == 0.0
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.communicate(timeout=20)  # waits and closes both pipes
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
    assert proc.returncode == 0


def test_pty_endpoint(tmp_path: Path) -> None:
    import termios
    import tty

    data = fleet_dict()
    data["buses"][0].update(endpoint="pty")
    from simulators.clock import VirtualClock
    from simulators.simulation import Simulation

    from .conftest import START

    with Simulation(fleet_from_dict(data), clock=VirtualClock(START, 0), fast=True) as sim:
        ep = sim.start_bus("b1")
        path = ep.describe()["path"]
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
        try:
            tty.setraw(fd)
            termios.tcflush(fd, termios.TCIOFLUSH)
            os.write(fd, d.build_read("000000000002", "00010000"))
            dec = d.StreamDecoder(accept="replies")
            frames: list[d.Frame] = []
            deadline = time.monotonic() + 5
            import select

            while not frames and time.monotonic() < deadline:
                if select.select([fd], [], [], 0.2)[0]:
                    frames = dec.feed(os.read(fd, 256))
            assert frames and d.parse_reply(frames[0]).address == "000000000002"
        finally:
            os.close(fd)
