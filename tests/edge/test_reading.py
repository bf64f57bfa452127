"""The edge reads the simulated meters right, survives a garbled bus and dead meters, and
its plans build 96-point days."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.discover import discover_dlt645
from edge.meters.reader import Dlt645Reader
from edge.runtime import CommandRefused, EdgeRuntime
from edge.transports import SerialTransport
from protocols import dlt645 as d
from protocols.model import ReadingKind, Source
from protocols.wire import BackfillItem
from simulators.dlt645_responder import Dlt645Responder
from simulators.harness import RunningFleet, running_fleet

from .conftest import START, LinkedClock, edge_config


@pytest.fixture
def runtime(running: RunningFleet, tmp_path: Path) -> Any:
    got: list[Any] = []
    rt = EdgeRuntime(edge_config(running, tmp_path), sink=got.extend, clock=ManualClock(START))
    rt.start(plans=False)
    rt.sink_readings = got  # type: ignore[attr-defined]
    yield rt
    rt.stop()


def test_read_now_matches_the_meters(runtime: EdgeRuntime, running: RunningFleet) -> None:
    for meter in ("C1", "C3", "M-A1"):
        readings = {r.quantity: r for r in runtime.read_now(meter)}
        expected = running.sim.expected(meter)
        assert readings["energy_import_total"].value == pytest.approx(
            expected["energy_import_total"], abs=0.005
        )
        assert sum(readings[f"energy_import_t{i}"].value for i in range(1, 5)) == pytest.approx(
            expected["energy_import_total"], abs=0.03
        )
        assert readings["voltage_a"].value == pytest.approx(expected["voltage_a"], abs=0.05)
        assert all(r.source is Source.ON_DEMAND and r.meter == meter for r in readings.values())
    three = {r.quantity for r in runtime.read_now("C3")}
    assert {"voltage_b", "current_c"} <= three
    # the readings went to the sink (the outbox) too
    assert len(runtime.sink_readings) >= 3 * 10  # type: ignore[attr-defined]


def test_1997_meter_detected_when_left_open(running: RunningFleet, tmp_path: Path) -> None:
    cfg = edge_config(running, tmp_path)
    import dataclasses

    bus = next(b for b in cfg.buses if b.name == "b2")
    auto = dataclasses.replace(bus.meters[0], protocol="auto")
    cfg = dataclasses.replace(
        cfg,
        buses=tuple(
            dataclasses.replace(b, meters=(auto,)) if b.name == "b2" else b for b in cfg.buses
        ),
    )
    rt = EdgeRuntime(cfg, sink=lambda r: None, clock=ManualClock(START))
    rt.start(plans=False)
    try:
        got = {r.quantity: r.value for r in rt.read_now("C97")}
        assert got["energy_import_total"] == pytest.approx(
            running.sim.expected("C97")["energy_import_total"], abs=0.005
        )
        assert rt.workers["b2"].reader.driver._versions["C97"] == "1997"
    finally:
        rt.stop()


def test_modbus_meter(runtime: EdgeRuntime, running: RunningFleet) -> None:
    got = {r.quantity: r.value for r in runtime.read_now("MB1")}
    exp = running.sim.expected("MB1")
    for q in ("energy_import_total", "voltage_a", "voltage_c", "current_b"):
        assert got[q] == pytest.approx(exp[q], rel=1e-4, abs=1e-3), q


class NoBlocks(Dlt645Responder):
    """A meter model that refuses block reads (FF identifiers) with 'no such data'."""

    def _read(self, meter, req, now, version, own, preamble):  # type: ignore[no-untyped-def]
        if req.di is not None and (req.di & 0xFF00) == 0xFF00:
            return d.build_error_reply(own, req.code, "no_such_data", version, preamble)
        return super()._read(meter, req, now, version, own, preamble)


def test_block_read_falls_back_to_single_items(fleet: Any, sim_clock: Any, tmp_path: Path) -> None:
    with running_fleet(fleet, clock=sim_clock) as run:
        run.sim.stop()
        run.sim.responder = NoBlocks()
        host, port = run.sim.serve_dlt645_tcp("b1")
        run.urls.update({"b1": f"socket://{host}:{port}"})
        cfg = edge_config(run, tmp_path)
        cfg = type(cfg)(
            cfg.gateway,
            cfg.broker,
            cfg.outbox,
            None,
            tuple(b for b in cfg.buses if b.name == "b1"),
            cfg.plans,
        )
        rt = EdgeRuntime(cfg, sink=lambda r: None, clock=ManualClock(START))
        rt.start(plans=False)
        try:
            got = {r.quantity: r.value for r in rt.read_now("C1")}
            assert got["energy_import_t3"] == pytest.approx(
                run.sim.expected("C1")["energy_import_t3"], abs=0.005
            )
            assert ("C1", 0x0001FF00) in rt.workers["b1"].reader.driver._no_blocks
        finally:
            rt.stop()


def test_garbled_bus_and_dead_meters_never_stop_the_worker(
    runtime: EdgeRuntime, running: RunningFleet
) -> None:
    sim = running.sim
    sim.inject("C1", "bad_checksum")
    sim.inject("C2", "wrong_address", {"reply_address": "000000000777"})
    sim.inject("M-A1", "dead")
    for meter, reason in (("C1", "timeout"), ("C2", "wrong_address"), ("M-A1", "timeout")):
        with pytest.raises(CommandRefused, match=reason):
            runtime.read_now(meter)
    # line noise and the others still read fine
    w = runtime.workers["b1"]
    assert isinstance(w.reader, Dlt645Reader)
    assert runtime.read_now("C3")
    assert w.reader.stats.checksum_errors >= 1
    buses, meters = runtime.health()
    states = {m.meter: m for m in meters}
    assert states["C1"].last_error == "timeout" and states["C3"].state == "ok"


def test_dead_meter_backs_off_and_others_keep_their_pace(
    running: RunningFleet, tmp_path: Path
) -> None:
    clock = ManualClock(START)
    got: list[Any] = []
    rt = EdgeRuntime(edge_config(running, tmp_path), sink=got.extend, clock=clock)
    rt.start(plans=False)
    running.sim.inject("C2", "dead")
    try:
        rt.run_plans_until(START + timedelta(hours=2))
        states = {m.meter: m for m in rt.health()[1]}
        assert states["C2"].state == "dead"
        assert states["C1"].state == "ok"
        c2_attempts = rt.workers["b1"].states["C2"].attempts
        assert c2_attempts < 9  # 9 firings (04:00..06:00), dead after 3, then backing off
        slots_c1 = {r.ts for r in got if r.meter == "C1" and r.kind is ReadingKind.INTERVAL}
        assert len(slots_c1) == 9
    finally:
        rt.stop()


def test_a_virtual_day_gives_96_points_and_the_freeze(
    fleet: Any, sim_clock: Any, tmp_path: Path
) -> None:
    from simulators.fleet import fleet_from_dict
    from tests.simulators.conftest import fleet_dict

    data = fleet_dict()
    data["areas"][0]["meters"] = data["areas"][0]["meters"][:1]  # C1 and the master
    small = fleet_from_dict(data)
    day0 = START.replace(hour=16)  # local midnight of 2026-11-02 (UTC+8)
    sim_clock.set(day0 - timedelta(minutes=1), 0.0)
    clock = LinkedClock(day0 - timedelta(minutes=1), sim_clock)
    with running_fleet(small, clock=sim_clock) as run:
        got: list[Any] = []
        rt = EdgeRuntime(edge_config(run, tmp_path), sink=got.extend, clock=clock)
        rt.start(plans=False)
        try:
            rt.run_plans_until(day0 + timedelta(hours=24) - timedelta(seconds=1))
        finally:
            rt.stop()
    interval = [
        r
        for r in got
        if r.meter == "C1"
        and r.kind is ReadingKind.INTERVAL
        and r.quantity == "energy_import_total"
    ]
    assert len({r.ts for r in interval}) == 96
    values = [r.value for r in sorted(interval, key=lambda r: r.ts)]
    assert values == sorted(values)  # the register only grows through the day
    freeze = [r for r in got if r.meter == "C1" and r.kind is ReadingKind.FREEZE]
    assert {r.quantity for r in freeze} >= {"energy_import_total", "energy_import_t1"}
    assert {r.ts for r in freeze} == {day0}  # the freeze that closes 2026-11-01
    events = {r.quantity for r in got if r.kind is ReadingKind.EVENT}
    assert events == {"power_down_count", "cover_open_count", "max_demand_import"}
    demand = [r for r in got if r.meter == "C1" and r.quantity == "max_demand_import"]
    assert len(demand) == 1 and demand[0].value > 0  # read at 23:50, before the reset
    clock_readings = [r for r in got if r.kind is ReadingKind.CLOCK]
    assert clock_readings and all(abs(r.value) < 1 for r in clock_readings)


def test_backfill_reads_history(runtime: EdgeRuntime, running: RunningFleet) -> None:
    day = (START - timedelta(days=5)).date()
    res = runtime.backfill(
        [BackfillItem("C1", day), BackfillItem("C97", day), BackfillItem("ZZZ", day)]
    )
    assert res["read"] == 1 and res["readings"] >= 5  # one meter-day, its freeze's registers
    reasons = {f["meter"]: f["reason"] for f in res["failed"]}  # type: ignore[attr-defined]
    # a 1997 meter keeps no freeze history: its day cannot be re-read (terminal freeze only)
    assert reasons == {"C97": "unsupported: no_freeze_history", "ZZZ": "not on this gateway"}
    freeze = [
        r
        for r in runtime.sink_readings  # type: ignore[attr-defined]
        if r.meter == "C1" and r.kind is ReadingKind.FREEZE
    ]
    assert freeze and all(r.source is Source.BACKFILL for r in freeze)


def test_clock_drift_is_corrected_by_broadcast(runtime: EdgeRuntime, running: RunningFleet) -> None:
    meter = running.sim.meter("C1")
    meter.set_clock((START + timedelta(minutes=5)).replace(tzinfo=None) + timedelta(hours=8), START)
    assert meter.clock_error_s(START) == pytest.approx(300, abs=1)
    res = runtime.time_sync("b1")
    assert res["buses"]["b1"]["time_set"] is True  # type: ignore[index]
    import time

    deadline = time.monotonic() + 5  # a broadcast has no reply: the meter acts on its own time
    while abs(meter.clock_error_s(START)) >= 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert abs(meter.clock_error_s(START)) < 2


def test_discover_finds_every_meter(running: RunningFleet) -> None:
    t = SerialTransport(running.urls["b1"])
    try:
        found = discover_dlt645(t, timeout_s=0.3)
    finally:
        t.close()
    assert found == sorted(m.address for m in running.fleet.meters_on("b1"))


def test_a_meter_dead_for_weeks_does_not_break_its_bus() -> None:
    """The dead-meter backoff grows with every failure; after hundreds of failures it must
    stay at its maximum (it once overflowed and failed the whole bus's job)."""
    from datetime import UTC, datetime

    from edge.bus import BACKOFF_MAX, BusWorker
    from edge.clock import ManualClock
    from edge.config import config_from_dict
    from edge.meters.errors import ReadError

    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-x", "data_dir": "/tmp"},
            "broker": {"url": "mqtt://127.0.0.1:1"},
            "bus": [
                {
                    "name": "b",
                    "port": "socket://127.0.0.1:9",
                    "meter": [{"id": "M1", "address": "000000000001"}],
                }
            ],
        }
    )
    clock = ManualClock(datetime(2026, 11, 1, tzinfo=UTC))
    from edge.metrics import EdgeMetrics

    worker = BusWorker(
        cfg.buses[0],
        clock=clock,
        sink=lambda r: None,
        tz_name="Asia/Shanghai",
        metrics=EdgeMetrics(),
    )
    meter = cfg.buses[0].meters[0]
    state = worker.states["M1"]
    for _ in range(2000):
        worker._failed(meter, state, ReadError("M1", "timeout", "no reply"))  # noqa: SLF001
    assert state.state == "dead" and state.retry_at == clock.now() + BACKOFF_MAX


def test_a_full_disk_pauses_the_bus_and_loses_nothing(
    running: RunningFleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The gateway's disk fills up: the outbox refuses with SQLite's "database or disk is
    full", the bus worker keeps the readings it took and retries (the bus waits), what was
    committed before stays intact, and once there is room the readings are committed."""
    import threading
    import time

    from edge.outbox import Outbox, OutboxError

    from .test_outbox import readings as old_readings

    box = Outbox(tmp_path / "o.sqlite")
    box.add(old_readings(200))
    pages = box._conn.execute("PRAGMA page_count").fetchone()[0]  # noqa: SLF001
    box._conn.execute(f"PRAGMA max_page_count = {pages}")  # noqa: SLF001 - the disk is full
    with pytest.raises(OutboxError, match="database or disk is full"):
        box.add(old_readings(2000, start=200))
    rt = EdgeRuntime(edge_config(running, tmp_path), sink=box.add)
    rt.start(plans=False)
    got: list[Any] = []
    try:
        reader = threading.Thread(target=lambda: got.extend(rt.read_now("C1", timeout=60)))
        reader.start()
        deadline = time.monotonic() + 10
        while "the outbox refused" not in caplog.text and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "the outbox refused" in caplog.text and "disk is full" in caplog.text
        assert box.depth() == 200 and reader.is_alive()  # waiting, nothing dropped
        box._conn.execute("PRAGMA max_page_count = 1073741823")  # noqa: SLF001 - room again
        reader.join(30)
        assert got and box.depth() == 200 + len(got)
        kept = box.take(10_000).readings
        assert [r.value for r in kept[:200]] == [r.value for r in old_readings(200)]
        assert {r.meter for r in kept[200:]} == {"C1"}
    finally:
        rt.stop()
        box.close()


def test_a_cover_open_is_dated_when_it_happened(fleet: Any, sim_clock: Any, tmp_path: Path) -> None:
    """The events plan (00:30) reads the cover-open counter; the reading carries the time
    the cover was opened (the meter's last cover-open record, 03300D01), not the read time,
    so the check finds it on the day it happened (issue 18, item 10)."""
    from simulators.fleet import fleet_from_dict
    from tests.simulators.conftest import fleet_dict

    data = fleet_dict()
    data["areas"][0]["meters"] = data["areas"][0]["meters"][:1]  # C1 and the master
    small = fleet_from_dict(data)
    day0 = START.replace(hour=16)  # local midnight of 2026-11-02 (UTC+8)
    opened = day0 + timedelta(hours=10, minutes=17, seconds=5)  # 10:17:05 local
    sim_clock.set(day0 + timedelta(hours=23), 0.0)
    clock = LinkedClock(day0 + timedelta(hours=23), sim_clock)
    with running_fleet(small, clock=sim_clock) as run:
        run.sim.inject("C1", "cover_open", {"count": 1}, opened)
        asked: list[str] = []  # the meters asked for their cover-open record

        def record_asked(meter: Any, frame: Any, now: Any, timing: Any) -> None:
            if d.parse_request(frame, "2007").di == 0x03300D01:
                asked.append(meter.archive_id)

        run.sim.on_clean_reply(record_asked)
        got: list[Any] = []
        rt = EdgeRuntime(edge_config(run, tmp_path), sink=got.extend, clock=clock)
        rt.start(plans=False)
        try:
            rt.run_plans_until(day0 + timedelta(hours=24, minutes=31))
            counts = {r.meter: r for r in got if r.quantity == "cover_open_count"}
            # the next day the counter has not moved: the same date (the record is not
            # asked again, the first answer is kept)
            rt.run_plans_until(day0 + timedelta(hours=48, minutes=31))
        finally:
            rt.stop()
    assert counts["C1"].value >= 1
    assert counts["C1"].ts == opened  # when it happened, not 00:30 of the next day
    assert counts["C1"].kind is ReadingKind.EVENT
    # a meter whose cover was never opened: its counter keeps the read time
    assert counts["M-A1"].ts == day0 + timedelta(hours=24, minutes=30)
    again = [r for r in got if r.quantity == "cover_open_count" and r.meter == "C1"]
    assert len(again) == 2 and {r.ts for r in again} == {opened}
    assert asked == ["C1"]  # once: not the master (counter 0), not again the next day
