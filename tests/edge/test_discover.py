"""Discovery over the in-memory line: colliding answers are split digit by digit."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from edge.discover import discover_dlt645, snippet
from edge.transports import MemoryTransport
from protocols import dlt645 as d
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


#: Three addresses whose replies to the wildcard read of 04000401 XOR into a frame that
#: decodes (checksum included) with the address 000000270435, which no meter has.
PHANTOM_TRIO = ("000000360528", "000000998735", "000000888628")


def _trio_fleet() -> dict[str, Any]:
    data = fleet_dict()
    data["buses"] = [{"name": "b1", "fast": True}]
    master, *meters = PHANTOM_TRIO
    data["areas"] = [
        {
            "id": "A1",
            "loss": 0.05,
            "master": {"archive_id": "M", "address": master, "bus": "b1"},
            "meters": [
                {"archive_id": f"C{i}", "address": a, "bus": "b1"} for i, a in enumerate(meters)
            ],
        }
    ]
    return data


def test_colliding_replies_that_decode_are_not_a_meter() -> None:
    """The three replies collide into a valid frame: discovery used to report
    000000270435 and stop, missing all three meters."""
    sim = Simulation(fleet_from_dict(_trio_fleet()), clock=VirtualClock(START, 0.0))
    try:
        bus = Bus("b1", sim.meters_on("b1"), sim.clock, sim.responder.for_bus())
        line = MemoryTransport(lambda frame: bus.handle(frame).data)
        first = d.decode_frame(
            bus.handle(d.decode_frame(d.build_read("AAAAAAAAAAAA", "04000401"))).data
        )
        assert first.address == "000000270435"  # the phantom the wildcard probe hears
        found = discover_dlt645(line, timeout_s=0.05)
        assert found == sorted(PHANTOM_TRIO)
    finally:
        sim.stop()


def test_1997_meters_are_found_by_a_search_of_their_own(sim: Simulation) -> None:
    """The 2007 search's read (11) is not a 1997 function: a 1997 meter stays silent, so
    discovery used to report none of them."""
    bus = Bus("b2", sim.meters_on("b2"), sim.clock, sim.responder.for_bus())
    line = MemoryTransport(lambda frame: bus.handle(frame).data)
    want = sorted(m.spec.address for m in sim.meters_on("b2") if m.spec.protocol == "dlt645-1997")
    assert want == ["000000001997"]
    assert "000000001997" not in discover_dlt645(line, timeout_s=0.05)
    assert discover_dlt645(line, timeout_s=0.05, version="1997") == want
    assert 'protocol = "1997"' in snippet(want, protocol="1997")


def test_a_meter_echoing_the_wildcard_address_does_not_send_the_search_everywhere() -> None:
    """With candidates confirmed, a meter that answers a wildcard read with the wildcard
    address itself must not make every deeper pattern look like a collision."""

    def echo(frame: d.Frame) -> bytes:
        if "A" not in frame.address:
            return b""  # silent when addressed exactly: its real address is unknown
        wire_address = bytes.fromhex(frame.address)[::-1]
        plain = bytes.fromhex("01040004") + wire_address
        body = bytes([0x68, *wire_address, 0x68, 0x91, len(plain)])
        body += bytes((b + 0x33) & 0xFF for b in plain)
        return body + bytes([sum(body) % 256, 0x16])

    line = MemoryTransport(echo)
    assert discover_dlt645(line, timeout_s=0.05) == []
    assert len(line.requests) <= 2  # the wildcard probe and its failed confirmation
