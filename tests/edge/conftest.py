"""Edge tests run against the simulators over loopback TCP, in fast mode."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.config import EdgeConfig, config_from_dict
from simulators.clock import VirtualClock
from simulators.fleet import Fleet, fleet_from_dict
from simulators.harness import RunningFleet, edge_config_dict, running_fleet
from tests.simulators.conftest import fleet_dict

START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


@pytest.fixture
def fleet() -> Fleet:
    return fleet_from_dict(fleet_dict())


@pytest.fixture
def sim_clock() -> VirtualClock:
    return VirtualClock(START, 0.0)


@pytest.fixture
def running(fleet: Fleet, sim_clock: VirtualClock, tmp_path: Any) -> Iterator[RunningFleet]:
    with running_fleet(fleet, clock=sim_clock, ground_truth=tmp_path / "gt.jsonl") as run:
        yield run


def edge_config(run: RunningFleet, tmp_path: Any, **over: Any) -> EdgeConfig:
    data = edge_config_dict(run.fleet, run.urls, "gw-test", data_dir=str(tmp_path / "edge"))
    for bus in data["bus"]:
        bus["timeout_ms"] = 300
        bus["gap_ms"] = 0
    for key, value in over.items():
        data[key] = value
    return config_from_dict(data)


class LinkedClock(ManualClock):
    """A manual clock that also moves the simulators' virtual clock, so the meters live
    through the same day the edge's plans run through."""

    def __init__(self, start: datetime, sim_clock: VirtualClock) -> None:
        super().__init__(start)
        self.sim_clock = sim_clock

    def set(self, instant: datetime) -> None:
        super().set(instant)
        self.sim_clock.set(instant, 0.0)
