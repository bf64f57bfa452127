"""The simulated gateway of the edge benchmarks: ``buses`` fast buses of ``per_bus`` DL/T
645 meters each, every fourth meter three-phase."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from simulators.fleet import fleet_from_dict


def gateway_fleet(buses: int, per_bus: int, start: datetime, speed: float) -> Any:
    return fleet_from_dict(
        {
            "seed": 5,
            "start": start.isoformat(),
            "speed": speed,
            "commissioned": "2026-01-01",
            "buses": [{"name": f"b{i}", "fast": True} for i in range(buses)],
            "meters": [
                {
                    "archive_id": f"M{b}-{i:02d}",
                    "address": f"{b * 1000 + i + 1:012d}",
                    "bus": f"b{b}",
                    "phases": 3 if i % 4 == 0 else 1,
                }
                for b in range(buses)
                for i in range(per_bus)
            ],
        }
    )
