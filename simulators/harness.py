"""Run a whole fleet in-process on loopback, for tests, benchmarks and the demo.

    with running_fleet("simulators/fleets/example.toml", fast=True) as run:
        run.urls["rs485-1"]        # "socket://127.0.0.1:40123" (DL/T 645 bus)
        run.urls["modbus-1"]       # "modbus-tcp://127.0.0.1:40124"
        run.sim.inject("C000001", "dead")
        run.sim.expected("C000001")

:func:`edge_config_dict` turns a fleet and its URLs into the edge agent's configuration
(the TOML structure as a dict), so a test or the demo points an edge agent at the fleet.
This module only produces data for the edge; it does not import it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from protocols.vocabulary import EDGE_PROTOCOL_OF, MeterProtocol
from simulators.clock import VirtualClock
from simulators.fleet import Fleet, load_fleet
from simulators.simulation import Simulation


@dataclass
class RunningFleet:
    sim: Simulation
    urls: dict[str, str]  # bus name -> where a gateway connects

    @property
    def fleet(self) -> Fleet:
        return self.sim.fleet


@contextmanager
def running_fleet(
    fleet: Fleet | Path | str,
    *,
    clock: VirtualClock | None = None,
    fast: bool = True,
    turnaround_ms: float | None = None,
    ground_truth: Path | str | None = None,
) -> Iterator[RunningFleet]:
    """Serve every bus of ``fleet`` on a free loopback TCP port; stop them all on exit.

    DL/T 645 buses behave as TCP serial servers (``socket://``), Modbus buses as Modbus TCP
    (``modbus-tcp://``). ``fast`` turns off byte pacing and turnaround.
    """
    spec = fleet if isinstance(fleet, Fleet) else load_fleet(fleet)
    sim = Simulation(spec, clock=clock, ground_truth=ground_truth, fast=fast)
    urls: dict[str, str] = {}
    try:
        for bus in spec.buses:
            if not spec.meters_on(bus.name):
                continue
            if bus.protocol == "dlt645":
                host, port = sim.serve_dlt645_tcp(bus.name, fast=fast, turnaround_ms=turnaround_ms)
                urls[bus.name] = f"socket://{host}:{port}"
            else:
                host, port = sim.serve_modbus_tcp(bus.name, framing="tcp")
                urls[bus.name] = f"modbus-tcp://{host}:{port}"
        yield RunningFleet(sim, urls)
    finally:
        sim.stop()


def edge_config_dict(
    fleet: Fleet,
    urls: dict[str, str],
    gateway_id: str,
    *,
    buses: list[str] | None = None,
    broker_url: str = "mqtt://127.0.0.1:1883",
    data_dir: str = "var/edge",
) -> dict[str, Any]:
    """The edge agent's configuration for the given buses of ``fleet`` (default: all)."""
    chosen = buses if buses is not None else list(urls)
    out_buses = []
    for bus in fleet.buses:
        if bus.name not in chosen or bus.name not in urls:
            continue
        meters = []
        for m in fleet.meters_on(bus.name):
            entry: dict[str, Any] = {
                "id": m.archive_id,
                "address": m.address,
                "protocol": str(EDGE_PROTOCOL_OF[MeterProtocol(m.protocol)]),
            }
            if m.protocol == "modbus":
                entry["profile"] = m.modbus_profile
                entry["unit"] = m.unit_id
            if m.esam:
                entry["esam"] = True
            meters.append(entry)
        out_buses.append(
            {
                "name": bus.name,
                "port": urls[bus.name],
                "baud": bus.baud,
                "parity": bus.parity,
                "meter": meters,
            }
        )
    return {
        "gateway": {"id": gateway_id, "timezone": fleet.timezone, "data_dir": data_dir},
        "broker": {"url": broker_url},
        "bus": out_buses,
    }
