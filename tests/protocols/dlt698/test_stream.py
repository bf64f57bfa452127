"""Streaming decoder: any chunks in, only valid frames out, every discard explained."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import dlt698 as d
from protocols.dlt698.stream import (
    BAD_FCS,
    BAD_HCS,
    BAD_LENGTH,
    FLUSHED,
    NOISE,
    TOO_LONG,
    WRONG_DIRECTION,
)

from .vectors import VECTOR_BY_NAME, VECTORS

REQUEST = VECTOR_BY_NAME["peer_energy_array_request"].wire
REPLY = VECTOR_BY_NAME["peer_energy_array_response"].wire
VALID = [v.wire for v in VECTORS if v.crc_ok]


def feed_all(decoder: d.StreamDecoder, chunks: list[bytes]) -> list[d.Frame]:
    out: list[d.Frame] = []
    for c in chunks:
        out += decoder.feed(c)
    return out


def test_frame_split_at_every_position() -> None:
    for cut in range(1, len(REPLY)):
        dec = d.StreamDecoder()
        frames = feed_all(dec, [REPLY[:cut], REPLY[cut:]])
        assert [d.encode_frame(f) for f in frames] == [REPLY], cut
        assert dec.pending == 0


def test_byte_by_byte_with_preambles() -> None:
    dec = d.StreamDecoder()
    frames = feed_all(dec, [bytes([b]) for b in b"\xfe" * 4 + REPLY + b"\xfe\xfe" + REQUEST])
    assert [d.encode_frame(f) for f in frames] == [REPLY, REQUEST]
    assert dec.discarded_bytes == 0  # FE before a frame is preamble, not noise


def test_noise_before_inside_gaps_and_after() -> None:
    noise = bytes([0x00, 0x13, 0x68, 0x55, 0x16, 0xFF, 0x68])
    dec = d.StreamDecoder()
    frames = feed_all(dec, [noise + REPLY + noise + REQUEST + noise[:3]])
    assert [d.encode_frame(f) for f in frames] == [REPLY, REQUEST]
    assert dec.discarded_bytes > 0
    assert {x.reason for x in dec.discards} <= {NOISE, BAD_LENGTH, BAD_HCS, TOO_LONG}


def test_false_start_in_noise_does_not_wait_for_a_phantom_frame() -> None:
    # 68 FF 3F ...: L says 16 KiB; the HCS check drops it as soon as its header is in.
    junk = bytes([0x68, 0xFF, 0x3F, 0x43, 0x05, 1, 2, 3, 4, 5, 6, 0, 0x12, 0x34])
    dec = d.StreamDecoder(max_buffer=65536)
    assert [d.encode_frame(f) for f in dec.feed(junk + REPLY)] == [REPLY]
    assert dec.discards[0].reason == BAD_HCS


def test_bad_hcs_and_bad_fcs_are_dropped_and_the_next_frame_found() -> None:
    bad_fcs = bytearray(REPLY)
    bad_fcs[-2] ^= 0xFF
    bad_hcs = bytearray(REQUEST)
    bad_hcs[12] ^= 0x01
    dec = d.StreamDecoder()
    frames = dec.feed(bytes(bad_fcs) + bytes(bad_hcs) + REPLY)
    assert [d.encode_frame(f) for f in frames] == [REPLY]
    assert [x.reason for x in dec.discards] == [BAD_FCS, BAD_HCS]


def test_frame_hiding_inside_a_truncated_one_is_found() -> None:
    # The cut reply's header is valid, so the decoder waits for its L bytes; once they are
    # in and prove wrong, it rescans from the next 68 and finds the frames inside.
    dec = d.StreamDecoder()
    assert dec.feed(REPLY[:20] + REQUEST) == []
    frames = dec.feed(REPLY)
    assert [d.encode_frame(f) for f in frames] == [REQUEST, REPLY]
    assert dec.discards[0].nbytes == 20


def test_echo_of_own_request_is_dropped_by_a_client() -> None:
    dec = d.StreamDecoder(accept="replies")
    frames = dec.feed(REQUEST + REPLY)
    assert [f.from_server for f in frames] == [True]
    assert dec.discards[-1].reason == WRONG_DIRECTION


def test_a_server_only_takes_requests() -> None:
    dec = d.StreamDecoder(accept="requests")
    assert [f.control for f in dec.feed(REPLY + REQUEST)] == [0x43]


def test_buffer_is_bounded_and_flush_drops_a_partial_frame() -> None:
    dec = d.StreamDecoder(max_buffer=64)
    long_frame = VECTOR_BY_NAME["peer_monthly_freeze_response"].wire  # 81 bytes
    assert dec.feed(long_frame + REQUEST) != []
    assert any(x.reason == TOO_LONG for x in dec.discards)
    dec.feed(REPLY[:10])
    assert dec.pending == 10
    dec.flush()
    assert dec.pending == 0 and dec.discards[-1].reason == FLUSHED
    with pytest.raises(ValueError):
        d.StreamDecoder(max_buffer=10)


def test_discard_records_are_bounded() -> None:
    dec = d.StreamDecoder(max_discards=3)
    for _ in range(10):
        dec.feed(b"\x68\x01\x00\x43\x05")  # L = 1: shorter than any header
    assert len(dec.discards) == 3
    assert dec.discard_count >= 10


def test_scrambled_frame_round_trips() -> None:
    frame = d.Frame(
        0x43 | 0x08, d.ServerAddress("000000000001"), 0, b"\x05\x01\x00\x40\x01\x02\x00\x00"
    )
    wire = d.encode_frame(frame)
    assert wire[14:-3] == bytes(b + 0x33 for b in frame.apdu)  # the APDU travels +0x33
    assert d.StreamDecoder().feed(wire) == [frame]
    assert d.decode_frame(wire) == frame


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    picks=st.lists(st.integers(0, len(VALID) - 1), min_size=1, max_size=8),
    noise=st.lists(st.binary(max_size=12), min_size=9, max_size=9),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_chunking_and_noise_yields_exactly_the_frames(
    picks: list[int], noise: list[bytes], seed: int
) -> None:
    # noise without 68 cannot start a candidate; with it a candidate may swallow a frame's
    # start, which is exercised by the deterministic tests above.
    gaps = [n.replace(b"\x68", b"\x69") for n in noise]
    blob = gaps[0] + b"".join(VALID[p] + gaps[i + 1] for i, p in enumerate(picks))
    rng = random.Random(seed)
    dec = d.StreamDecoder()
    out: list[d.Frame] = []
    pos = 0
    while pos < len(blob):
        step = rng.randint(1, 64)
        out += dec.feed(blob[pos : pos + step])
        pos += step
    assert [d.encode_frame(f) for f in out] == [VALID[p] for p in picks]


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_never_raises_and_never_yields_an_invalid_frame(blob: bytes) -> None:
    dec = d.StreamDecoder(max_buffer=256)
    for f in dec.feed(blob):
        d.decode_frame(d.encode_frame(f))  # every frame out is valid
    assert dec.pending <= 256
