"""A clean reply is reported once its bytes have left the simulator, with when the request
came in and when the write completed (issue 18): a writer held up after the meter decided
to answer (a starved thread on a loaded machine) shows in the timing, and the hook never
fires before the gateway can read the reply."""

from __future__ import annotations

import os
import select
import socket
import struct
import time
from typing import Any

import pytest

from protocols import dlt645 as d
from simulators.bus import Bus, ReplyTiming
from simulators.endpoints import Endpoint
from simulators.modbus_server import _TimedHandler
from simulators.simulation import Simulation

HELD_S = 0.4  # how long the slowed writer holds a reply it has decided to send
# the write's completion is stamped once the write call returned: the client may have read
# the bytes a moment before (the stamp errs late, counting a reply slower, never faster)
SLACK_S = 0.1


class Log:
    """What the clean-reply hook saw, and when (monotonic) it was called."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Any, ReplyTiming, float]] = []

    def __call__(self, meter: Any, request: Any, now: Any, timing: ReplyTiming) -> None:
        self.seen.append((meter.archive_id, request, timing, time.monotonic()))


@pytest.fixture
def slow_line_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    real = Endpoint._write_paced

    def held(self: Endpoint, write: Any, data: bytes) -> bool:
        time.sleep(HELD_S)
        return real(self, write, data)

    monkeypatch.setattr(Endpoint, "_write_paced", held)


def hold_modbus_writer(monkeypatch: pytest.MonkeyPatch) -> None:
    real = _TimedHandler.send

    def held(self: _TimedHandler, data: bytes, addr: Any = None) -> None:
        time.sleep(HELD_S)  # the server's loop thread held up, as under load
        real(self, data, addr)

    monkeypatch.setattr(_TimedHandler, "send", held)


def read_reply(fd_read: Any, deadline_s: float = 5.0) -> tuple[bytes, float]:
    """Bytes of one DL/T 645 reply (read until a frame decodes) and when the last arrived."""
    decoder = d.StreamDecoder(accept="replies")
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        chunk = fd_read()
        if chunk and decoder.feed(chunk):
            return chunk, time.monotonic()
    raise AssertionError("no reply")


def ask_line(sim: Simulation, endpoint: str) -> tuple[float, float]:
    """Ask C1 on bus b1 over ``endpoint`` for its forward energy; returns (sent, got)."""
    request = d.build_read("000000000001", 0x00010000)
    if endpoint == "tcp":
        host, port = sim.serve_dlt645_tcp("b1")
        with socket.create_connection((host, port), timeout=5) as s:
            sent = time.monotonic()
            s.sendall(request)
            _, got = read_reply(lambda: s.recv(4096))
        return sent, got
    ep = sim.start_bus("b1", endpoint="pty", fast=True)
    fd = os.open(ep.path, os.O_RDWR | os.O_NOCTTY)
    try:
        sent = time.monotonic()
        os.write(fd, request)

        def read() -> bytes:
            ready, _, _ = select.select([fd], [], [], 0.05)
            return os.read(fd, 4096) if ready else b""

        _, got = read_reply(read)
    finally:
        os.close(fd)
    return sent, got


@pytest.mark.parametrize("endpoint", ["tcp", "pty"])
def test_a_held_line_reply_is_reported_after_its_write_with_the_time_it_took(
    sim: Simulation, slow_line_writer: None, endpoint: str
) -> None:
    log = Log()
    sim.on_clean_reply(log)
    sent, got = ask_line(sim, endpoint)
    deadline = time.monotonic() + 2
    while not log.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    [(meter, frame, timing, called)] = log.seen
    assert meter == "C1" and frame.address == "000000000001"
    assert sent <= timing.received_at <= timing.written_at <= got + SLACK_S  # read once out
    assert called >= timing.written_at
    assert timing.took_s >= HELD_S  # the hold shows: a gateway waiting less never got it


@pytest.mark.parametrize("endpoint", ["tcp", "pty"])
def test_a_line_reply_in_time_is_reported_with_a_short_time(sim: Simulation, endpoint: str) -> None:
    log = Log()
    sim.on_clean_reply(log)
    sent, got = ask_line(sim, endpoint)
    deadline = time.monotonic() + 2
    while not log.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    [(_, _, timing, _)] = log.seen
    assert sent <= timing.received_at <= timing.written_at <= got + SLACK_S
    assert timing.took_s < HELD_S


def test_a_sans_io_bus_reports_only_what_it_is_told_was_sent(sim: Simulation) -> None:
    bus: Bus = Bus("b", sim.meters_on("b1"), sim.clock, sim.line_responder())
    log = Log()
    bus.on_clean_reply = log
    reply = bus.handle(d.decode_frame(d.build_read("000000000001", 0x00010000)))
    assert reply.clean is not None and log.seen == []  # decided, not yet on the line
    bus.sent(reply, 10.0, 10.25)
    assert [(m, t.took_s) for m, _, t, _ in log.seen] == [("C1", 0.25)]
    with pytest.raises(ValueError, match="before its request"):
        bus.sent(reply, 10.0, 9.0)
    sim.inject("C1", "bad_checksum")
    faulty = bus.handle(d.decode_frame(d.build_read("000000000001", 0x00010000)))
    assert faulty.data and faulty.clean is None
    bus.sent(faulty, 11.0, 11.01)
    assert len(log.seen) == 1  # a reply the wire spoiled is never clean


def modbus_tcp(
    host: str, port: int, unit: int, function: int, address: int, count: int
) -> tuple[float, float]:
    """A Modbus TCP read; returns (sent, reply read) monotonic times."""
    pdu = struct.pack(">BHH", function, address, count)
    mbap = struct.pack(">HHHB", 7, 0, len(pdu) + 1, unit)
    with socket.create_connection((host, port), timeout=5) as s:
        sent = time.monotonic()
        s.sendall(mbap + pdu)
        want, got = 9 + 2 * count, b""
        while len(got) < want:
            got += s.recv(want - len(got))
        return sent, time.monotonic()


def crc16(data: bytes) -> bytes:
    crc = 0xFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return struct.pack("<H", crc)


def modbus_rtu_pty(
    path: str, unit: int, function: int, address: int, count: int
) -> tuple[float, float]:
    """A Modbus RTU read on a pty; returns (sent, reply read)."""
    frame = struct.pack(">BBHH", unit, function, address, count)
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    try:
        sent = time.monotonic()
        os.write(fd, frame + crc16(frame))
        want, got = 5 + 2 * count, b""
        end = time.monotonic() + 5
        while len(got) < want and time.monotonic() < end:
            ready, _, _ = select.select([fd], [], [], 0.05)
            if ready:
                got += os.read(fd, 256)
        assert len(got) == want and got[-2:] == crc16(got[:-2]), got.hex()
        return sent, time.monotonic()
    finally:
        os.close(fd)


def ask_modbus(sim: Simulation, endpoint: str) -> tuple[float, float]:
    spec = sim.meter("MB1").modbus_profile.spec("energy_import_total")
    if endpoint == "modbus-tcp":
        host, port = sim.serve_modbus_tcp("mb")
        return modbus_tcp(host, port, 1, spec.function, spec.address, 2)
    handle = sim.start_bus("mb", endpoint="pty")
    return modbus_rtu_pty(handle.path, 1, spec.function, spec.address, 2)


@pytest.mark.parametrize("endpoint", ["modbus-tcp", "pty"])
@pytest.mark.parametrize("held", [False, True])
def test_a_modbus_reply_is_reported_after_its_write_with_the_time_it_took(
    sim: Simulation, monkeypatch: pytest.MonkeyPatch, endpoint: str, held: bool
) -> None:
    if held:
        hold_modbus_writer(monkeypatch)
    log = Log()
    sim.on_clean_reply(lambda *_: None, log)
    sent, got = ask_modbus(sim, endpoint)
    deadline = time.monotonic() + 2
    while not log.seen and time.monotonic() < deadline:
        time.sleep(0.01)
    [(meter, req, timing, called)] = log.seen
    assert meter == "MB1" and req.count == 2
    assert sent <= timing.received_at <= timing.written_at <= got + SLACK_S
    assert called >= timing.written_at
    if held:
        assert timing.took_s >= HELD_S
    else:
        assert timing.took_s < HELD_S


def test_a_test_can_wait_until_the_bus_handled_what_was_written(sim: Simulation) -> None:
    """``Bus.wait_handled``: a test moving the simulated clock first waits until every
    frame the gateway wrote was handled (a broadcast has no reply to wait for)."""
    import threading

    bus: Bus = Bus("b", sim.meters_on("b1"), sim.clock, sim.line_responder())
    assert bus.wait_handled(0, 0.01)
    assert not bus.wait_handled(1, 0.05)  # nothing handled yet: gives up after the timeout
    frame = d.decode_frame(d.build_read("000000000001", 0x00010000))
    later = threading.Timer(0.1, bus.handle, args=(frame,))
    later.start()
    t0 = time.monotonic()
    assert bus.wait_handled(1, 5.0)
    assert time.monotonic() - t0 >= 0.09 and bus.requests == 1
    later.join()
