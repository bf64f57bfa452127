"""The byte-exact vector table drives decode, encode (both roles) and round trips."""

from __future__ import annotations

import random
from datetime import datetime

import pytest

from protocols import dlt698 as d
from protocols.dlt698.explain import explain

from .vectors import APDU_VECTORS, BROKEN_APDU, BUILDERS, VECTOR_BY_NAME, VECTORS, Vector

VALID = [v for v in VECTORS if v.crc_ok]
SOURCES = {
    "STD-H3",
    "TOOL-PY",
    "JAVA-TOOL",
    "JAVA-TEST",
    "CS-TOOL",
    "QT-TOOL",
    "QT-SIM",
    "TEST-LINE",
    "GO-LIB",
    "GO-TEST",
    "C-SIM",
    "EMQX",
    "C-CONC",
    "NODE-RED",
    "PY-TEMPLATE",
    "PEER-DOC",
}


def reference_crc(data: bytes) -> int:
    """CRC-16/X.25 bit by bit, written apart from protocols.dlt698.crc."""
    crc = 0xFFFF
    for byte in data:
        for bit in range(8):
            mix = (crc ^ (byte >> bit)) & 1
            crc >>= 1
            if mix:
                crc ^= 0x8408
    return crc ^ 0xFFFF


def test_table_size_and_sources() -> None:
    assert len(VECTORS) >= 60
    assert len(VALID) >= 60
    assert {v.source for v in VECTORS} <= SOURCES
    assert len({v.name for v in VECTORS}) == len(VECTORS)
    assert len({v.hex for v in VECTORS}) == len(VECTORS)
    services = {v.expect["service"] for v in VECTORS}
    assert {
        "GET-Request-Normal",
        "GET-Request-NormalList",
        "GET-Request-Record",
        "GET-Response-Normal",
        "GET-Response-NormalList",
        "GET-Response-Record",
        "SET-Request-Normal",
        "SET-Response-Normal",
        "ACTION-Request-Normal",
        "PROXY-Request-TransCommand",
        "SECURITY-Request",
        "SECURITY-Response",
        "LINK-Request",
        "LINK-Response",
    } <= services


@pytest.mark.parametrize("vector", VECTORS, ids=lambda v: v.name)
def test_explain_decodes_every_field(vector: Vector) -> None:
    got = explain(vector.hex)
    assert got.pop("protocol") == "698.45"
    assert got == vector.expect


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.name)
def test_frame_and_apdu_round_trip(vector: Vector) -> None:
    frame = d.decode_frame(vector.wire)
    assert d.encode_frame(frame) == vector.wire
    apdu = d.decode_apdu(frame.apdu)
    assert d.encode_apdu(apdu) == frame.apdu
    assert frame.from_server == vector.from_server
    assert frame.prm == vector.expect["prm"]
    assert frame.server.as_json() == vector.expect["server_address"]


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.name)
def test_crc_checked_by_an_independent_implementation(vector: Vector) -> None:
    wire = vector.wire
    hcs_at = 7 + (wire[4] & 0x0F)  # 68 L L C AF, the SA, CA
    assert reference_crc(wire[1:hcs_at]) == int.from_bytes(wire[hcs_at : hcs_at + 2], "little")
    assert reference_crc(wire[1:-3]) == int.from_bytes(wire[-3:-1], "little")
    assert d.crc16(b"123456789") == reference_crc(b"123456789") == 0x906E


@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_our_builders_make_the_exact_bytes(name: str) -> None:
    assert BUILDERS[name]() == VECTOR_BY_NAME[name].wire


def test_builders_cover_both_roles_and_most_services() -> None:
    built = [VECTOR_BY_NAME[n] for n in BUILDERS]
    assert len(built) >= 50
    assert sum(v.from_server for v in built) >= 15
    assert sum(not v.from_server for v in built) >= 30


@pytest.mark.parametrize("vector", VALID, ids=lambda v: v.name)
def test_each_role_parses_its_side_and_refuses_the_other(vector: Vector) -> None:
    if vector.from_server:
        reply = d.parse_reply(vector.wire)
        assert reply.service == vector.expect["service"] or vector.expect["service"].startswith(
            "SECURITY"
        )
        with pytest.raises(d.FrameError, match="sent by a server"):
            d.parse_request(vector.wire)
    else:
        req = d.parse_request(vector.wire)
        assert req.piid == vector.expect["piid"]
        with pytest.raises(d.FrameError, match="sent by a client"):
            d.parse_reply(vector.wire)


def test_request_reply_pairs_match() -> None:
    pairs = [
        ("std_h3_read_address_request", "std_h3_read_address_response"),
        ("peer_energy_total_request", "peer_energy_total_response"),
        ("peer_energy_array_request", "peer_energy_array_response"),
        ("peer_normal_list_request", "peer_normal_list_response"),
        ("peer_monthly_freeze_request", "peer_monthly_freeze_response"),
        ("peer_power_down_event_request", "peer_power_down_event_response"),
        ("peer_init_event_request", "peer_init_event_response"),
        ("peer_clock_request", "peer_clock_response"),
        ("peer_set_clock_request", "peer_set_clock_response"),
        ("line_tester_virtual_address_request", "line_tester_virtual_address_response"),
    ]
    for req, resp in pairs:
        d.parse_reply(VECTOR_BY_NAME[resp].wire, expect=VECTOR_BY_NAME[req].wire)
    with pytest.raises(d.FrameError, match="does not answer|we asked"):
        d.parse_reply(
            VECTOR_BY_NAME["peer_clock_response"].wire,
            expect=VECTOR_BY_NAME["peer_energy_total_request"].wire,
        )


def test_values_the_sources_printed() -> None:
    def reply(name: str) -> d.Reply:
        return d.parse_reply(VECTOR_BY_NAME[name].wire)

    assert reply("peer_energy_total_response").values("00100201") == [1234.56]
    assert reply("peer_energy_precise_response").values("00100401") == [1234.5678]
    assert reply("peer_power_array_response").quantities("20040200") == [
        ("power_active_total", 6.0),
        ("power_active_a", 2.01),
        ("power_active_b", 1.99),
        ("power_active_c", 2.0),
    ]
    demand = reply("peer_demand_total_response").quantities("10100201")
    assert demand == [("max_demand_import", 1.2345)]
    assert reply("peer_clock_response").quantities("40000200") == [
        ("meter_time", datetime(2026, 10, 7, 14, 16, 26))
    ]
    rows = reply("peer_monthly_freeze_response").row_quantities()
    assert rows == [
        {"freeze_sequence": 1, "freeze_time": datetime(2026, 9, 1), "energy_import_total": 1111.11},
        {
            "freeze_sequence": 2,
            "freeze_time": datetime(2026, 10, 1),
            "energy_import_total": 2222.22,
        },
    ]
    mixed = reply("peer_mixed_list_response")
    assert mixed.values("200F0200") == [50.0]
    with pytest.raises(d.DarError) as err:
        mixed.data("20140200")
    assert (err.value.code, err.value.name) == (4, "object_undefined")


def test_esam_reply_keeps_the_mac_and_is_never_verified() -> None:
    reply = d.parse_reply(VECTOR_BY_NAME["esam_daily_freeze_forward_mac"].wire)
    assert reply.security == "plain"
    assert reply.mac == bytes.fromhex("6198DFF4")
    assert reply.verified is False
    assert reply.row_quantities()[0]["energy_import_total"] == 19173.57


def test_link_frames_carry_what_their_sources_say() -> None:
    def link(name: str) -> d.LinkRequest:
        apdu = d.decode_apdu(d.decode_frame(VECTOR_BY_NAME[name].wire).apdu)
        assert isinstance(apdu, d.LinkRequest)
        return apdu

    emqx = link("emqx_login")  # its README's JSON: heartbeat 60, 2020-08-06 16:44:14, Thu
    assert (emqx.kind, emqx.heartbeat, emqx.time) == (0, 60, (2020, 8, 6, 4, 16, 44, 14, 0))
    assert link("peer_login").heartbeat == 5
    assert link("go_heartbeat").kind == d.apdu.LINK_HEARTBEAT
    assert link("c_simulator_heartbeat").kind == d.apdu.LINK_HEARTBEAT
    confirm = d.decode_apdu(d.decode_frame(VECTOR_BY_NAME["go_login_confirm"].wire).apdu)
    assert isinstance(confirm, d.LinkResponse) and confirm.request_time[:3] == (2022, 2, 23)


def test_bad_crc_vector_is_refused_by_the_strict_decoder() -> None:
    wire = VECTOR_BY_NAME["bad_crc_hand_computed"].wire
    with pytest.raises(d.FrameError, match="HCS"):
        d.decode_frame(wire)
    info = d.inspect_frame(wire)
    assert not info.hcs_ok and not info.fcs_ok
    assert d.StreamDecoder().feed(wire) == []


@pytest.mark.parametrize("vector", APDU_VECTORS, ids=lambda v: v.hex[:20])
def test_apdu_vectors(vector: object) -> None:
    raw = vector.raw  # type: ignore[attr-defined]
    apdu = d.decode_apdu(raw)
    assert apdu.service == vector.service  # type: ignore[attr-defined]
    assert d.encode_apdu(apdu) == raw
    with pytest.raises(d.FrameError):
        d.decode_apdu(raw + b"\x00")
    for cut in range(1, len(raw)):
        try:
            shorter = d.decode_apdu(raw[:cut])
        except d.FrameError:
            continue
        # only the optional trailer (time tag / follow report flags) may be missing
        assert d.encode_apdu(shorter)[:cut] == raw[:cut]


def test_broken_apdu_names_the_offset() -> None:
    with pytest.raises(d.FrameError, match="unexpected byte.*offset 21"):
        d.decode_apdu(bytes.fromhex(BROKEN_APDU))


def test_all_vectors_through_the_stream_in_random_chunks() -> None:
    rng = random.Random(698)
    blob = bytearray()
    for v in VECTORS:
        blob += (
            b"\xfe" * rng.randint(0, 4)
            + v.wire
            + rng.randbytes(rng.randint(0, 6)).replace(b"\x68", b"\x00")
        )
    dec = d.StreamDecoder()
    frames: list[d.Frame] = []
    pos = 0
    while pos < len(blob):
        step = rng.randint(1, 90)
        frames += dec.feed(bytes(blob[pos : pos + step]))
        pos += step
    assert [d.encode_frame(f) for f in frames] == [v.wire for v in VALID]
