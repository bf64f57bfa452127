"""The scenario's ground truth counts a reply as delivered only when its last byte left the
simulator within the edge's reply timeout (issue 18): a reply held up after the meter
decided to answer, past the timeout, is not delivered, one in time is, and one near the
timeout makes the meter-day uncertain. Through real endpoints (DL/T 645 over TCP, Modbus
TCP) with a slowed writer; no database."""

from __future__ import annotations

import socket
import struct
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from protocols import dlt645 as d
from protocols.dlt645 import parse_di
from simulators.bus import ReplyTiming
from simulators.clock import VirtualClock
from simulators.endpoints import Endpoint
from simulators.fleet import fleet_from_dict
from simulators.modbus_server import _TimedHandler
from simulators.simulation import Simulation
from tests.accuracy.scenario import TZ, Delivered

HELD_S = 0.4
# local 00:05: a 2007 meter's freeze read, and the terminal freeze of 1997 and Modbus meters
AT = datetime(2026, 11, 2, 0, 5, tzinfo=TZ)
YESTERDAY = date(2026, 11, 1)
# the meter's reply timeout -> what a reply held HELD_S (plus scheduling) is
VERDICTS = [
    (4.0, "delivered"),  # 0.4 s <= 3.0 s (the timeout less the margin)
    (0.45, "uncertain"),  # 0.3375 s < 0.4 s <= 0.5625 s
    (0.2, "not delivered"),  # 0.4 s > 0.25 s (the timeout plus the margin)
]


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulation]:
    fleet = fleet_from_dict(
        {
            "seed": 3,
            "timezone": "Asia/Shanghai",
            "start": AT.astimezone(UTC).isoformat(),
            "speed": 0.0,
            "commissioned": "2026-06-01",
            "buses": [
                {"name": "b1", "fast": True},
                {"name": "mb", "protocol": "modbus", "endpoint": "modbus-tcp"},
            ],
            "areas": [
                {
                    "id": "A1",
                    "loss": 0.04,
                    "master": {"archive_id": "M1", "address": "000000000900", "bus": "b1"},
                    "meters": [
                        {"archive_id": "C1", "address": "000000000001", "bus": "b1"},
                        {
                            "archive_id": "O1",
                            "address": "000000001997",
                            "bus": "b1",
                            "protocol": "dlt645-1997",
                        },
                        {
                            "archive_id": "B1",
                            "address": "000000000101",
                            "bus": "mb",
                            "protocol": "modbus",
                            "modbus_profile": "ddsu666",
                            "unit_id": 1,
                        },
                    ],
                }
            ],
        }
    )
    clock = VirtualClock(AT.astimezone(UTC), 0.0)
    with Simulation(fleet, clock=clock, ground_truth=tmp_path / "truth.jsonl", fast=True) as s:
        yield s


def hold_writers(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every reply waits HELD_S between the meter's decision and its write."""
    line, modbus = Endpoint._write_paced, _TimedHandler.send

    def held_line(self: Endpoint, write: Any, data: bytes) -> bool:
        time.sleep(HELD_S)
        return line(self, write, data)

    def held_modbus(self: _TimedHandler, data: bytes, addr: Any = None) -> None:
        time.sleep(HELD_S)
        modbus(self, data, addr)

    monkeypatch.setattr(Endpoint, "_write_paced", held_line)
    monkeypatch.setattr(_TimedHandler, "send", held_modbus)


def exchange(host: str, port: int, request: bytes, done: Any) -> None:
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(request)
        got = b""
        while not done(got):
            chunk = s.recv(4096)
            assert chunk, "connection closed before the reply"
            got += chunk


def verdict(delivered: Delivered, meter: str) -> str:
    deadline = time.monotonic() + 3
    while sum(delivered.replies.values()) == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the hook runs in the endpoint's thread, after the write
    key = (meter, YESTERDAY)
    if key in delivered.days:
        return "delivered"
    return "uncertain" if key in delivered.uncertain() else "not delivered"


@pytest.mark.parametrize(("timeout_s", "want"), VERDICTS)
def test_a_held_dlt645_freeze_reply_counts_by_when_it_left(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch, timeout_s: float, want: str
) -> None:
    hold_writers(monkeypatch)
    delivered = Delivered(sim, dict.fromkeys(sim.meters, timeout_s))
    sim.on_clean_reply(delivered, delivered.modbus)
    host, port = sim.serve_dlt645_tcp("b1")
    decoder = d.StreamDecoder(accept="replies")
    # the export register of the last daily freeze: the day the gateway stores
    exchange(host, port, d.build_read("000000000001", 0x05060201), decoder.feed)
    assert verdict(delivered, "C1") == want
    assert delivered.replies == {
        "in_time": want == "delivered",
        "uncertain": want == "uncertain",
        "late": want == "not delivered",
    }


@pytest.mark.parametrize(("timeout_s", "want"), VERDICTS)
def test_a_held_modbus_terminal_freeze_counts_by_when_it_left(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch, timeout_s: float, want: str
) -> None:
    hold_writers(monkeypatch)
    delivered = Delivered(sim, dict.fromkeys(sim.meters, timeout_s))
    sim.on_clean_reply(delivered, delivered.modbus)
    host, port = sim.serve_modbus_tcp("mb")
    profile = sim.meter("B1").modbus_profile
    fwd, exp = profile.spec("energy_import_total"), profile.spec("energy_export_total")
    lo = min(fwd.address, exp.address)
    count = max(fwd.address + fwd.data_type.words, exp.address + exp.data_type.words) - lo
    pdu = struct.pack(">BHH", fwd.function, lo, count)
    mbap = struct.pack(">HHHB", 1, 0, len(pdu) + 1, 1)
    exchange(host, port, mbap + pdu, lambda got: len(got) >= 9 + 2 * count)
    assert verdict(delivered, "B1") == want


def test_the_ground_truth_needs_every_meters_timeout(sim: Simulation) -> None:
    with pytest.raises(ValueError, match=r"no gateway reply timeout for meters \['B1'\]"):
        Delivered(sim, {"C1": 1.0, "M1": 1.0, "O1": 1.0})
    with pytest.raises(ValueError, match="margin"):
        Delivered(sim, dict.fromkeys(sim.meters, 1.0), margin=1.0)


def test_a_1997_terminal_freeze_is_as_late_as_the_later_of_its_two_replies(
    sim: Simulation,
) -> None:
    """Forward, then export register: the day is delivered only if both were in time,
    uncertain if either was near the timeout, lost if either was late."""
    meter = sim.meter("O1")
    delivered = Delivered(sim, dict.fromkeys(sim.meters, 1.0))
    now = AT.astimezone(UTC)
    forward = d.decode_frame(d.build_read("000000001997", parse_di(0x9010, "1997"), "1997"))
    export = d.decode_frame(d.build_read("000000001997", parse_di(0x9020, "1997"), "1997"))
    quick, near, late = ReplyTiming(0.0, 0.1), ReplyTiming(0.0, 1.0), ReplyTiming(0.0, 2.0)
    outcomes = []
    for first, second in ((quick, quick), (near, quick), (quick, near), (late, quick)):
        delivered.days.clear()
        delivered._maybe.clear()
        delivered(meter, forward, now, first)
        delivered(meter, export, now + timedelta(seconds=1), second)
        outcomes.append(verdict(delivered, "O1"))
    assert outcomes == ["delivered", "uncertain", "uncertain", "not delivered"]
