"""Streaming decoder: any chunks in, only valid frames out, every discard explained."""

from __future__ import annotations

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import dlt645 as d
from protocols.dlt645.stream import BAD_CHECKSUM, FLUSHED, NOISE, TOO_LONG, WRONG_DIRECTION

from .vectors import VECTORS

REQUEST = d.build_read("000012345678", "00010000")
REPLY = d.build_read_reply("000012345678", "00010000", 12345.67, preamble=2)


def feed_all(decoder: d.StreamDecoder, chunks: list[bytes]) -> list[d.Frame]:
    out: list[d.Frame] = []
    for c in chunks:
        out += decoder.feed(c)
    return out


def test_frame_split_at_every_position() -> None:
    for cut in range(1, len(REPLY)):
        dec = d.StreamDecoder()
        frames = feed_all(dec, [REPLY[:cut], REPLY[cut:]])
        assert [f.data for f in frames] == [d.decode_frame(REPLY).data], cut
        assert dec.pending == 0


def test_byte_by_byte() -> None:
    dec = d.StreamDecoder()
    frames = feed_all(dec, [bytes([b]) for b in REPLY + REPLY])
    assert len(frames) == 2


def test_noise_before_inside_gaps_and_after() -> None:
    noise = bytes([0x00, 0x13, 0x68, 0x55, 0x16, 0xFF])
    dec = d.StreamDecoder()
    frames = feed_all(dec, [noise + REPLY + noise + REPLY + noise])
    assert len(frames) == 2
    assert dec.discarded_bytes > 0
    assert {x.reason for x in dec.discards} <= {NOISE, "bad_header", "bad_end"}


def test_echo_of_own_request_is_dropped_by_a_master() -> None:
    dec = d.StreamDecoder(accept="replies")
    frames = dec.feed(REQUEST + REPLY)  # half-duplex adapter hears our own request first
    assert [f.is_reply for f in frames] == [True]
    assert any(x.reason == WRONG_DIRECTION for x in dec.discards)


def test_a_meter_only_takes_requests() -> None:
    dec = d.StreamDecoder(accept="requests")
    assert [f.control for f in dec.feed(REPLY + REQUEST)] == [0x11]


def test_bad_checksum_is_reported_and_the_next_frame_still_found() -> None:
    bad = bytearray(REPLY)
    bad[-2] ^= 0x01
    dec = d.StreamDecoder()
    frames = dec.feed(bytes(bad) + REPLY)
    assert len(frames) == 1
    assert any(x.reason == BAD_CHECKSUM for x in dec.discards)


def test_frame_hidden_behind_a_truncated_one() -> None:
    truncated = REPLY[2:12]  # a header that promises more than it gets
    dec = d.StreamDecoder()
    frames = dec.feed(truncated + REPLY)
    assert len(frames) == 1
    assert frames[0] == d.decode_frame(REPLY)


def test_truncated_frame_waits_then_flush_discards_it() -> None:
    dec = d.StreamDecoder()
    assert dec.feed(REPLY[:-3]) == []
    assert dec.pending > 0
    dec.flush()
    assert dec.pending == 0
    assert dec.discards[-1].reason == FLUSHED


def test_checksum_and_data_bytes_equal_to_16() -> None:
    cs16 = next(v for v in VECTORS if "cs16" in v.tags).wire
    byte16 = next(v for v in VECTORS if "byte16" in v.tags).wire
    dec = d.StreamDecoder()
    assert len(dec.feed(cs16 + byte16 + cs16)) == 3


def test_buffer_stays_bounded_under_endless_garbage() -> None:
    dec = d.StreamDecoder(max_buffer=300)
    rng = random.Random(7)
    for _ in range(2000):
        dec.feed(bytes([0x68]) + rng.randbytes(50))
        assert dec.pending <= 300
    assert len(dec.discards) <= 256
    assert dec.feed(REPLY) != [] or dec.feed(REPLY) != []


def test_too_long_candidate_with_small_buffer() -> None:
    long_reply = d.build_read_reply("000012345678", "0001FF00", [1.0, 2.0, 3.0, 4.0, 5.0])
    dec = d.StreamDecoder(max_buffer=64)
    dec.feed(long_reply[:-1] + b"\x00" * 100)
    assert dec.pending <= 64
    dec2 = d.StreamDecoder(max_buffer=64)
    # a 255-byte candidate cannot fit a 64-byte buffer: it is dropped as too long
    dec2.feed(bytes.fromhex("68 78 56 34 12 00 00 68 91 FF") + b"\x33" * 100)
    assert any(x.reason == TOO_LONG for x in dec2.discards)


def test_invalid_max_buffer() -> None:
    with pytest.raises(ValueError, match="max_buffer"):
        d.StreamDecoder(max_buffer=10)


# ----------------------------------------------------------------------- properties

_VALID = [v.wire for v in VECTORS]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.binary(max_size=64), max_size=20))
def test_random_bytes_never_crash_and_never_yield_a_bad_frame(chunks: list[bytes]) -> None:
    dec = d.StreamDecoder(max_buffer=512)
    for frame in feed_all(dec, chunks):
        assert d.inspect_frame(d.encode_frame(frame)).checksum_ok
        # every frame it returns was present byte for byte in the input
        assert d.encode_frame(frame)[1:] in b"".join(chunks)
    assert dec.pending <= 512


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(_VALID), min_size=1, max_size=6),
    st.lists(st.binary(max_size=8), max_size=6),
    st.lists(st.integers(min_value=0, max_value=400), max_size=12),
)
def test_valid_frames_cut_anywhere_with_noise_between(
    frames: list[bytes], noise: list[bytes], cuts: list[int]
) -> None:
    # Noise without 68 bytes between the frames, so every frame must come through.
    clean_noise = [n.replace(b"\x68", b"\x00") for n in noise]
    stream = b""
    for i, f in enumerate(frames):
        stream += clean_noise[i] if i < len(clean_noise) else b""
        stream += f
    points = sorted({c % (len(stream) + 1) for c in cuts})
    chunks = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    dec = d.StreamDecoder()
    got = feed_all(dec, chunks)
    assert got == [d.decode_frame(f) for f in frames]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(_VALID), st.integers(min_value=0), st.integers(min_value=1, max_value=255))
def test_a_corrupted_byte_never_yields_a_wrong_frame(wire: bytes, pos: int, flip: int) -> None:
    bad = bytearray(wire)
    i = pos % len(bad)
    bad[i] ^= flip
    preamble = d.inspect_frame(wire).preamble
    frames = d.StreamDecoder().feed(bytes(bad))
    if i < preamble:  # a wake-up byte: the frame itself is intact and must come through
        assert frames == [d.decode_frame(wire)]
    else:  # any change inside the frame breaks its checksum, length or delimiters
        assert frames == []
