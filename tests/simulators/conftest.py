"""A small fleet on a fixed virtual clock, built in Python for the simulator tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from simulators.clock import VirtualClock
from simulators.fleet import Fleet, fleet_from_dict
from simulators.simulation import Simulation

START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 12:00 in Asia/Shanghai


def fleet_dict(**top: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "seed": 7,
        "start": START.isoformat(),
        "speed": 0.0,  # time moves only when a test advances it
        "commissioned": "2026-06-01",
        "buses": [
            {"name": "b1", "fast": True},
            {"name": "b2", "fast": True},
            {"name": "mb", "protocol": "modbus", "endpoint": "modbus-tcp"},
        ],
        "areas": [
            {
                "id": "A1",
                "loss": 0.05,
                "master": {
                    "archive_id": "M-A1",
                    "address": "000000000900",
                    "bus": "b1",
                    "phases": 3,
                    "load": "industrial",
                },
                "meters": [
                    {"archive_id": "C1", "address": "000000000001", "bus": "b1"},
                    {
                        "archive_id": "C2",
                        "address": "000000000002",
                        "bus": "b1",
                        "load": "commercial",
                    },
                    {
                        "archive_id": "C3",
                        "address": "000000000013",
                        "bus": "b1",
                        "phases": 3,
                        "load": "industrial",
                    },
                    {
                        "archive_id": "C97",
                        "address": "000000001997",
                        "bus": "b2",
                        "protocol": "dlt645-1997",
                    },
                    {
                        "archive_id": "MB1",
                        "address": "000000000101",
                        "bus": "mb",
                        "protocol": "modbus",
                        "modbus_profile": "dtsu666",
                        "unit_id": 1,
                    },
                    {
                        "archive_id": "MB2",
                        "address": "000000000102",
                        "bus": "mb",
                        "protocol": "modbus",
                        "modbus_profile": "sdm120",
                        "unit_id": 2,
                    },
                ],
            }
        ],
    }
    data.update(top)
    return data


@pytest.fixture
def fleet() -> Fleet:
    return fleet_from_dict(fleet_dict())


@pytest.fixture
def sim(fleet: Fleet, tmp_path: Any) -> Any:
    clock = VirtualClock(START, 0.0)
    with Simulation(fleet, clock=clock, ground_truth=tmp_path / "truth.jsonl", fast=True) as s:
        yield s
