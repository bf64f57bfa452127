"""DL/T 698.45 meters on a simulated bus shared with DL/T 645 meters: in-process
(Bus.handle) and over loopback TCP. Every answer is decoded with the codec's client role
and compared with the meter model (the simulator's ground truth)."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from protocols import dlt645, dlt698
from protocols.line import LineFrame, is_dlt698
from simulators.bus import Bus
from simulators.dlt698_responder import mac_of
from simulators.fleet import FleetError, fleet_from_dict
from simulators.simulation import Simulation

from .conftest import START, fleet_dict

TZ = ZoneInfo("Asia/Shanghai")
NOW = START + timedelta(days=4)  # 2026-11-05 12:00 local
ADDRESSES = ("000000006981", "000000006982", "000000006993")


def oop_fleet() -> dict[str, Any]:
    data = fleet_dict()
    data["areas"][0]["meters"] += [
        {"archive_id": "O1", "address": ADDRESSES[0], "bus": "b1", "protocol": "dlt698"},
        {
            "archive_id": "O2",
            "address": ADDRESSES[1],
            "bus": "b1",
            "protocol": "dlt698",
            "esam": True,
            "phases": 3,
        },
        {"archive_id": "O3", "address": ADDRESSES[2], "bus": "b1", "protocol": "dlt698"},
    ]
    return data


@pytest.fixture
def sim(tmp_path: Any) -> Iterator[Simulation]:
    from simulators.clock import VirtualClock

    fleet = fleet_from_dict(oop_fleet())
    with Simulation(
        fleet, clock=VirtualClock(NOW, 0.0), ground_truth=tmp_path / "t.jsonl", fast=True
    ) as s:
        yield s


@pytest.fixture
def b1(sim: Simulation) -> Bus:
    return Bus("b1", sim.meters_on("b1"), sim.clock, sim.line_responder(), seed=1)


def ask(bus: Bus, wire: bytes) -> dlt698.Reply | None:
    out = bus.handle(dlt698.decode_frame(wire))
    bus.sent(out, 0.0, 0.0)  # sans-IO: the reply is out at once
    if not out.data:
        return None
    frames = dlt698.StreamDecoder(accept="replies").feed(out.data)
    assert len(frames) == 1, out
    return dlt698.parse_reply(frames[0], expect=wire)


def test_a_normal_list_is_answered_from_the_meters_registers(sim: Simulation, b1: Bus) -> None:
    wire = dlt698.build_get_list(ADDRESSES[1], ["00100200", "20000200", "20040200", "40010200"])
    reply = ask(b1, wire)
    assert reply is not None and reply.security is None
    regs = sim.meter("O2").registers_at(NOW)
    energies = dict(reply.quantities("00100200"))
    assert energies["energy_import_total"] == regs["energy_import_total"]
    assert energies["energy_import_t3"] == regs["energy_import_t3"]
    assert dict(reply.quantities("20000200"))["voltage_c"] == regs["voltage_c"]
    power = dict(reply.quantities("20040200"))["power_active_total"]
    assert power == pytest.approx(regs["power_active_total"], abs=1e-4)  # W, scaler -1
    assert reply.quantities("40010200") == [("meter_address", ADDRESSES[1])]


def test_an_object_the_meter_lacks_is_refused_alone(b1: Bus) -> None:
    reply = ask(b1, dlt698.build_get_list(ADDRESSES[0], ["20000201", "20000202"]))
    assert reply is not None
    assert reply.results[0].data is not None
    assert reply.results[1].dar == 6  # object_unavailable: a single-phase meter


@pytest.mark.parametrize("n", [1, 2, 4])
def test_daily_freezes_by_every_selector(sim: Simulation, b1: Bus, n: int) -> None:
    shown, regs = sim.meter("O1").freeze(n, NOW)
    at = shown.replace(tzinfo=None)
    cols = ["20210200", "00100200"]
    selectors = {
        "value": dlt698.Rsd.by_value(0x20210200, dlt698.dts(at)),
        "interval": dlt698.Rsd.interval(
            0x20210200, dlt698.dts(at), dlt698.dts(at + timedelta(hours=1))
        ),
        "n-th last": dlt698.Rsd.last(n),
    }
    for name, rsd in selectors.items():
        reply = ask(b1, dlt698.build_get_record(ADDRESSES[0], "50040200", rsd, cols))
        assert reply is not None, name
        rows = reply.row_quantities()
        assert len(rows) == 1, name
        assert rows[0]["freeze_time"] == at
        assert rows[0]["energy_import_total"] == regs["energy_import_total"], name
    reply = ask(b1, dlt698.build_get_record(ADDRESSES[0], "50040200", dlt698.Rsd.last_n(n), cols))
    assert reply is not None
    times = [r["freeze_time"] for r in reply.row_quantities()]
    assert times == [at + timedelta(days=k) for k in range(n)]


def test_a_curve_with_a_step_and_every_column(sim: Simulation, b1: Bus) -> None:
    start = datetime(2026, 11, 5, 6, 0)
    rsd = dlt698.Rsd.interval(
        0x20210200,
        dlt698.dts(start),
        dlt698.dts(start + timedelta(hours=1)),
        dlt698.Data(dlt698.T.TI, dlt698.Ti(1, 30)),
    )
    reply = ask(b1, dlt698.build_get_record(ADDRESSES[0], "50020200", rsd, []))
    assert reply is not None
    rows = reply.row_quantities()
    assert [r["freeze_time"] for r in rows] == [start, start + timedelta(minutes=30)]
    truth = sim.meter("O1").registers_at(start.replace(tzinfo=TZ))
    assert rows[0]["energy_import_total"] == truth["energy_import_total"]
    assert rows[0]["voltage_a"] == truth["voltage_a"]


def test_an_esam_meter_wants_security_and_answers_with_a_mac(b1: Bus) -> None:
    rsd = dlt698.Rsd.last(1)
    plain = ask(b1, dlt698.build_get_record(ADDRESSES[1], "50040200", rsd, ["00100200"]))
    assert plain is not None
    with pytest.raises(dlt698.DarError) as err:
        plain.raise_for_error()
    assert err.value.code == 15
    rn = bytes(range(16))
    wire = dlt698.build_get_record(ADDRESSES[1], "50040200", rsd, ["00100200"], secure=True, rn=rn)
    reply = ask(b1, wire)
    assert reply is not None and reply.security == "plain" and reply.verified is False
    assert reply.mac is not None and len(reply.mac) == 4
    inner_plain = dlt698.build_get_record_response(
        dlt698.parse_request(wire),
        0x50040200,
        reply.record().rcsd,
        reply.record().rows,
        own_address=ADDRESSES[1],
    )
    assert reply.mac == mac_of(rn, inner_plain)
    # its instantaneous data are read in the clear
    assert ask(b1, dlt698.build_get(ADDRESSES[1], "00100200")) is not None


def test_a_wildcard_read_makes_the_698_meters_collide_and_645_meters_stay_silent(
    b1: Bus,
) -> None:
    out = b1.handle(dlt698.decode_frame(dlt698.build_get("AAAAAAAAAA8A", "40010200")))
    assert out.collided and set(out.answered_by) == {"O1", "O2"}
    assert dlt698.StreamDecoder(accept="replies").feed(out.data) == []  # two: garbage
    # three equal-length replies XOR into a frame whose CRCs hold (CRC-16/X.25 is affine:
    # an odd number of frames keeps it), from an address no meter has: why discovery
    # confirms every candidate with a read addressed to it alone
    out = b1.handle(dlt698.decode_frame(dlt698.build_get("AAAAAAAAAAAA", "40010200")))
    assert out.collided and set(out.answered_by) == {"O1", "O2", "O3"}
    [phantom] = dlt698.StreamDecoder(accept="replies").feed(out.data)
    assert phantom.server.address not in ADDRESSES
    assert ask(b1, dlt698.build_get(phantom.server.address, "40010200")) is None
    one = ask(b1, dlt698.build_get("AAAAAAAAAA81", "40010200"))
    assert one is not None and one.address == ADDRESSES[0]
    # a 645 wildcard read is answered by the 645 meters only
    out645 = b1.handle(dlt645.decode_frame(dlt645.build_read("AAAAAAAAAAAA", "04000401")))
    assert not {"O1", "O2", "O3"} & set(out645.answered_by)


def test_broadcast_time_sets_the_clocks_unanswered(sim: Simulation, b1: Bus) -> None:
    later = NOW.astimezone(TZ).replace(tzinfo=None) + timedelta(minutes=7)
    out = b1.handle(dlt698.decode_frame(dlt698.build_broadcast_time(later)))
    assert out.data == b""
    for mid in ("O1", "O2", "O3"):
        assert sim.meter(mid).meter_clock(NOW).replace(tzinfo=None) == later
    assert sim.meter("C1").meter_clock(NOW) == NOW.astimezone(TZ)  # a 645 meter: untouched
    reply = ask(b1, dlt698.build_get(ADDRESSES[0], "40000200"))
    assert reply is not None and reply.data("40000200").value == later


def test_writes_are_refused_and_the_clean_reply_log_sees_698_frames(
    sim: Simulation, b1: Bus
) -> None:
    seen: list[tuple[str, LineFrame]] = []
    b1.on_clean_reply = lambda meter, frame, now, timing: seen.append((meter.archive_id, frame))
    reply = ask(b1, dlt698.build_set(ADDRESSES[0], "40000200", dlt698.dts(datetime(2026, 1, 1))))
    assert reply is not None
    with pytest.raises(dlt698.DarError):
        reply.raise_for_error()
    wire = dlt698.build_get_record(
        ADDRESSES[0], "50040200", dlt698.Rsd.last_n(3), ["20210200", "00100200"]
    )
    ask(b1, wire)
    assert [m for m, _ in seen] == ["O1", "O1"] and all(is_dlt698(f) for _, f in seen)
    days = sim.responder698.freeze_days_answered(sim.meter("O1"), seen[-1][1], NOW)  # type: ignore[arg-type]
    today = NOW.astimezone(TZ).date()
    assert days == [today - timedelta(days=k) for k in (3, 2, 1)]


def test_fleet_files_say_what_is_wrong_with_a_698_meter() -> None:
    bad = oop_fleet()
    bad["areas"][0]["meters"][0].update(esam=True)  # C1 is a DL/T 645-2007 meter
    with pytest.raises(FleetError, match=r"areas\[0\]\.meters\[0\].*only a dlt698 meter"):
        fleet_from_dict(bad)
    bad = oop_fleet()
    bad["areas"][0]["meters"][-1].update(bus="mb")
    with pytest.raises(FleetError, match="cannot sit on modbus bus"):
        fleet_from_dict(bad)


def test_both_families_over_one_tcp_line(sim: Simulation) -> None:
    host, port = sim.serve_dlt645_tcp("b1", fast=True)
    with socket.create_connection((host, port), timeout=5) as s:
        for wire, decoder in (
            (dlt698.build_get(ADDRESSES[2], "00100201"), dlt698.StreamDecoder(accept="replies")),
            (dlt645.build_read("000000000002", "00010000"), dlt645.StreamDecoder(accept="replies")),
        ):
            s.sendall(wire)
            frames: list[Any] = []
            deadline = time.monotonic() + 5
            while not frames and time.monotonic() < deadline:
                frames = decoder.feed(s.recv(512))
            assert len(frames) == 1
    assert sim.buses["b1"].requests == 2
