"""An independent DL/T 645 client (PyPI ``dlt645``) reads our simulated meters over TCP."""

from __future__ import annotations

import pytest

from simulators.simulation import Simulation

dlt645 = pytest.importorskip("dlt645", reason="the dev extra installs the PyPI dlt645 peer")


def wire_order(printed: str) -> str:
    """peers.md: the peer sends the address string as given, i.e. it wants wire order."""
    return bytes.fromhex(printed)[::-1].hex()


@pytest.mark.parametrize(
    ("di", "quantity"), [(0x00010000, "energy_import_total"), (0x02010100, "voltage_a")]
)
def test_pypi_client_reads_energy_and_voltage(sim: Simulation, di: int, quantity: str) -> None:
    host, port = sim.serve_dlt645_tcp("b1", fast=True)
    client = dlt645.MeterClientService.new_tcp_client(host, port, timeout=5)
    assert client.connect()
    try:
        assert client.set_address(wire_order("000000000001"))
        read = client.read_00 if di >> 24 == 0 else client.read_02
        item = read(di)
        assert item is not None, "the peer client got no answer"
        assert float(item.value) == pytest.approx(sim.expected("C1")[quantity], abs=0.01)
    finally:
        client.disconnect()
