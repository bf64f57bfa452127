"""DL/T 698.45 meters at the edge, over the in-memory line and over loopback TCP.

The line is the simulators' bus with 645 and 698.45 meters on one pair, answered through
the codecs' server roles; what the edge reads is compared with the simulated meter's own
registers, freezes and clock (the simulator's ground truth), never with constants.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from edge.bus import BusWorker
from edge.clock import ManualClock
from edge.config import DEFAULT_INTERVAL_QUANTITIES, ConfigError, MeterConfig, config_from_dict
from edge.discover import discover_dlt645, discover_dlt698, snippet
from edge.jobs import Job, JobKind
from edge.meters.errors import FailureKind, ReadError
from edge.meters.reader import Dlt645Reader, flags_of, seal_of
from edge.metrics import EdgeMetrics
from edge.transports import MemoryTransport
from edge.wire_budget import budget, dlt698_exchanges
from protocols import dlt698
from protocols.line import LineFrame, is_dlt698
from protocols.model import Quality, ReadingKind, Source
from protocols.wire import reading_from_dict, reading_to_dict
from simulators.bus import Bus
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation
from tests.simulators.conftest import fleet_dict

from .conftest import START

TZ = ZoneInfo("Asia/Shanghai")
NOW = START + timedelta(days=5)  # 2026-11-06 12:00 local: five freezes in the history

#: 698.45 meters added to the shared test fleet's bus b1 (next to its 645-2007 meters).
OOP_METERS: tuple[dict[str, Any], ...] = (
    {"archive_id": "O1", "address": "000000006981", "bus": "b1", "protocol": "dlt698"},
    {
        "archive_id": "O2",
        "address": "000000006982",
        "bus": "b1",
        "protocol": "dlt698",
        "esam": True,
        "phases": 3,
        "load": "commercial",
    },
    {"archive_id": "O3", "address": "000000006993", "bus": "b1", "protocol": "dlt698"},
)


def mixed_fleet() -> dict[str, Any]:
    data = fleet_dict()
    data["areas"][0]["meters"] += [dict(m) for m in OOP_METERS]
    return data


@pytest.fixture
def sim() -> Iterator[Simulation]:
    simulation = Simulation(fleet_from_dict(mixed_fleet()), clock=VirtualClock(NOW, 0.0))
    yield simulation
    simulation.stop()


class Line:
    """Bus b1 behind an in-memory transport; counts the bytes both ways."""

    def __init__(self, sim: Simulation, *, echo: bool = False) -> None:
        self.bus = Bus("b1", sim.meters_on("b1"), sim.clock, sim.line_responder())
        self.sent = 0
        self.received = 0
        self.replies: list[bytes] = []
        self.answers = self.replies  # the same list, by either name
        self.transport = MemoryTransport(self._answer, echo=echo)

    def _answer(self, frame: LineFrame) -> bytes:
        self.sent += len(dlt698.encode_frame(frame) if is_dlt698(frame) else b"")
        data = self.bus.handle(frame).data
        self.received += len(data)
        self.replies.append(data)
        return data


def reader(line: Line, *meters: MeterConfig) -> Dlt645Reader:
    return Dlt645Reader(line.transport, timeout_s=0.05, tz=TZ, meters=meters)


def meter(mid: str, protocol: str = "dlt698", *, esam: bool = False) -> MeterConfig:
    address = next(
        m["address"] for m in mixed_fleet()["areas"][0]["meters"] if m["archive_id"] == mid
    )
    return MeterConfig(mid, address, protocol, esam=esam)


def test_one_normal_list_exchange_reads_the_interval_quantities(sim: Simulation) -> None:
    line = Line(sim)
    r = reader(line)
    o2 = meter("O2", esam=True)
    values = r.read(o2, DEFAULT_INTERVAL_QUANTITIES)
    truth = sim.meter("O2").registers_at(sim.clock.now())
    assert set(values) == set(DEFAULT_INTERVAL_QUANTITIES)
    for q, v in values.items():
        assert v == pytest.approx(truth[q], abs=1e-3), q
    assert line.transport.stats.transactions == 1  # one GET-Request-NormalList
    assert len(line.transport.requests) == 1
    assert is_dlt698(line.transport.requests[0])


def test_a_single_phase_meter_refuses_phases_b_and_c_and_the_rest_is_read(
    sim: Simulation,
) -> None:
    r = reader(Line(sim))
    values = r.read(meter("O1"), ("voltage_a", "voltage_b", "voltage_c", "energy_import_total"))
    assert set(values) == {"voltage_a", "energy_import_total"}


def test_event_counts_come_from_the_last_event_record(sim: Simulation) -> None:
    sim.inject("O1", "cover_open", {"count": 2}, NOW - timedelta(hours=3))
    r = reader(Line(sim))
    values = r.read(meter("O1"), ("power_down_count", "cover_open_count"))
    truth = sim.meter("O1").registers_at(sim.clock.now())
    assert values == {
        "power_down_count": truth["power_down_count"],
        "cover_open_count": truth["cover_open_count"],
    }
    assert values["cover_open_count"] == 2
    count, started = r.dlt698.event_count(meter("O1"), "cover_open_count")
    assert count == 2 and started == (NOW - timedelta(hours=3)).astimezone(TZ).replace(
        microsecond=0
    )


@pytest.mark.parametrize("back", [1, 3, 5])
def test_the_daily_freeze_is_the_meters_own(sim: Simulation, back: int) -> None:
    r = reader(Line(sim))
    today = NOW.astimezone(TZ).date()
    day = today - timedelta(days=back)
    values = r.freeze(meter("O1"), day, today)
    shown, regs = sim.meter("O1").freeze(back, NOW)
    assert (shown - timedelta(minutes=1)).date() == day
    assert values["energy_import_total"] == regs["energy_import_total"]
    assert values["energy_import_t4"] == regs["energy_import_t4"]
    assert flags_of(values) == frozenset()


def test_a_day_outside_the_history_is_not_invented(sim: Simulation) -> None:
    r = reader(Line(sim))
    today = NOW.astimezone(TZ).date()
    with pytest.raises(ReadError) as err:
        r.freeze(meter("O1"), date(2026, 5, 1), today)  # before commissioning
    assert err.value.kind is FailureKind.UNSUPPORTED


def test_an_esam_meter_is_read_secured_its_mac_kept_and_never_called_verified(
    sim: Simulation,
) -> None:
    line = Line(sim)
    r = reader(line)
    today = NOW.astimezone(TZ).date()
    values = r.freeze(meter("O2", esam=True), today - timedelta(days=1), today)
    assert flags_of(values) == {Quality.UNVERIFIED}
    assert values["energy_import_total"] == sim.meter("O2").freeze(1, NOW)[1]["energy_import_total"]
    request = line.transport.requests[-1]
    assert is_dlt698(request) and dlt698.parse_request(request).security == "plain"
    assert len(r.dlt698.macs["O2"][1]) == 4
    # the pair the utility's security module needs travels with the values: the MAC as the
    # meter returned it and the RN this request carried
    seal = seal_of(values)
    assert seal is not None
    answer = dlt698.parse_reply(dlt698.decode_frame(line.answers[-1].lstrip(b"\xfe")))
    assert answer.mac is not None and seal.mac == answer.mac
    sent_rn = dlt698.parse_request(request).rn
    assert sent_rn is not None and len(sent_rn) == dlt698.RN_BYTES and seal.rn == sent_rn
    # a second read draws a new RN (and so gets another MAC)
    again = r.freeze(meter("O2", esam=True), today - timedelta(days=2), today)
    assert seal_of(again) is not None and seal_of(again).rn != seal.rn  # type: ignore[union-attr]


def test_a_plain_meter_s_freeze_carries_no_mac(sim: Simulation) -> None:
    r = reader(Line(sim))
    today = NOW.astimezone(TZ).date()
    values = r.freeze(meter("O1"), today - timedelta(days=1), today)
    assert flags_of(values) == frozenset() and seal_of(values) is None


def test_an_esam_meter_not_configured_as_one_is_asked_again_secured(sim: Simulation) -> None:
    line = Line(sim)
    r = reader(line)
    today = NOW.astimezone(TZ).date()
    o2 = meter("O2")  # esam not set in the configuration
    values = r.freeze(o2, today - timedelta(days=2), today)
    assert flags_of(values) == {Quality.UNVERIFIED}
    assert line.transport.stats.transactions == 2  # refused in the clear (DAR 15), then secured
    r.freeze(o2, today - timedelta(days=3), today)
    assert line.transport.stats.transactions == 3  # remembered: secured at once


def test_curves_are_minute_freeze_records_every_15_minutes(sim: Simulation) -> None:
    r = reader(Line(sim))
    start = datetime(2026, 11, 5, 8, 0, tzinfo=TZ)
    rows, flags = r.dlt698.curve(
        meter("O1"), start, start + timedelta(hours=2), 15, ["energy_import_total", "voltage_a"]
    )
    assert [row.frozen_at for row in rows] == [start + timedelta(minutes=15 * k) for k in range(8)]
    m = sim.meter("O1")
    for row in rows:
        truth = m.registers_at(row.frozen_at)  # the meter's clock is right: shown == true
        assert row.values == {
            "energy_import_total": truth["energy_import_total"],
            "voltage_a": truth["voltage_a"],
        }
    assert flags == frozenset()


def test_auto_finds_698_meters_and_still_645_and_1997_ones(sim: Simulation) -> None:
    line = Line(sim)
    r = reader(line)
    assert r.family(meter("O1", "auto")) == "dlt698"
    assert r.family(MeterConfig("C1", "000000000001", "auto")) == "dlt645"
    assert r.keeps_freezes(meter("O3", "auto"))
    before = line.transport.stats.transactions
    r.read(meter("O1", "auto"), ("energy_import_total",))
    assert line.transport.stats.transactions == before + 1  # the family is remembered


def test_the_clock_and_the_broadcast_time(sim: Simulation) -> None:
    line = Line(sim)
    o1 = meter("O1")
    r = reader(line, o1, MeterConfig("C1", "000000000001", "2007"))
    sim.meter("O1").set_clock(NOW + timedelta(seconds=300), NOW)  # runs 5 minutes fast
    shown = r.meter_clock(o1)
    assert shown is not None
    assert abs((shown - NOW).total_seconds() - 300) <= 1
    r.broadcast_time(NOW.astimezone(TZ))
    kinds = [is_dlt698(f) for f in line.transport.requests[-2:]]
    assert kinds == [False, True]  # a 645 and a 698.45 broadcast: both families on the line
    shown = r.meter_clock(o1)
    assert shown is not None and abs((shown - NOW).total_seconds()) <= 1


def test_a_wrong_address_and_a_dead_meter_are_named(sim: Simulation) -> None:
    r = reader(Line(sim))
    sim.inject("O1", "wrong_address", {"reply_address": "000000000777"})
    with pytest.raises(ReadError) as err:
        r.read(meter("O1"), ("energy_import_total",))
    assert err.value.kind is FailureKind.WRONG_ADDRESS
    sim.inject("O3", "dead")
    with pytest.raises(ReadError) as err:
        r.read(meter("O3"), ("energy_import_total",))
    assert err.value.kind is FailureKind.TIMEOUT


@pytest.mark.parametrize("echo", [False, True], ids=["plain", "echoing adapter"])
def test_discovery_finds_the_698_meters_through_collisions(sim: Simulation, echo: bool) -> None:
    line = Line(sim, echo=echo)
    found = discover_dlt698(line.transport, timeout_s=0.05)
    assert found == ["000000006981", "000000006982", "000000006993"]
    assert line.bus.collisions > 0  # the wildcard probes made them answer at once
    assert 'protocol = "dlt698"' in snippet(found, protocol="dlt698")
    # the 645 search on the same line does not report the 698.45 meters
    found645 = discover_dlt645(line.transport, timeout_s=0.05)
    assert not set(found645) & set(found)
    assert "000000000001" in found645


def test_the_wire_budget_is_the_bytes_the_line_carries(sim: Simulation, tmp_path: Path) -> None:
    line = Line(sim)
    r = reader(line)
    o2 = meter("O2", esam=True)  # three-phase: every element present
    r.read(o2, DEFAULT_INTERVAL_QUANTITIES)
    [(req, rep)] = dlt698_exchanges(o2.address, DEFAULT_INTERVAL_QUANTITIES)
    assert (req, rep) == (line.sent, line.received)
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw", "data_dir": str(tmp_path)},
            "bus": [
                {
                    "name": "b",
                    "port": "/dev/null",
                    "meter": [{"id": "O2", "address": o2.address, "protocol": "dlt698"}],
                }
            ],
        }
    )
    interval = next(p for p in cfg.plans if p.name == "interval")
    b = budget(cfg.buses[0], interval)
    assert (b.transactions, b.bytes_on_line) == (1, req + rep)


def test_configuration_accepts_dlt698_and_names_a_misplaced_esam(tmp_path: Path) -> None:
    def cfg(meter: dict[str, Any]) -> Any:
        return config_from_dict(
            {
                "gateway": {"id": "gw", "data_dir": str(tmp_path)},
                "bus": [{"name": "b", "port": "/dev/null", "meter": [meter]}],
            }
        )

    ok = cfg({"id": "O", "address": "000000006981", "protocol": "dlt698", "esam": True})
    assert ok.buses[0].meters[0].esam is True
    with pytest.raises(ConfigError, match=r"bus\[0\]\.meter\[0\]\.esam: only DL/T 698\.45"):
        cfg({"id": "C", "address": "000000000001", "protocol": "2007", "esam": True})
    with pytest.raises(ConfigError, match=r"bus\[0\]\.meter\[0\]\.protocol"):
        cfg({"id": "C", "address": "000000000001", "protocol": "698"})
    with pytest.raises(ConfigError, match=r"address: expected 12 digits"):
        cfg({"id": "C", "address": "6981", "protocol": "dlt698"})


def test_a_freeze_job_and_a_backfill_of_an_esam_meter(sim: Simulation, tmp_path: Path) -> None:
    """698.45 meters keep their freeze history: a re-read (补抄) of a past day is read from
    the meter, and an ESAM meter's freeze readings carry the unverified flag."""
    line = Line(sim)
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw", "data_dir": str(tmp_path)},
            "bus": [
                {
                    "name": "b1",
                    "port": "/dev/null",
                    "meter": [
                        {"id": "O1", "address": "000000006981", "protocol": "dlt698"},
                        {
                            "id": "O2",
                            "address": "000000006982",
                            "protocol": "dlt698",
                            "esam": True,
                        },
                    ],
                }
            ],
        }
    )
    bus = cfg.buses[0]
    got: list[Any] = []
    worker = BusWorker(
        bus,
        sink=got.extend,
        clock=ManualClock(NOW),
        tz_name="Asia/Shanghai",
        metrics=EdgeMetrics(),
        reader=Dlt645Reader(line.transport, timeout_s=0.05, tz=TZ, meters=bus.meters),
    )
    worker.start()
    try:
        day = NOW.astimezone(TZ).date() - timedelta(days=4)
        job = Job(
            JobKind.FREEZE,
            list(bus.meters),
            NOW,
            reading_kind=ReadingKind.FREEZE,
            source=Source.BACKFILL,
            data_date=day,
            on_demand=True,
        )
        result = worker.submit(job).result(30)
    finally:
        worker.stop()
    assert result.failed == []
    by_meter = {(r.meter, r.quantity): r for r in got}
    o1 = by_meter[("O1", "energy_import_total")]
    o2 = by_meter[("O2", "energy_import_total")]
    assert o1.source is Source.BACKFILL and o1.kind is ReadingKind.FREEZE
    assert o1.value == sim.meter("O1").freeze(4, NOW)[1]["energy_import_total"]
    assert o1.quality == frozenset()
    assert Quality.UNVERIFIED in o2.quality
    assert all(Quality.UNVERIFIED in r.quality for r in got if r.meter == "O2")
    # every O2 reading of the freeze carries the one answer's MAC and the request's RN;
    # O1 (no ESAM) none
    assert o1.mac is None and o1.rn is None
    assert o2.mac is not None and len(o2.mac) == 4 and o2.rn is not None and len(o2.rn) == 16
    assert {(r.mac, r.rn) for r in got if r.meter == "O2"} == {(o2.mac, o2.rn)}
    # ... and keeps them through the wire form the journal and the uplink use
    assert reading_from_dict(json.loads(json.dumps(reading_to_dict(o2)))) == o2


@pytest.fixture
def running_mixed(tmp_path: Path) -> Iterator[Any]:
    from simulators.harness import running_fleet

    clock = VirtualClock(NOW, 0.0)
    with running_fleet(fleet_from_dict(mixed_fleet()), clock=clock, fast=True) as run:
        yield run


def test_the_field_tools_over_a_tcp_line(running_mixed: Any, tmp_path: Path) -> None:
    """`discover --protocol dlt698` and `read --protocol dlt698` against the simulated line
    (a TCP serial server)."""
    from tests.edge.test_cli import edge

    url = running_mixed.urls["b1"]
    out = edge("discover", "--port", url, "--timeout-ms", "300", "--protocol", "dlt698")
    assert out.returncode == 0, out.stderr
    assert "# 3 DL/T 698.45 meters" in out.stdout
    assert 'address = "000000006982"\nprotocol = "dlt698"' in out.stdout
    out = edge(
        "read",
        "--port",
        url,
        "--protocol",
        "dlt698",
        "--address",
        "000000006982",
        "--timeout-ms",
        "500",
        "energy_import_total",
        "20000200",
        "30110200",
    )
    lines = [json.loads(x) for x in out.stdout.splitlines()]
    truth = running_mixed.sim.meter("O2").registers_at(NOW)
    assert lines[0]["item"] == "00100201" and lines[0]["values"] == [truth["energy_import_total"]]
    assert lines[1]["values"] == [truth["voltage_a"], truth["voltage_b"], truth["voltage_c"]]
    assert lines[1]["unit"] == "V"
    assert "error" in lines[2] and out.returncode == 1  # a record table is not a GET-Normal


def test_a_meter_that_fragments_its_answers_is_read_the_same(tmp_path: Path) -> None:
    """A meter with a small frame size sends a long record reply in link-layer fragments;
    the edge confirms each, puts them together and reads what an unfragmenting meter gives.
    The ESAM meter too: its MAC covers the whole reply, not a fragment."""
    data = mixed_fleet()
    for m in data["areas"][0]["meters"]:
        if m["archive_id"] in ("O1", "O2"):
            m["frame_size"] = 96
    fragmenting = Simulation(fleet_from_dict(data), clock=VirtualClock(NOW, 0.0))
    plain = Simulation(fleet_from_dict(mixed_fleet()), clock=VirtualClock(NOW, 0.0))
    try:
        start = datetime(2026, 11, 5, 8, 0, tzinfo=TZ)
        quantities = ["energy_import_total", "voltage_a", "current_a"]
        lines = [Line(fragmenting), Line(plain)]
        got = [
            reader(line).dlt698.curve(
                meter("O1"), start, start + timedelta(hours=6), 15, quantities
            )
            for line in lines
        ]
        assert got[0] == got[1] and len(got[0][0]) == 24
        big, small = (line.transport.stats.transactions for line in lines)
        assert big > small + 3  # the confirmations that fetched the further fragments
        assert max(map(len, lines[0].replies)) <= 96 < max(map(len, lines[1].replies))
        today = NOW.astimezone(TZ).date()
        esam = [
            reader(line).freeze(meter("O2", esam=True), today - timedelta(days=2), today)
            for line in lines
        ]
        assert esam[0] == esam[1] and flags_of(esam[0]) == {Quality.UNVERIFIED}
    finally:
        fragmenting.stop()
        plain.stop()


def test_a_fragment_that_never_comes_is_a_timeout_named_as_such() -> None:
    data = mixed_fleet()
    for m in data["areas"][0]["meters"]:
        if m["archive_id"] == "O1":
            m["frame_size"] = 96
    fragmenting = Simulation(fleet_from_dict(data), clock=VirtualClock(NOW, 0.0))
    try:
        line = Line(fragmenting)
        calls = {"n": 0}
        answer = line._answer

        def lossy(frame: LineFrame) -> bytes:
            calls["n"] += 1
            return answer(frame) if calls["n"] < 3 else b""  # the line dies mid-reply

        line.transport = MemoryTransport(lossy)
        start = datetime(2026, 11, 5, 8, 0, tzinfo=TZ)
        with pytest.raises(ReadError) as err:
            reader(line).dlt698.curve(
                meter("O1"), start, start + timedelta(hours=6), 15, ["energy_import_total"]
            )
        assert err.value.kind is FailureKind.TIMEOUT
        assert "fragment" in str(err.value)
    finally:
        fragmenting.stop()


def test_a_curve_re_read_recovers_the_days_points_from_the_meters_minute_freeze(
    running_mixed: Any, tmp_path: Path
) -> None:
    """曲线补抄 over a TCP line: a 698.45 meter's local day comes back as 96 interval
    readings (source backfill) equal to the meter's own registers at each point, none of
    which the edge had read live; the ESAM meter's through SECURITY with its MAC kept and the
    unverified flag; a 645 or Modbus meter is answered with why, not read; today's curve is
    as far as the meter has frozen it."""
    from edge.runtime import EdgeRuntime
    from protocols.wire import BackfillItem
    from simulators.harness import edge_config_dict

    data = edge_config_dict(
        running_mixed.fleet, running_mixed.urls, "gw-curve", data_dir=str(tmp_path / "edge")
    )
    for bus in data["bus"]:
        bus["timeout_ms"] = 2000
        bus["gap_ms"] = 0
    got: list[Any] = []
    rt = EdgeRuntime(config_from_dict(data), sink=got.extend, clock=ManualClock(NOW))
    rt.start(plans=False)
    today = NOW.astimezone(TZ).date()
    day = today - timedelta(days=1)
    try:
        answer = rt.backfill_curve(
            [
                BackfillItem("O1", day),
                BackfillItem("O2", day),
                BackfillItem("C1", day),
                BackfillItem("MB1", day),
                BackfillItem("NOPE", day),
                BackfillItem("O3", today),
            ]
        )
    finally:
        rt.stop()
    assert answer["read"] == 2, answer
    failed = {f["meter"]: f["reason"] for f in answer["failed"]}  # type: ignore[attr-defined]
    assert failed["C1"].startswith("unsupported: no_curve_history (dlt645-2007 meters keep no")
    assert failed["MB1"].startswith("unsupported: no_curve_history (modbus meters keep no")
    assert failed["NOPE"] == "not on this gateway"
    # today: frozen from 00:00 to 12:00 (the simulated meter's now), the rest not yet
    assert failed["O3"] == "incomplete: 49 of 96 points in the meter's minute freeze"
    quantities = set(DEFAULT_INTERVAL_QUANTITIES)
    midnight = datetime.combine(day, datetime.min.time(), TZ)
    for mid in ("O1", "O2"):
        mine = [r for r in got if r.meter == mid]
        times = sorted({r.ts for r in mine})
        assert times == [midnight + timedelta(minutes=15 * k) for k in range(96)]
        sim_meter = running_mixed.sim.meter(mid)
        for r in mine:
            assert r.kind is ReadingKind.INTERVAL and r.source is Source.BACKFILL
            assert r.quantity in quantities
            truth = sim_meter.registers_at(r.ts)  # its clock is right: shown == true time
            assert r.value == pytest.approx(truth[r.quantity], abs=1e-3), (mid, r.quantity, r.ts)
        energy = [r for r in mine if r.quantity == "energy_import_total"]
        assert len(energy) == 96
        flags = {frozenset(r.quality) for r in mine}
        assert flags == ({frozenset({Quality.UNVERIFIED})} if mid == "O2" else {frozenset()})
    assert not [r for r in got if r.meter in ("C1", "MB1")]
    worker = rt.workers["b1"]
    assert len(worker.reader.dlt698.macs["O2"][1]) == 4  # type: ignore[attr-defined]
    o3 = [r for r in got if r.meter == "O3" and r.quantity == "energy_import_total"]
    assert len(o3) == 49 and answer["points"] == 96 + 96 + 49


def test_a_curve_re_read_over_the_broker(
    running_mixed: Any, tmp_path: Path, mqtt_broker: Any, topic_prefix: str
) -> None:
    """End to end through MQTT as the server sends it: a backfill_curve command to the
    agent, its result on cmd/result and the day's 96 points of the meter on readings, each
    equal to the meter's own register at that point."""
    from edge.agent import Agent
    from protocols import wire
    from tests.edge.conftest import LinkedClock
    from tests.edge.test_uplink import Listener, agent_config, send_command

    listener = Listener(mqtt_broker.host, mqtt_broker.port, topic_prefix)
    cfg = agent_config(running_mixed, tmp_path, mqtt_broker.url, topic_prefix)
    agent = Agent(cfg, clock=LinkedClock(NOW, running_mixed.sim.clock))
    agent.start(plans=False)
    day = NOW.astimezone(TZ).date() - timedelta(days=2)
    try:
        assert agent.uplink.connected.wait(10)
        items = [{"meter": "O1", "date": day.isoformat()}, {"meter": "C1", "date": str(day)}]
        cmd = wire.Command("curve-1", wire.CommandName.BACKFILL_CURVE, NOW, {"items": items})
        send_command(mqtt_broker.host, mqtt_broker.port, topic_prefix, wire.encode_command(cmd))
        assert listener.wait(lambda s: any(r.id == "curve-1" for r in s.results), 60)
        result = next(r for r in listener.results if r.id == "curve-1")
        assert result.ok and result.command == "backfill_curve", result.error
        assert result.result["read"] == 1 and result.result["points"] == 96
        (refused,) = result.result["failed"]
        assert refused["meter"] == "C1" and refused["reason"].startswith(
            "unsupported: no_curve_history"
        )

        def energy(s: Listener) -> dict[datetime, float]:
            return {
                ts: v
                for (m, q, ts), v in s.readings.items()
                if (m, q) == ("O1", "energy_import_total")
            }

        assert listener.wait(lambda s: len(energy(s)) == 96, 30)
        midnight = datetime.combine(day, datetime.min.time(), TZ)
        got = energy(listener)
        assert sorted(got) == [midnight + timedelta(minutes=15 * k) for k in range(96)]
        truth = running_mixed.sim.meter("O1")
        for ts, value in got.items():
            assert value == pytest.approx(truth.registers_at(ts)["energy_import_total"], abs=1e-3)
    finally:
        agent.stop()
        listener.close()


def test_points_missed_while_the_meter_did_not_answer_are_recovered_from_its_curve(
    tmp_path: Path,
) -> None:
    """A day of live 15-minute reads with the meter silent from 06:00 to 09:00 (those 12
    points missed, and a few after while the bus backs off the dead meter), then, the next
    day, the curve re-read of that day: every missed point comes back equal to the meter's
    registers at its time, and those read live are given again with the values read then."""
    day_start = datetime(2026, 11, 5, 0, 0, tzinfo=TZ)
    sim = Simulation(fleet_from_dict(mixed_fleet()), clock=VirtualClock(day_start, 0.0))
    line = Line(sim)
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw", "data_dir": str(tmp_path)},
            "bus": [
                {
                    "name": "b1",
                    "port": "/dev/null",
                    "meter": [{"id": "O1", "address": "000000006981", "protocol": "dlt698"}],
                }
            ],
        }
    )
    bus = cfg.buses[0]
    clock = ManualClock(day_start)
    live: list[Any] = []
    worker = BusWorker(
        bus,
        sink=live.extend,
        clock=clock,
        tz_name="Asia/Shanghai",
        metrics=EdgeMetrics(),
        reader=Dlt645Reader(line.transport, timeout_s=0.05, tz=TZ, meters=bus.meters),
    )
    quantities = ("energy_import_total", "voltage_a")
    worker.start()
    try:
        for k in range(96):
            slot = day_start + timedelta(minutes=15 * k)
            sim.clock.set(slot, 0.0)
            clock.set(slot)
            if k == 24:
                sim.inject("O1", "dead", start=slot)
            if k == 36:
                sim.clear("O1", "dead")
            worker.submit(Job(JobKind.READ, list(bus.meters), slot, quantities)).result(30)
        read_live = {r.ts: r.value for r in live if r.quantity == "energy_import_total"}
        dead = {day_start + timedelta(hours=6, minutes=15 * k) for k in range(12)}
        assert not dead & set(read_live)
        # and a few after 09:00 too: the bus backs off a dead meter (15 min, doubling)
        assert 70 <= len(read_live) < 84
        after = day_start + timedelta(days=1, hours=12)
        sim.clock.set(after, 0.0)
        clock.set(after)
        recovered: list[Any] = []
        worker.sink = recovered.extend
        job = Job(
            JobKind.CURVE,
            list(bus.meters),
            after,
            quantities,
            source=Source.BACKFILL,
            data_date=day_start.date(),
            on_demand=True,
        )
        result = worker.submit(job).result(30)
    finally:
        worker.stop()
        sim.stop()
    assert result.failed == []
    energy = {r.ts: r for r in recovered if r.quantity == "energy_import_total"}
    assert sorted(energy) == [day_start + timedelta(minutes=15 * k) for k in range(96)]
    missed = sorted(set(energy) - set(read_live))
    assert len(missed) == 96 - len(read_live) and dead <= set(missed)
    truth = sim.meter("O1")
    for ts in missed:
        assert energy[ts].value == truth.registers_at(ts)["energy_import_total"]
        assert energy[ts].source is Source.BACKFILL and energy[ts].kind is ReadingKind.INTERVAL
    for ts, value in read_live.items():
        assert energy[ts].value == pytest.approx(value, abs=1e-3)
