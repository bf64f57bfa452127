"""The data-identifier catalogue: coverage of the reference, and round trips in both roles."""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import dlt645 as d
from protocols.dlt645.formats import Format
from protocols.model import QUANTITY_BY_NAME

# Every identifier the shared reference (dlt645.md) lists, by version.
REFERENCE_2007 = (
    [
        "00000000",
        "00010000",
        "00020000",
        "00010100",
        "00010200",
        "00010300",
        "00010400",
        "0001FF00",
        "00030000",
        "00040000",
        "01010000",
        "02010100",
        "02010200",
        "02010300",
        "0201FF00",
        "02020100",
        "02020200",
        "02020300",
        "0202FF00",
        "02030000",
        "02030100",
        "02030200",
        "02030300",
        "02040000",
        "02050000",
        "02060000",
        "02060100",
        "02060200",
        "02060300",
        "02800002",
        "04000101",
        "04000102",
        "04000401",
        "03110000",
        "03300D00",
    ]
    + [f"050600{n:02X}" for n in range(1, 63)]
    + [f"050601{n:02X}" for n in range(1, 63)]
    + [f"050602{n:02X}" for n in range(1, 63)]
)
REFERENCE_1997 = [
    "9010",
    "9020",
    "901F",
    "9110",
    "B611",
    "B612",
    "B613",
    "B621",
    "B622",
    "B623",
    "B630",
    "B631",
    "B632",
    "B633",
    "B650",
    "C010",
    "C011",
    "C032",
]


@pytest.mark.parametrize(("version", "dis"), [("2007", REFERENCE_2007), ("1997", REFERENCE_1997)])
def test_every_reference_identifier_is_catalogued(version: str, dis: list[str]) -> None:
    for di in dis:
        entry = d.item(di, version)  # type: ignore[arg-type]
        assert entry.di_text == di
        assert entry.fields, di


def test_quantities_are_canonical_or_declared_extras() -> None:
    for entry in d.items():
        for q in entry.quantities:
            assert q in QUANTITY_BY_NAME or q in d.EXTRA_QUANTITIES, (entry.di_text, q)


def test_units_follow_the_reference() -> None:
    assert d.item("00010000").unit == "kWh"
    assert d.item("02010100").unit == "V"
    assert d.item("02020100").unit == "A"
    assert d.item("02030000").unit == "kW"
    assert d.item("02800002").unit == "Hz"
    assert d.item("02060000").unit is None


def test_sign_rules() -> None:
    for di in ("02020100", "02030000", "02060000"):
        assert d.item(di).signed, di
    for di in ("00010000", "02010100", "02800002"):
        assert not d.item(di).signed, di


def test_block_members_in_order() -> None:
    block = d.item("0001FF00")
    assert block.is_block
    assert [m.di_text for m in block.member_items] == [
        "00010000",
        "00010100",
        "00010200",
        "00010300",
        "00010400",
    ]
    assert block.nbytes == 20


def test_freeze_items_for_n_1_to_62() -> None:
    for n in (1, 31, 62):
        time_item, energy, export = d.freeze_items(n)
        assert time_item.di_text == f"050600{n:02X}"
        assert energy.di_text == f"050601{n:02X}"
        assert export.di_text == f"050602{n:02X}"
        assert energy.history == n
    for bad in (0, 63):
        with pytest.raises(d.RequestError):
            d.freeze_items(bad)


def test_by_quantity() -> None:
    assert d.by_quantity("energy_import_total").di_text == "00010000"
    assert d.by_quantity("energy_import_total", "1997").di_text == "9010"
    assert d.by_quantity("voltage_b").di_text == "02010200"


def test_unknown_identifier_is_a_request_error() -> None:
    with pytest.raises(d.UnknownItemError):
        d.item("12345678")
    with pytest.raises(d.RequestError):
        d.build_read("000012345678", "XYZ")


# --------------------------------------------------------------- round trips, both roles


def value_strategy(fmt: Format) -> st.SearchStrategy[object]:
    if fmt.kind == "number":
        top = 10**fmt.digits - 1
        if fmt.signed:  # sign in bit 7 of the top byte: the top digit stays 0..7
            top = int("7" + "9" * (fmt.digits - 1)) if fmt.digits % 2 == 0 else top
        units = st.integers(min_value=-top if fmt.signed else 0, max_value=top)
        if fmt.decimals == 0:
            return units
        return units.map(lambda u: float(Decimal(u).scaleb(-fmt.decimals)))
    if fmt.kind == "digits":
        return st.text("0123456789", min_size=fmt.digits, max_size=fmt.digits)
    if fmt.kind == "time":
        return st.times().map(lambda t: time(t.hour, t.minute, t.second))
    if fmt.kind == "date":
        return st.dates(date(2000, 1, 1), date(2099, 12, 31))
    with_seconds = fmt.pattern.endswith("ss")
    return st.datetimes(datetime(2000, 1, 1), datetime(2099, 12, 31, 23, 59, 59)).map(
        lambda t: t.replace(second=t.second if with_seconds else 0, microsecond=0)
    )


ALL_ITEMS = [e for e in d.items() if e.history in (0, 1, 62)]


@pytest.mark.parametrize("entry", ALL_ITEMS, ids=[f"{e.version}-{e.di_text}" for e in ALL_ITEMS])
@settings(max_examples=25, deadline=None)
@given(data=st.data())
def test_item_round_trips_through_both_roles(entry: d.DataItem, data: st.DataObject) -> None:
    values = [data.draw(value_strategy(f.format)) for f in entry.fields]
    address = "000012345678"
    # meter role builds the reply with the catalogue ...
    wire = d.build_read_reply(address, entry.di, values, entry.version)
    # ... and the master role decodes it with the same catalogue
    frame = d.StreamDecoder(accept="replies").feed(wire)[0]
    reply = d.parse_reply(frame, entry.version, request_di=entry.di)
    assert list(reply.values) == values
    assert reply.item == entry
    # the request for it parses back to the same identifier on the meter side
    request = d.parse_request(d.decode_frame(d.build_read(address, entry.di, entry.version)))
    assert request.di == entry.di and request.item == entry


def test_negative_value_for_unsigned_format_is_refused() -> None:
    with pytest.raises(d.RequestError, match="00010000"):
        d.build_read_reply("000012345678", "00010000", -1.0)


def test_value_too_large_is_refused() -> None:
    with pytest.raises(d.RequestError):
        d.build_read_reply("000012345678", "02010100", 10000.0)


def test_bad_bcd_from_the_peer_is_a_frame_error() -> None:
    wire = d.build_read_reply_raw("000012345678", "00010000", bytes.fromhex("E3000000"))
    with pytest.raises(d.FrameError, match="BCD"):
        d.parse_reply(d.decode_frame(wire))


def test_last_cover_open_record_by_the_layout() -> None:
    """03300D01, 60 bytes as meter firmware lays it out: opened and closed (YYMMDDhhmmss,
    seconds first on the wire), then 6 energy totals before and 6 after (XXXXXX.XX, low
    byte first). Built here byte by byte, not with our encoder (issue 18, item 10)."""
    entry = d.item("03300D01")
    assert entry.nbytes == 60 and entry.record
    start = bytes.fromhex("05 17 10 02 11 26")  # 2026-11-02 10:17:05
    end = bytes(6)  # still open: no end time yet
    energies = bytes.fromhex("67 45 23 01") + bytes(20) + bytes.fromhex("01 00 24 01") + bytes(20)
    values = entry.decode(start + end + energies)
    assert values[0] == datetime(2026, 11, 2, 10, 17, 5)
    assert values[1] is None
    fields = dict(zip(entry.quantities, values, strict=True))
    assert fields["cover_open_before_energy_import_total"] == pytest.approx(12345.67)
    assert fields["cover_open_after_energy_import_total"] == pytest.approx(12400.01)
    assert entry.encode(values) == start + end + energies
    # a never-opened meter's record: all zero, no times
    assert entry.decode(bytes(60))[:2] == (None, None)
    # outside an event record an all-zero time is still refused (no silent None)
    with pytest.raises(d.FrameError):
        d.item("05060001").decode(bytes(5))
