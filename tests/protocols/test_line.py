"""One RS-485 line, two protocol families: the line decoder finds DL/T 645 and DL/T 698.45
frames in one byte stream (preambles, noise, split anywhere), each family's decoder taking
the other's frames for noise."""

from __future__ import annotations

import random

import pytest

from protocols import dlt645, dlt698
from protocols.line import LineDecoder, is_dlt698

REQ_698 = dlt698.build_get_list("000000006981", ["00100200", "20000200"], preamble=4)
REQ_645 = dlt645.build_read("000000000001", "00010000")
REPLY_698 = dlt698.build_get_response(
    dlt698.parse_request(dlt698.build_get("000000006981", "40010200")),
    [dlt698.ResultNormal(0x40010200, dlt698.octets("000000006981"))],
)


def test_requests_of_both_families_in_one_stream() -> None:
    stream = b"\x00\x13" + REQ_645 + REQ_698 + b"\xff" + REQ_645
    got = LineDecoder(accept="requests").feed(stream)
    assert [is_dlt698(f) for f in got] == [False, False, True]  # 645 frames listed first
    [f698] = [f for f in got if is_dlt698(f)]
    assert dlt698.parse_request(f698).oads == (0x00100200, 0x20000200)


@pytest.mark.parametrize("seed", range(20))
def test_split_anywhere_each_frame_once(seed: int) -> None:
    rng = random.Random(seed)
    frames = [rng.choice([REQ_645, REQ_698]) for _ in range(12)]
    stream = b"".join(frames)
    dec = LineDecoder(accept="requests")
    got = []
    pos = 0
    while pos < len(stream):
        step = rng.randint(1, 17)
        got += dec.feed(stream[pos : pos + step])
        pos += step
    assert sorted(is_dlt698(f) for f in got) == sorted(f is REQ_698 for f in frames)
    assert dec.pending == 0


def test_the_filter_keeps_replies_and_drops_our_echo() -> None:
    dec = LineDecoder(accept="replies")
    got = dec.feed(REQ_698 + REPLY_698)
    assert len(got) == 1 and is_dlt698(got[0]) and got[0].from_server
    dec.feed(REPLY_698[:9])
    assert dec.pending > 0
    dec.flush()
    assert dec.pending == 0
