"""Every fault kind does what its name says, and every injection lands in the ground truth."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from protocols import dlt645 as d
from simulators.bus import Bus
from simulators.faults import FAULT_KINDS, FaultError, read_ground_truth
from simulators.simulation import Simulation

from .conftest import START

LATER = START + timedelta(days=2)


def bus(sim: Simulation, name: str = "b1") -> Bus:
    return Bus(name, sim.meters_on(name), sim.clock, sim.responder.for_bus(0), seed=3)


def read(sim: Simulation, address: str, di: str = "00010000") -> bytes:
    return bus(sim).handle(d.decode_frame(d.build_read(address, di))).data


def regs(sim: Simulation, meter: str, t=LATER) -> dict[str, float]:  # noqa: ANN001
    return sim.meter(meter).registers_at(t)


def test_fault_catalogue_is_complete() -> None:
    wanted = {
        "dead",
        "intermittent",
        "slow",
        "bad_checksum",
        "wrong_address",
        "register_decrease",
        "stopped_register",
        "flying_register",
        "tariff_mismatch",
        "reverse_energy",
        "zero_consumption",
        "clock_drift",
        "voltage_loss",
        "phase_break",
        "current_imbalance",
        "cover_open",
        "meter_replaced",
        "load_surge",
    }
    assert wanted <= set(FAULT_KINDS)


def test_dead(sim: Simulation) -> None:
    sim.inject("C1", "dead")
    assert read(sim, "000000000001") == b""
    assert read(sim, "000000000002") != b""  # the others still answer


def test_intermittent_drops_about_the_rate(sim: Simulation) -> None:
    sim.inject("C1", "intermittent", {"drop_rate": 0.5})
    b = bus(sim)
    frame = d.decode_frame(d.build_read("000000000001", "00010000"))
    answered = sum(1 for _ in range(400) if b.handle(frame).data)
    assert 140 < answered < 260


def test_slow_adds_delay(sim: Simulation) -> None:
    sim.inject("C1", "slow", {"delay_s": 2.5})
    out = bus(sim).handle(d.decode_frame(d.build_read("000000000001", "00010000")))
    assert out.delay_s == 2.5 and out.data


def test_bad_checksum(sim: Simulation) -> None:
    sim.inject("C1", "bad_checksum")
    data = read(sim, "000000000001")
    assert data and not d.inspect_frame(data).checksum_ok
    dec = d.StreamDecoder()
    assert dec.feed(data) == [] and dec.discards[0].reason == "bad_checksum"


def test_wrong_address(sim: Simulation) -> None:
    sim.inject("C1", "wrong_address", {"reply_address": "000000000777"})
    assert d.decode_frame(read(sim, "000000000001")).address == "000000000777"


def test_register_decrease(sim: Simulation) -> None:
    before = regs(sim, "C1", START + timedelta(hours=1))["energy_import_total"]
    sim.inject("C1", "register_decrease", {"amount_kwh": 20.0}, START + timedelta(hours=2))
    after = regs(sim, "C1", START + timedelta(hours=3))["energy_import_total"]
    assert after < before


def test_stopped_and_zero(sim: Simulation) -> None:
    sim.inject("C1", "stopped_register", start=START)
    r0, r1 = regs(sim, "C1", START), regs(sim, "C1", LATER)
    assert r1["energy_import_total"] == r0["energy_import_total"]
    assert r1["power_active_total"] > 0  # load goes on: the register is stuck
    sim.inject("C2", "zero_consumption", start=START)
    z0, z1 = regs(sim, "C2", START), regs(sim, "C2", LATER)
    assert z1["energy_import_total"] == z0["energy_import_total"]


def test_flying_register(sim: Simulation) -> None:
    normal = (
        regs(sim, "C2", LATER)["energy_import_total"]
        - regs(sim, "C2", START)["energy_import_total"]
    )
    sim.inject("C2", "flying_register", {"factor": 5.0}, START)
    flying = (
        regs(sim, "C2", LATER)["energy_import_total"]
        - regs(sim, "C2", START)["energy_import_total"]
    )
    assert flying == pytest.approx(5 * normal, rel=0.01)


def test_load_surge_raises_registers_power_and_demand(sim: Simulation) -> None:
    before = {t: regs(sim, "C2", t) for t in (START, LATER)}
    sim.inject("C2", "load_surge", {"factor": 4.0}, START)
    after = {t: regs(sim, "C2", t) for t in (START, LATER)}
    used = [
        r[LATER]["energy_import_total"] - r[START]["energy_import_total"] for r in (before, after)
    ]
    assert used[1] == pytest.approx(4 * used[0], rel=0.01)
    assert after[LATER]["power_active_total"] == pytest.approx(
        4 * before[LATER]["power_active_total"], rel=0.01
    )
    assert after[LATER]["max_demand_import"] == pytest.approx(
        4 * before[LATER]["max_demand_import"], rel=0.01
    )
    tariffs = sum(after[LATER][f"energy_import_t{i}"] for i in range(1, 5))
    assert tariffs == pytest.approx(after[LATER]["energy_import_total"], abs=0.02)


def test_tariff_mismatch(sim: Simulation) -> None:
    sim.inject("C1", "tariff_mismatch", {"offset_kwh": 10.0}, START)
    r = regs(sim, "C1")
    tariffs = sum(r[f"energy_import_t{i}"] for i in range(1, 5))
    assert tariffs - r["energy_import_total"] == pytest.approx(10.0, abs=0.02)


def test_reverse_energy(sim: Simulation) -> None:
    sim.inject("C1", "reverse_energy", {"kwh_per_day": 5.0}, START)
    assert regs(sim, "C1")["energy_export_total"] == pytest.approx(10.0, abs=0.02)


def test_clock_drift(sim: Simulation) -> None:
    sim.inject("C1", "clock_drift", {"seconds_per_day": 120.0}, START)
    assert sim.meter("C1").clock_error_s(LATER) == pytest.approx(240.0)


def test_voltage_loss_phase_break_imbalance(sim: Simulation) -> None:
    sim.inject("C3", "voltage_loss", {"phase": "b"}, START)
    r = regs(sim, "C3")
    assert r["voltage_b"] < 0.78 * 220 and r["current_b"] > 0
    sim.clear("C3")
    sim.inject("C3", "phase_break", {"phase": "c"}, START)
    r = regs(sim, "C3")
    assert r["voltage_c"] < 0.6 * 220 and r["current_c"] == 0
    sim.clear("C3")
    sim.inject("C3", "current_imbalance", {"ratio": 0.6}, START)
    r = regs(sim, "C3")
    currents = [r["current_a"], r["current_b"], r["current_c"]]
    assert (max(currents) - min(currents)) / max(currents) > 0.3
    with pytest.raises(FaultError):  # a single-phase meter has no phase imbalance
        sim.inject("C1", "current_imbalance")


def test_cover_open(sim: Simulation) -> None:
    before = regs(sim, "C1")["cover_open_count"]
    sim.inject("C1", "cover_open", {"count": 2}, START)
    assert regs(sim, "C1")["cover_open_count"] == before + 2


def test_cover_open_record_says_when(sim: Simulation) -> None:
    """The meter answers its last cover-open record (03300D01) with the opening's start and
    end on its own clock and the registers then (issue 18, item 10)."""
    never = d.parse_reply(d.decode_frame(read(sim, "000000000001", "03300D01")))
    assert never.values[:2] == (None, None)  # never opened: an all-zero record
    opened = START + timedelta(hours=3, seconds=7)
    sim.inject("C1", "cover_open", {"count": 1}, opened)
    sim.clock.advance(timedelta(hours=5))
    reply = d.parse_reply(d.decode_frame(read(sim, "000000000001", "03300D01")))
    local = sim.meter("C1").tz
    assert reply.values[0] == opened.astimezone(local).replace(tzinfo=None)
    assert reply.values[1] == (opened + timedelta(minutes=10)).astimezone(local).replace(
        tzinfo=None
    )
    fields = dict(zip(reply.item.quantities, reply.values, strict=True))
    at_open = regs(sim, "C1", opened)["energy_import_total"]
    assert fields["cover_open_before_energy_import_total"] == pytest.approx(at_open)
    assert fields["cover_open_after_energy_import_total"] >= at_open


def test_meter_replaced(sim: Simulation) -> None:
    sim.inject("C1", "meter_replaced", {"new_address": "000000000555"}, START)
    assert read(sim, "000000000001") == b""  # the old address is gone
    reply = d.parse_reply(d.decode_frame(read(sim, "000000000555")))
    assert reply.values[0] == 0.0  # registers restart from zero at the replacement
    sim.clock.advance(timedelta(days=2))
    reply = d.parse_reply(d.decode_frame(read(sim, "000000000555")))
    assert reply.values[0] == pytest.approx(regs(sim, "C1")["energy_import_total"])
    assert 0 < reply.values[0] < regs(sim, "C2")["energy_import_total"]


def test_bad_fault_requests_are_refused_with_reasons(sim: Simulation) -> None:
    with pytest.raises(FaultError, match="nonsense"):
        sim.inject("C1", "nonsense")
    with pytest.raises(FaultError, match="drop_rate"):
        sim.inject("C1", "intermittent", {"drop_rate": 7})
    assert sim.meter("C1").faults == ()


def test_ground_truth_file(sim: Simulation, tmp_path: Path) -> None:
    sim.inject("C1", "dead", start=START)
    sim.inject("C3", "phase_break", {"phase": "a"}, START)
    sim.clear("C1")
    records = read_ground_truth(tmp_path / "truth.jsonl")
    assert [(r["action"], r["meter"], r["kind"]) for r in records] == [
        ("inject", "C1", "dead"),
        ("inject", "C3", "phase_break"),
        ("clear", "C1", "dead"),
    ]
    assert records[1]["area"] == "A1" and records[1]["params"]["phase"] == "a"
    assert records[1]["start"] == START.isoformat()
    for line in (tmp_path / "truth.jsonl").read_text().splitlines():
        json.loads(line)
