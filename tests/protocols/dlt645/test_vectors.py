"""The vector table drives encode, decode and round trip, asserting every field."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols import dlt645 as d
from protocols.dlt645.explain import explain

from .vectors import VECTORS, Vector

IDS = [v.name for v in VECTORS]


def reference_frame(address_wire: bytes, control: int, plain: bytes, preamble: int) -> bytes:
    """An encoder written from the reference text alone, to check the vectors' bytes."""
    body = bytes([0x68, *address_wire, 0x68, control, len(plain)])
    body += bytes((b + 0x33) & 0xFF for b in plain)
    return b"\xfe" * preamble + body + bytes([sum(body) % 256, 0x16])


def test_table_covers_what_the_issue_asks() -> None:
    assert len(VECTORS) >= 40
    assert len(set(IDS)) == len(IDS)
    controls = {(v.expect["protocol"], v.expect["control"]) for v in VECTORS}
    for needed in ["11", "12", "13", "14", "08", "16", "17", "91", "92", "93", "B1", "D1"]:
        assert ("2007", needed) in controls, needed
    for needed in ["01", "81", "C1"]:
        assert ("1997", needed) in controls, needed
    tags = set().union(*(v.tags for v in VECTORS))
    assert {"preamble", "block", "signed", "error", "cs16", "byte16", "broadcast"} <= tags
    assert all(v.source in {"REF", "PEER", "PUBLIC"} for v in VECTORS)
    assert any(v.wire[-2] == 0x16 for v in VECTORS)  # a checksum equal to 0x16


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_bytes_agree_with_reference_encoder(vec: Vector) -> None:
    wire = vec.wire
    body = wire[vec.preamble :]
    plain = bytes((b - 0x33) & 0xFF for b in body[10:-2])
    assert reference_frame(body[1:7], body[8], plain, vec.preamble) == wire


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_explain_decodes_every_field(vec: Vector) -> None:
    assert explain(vec.hex) == vec.expect


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_our_builder_makes_exactly_these_bytes(vec: Vector) -> None:
    assert vec.build is not None
    assert vec.build() == vec.wire


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_frame_round_trip(vec: Vector) -> None:
    info = d.inspect_frame(vec.wire)
    assert info.checksum_ok
    assert info.preamble == vec.preamble
    frame = d.decode_frame(vec.wire)
    assert frame.address == vec.expect["address"]
    assert frame.control == int(vec.expect["control"], 16)
    assert frame.is_reply == (vec.expect["direction"] == "response")
    assert frame.more_follows == vec.expect["more_follows"]
    assert frame.is_error == (vec.expect["error"] is not None)
    assert d.encode_frame(frame, vec.preamble) == vec.wire


@pytest.mark.parametrize("vec", VECTORS, ids=IDS)
def test_role_parsers(vec: Vector) -> None:
    frame = d.decode_frame(vec.wire)
    version = vec.expect["protocol"]
    if vec.expect["direction"] == "request":
        request = d.parse_request(frame, version)
        assert request.function == vec.expect["function"]
        assert request.version == version
        di = request.di
    else:
        reply = d.parse_reply(frame, version)
        assert reply.function_name == vec.expect["function"]
        assert reply.more_follows == vec.expect["more_follows"]
        if vec.expect["error"] is None:
            assert reply.error is None
            assert reply.raise_for_error() is reply
            numeric = [v for v in vec.expect["values"] if isinstance(v, (int, float))]
            assert [v for v in reply.values if isinstance(v, (int, float))] == numeric
        else:
            assert list(reply.error or ()) == vec.expect["error"]
            with pytest.raises(d.MeterErrorReply) as err:
                reply.raise_for_error()
            assert err.value.__class__.__mro__[1] is d.Dlt645Error
        di = reply.di
    expected_di = vec.expect["di"]
    assert (None if di is None else d.format_di(di, version)) == expected_di


def test_stream_of_all_vectors_yields_them_in_order() -> None:
    decoder = d.StreamDecoder()
    stream = b"".join(v.wire for v in VECTORS)
    frames = []
    for i in range(0, len(stream), 7):  # cut every 7 bytes, straight through frames
        frames += decoder.feed(stream[i : i + 7])
    assert [f.control for f in frames] == [int(v.expect["control"], 16) for v in VECTORS]
    assert decoder.discarded_bytes == 0


def test_broadcast_time_1997_has_the_2007_layout() -> None:
    t = datetime(2017, 6, 5, 10, 22, 51)
    assert d.build_broadcast_time(t, "1997", preamble=0) == d.build_broadcast_time(t, preamble=0)
    request = d.parse_request(d.decode_frame(d.build_broadcast_time(t, "1997")), "1997")
    assert request.function == "broadcast_time"
    assert request.time == t
    assert not request.expects_reply


def test_captured_broadcast_data_is_seconds_first() -> None:
    # dlt645.md: captured DATA 84 55 43 38 39 4A -> 2017-06-05 10:22:51 (ss mm hh DD MM YY).
    frame = d.decode_frame(bytes.fromhex("68999999999999680806845543383 94A4B16".replace(" ", "")))
    assert frame.data == bytes.fromhex("512210050617")
    assert d.parse_request(frame).time == datetime(2017, 6, 5, 10, 22, 51)
