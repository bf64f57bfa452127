"""Modbus meters: our profiles served by pymodbus, read by clients not built on our codec."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time

import pytest
from pymodbus.client import ModbusTcpClient

from protocols.modbus import DTSU666, SDM120, DataType, WordOrder, decode_value, plan_reads
from protocols.modbus.codec import encode_value
from protocols.modbus.profiles import RegisterSpec
from simulators.modbus_server import ModbusRequest
from simulators.simulation import Simulation
from tests.conftest import IN_CI


def raw_modbus_tcp(
    host: str, port: int, unit: int, function: int, address: int, count: int
) -> list[int]:
    """A Modbus TCP read written from the specification's byte layout (MBAP + PDU)."""
    pdu = struct.pack(">BHH", function, address, count)
    mbap = struct.pack(">HHHB", 0x1234, 0, len(pdu) + 1, unit)
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(mbap + pdu)
        head = b""
        while len(head) < 9:
            head += s.recv(9 - len(head))
        tid, proto, length, uid, fn, nbytes = struct.unpack(">HHHBBB", head)
        assert (tid, proto, uid, fn) == (0x1234, 0, unit, function), head.hex()
        body = b""
        while len(body) < nbytes:
            body += s.recv(nbytes - len(body))
    return list(struct.unpack(f">{count}H", body))


def test_word_order_and_scaling_of_the_codec() -> None:
    hi = RegisterSpec("voltage_a", 0, 4, DataType.FLOAT32, WordOrder.HIGH_FIRST)
    lo = RegisterSpec("voltage_a", 0, 4, DataType.FLOAT32, WordOrder.LOW_FIRST)
    words = encode_value(hi, 230.5)
    assert words == (0x4366, 0x8000)  # IEEE 754 230.5 = 0x43668000, high word first
    assert encode_value(lo, 230.5) == (0x8000, 0x4366)
    assert decode_value(lo, (0x8000, 0x4366)) == pytest.approx(230.5)
    scaled = DTSU666.spec("power_active_total")
    assert decode_value(scaled, encode_value(scaled, 12.5)) == pytest.approx(12.5)


def test_contiguous_registers_are_merged() -> None:
    plans = plan_reads(SDM120)
    assert len(plans) < len(SDM120.registers)
    assert all(p.count <= 125 for p in plans)


def test_pymodbus_and_raw_client_read_our_meters(sim: Simulation) -> None:
    host, port = sim.serve_modbus_tcp("mb", framing="tcp")
    expected = sim.expected("MB1")
    # an independent client: raw bytes from the spec, decoded with struct, scaled by hand
    spec = DTSU666.spec("voltage_a")
    words = raw_modbus_tcp(host, port, 1, spec.function, spec.address, 2)
    raw = struct.unpack(">f", struct.pack(">HH", *words))[0]
    assert raw * spec.scale == pytest.approx(expected["voltage_a"], rel=1e-4)
    # and pymodbus's own client with our profile's plan
    client = ModbusTcpClient(host, port=port, timeout=5)
    assert client.connect()
    try:
        for plan in plan_reads(SDM120):
            read = (
                client.read_input_registers if plan.function == 4 else client.read_holding_registers
            )
            rr = read(plan.address, count=plan.count, device_id=2)
            assert not rr.isError(), rr
            for s in plan.specs:
                off = s.address - plan.address
                value = decode_value(s, rr.registers[off : off + s.data_type.words])
                assert value == pytest.approx(
                    sim.expected("MB2")[s.quantity], rel=1e-4, abs=1e-3
                ), s.quantity
    finally:
        client.close()
    # a unit id nobody has: silence, as on a real RS-485 line
    from pymodbus.exceptions import ModbusIOException

    quick = ModbusTcpClient(host, port=port, timeout=0.5, retries=0)
    assert quick.connect()
    try:
        with pytest.raises(ModbusIOException):
            quick.read_input_registers(0x2000, count=2, device_id=9)
    finally:
        quick.close()


def test_mbpoll_reads_our_meter(sim: Simulation) -> None:
    if shutil.which("mbpoll") is None:
        reason = "Debian's mbpoll is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    host, port = sim.serve_modbus_tcp("mb", framing="tcp")
    spec = SDM120.spec("energy_import_total")
    # mbpoll: -a unit, -r first register (1-based), -t 3:float input registers float,
    # -B big-endian word order, -c count, -1 one poll
    out = subprocess.run(
        [
            "mbpoll",
            "-m",
            "tcp",
            "-p",
            str(port),
            "-a",
            "2",
            "-r",
            str(spec.address + 1),
            "-t",
            "3:float",
            "-B",
            "-c",
            "1",
            "-1",
            host,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    line = next(x for x in out.stdout.splitlines() if x.startswith(f"[{spec.address + 1}]"))
    value = float(line.split(":", 1)[1])
    assert value == pytest.approx(sim.expected("MB2")["energy_import_total"], rel=1e-5)


def test_rtu_over_tcp(sim: Simulation) -> None:
    from pymodbus import FramerType

    host, port = sim.serve_modbus_tcp("mb", framing="rtu-over-tcp")
    client = ModbusTcpClient(host, port=port, framer=FramerType.RTU, timeout=5)
    assert client.connect()
    try:
        spec = SDM120.spec("voltage_a")
        rr = client.read_input_registers(spec.address, count=2, device_id=2)
        assert not rr.isError(), rr
        assert decode_value(spec, rr.registers) == pytest.approx(
            sim.expected("MB2")["voltage_a"], rel=1e-4
        )
    finally:
        client.close()


def test_clean_reply_hook_logs_what_a_modbus_meter_answered(sim: Simulation) -> None:
    """The Modbus server reports each read a meter answered as it made it (the ground truth
    of collection, as the DL/T 645 bus's clean-reply log): not a delayed one (issue 18)."""
    seen: list[tuple[str, ModbusRequest]] = []
    sim.on_clean_reply(
        lambda *_: None, lambda meter, req, now, timing: seen.append((meter.archive_id, req))
    )
    host, port = sim.serve_modbus_tcp("mb", framing="tcp")

    def settled(n: int) -> None:  # the server reports once its write returned: wait for it
        deadline = time.monotonic() + 3
        while len(seen) < n and time.monotonic() < deadline:
            time.sleep(0.01)

    spec = DTSU666.spec("energy_import_total")
    raw_modbus_tcp(host, port, 1, spec.function, spec.address, 2)
    settled(1)
    assert seen == [("MB1", ModbusRequest(spec.function, spec.address, 2))]
    assert seen[0][1].covers(spec.address, 2) and not seen[0][1].covers(spec.address + 1, 2)
    sim.inject("MB1", "slow", {"delay_s": 0.2})  # answered, but late: not what a gateway got
    raw_modbus_tcp(host, port, 1, spec.function, spec.address, 2)
    s2 = SDM120.spec("energy_import_total")
    raw_modbus_tcp(host, port, 2, s2.function, s2.address, 2)
    settled(2)
    assert [m for m, _ in seen] == ["MB1", "MB2"]  # not the slow one between them
