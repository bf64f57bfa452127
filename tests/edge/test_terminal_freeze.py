"""终端日冻结: a DL/T 645-1997 or Modbus meter keeps no daily-freeze history, so the gateway's
daily-freeze plan freezes the registers it reads just after the day's close (source
``terminal``); later, or when re-read, the day is reported as not re-readable."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from edge.bus import NOT_REREADABLE, TERMINAL_FREEZE_WINDOW, BusWorker
from edge.clock import ManualClock
from edge.config import MeterConfig, config_from_dict
from edge.jobs import Job, JobKind
from edge.meters.errors import FailureKind
from edge.meters.reader import Dlt645Reader, ModbusReader
from edge.metrics import EdgeMetrics
from protocols.model import Reading, ReadingKind, Source, freeze_instant
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation
from tests.simulators.conftest import fleet_dict

from .conftest import START
from .test_bus import Line

TZ = ZoneInfo("Asia/Shanghai")
DAY = (START.astimezone(TZ) - timedelta(days=1)).date()  # the day closed at local 00:00
CLOSE = freeze_instant(DAY, TZ)


def config(tmp_path: Path, bus: dict[str, object]) -> object:
    return config_from_dict(
        {
            "gateway": {"id": "gw-tf", "data_dir": str(tmp_path)},
            "broker": {"url": "mqtt://127.0.0.1:1"},
            "bus": [bus],
        }
    )


class StubModbus:
    """A Modbus driver answering its registers (no line): what the reader asks of it."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, ...]] = []
        self.transactions = self.timeouts = 0

    def read(
        self, meter: MeterConfig, quantities: Sequence[str]
    ) -> tuple[dict[str, float], list[object]]:
        self.asked.append(tuple(quantities))
        return {"energy_import_total": 321.5, "energy_export_total": 1.25}, []

    def close(self) -> None:
        pass


def worker(tmp_path: Path, bus: dict[str, object], reader: object, at: datetime) -> BusWorker:
    cfg = config(tmp_path, bus)
    got: list[Reading] = []
    w = BusWorker(
        cfg.buses[0],  # type: ignore[attr-defined]
        sink=got.extend,
        clock=ManualClock(at),
        tz_name="Asia/Shanghai",
        metrics=EdgeMetrics(),
        reader=reader,  # type: ignore[arg-type]
    )
    w.got = got  # type: ignore[attr-defined]
    w.start()
    return w


def freeze(w: BusWorker, source: Source = Source.SCHEDULED, day: date = DAY) -> object:
    job = Job(
        JobKind.FREEZE,
        list(w.bus.meters),
        w.clock.now(),
        reading_kind=ReadingKind.FREEZE,
        source=source,
        data_date=day,
        on_demand=source is not Source.SCHEDULED,
    )
    return w.submit(job).result(30), job


MODBUS_BUS = {
    "name": "mb",
    "port": "modbus-tcp://127.0.0.1:9",
    "meter": [{"id": "MB1", "protocol": "modbus", "profile": "dtsu666"}],
}


def test_a_modbus_meter_gets_a_terminal_freeze_just_after_the_close(tmp_path: Path) -> None:
    stub = StubModbus()
    w = worker(tmp_path, MODBUS_BUS, ModbusReader(stub), CLOSE + timedelta(minutes=5))
    try:
        result, job = freeze(w)
        assert result.failed == [] and result.read == 2
        assert {(r.quantity, r.value) for r in job.collected} == {
            ("energy_import_total", 321.5),
            ("energy_export_total", 1.25),
        }
        assert {(r.ts, r.kind, r.source) for r in job.collected} == {
            (CLOSE, ReadingKind.FREEZE, Source.TERMINAL)
        }
    finally:
        w.stop()


def test_a_terminal_freeze_past_its_window_is_reported_not_rereadable(tmp_path: Path) -> None:
    stub = StubModbus()
    late = CLOSE + TERMINAL_FREEZE_WINDOW + timedelta(minutes=1)
    w = worker(tmp_path, MODBUS_BUS, ModbusReader(stub), late)
    try:
        result, job = freeze(w)
        assert job.collected == [] and stub.asked == []  # a later register is not the close's
        assert [(f.meter, f.kind, f.reason) for f in result.failed] == [
            ("MB1", FailureKind.UNSUPPORTED, NOT_REREADABLE)
        ]
    finally:
        w.stop()


def test_a_reread_never_asks_a_meter_without_freeze_history(tmp_path: Path) -> None:
    stub = StubModbus()
    w = worker(tmp_path, MODBUS_BUS, ModbusReader(stub), CLOSE + timedelta(minutes=5))
    try:
        result, job = freeze(w, Source.BACKFILL)
        assert job.collected == [] and stub.asked == []
        assert [f.reason for f in result.failed] == [NOT_REREADABLE]
    finally:
        w.stop()


@pytest.fixture
def sim() -> Iterator[Simulation]:
    simulation = Simulation(fleet_from_dict(fleet_dict()), clock=VirtualClock(START, 0.0))
    yield simulation
    simulation.stop()


def test_a_1997_meter_gets_a_terminal_freeze_from_its_register(
    sim: Simulation, tmp_path: Path
) -> None:
    line = Line(sim, "b2")
    bus = {
        "name": "b2",
        "port": "socket://127.0.0.1:9",
        "timeout_ms": 60,
        "meter": [{"id": "C97", "address": sim.meter("C97").spec.address, "protocol": "1997"}],
    }
    reader = Dlt645Reader(line.transport, timeout_s=0.06, tz=TZ)
    w = worker(tmp_path, bus, reader, CLOSE + timedelta(minutes=5))
    try:
        shown = reader.read(w.bus.meters[0], ("energy_import_total",))["energy_import_total"]
        result, job = freeze(w)
        assert result.failed == []
        total = [r for r in job.collected if r.quantity == "energy_import_total"]
        assert [(r.ts, r.source, r.value) for r in total] == [(CLOSE, Source.TERMINAL, shown)]
    finally:
        w.stop()
