"""Cross-check with the independent PyPI package ``dlt645`` (3.x) where it follows the standard.

Its meter simulator answers our requests over loopback TCP and its replies must decode with
our decoder. Its known deviations (shared reference ``peers.md``) are worked around here,
never copied into our codec: it stores the meter address in wire order, and it has no
block reads and no read-subsequent.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from protocols import dlt645 as d
from tests.conftest import free_port

dlt645 = pytest.importorskip("dlt645", reason="the dev extra installs the PyPI dlt645 peer")

ADDRESS = "000012345678"


@pytest.fixture
def peer_meter() -> Iterator[int]:
    port = free_port()
    server = dlt645.MeterServerService.new_tcp_server("127.0.0.1", port, 5.0)
    server.set_address(d.address_to_wire(ADDRESS))  # peers.md: it keeps wire order
    server.set_00(0x00010000, 12345.67)
    server.set_00(0x00020000, 42.5)
    server.set_02(0x02010100, 220.1)
    server.set_02(0x02800002, 50.01)
    server.start()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.05)
    try:
        yield port
    finally:
        server.stop()


def ask(port: int, wire: bytes, timeout: float = 3.0) -> list[d.Frame]:
    decoder = d.StreamDecoder(accept="replies")
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(wire)
        deadline = time.monotonic() + timeout
        frames: list[d.Frame] = []
        while not frames and time.monotonic() < deadline:
            chunk = sock.recv(512)
            if not chunk:
                break
            frames = decoder.feed(chunk)
    return frames


@pytest.mark.parametrize(
    ("di", "expected", "unit"),
    [
        ("00010000", 12345.67, "kWh"),
        ("00020000", 42.5, "kWh"),
        ("02010100", 220.1, "V"),
        ("02800002", 50.01, "Hz"),
    ],
)
def test_peer_simulator_answers_our_read(
    peer_meter: int, di: str, expected: float, unit: str
) -> None:
    frames = ask(peer_meter, d.build_read(ADDRESS, di))
    assert len(frames) == 1, "the peer did not answer"
    reply = d.parse_reply(frames[0], request_di=di).raise_for_error()
    assert reply.address == ADDRESS
    assert reply.values == (pytest.approx(expected),)
    assert reply.unit == unit


def test_peer_error_reply_decodes_into_named_bits(peer_meter: int) -> None:
    frames = ask(peer_meter, d.build_read(ADDRESS, "00AAAA00"))
    assert len(frames) == 1
    reply = d.parse_reply(frames[0])
    assert reply.error is not None and reply.error_code
    with pytest.raises(d.MeterErrorReply):
        reply.raise_for_error()


def test_peer_frame_encoder_agrees_with_ours() -> None:
    from dlt645.protocol.protocol import DLT645Protocol

    for di in ("00010000", "0201FF00", "05060101"):
        ours = d.build_read(ADDRESS, di, preamble=4)
        plain = d.di_to_bytes(d.parse_di(di), "2007")
        theirs = bytes(DLT645Protocol.build_frame(d.address_to_wire(ADDRESS), 0x11, plain, 4))
        assert ours == theirs
