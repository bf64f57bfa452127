"""Both roles through the one codec: client requests answered by server builders."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols import dlt698 as d

ADDR = "000000000001"
RN = bytes(range(16))


def energy(*raw: int) -> d.Data:
    return d.array(*(d.dlu(x) for x in raw))


def test_get_normal_both_roles() -> None:
    wire = d.build_get(ADDR, "00100200", piid=7)
    req = d.parse_request(wire)
    assert req.service == "GET-Request-Normal"
    assert req.oads == (0x00100200,) and req.piid == 7 and req.security is None
    resp = d.build_get_response(req, [d.ResultNormal(0x00100200, energy(123456, 1, 2, 3, 4))])
    reply = d.parse_reply(resp, expect=wire).raise_for_error()
    assert reply.service == "GET-Response-Normal"
    assert reply.values("00100200") == [1234.56, 0.01, 0.02, 0.03, 0.04]
    assert reply.quantities("00100200")[0] == ("energy_import_total", 1234.56)
    assert reply.security is None and reply.mac is None and reply.verified is False


def test_get_list_with_a_refusal() -> None:
    wire = d.build_get_list(ADDR, ["20000200", "20040200", "40020200"])
    req = d.parse_request(wire)
    resp = d.build_get_response(
        req,
        [
            d.ResultNormal(0x20000200, d.array(d.lu(2201), d.lu(2199), d.lu(2203))),
            d.ResultNormal(0x20040200, d.array(*(d.dl(x) for x in (15000, 5000, 5000, 5000)))),
            d.ResultNormal(0x40020200, dar=6),
        ],
    )
    reply = d.parse_reply(resp, expect=wire)
    assert reply.values("20000200") == [220.1, 219.9, 220.3]
    assert reply.values("20040200") == [1500.0, 500.0, 500.0, 500.0]  # W
    assert dict(reply.quantities("20040200"))["power_active_total"] == 1.5  # kW
    with pytest.raises(d.DarError) as err:
        reply.raise_for_error()
    assert err.value.code == 6 and err.value.name == "object_unavailable"


def test_secured_record_read_keeps_the_mac_and_is_not_verified() -> None:
    wire = d.build_get_record(
        ADDR, "50040200", d.Rsd.last(1), ["20210200", "20230200", "00100200"], secure=True, rn=RN
    )
    req = d.parse_request(wire)
    assert req.security == "plain" and req.rn == RN
    assert req.inner.service == "GET-Request-Record"
    rcsd = req.inner.records[0].rcsd  # type: ignore[union-attr]
    rows = [[d.dts(datetime(2026, 12, 1)), d.dlu(12), energy(123456, 1, 2, 3, 4)]]
    resp = d.build_get_record_response(req, "50040200", rcsd, rows, mac=b"\x11\x22\x33\x44")
    reply = d.parse_reply(resp, expect=wire)
    assert reply.security == "plain" and reply.mac == b"\x11\x22\x33\x44"
    assert reply.verified is False
    assert reply.rows() == [["2026-12-01T00:00:00", 12, [1234.56, 0.01, 0.02, 0.03, 0.04]]]
    q = reply.row_quantities()[0]
    assert q["freeze_time"] == datetime(2026, 12, 1) and q["energy_import_total"] == 1234.56


def test_reply_to_another_request_is_refused() -> None:
    wire = d.build_get(ADDR, "00100200", piid=1)
    other = d.parse_request(d.build_get(ADDR, "00200200", piid=1))
    resp = d.build_get_response(other, [d.ResultNormal(0x00200200, energy(0, 0, 0, 0, 0))])
    with pytest.raises(d.FrameError, match="we asked 00100200"):
        d.parse_reply(resp, expect=wire)


def test_wildcard_read_answered_with_own_address() -> None:
    wire = d.build_get("AAAAAAAAAAAA", "40010200")
    req = d.parse_request(wire)
    assert req.address.type == d.WILDCARD and req.address.matches(ADDR)
    resp = d.build_get_response(req, [d.ResultNormal(0x40010200, d.octets(ADDR))], own_address=ADDR)
    reply = d.parse_reply(resp, expect=wire)
    assert reply.address == ADDR and reply.values("40010200") == [ADDR]


def test_broadcast_time() -> None:
    wire = d.build_broadcast_time(datetime(2026, 12, 2, 10, 0, 5))
    frame = d.decode_frame(wire)
    assert frame.server.type == d.BROADCAST and frame.server.address == "AA"
    req = d.parse_request(frame)
    assert req.service == "ACTION-Request-Normal"
    assert req.inner.items[0][0] == d.BROADCAST_TIME_OMD  # type: ignore[union-attr]
