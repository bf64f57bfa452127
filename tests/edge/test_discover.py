"""Discovery over the in-memory line: colliding answers are split digit by digit."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from edge.discover import discover_dlt645, snippet
from edge.transports import MemoryTransport
from simulators.bus import Bus
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation
from tests.simulators.conftest import fleet_dict

from .conftest import START


@pytest.fixture
def sim() -> Iterator[Simulation]:
    simulation = Simulation(fleet_from_dict(fleet_dict()), clock=VirtualClock(START, 0.0))
    yield simulation
    simulation.stop()


@pytest.mark.parametrize("echo", [False, True], ids=["plain", "echoing adapter"])
def test_every_2007_meter_on_the_line_is_found(sim: Simulation, echo: bool) -> None:
    """An echoing adapter once made every silent probe look like a collision (the echo's
    FE preamble was counted as heard), so the search never ended."""
    bus = Bus("b1", sim.meters_on("b1"), sim.clock, sim.responder.for_bus())
    line = MemoryTransport(lambda frame: bus.handle(frame).data, echo=echo)
    found = discover_dlt645(line, timeout_s=0.05)
    assert found == sorted(m.spec.address for m in sim.meters_on("b1"))
    assert bus.collisions > 0  # the wildcard probes made the meters answer at once
    assert line.stats.transactions == len(line.requests)
    assert 'address = "000000000001"' in snippet(found)
