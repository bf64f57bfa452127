"""Link-layer fragments (分帧) of DL/T 698.45: the field layout, both roles, and a hostile
or broken sender (gaps, repeats, interleaving, unbounded size) refused with the reason.

Layout vector: DL/T 698.45-2017 link layer; field = sequence in bits 0-11, type in bits
14-15 (00 first, 01 last, 11 middle, 10 confirmation), low byte first, as public
concentrator firmware reads it (seq = b0 | (b1 & 0x0F) << 8, type = b1 >> 6)."""

from __future__ import annotations

import pytest

from protocols import dlt698 as d
from protocols.dlt698.fragment import CONFIRM, FIRST, LAST, MIDDLE, Fragment

ADDR = "000000006981"


def reply_template() -> d.Frame:
    return d.Frame(0xC3, d.as_address(ADDR), 0x10)


def test_the_fragment_field_layout() -> None:
    assert Fragment(0, FIRST).field() == bytes.fromhex("00 00")
    assert Fragment(1, MIDDLE).field() == bytes.fromhex("01 C0")
    assert Fragment(0x123, LAST).field() == bytes.fromhex("23 41")
    assert Fragment(0xFFF, CONFIRM).field() == bytes.fromhex("FF 8F")
    frame = d.Frame(0xE3, d.as_address(ADDR), 0x10, bytes.fromhex("23 41 AA BB"))
    assert d.fragment_of(frame) == Fragment(0x123, LAST, b"\xaa\xbb")


def test_split_and_reassemble_round_trip_with_confirmations() -> None:
    apdu = bytes(range(256)) * 3  # 768 bytes
    frames = d.split_apdu(reply_template(), apdu, 200, first_seq=4094)
    kinds = [d.fragment_of(f).kind for f in frames]
    assert kinds == [FIRST, MIDDLE, MIDDLE, LAST]
    assert [d.fragment_of(f).seq for f in frames] == [4094, 4095, 0, 1]  # wraps at 4096
    assert all(f.fragmented and f.control == 0xE3 for f in frames)
    r = d.Reassembler()
    got = None
    for f in frames:
        # every fragment goes over the wire and back through the frame codec
        wire = d.encode_frame(f)
        f2 = d.decode_frame(wire)
        confirm = d.confirm_frame(f2)
        assert confirm.control == 0x63 and not confirm.from_server and confirm.fragmented
        assert d.fragment_of(confirm) == Fragment(d.fragment_of(f2).seq, CONFIRM)
        got = r.feed(f2)
    assert got == apdu
    whole = d.whole_frame(frames[-1], got)
    assert not whole.fragmented and whole.control == 0xC3 and whole.apdu == apdu


def test_a_short_apdu_is_one_plain_frame() -> None:
    (only,) = d.split_apdu(reply_template(), b"\x85\x01", 200)
    assert not only.fragmented and only.apdu == b"\x85\x01"


@pytest.mark.parametrize(
    ("order", "reason"),
    [
        ([1, 2], "without a first"),
        ([0, 2], "sequence 2 where 1 was due"),
        ([0, 1, 1], "sequence 1 where 2 was due"),
    ],
)
def test_gaps_repeats_and_orphans_are_refused(order: list[int], reason: str) -> None:
    frames = d.split_apdu(reply_template(), bytes(50), 10)
    r = d.Reassembler()
    with pytest.raises(d.FrameError, match=reason):
        for i in order:
            r.feed(frames[i])
    assert r.pending == 0  # a refused run leaves nothing behind


def test_a_new_first_fragment_starts_afresh() -> None:
    a = d.split_apdu(reply_template(), b"A" * 30, 10)
    b = d.split_apdu(reply_template(), b"B" * 20, 10)
    r = d.Reassembler()
    r.feed(a[0])
    r.feed(a[1])
    assert r.feed(b[0]) is None
    assert r.feed(b[1]) == b"B" * 20


def test_another_senders_fragment_is_not_mixed_in() -> None:
    mine = d.split_apdu(reply_template(), bytes(30), 10)
    other = d.split_apdu(d.Frame(0xC3, d.as_address("000000006982"), 0x10), bytes(30), 10)
    r = d.Reassembler()
    r.feed(mine[0])
    with pytest.raises(d.FrameError, match="interleaved"):
        r.feed(other[1])


def test_size_and_count_are_bounded() -> None:
    frames = d.split_apdu(reply_template(), bytes(100), 10)
    with pytest.raises(d.FrameError, match="exceed 40 bytes"):
        r = d.Reassembler(max_bytes=40)
        for f in frames:
            r.feed(f)
    with pytest.raises(d.FrameError, match="more than 3 fragments"):
        r = d.Reassembler(max_fragments=3)
        for f in frames:
            r.feed(f)
    with pytest.raises(d.RequestError, match="more than 512"):
        d.split_apdu(reply_template(), bytes(600), 1)


@pytest.mark.parametrize(
    ("user_data", "reason"),
    [
        ("", "field is missing"),
        ("00", "field is missing"),
        ("00 30 AA", "reserved bits"),
        ("00 80 AA", "confirmation carries 1 bytes"),
        ("00 00", "first fragment 0 carries no data"),
    ],
)
def test_malformed_fragment_fields_say_what_is_wrong(user_data: str, reason: str) -> None:
    frame = d.Frame(0xE3, d.as_address(ADDR), 0x10, bytes.fromhex(user_data))
    with pytest.raises(d.FrameError, match=reason):
        d.fragment_of(frame)


def test_a_confirmation_without_the_frag_bit_is_understood() -> None:
    """Some firmware sends the confirmation with FRAG clear: two bytes of type 10."""
    frame = d.Frame(0x43, d.as_address(ADDR), 0x10, Fragment(7, CONFIRM).field())
    assert d.is_confirmation(frame)
    assert d.fragment_of(frame) == Fragment(7, CONFIRM)
    plain = d.Frame(0x43, d.as_address(ADDR), 0x10, bytes.fromhex("05 01"))
    assert not d.is_confirmation(plain)


def test_a_fragment_is_not_parsed_as_an_apdu() -> None:
    (first, *_) = d.split_apdu(reply_template(), bytes(30), 10)
    with pytest.raises(d.FrameError, match="reassemble"):
        d.parse_reply(first)
