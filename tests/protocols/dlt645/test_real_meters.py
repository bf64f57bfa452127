"""Replies real meters send that the strict layouts refuse (issue 18 item 8).

The frames are written here byte by byte from the layouts (DI low byte first, packed BCD
low byte first, +0x33, checksum) by a small encoder of this file's own, not by our codec.
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from edge.config import MeterConfig
from edge.meters.dlt645_driver import Dlt645Driver
from edge.transports import MemoryTransport
from protocols import dlt645 as d
from protocols.dlt645.explain import explain

ADDR = "000012345678"  # 78 56 34 12 00 00 on the wire


def reply(control: int, plain: bytes, address: str = ADDR) -> bytes:
    wire_address = bytes.fromhex(address)[::-1]
    body = bytes([0x68, *wire_address, 0x68, control, len(plain)])
    body += bytes((b + 0x33) & 0xFF for b in plain)
    return body + bytes([sum(body) % 256, 0x16])


#: A single-phase meter answering the voltage block 0201FF00: phase A 220.3 V
#: (XXX.X -> 03 22), phases B and C filled with FF.
SINGLE_PHASE_VOLTAGE_BLOCK = reply(0x91, bytes.fromhex("00FF01020322FFFFFFFF"))


def test_absent_block_member_decodes_to_null_for_that_member_only() -> None:
    shown = explain(SINGLE_PHASE_VOLTAGE_BLOCK.hex())
    assert shown["di"] == "0201FF00"
    assert shown["values"] == [220.3, None, None]
    assert shown["unit"] == "V"


def test_bad_bcd_in_a_present_member_still_fails() -> None:
    bad = reply(0x91, bytes.fromhex("00FF01020A22FFFFFFFF"))
    assert "error" in explain(bad.hex())


def test_edge_stores_the_present_members_of_the_block() -> None:
    def answer(frame: d.Frame) -> bytes:
        di = int.from_bytes(frame.data[:4], "little")
        assert di == 0x0201FF00, f"{di:08X}"
        return SINGLE_PHASE_VOLTAGE_BLOCK

    driver = Dlt645Driver(MemoryTransport(answer), timeout_s=0.05, tz=ZoneInfo("Asia/Shanghai"))
    meter = MeterConfig("m1", ADDR, "2007")
    values, refused = driver.read(meter, ["voltage_a", "voltage_b", "voltage_c"])
    assert values == {"voltage_a": 220.3}
    assert refused == []


def test_1997_block_with_delimiter_decodes_and_says_so() -> None:
    # B61F voltage block, XXX V in 2 bytes: 220, 219, 221, then the AA delimiter
    frame = reply(0x81, bytes.fromhex("1FB6200219022102AA"), "000000001234")
    shown = explain(frame.hex())
    assert shown["protocol"] == "1997"
    assert shown["values"] == [220, 219, 221]
    assert shown["skipped"] == "delimiter AA after the members"


def test_1997_block_with_extra_bytes_decodes_the_members() -> None:
    # 901F forward energy block: total + T1..T4, then three vendor bytes
    plain = "1F90" + "34120000" * 5 + "112233"
    shown = explain(reply(0x81, bytes.fromhex(plain), "000000001234").hex())
    assert shown["values"] == [12.34] * 5
    assert shown["skipped"] == "3 extra bytes after the members skipped: 11 22 33"


def test_1997_block_cut_short_gives_the_members_it_has() -> None:
    shown = explain(reply(0x81, bytes.fromhex("1FB62002AA"), "000000001234").hex())
    assert shown["values"] == [220, None, None]
    assert "4 bytes of members missing" in shown["skipped"]


def test_cost_control_items_and_constants_are_in_the_catalogue() -> None:
    cases = [
        ("00900200", "78563412", [123456.78], "yuan"),  # remaining money
        ("00900201", "00150000", [15.0], "yuan"),  # overdraft money
        ("00900100", "50010000", [1.5], "kWh"),  # remaining energy
        ("03330201", "1200", [12], None),  # purchase count
        ("04000409", "001200", [1200], "imp/kWh"),  # active constant
        ("0400040A", "001200", [1200], "imp/kvarh"),  # reactive constant
    ]
    for di, data, values, unit in cases:
        plain = bytes.fromhex(di)[::-1] + bytes.fromhex(data)
        shown = explain(reply(0x91, plain).hex())
        assert (shown["di"], shown["values"], shown["unit"]) == (di, values, unit), di
        assert "raw" not in shown


def test_unknown_identifier_is_shown_with_its_raw_data() -> None:
    # 04000501, the run status word 1: not in our catalogue
    shown = explain(reply(0x91, bytes.fromhex("010500041000")).hex())
    assert shown["di"] == "04000501"
    assert shown["values"] == []
    assert shown["raw"] == "10 00"
