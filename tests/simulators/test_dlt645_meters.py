"""DL/T 645 meters on a simulated bus, in-process (Bus.handle) and over loopback TCP."""

from __future__ import annotations

import socket
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from protocols import dlt645 as d
from simulators.bus import Bus
from simulators.simulation import Simulation

from .conftest import START

TZ = ZoneInfo("Asia/Shanghai")


def ask(bus: Bus, wire: bytes) -> d.Reply | None:
    frame = d.decode_frame(wire)
    out = bus.handle(frame)
    if not out.data:
        return None
    frames = d.StreamDecoder(accept="replies").feed(out.data)
    assert len(frames) == 1, out
    return d.parse_reply(frames[0])


@pytest.fixture
def b1(sim: Simulation) -> Bus:
    return Bus("b1", sim.meters_on("b1"), sim.clock, sim.responder.for_bus(0), seed=1)


@pytest.fixture
def b2(sim: Simulation) -> Bus:
    return Bus("b2", sim.meters_on("b2"), sim.clock, sim.responder.for_bus(0), seed=1)


def test_read_energy_and_tariffs_add_up(sim: Simulation, b1: Bus) -> None:
    reply = ask(b1, d.build_read("000000000001", "0001FF00"))
    assert reply is not None and reply.error is None
    total, *tariffs = reply.values
    expected = sim.expected("C1")
    assert total == pytest.approx(expected["energy_import_total"], abs=0.005)
    assert sum(tariffs) == pytest.approx(total, abs=0.03)  # rounding of 5 registers
    assert total > 0


def test_only_the_addressed_meter_answers(b1: Bus) -> None:
    assert ask(b1, d.build_read("000000000055", "00010000")) is None  # nobody has it
    reply = ask(b1, d.build_read("000000000002", "00010000"))
    assert reply is not None and reply.address == "000000000002"


def test_wildcard_with_several_meters_collides(b1: Bus) -> None:
    out = b1.handle(d.decode_frame(d.build_read_address()))
    assert out.collided
    assert len(out.answered_by) >= 3
    # the garbled bytes hold no valid frame, as on a real RS-485 line
    assert d.StreamDecoder().feed(out.data) == []


def test_wildcard_narrowed_to_one_meter_answers(b1: Bus) -> None:
    reply = ask(b1, d.build_read("AAAAAAAAA013", "00010000"))  # only 000000000013 matches
    assert reply is not None and reply.address == "000000000013"


def test_broadcast_time_sets_the_clock_and_gets_no_answer(sim: Simulation, b1: Bus) -> None:
    shown = datetime(2026, 11, 1, 12, 30, 0)
    out = b1.handle(d.decode_frame(d.build_broadcast_time(shown)))
    assert out.data == b""
    reply = ask(b1, d.build_read("000000000001", "04000102"))
    assert reply is not None
    assert reply.values[0] == shown.time()


def test_62_days_of_daily_freezes(sim: Simulation, b1: Bus) -> None:
    previous = None
    for n in (62, 31, 2, 1):
        t = ask(b1, d.build_read("000000000001", f"050600{n:02X}"))
        e = ask(b1, d.build_read("000000000001", f"050601{n:02X}"))
        assert t is not None and e is not None
        freeze_time = t.values[0]
        assert isinstance(freeze_time, datetime)
        local_now = START.astimezone(TZ).replace(tzinfo=None)
        expected_day = (local_now - timedelta(days=n - 1)).replace(hour=0, minute=0)
        assert freeze_time == expected_day, n
        total = e.values[0]
        assert isinstance(total, float)
        if previous is not None:
            assert total >= previous  # registers only grow
        previous = total
    current = sim.expected("C1")["energy_import_total"]
    assert previous is not None and previous <= current
    assert ask(b1, d.build_read("000000000001", "0506003F")).error == ("no_such_data",)


def test_block_reads_and_three_phase_values(sim: Simulation, b1: Bus) -> None:
    v = ask(b1, d.build_read("000000000900", "0201FF00"))
    i = ask(b1, d.build_read("000000000900", "0202FF00"))
    p = ask(b1, d.build_read("000000000900", "0203FF00"))
    assert v and i and p
    assert all(180 < x < 260 for x in v.values)
    total, pa, pb, pc = p.values
    assert total == pytest.approx(pa + pb + pc, abs=0.001)
    # power consistent with U x I x PF per phase (kW)
    pf = ask(b1, d.build_read("000000000900", "0206FF00"))
    assert pf is not None
    for k in range(3):
        assert p.values[k + 1] == pytest.approx(
            v.values[k] * i.values[k] * pf.values[k + 1] / 1000, rel=0.02, abs=0.002
        )


def test_single_phase_meter_has_no_phase_b(b1: Bus) -> None:
    reply = ask(b1, d.build_read("000000000001", "02010200"))
    assert reply is not None and reply.error == ("no_such_data",)


def test_unknown_item_and_unsupported_functions(b1: Bus) -> None:
    assert ask(b1, d.build_read("000000000001", "0A0B0C0D")).error == ("no_such_data",)
    reply = ask(b1, d.build_change_baud("000000000001", 9600))
    assert reply is not None and reply.error  # this meter keeps its rate
    reply = ask(b1, d.build_write("000000000001", "04000102", b"\x00\x00\x12"))
    assert reply is not None and reply.error == ("unauthorised",)


def test_1997_meter(sim: Simulation, b2: Bus) -> None:
    reply = ask(b2, d.build_read("000000001997", "9010", "1997"))
    assert reply is not None and reply.version == "1997"
    assert reply.values[0] == pytest.approx(sim.expected("C97")["energy_import_total"], abs=0.005)
    block = ask(b2, d.build_read("000000001997", "901F", "1997"))
    assert block is not None and len(block.values) == 5
    # a 1997 meter does not understand 2007 functions: it stays silent
    assert ask(b2, d.build_read("000000001997", "00010000")) is None


def test_long_reply_comes_in_subsequent_frames(sim: Simulation) -> None:
    from simulators.dlt645_responder import Dlt645Responder

    small = Dlt645Responder(max_reply_data=12)
    bus = Bus("b1", sim.meters_on("b1"), sim.clock, small.for_bus(0), seed=1)
    first = ask(bus, d.build_read("000000000001", "0001FF00"))
    assert first is not None and first.more_follows
    raw = first.raw
    seq = 1
    while True:
        nxt = ask(bus, d.build_read_subsequent("000000000001", "0001FF00", seq))
        assert nxt is not None and nxt.error is None
        raw += nxt.raw
        if not nxt.more_follows:
            break
        seq += 1
    assert d.item("0001FF00").decode(raw)[0] == pytest.approx(
        sim.expected("C1")["energy_import_total"], abs=0.005
    )


def test_freeze_command_acknowledged(b1: Bus) -> None:
    reply = ask(b1, d.build_freeze("000000000001"))
    assert reply is not None and reply.function_name == "freeze" and reply.error is None
    assert b1.handle(d.decode_frame(d.build_freeze("999999999999"))).data == b""


def test_over_tcp_like_a_serial_server(sim: Simulation) -> None:
    host, port = sim.serve_dlt645_tcp("b1", fast=True)
    with socket.create_connection((host, port), timeout=5) as s:
        dec = d.StreamDecoder(accept="replies")
        s.sendall(d.build_read("000000000002", "00010000"))
        frames: list[d.Frame] = []
        deadline = time.monotonic() + 5
        while not frames and time.monotonic() < deadline:
            frames = dec.feed(s.recv(256))
        reply = d.parse_reply(frames[0])
        assert reply.values[0] == pytest.approx(
            sim.expected("C2")["energy_import_total"], abs=0.005
        )


def test_consumption_is_deterministic_from_the_seed(fleet: object) -> None:
    from simulators.clock import VirtualClock
    from simulators.fleet import fleet_from_dict

    from .conftest import fleet_dict

    def reading(seed: int) -> float:
        f = fleet_from_dict(fleet_dict(seed=seed))
        with Simulation(f, clock=VirtualClock(START, 0.0), fast=True) as s:
            return s.expected("C1", START + timedelta(days=3))["energy_import_total"]

    assert reading(7) == reading(7)
    assert reading(7) != reading(8)


def test_area_master_is_customers_plus_loss(sim: Simulation) -> None:
    t0, t1 = START, START + timedelta(days=2)
    customers = ["C1", "C2", "C3", "C97", "MB1", "MB2"]

    def used(mid: str) -> float:
        return (
            sim.meter(mid).registers_at(t1)["energy_import_total"]
            - sim.meter(mid).registers_at(t0)["energy_import_total"]
        )

    master = used("M-A1")
    total = sum(used(c) for c in customers)
    assert master == pytest.approx(total * 1.05, rel=0.01)
