"""Property tests: every datum and every APDU of both roles survives encode -> decode, and
malformed input is refused with an offset, never a crash (as for DL/T 645)."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from protocols import dlt698 as d
from protocols.dlt698.axdr import T

from .strategies import addresses, client_apdus, data, server_apdus

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def same(a: d.Data, b: d.Data) -> bool:
    """Equality that treats float NaN-free values exactly and -0.0 == 0.0 bytes-wise."""
    return a.encode() == b.encode() and a.tag == b.tag


@FAST
@given(data)
def test_data_round_trip(value: d.Data) -> None:
    raw = value.encode()
    back = d.decode_data(raw)
    assert back.encode() == raw
    if value.tag not in (T.FLOAT32, T.FLOAT64):
        assert back == value


@FAST
@given(data)
def test_truncated_data_is_refused_with_an_offset(value: d.Data) -> None:
    raw = value.encode()
    for cut in range(len(raw)):
        with pytest.raises(d.FrameError, match="offset"):
            d.decode_data(raw[:cut])
    with pytest.raises(d.FrameError, match="unexpected byte"):
        d.decode_data(raw + b"\x00")


@FAST
@given(client_apdus())
def test_client_apdus_round_trip(apdu: Any) -> None:
    raw = d.encode_apdu(apdu)
    assert d.decode_apdu(raw) == apdu
    wire = d.request("000000000001", apdu)
    assert d.parse_request(wire).apdu == apdu


@FAST
@given(server_apdus())
def test_server_apdus_round_trip(apdu: Any) -> None:
    raw = d.encode_apdu(apdu)
    back = d.decode_apdu(raw)
    assert d.encode_apdu(back) == raw
    assert back == apdu or _has_float(apdu)
    wire = d.build_frame(0xC3, "000000000001", 0, raw)
    assert d.parse_reply(wire).apdu == back


def _has_float(apdu: Any) -> bool:
    return "FLOAT" in repr(apdu) or "nan" in repr(apdu) or "-0.0" in repr(apdu)


@FAST
@given(addresses, st.integers(0, 0xFF), st.binary(max_size=200), st.integers(0, 4))
def test_frames_round_trip_with_any_address(
    sa: d.ServerAddress, ca: int, apdu: bytes, pre: int
) -> None:
    frame = d.Frame(0x43, sa, ca, apdu)
    wire = d.encode_frame(frame, preamble=pre)
    assert d.decode_frame(wire) == frame
    info = d.inspect_frame(wire)
    assert info.preamble == pre and info.crc_ok


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=120))
def test_garbage_apdus_raise_only_frame_errors(raw: bytes) -> None:
    try:
        apdu = d.decode_apdu(raw)
    except d.FrameError:
        return
    d.encode_apdu(apdu)  # whatever decodes must encode


def test_non_minimal_lengths_are_accepted() -> None:
    # octet-string of 2 bytes with the length as 81 02 and as 82 00 02
    assert d.decode_data(bytes.fromhex("09 81 02 AB CD")) == d.octets("ABCD")
    assert d.decode_data(bytes.fromhex("09 82 00 02 AB CD")) == d.octets("ABCD")
    assert d.decode_data(bytes.fromhex("01 81 01 12 00 01")) == d.array(d.lu(1))
    long = d.octets(bytes(300))
    assert long.encode()[:4] == bytes.fromhex("09 82 01 2C")  # minimal form on encode
    with pytest.raises(d.FrameError, match="bad length form 85"):
        d.decode_data(bytes.fromhex("09 85 00 00 00 00 02"))


def test_counts_larger_than_the_input_are_refused_early() -> None:
    with pytest.raises(d.FrameError, match="exceeds"):
        d.decode_data(bytes.fromhex("01 84 7F FF FF FF"))


def test_unknown_type_and_choice_name_their_offset() -> None:
    with pytest.raises(d.FrameError, match="unknown data type 07 at offset 0"):
        d.decode_data(b"\x07")
    with pytest.raises(d.FrameError, match="unknown APDU tag 42 at offset 0"):
        d.decode_apdu(b"\x42")
    with pytest.raises(d.FrameError, match="GET-Request choice 09 .* at offset 1"):
        d.decode_apdu(b"\x05\x09\x00")
    with pytest.raises(d.FrameError, match="CSD choice 02"):
        d.decode_data(b"\x5b\x02")


def test_dates_with_unset_fields_keep_their_raw_fields() -> None:
    unset = d.decode_data(bytes.fromhex("1C FF FF FF FF FF FF FF"))
    assert unset.value == (0xFFFF, 255, 255, 255, 255, 255)
    assert unset.py() == [0xFFFF, 255, 255, 255, 255, 255]
    assert unset.encode() == bytes.fromhex("1C FF FF FF FF FF FF FF")


def test_values_that_do_not_fit_are_request_errors() -> None:
    with pytest.raises(d.RequestError):
        d.lu(70000).encode()
    with pytest.raises(d.RequestError):
        d.visible("温度").encode()
    with pytest.raises(d.RequestError):
        d.encode_apdu(d.GetRequest(9, 0))
    with pytest.raises(d.RequestError):
        d.ServerAddress("12345")
    with pytest.raises(d.RequestError):
        d.parse_oad("4001")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_fast_crc_equals_the_reference_table(data: bytes) -> None:
    from protocols.dlt698.crc import crc16_reference

    assert d.crc16(data) == crc16_reference(data)
