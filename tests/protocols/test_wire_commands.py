"""Commands, results and receipts: round trips, and hostile payloads refused as WireError."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Any

import pytest

from protocols import wire

TS = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def _command(**changes: Any) -> bytes:
    obj: dict[str, Any] = {
        "schema": 1,
        "id": "c1",
        "command": "read_now",
        "issued_at": "2026-11-22T16:00:00Z",
        "args": {"meter": "M1"},
    }
    obj.update(changes)
    return json.dumps(obj).encode()


def test_command_round_trips() -> None:
    cmd = wire.Command(
        "c2", wire.CommandName.BACKFILL, TS, {"items": [{"meter": "M1", "date": "2026-11-20"}]}
    )
    back = wire.decode_command(wire.encode_command(cmd))
    assert back == cmd
    assert back.backfill_items() == (wire.BackfillItem("M1", date(2026, 11, 20)),)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (_command(args={"meter": "M1", "quantities": [["voltage_a"]]}), "args.quantities[0]: "),
        (_command(args={"meter": "M1", "quantities": [{}]}), "args.quantities[0]: "),
        (_command(args={"meter": "M1", "quantities": ["bogus"]}), "args.quantities[0]: "),
        (_command(command=["read_now"]), "command: ['read_now'] is not one of"),
        (_command(args=[1]), "args: expected an object, got list"),
        (_command(id=""), "id: expected a non-empty string"),
        (
            _command(command="backfill", args={"items": [{"meter": "M", "date": "x"}]}),
            "args.items[0].date: 'x' is not YYYY-MM-DD",
        ),
    ],
)
def test_hostile_command_is_refused(payload: bytes, message: str) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.decode_command(payload)
    assert str(err.value).startswith(message), str(err.value)


def test_result_and_receipt_round_trip() -> None:
    res = wire.CommandResult("c1", "read_now", True, TS, None, {"readings": 3})
    assert wire.decode_result(wire.encode_result(res)) == res
    rcpt = wire.Receipt("gw-1", ("1", "2"), TS)
    assert wire.decode_receipt(wire.encode_receipt(rcpt)) == rcpt


def test_receipt_refuses_too_many_or_bad_ids() -> None:
    too_many = wire.Receipt("gw-1", tuple(str(i) for i in range(wire.MAX_RECEIPT_BATCHES + 1)), TS)
    with pytest.raises(wire.WireError, match=r"^batches: "):
        wire.decode_receipt(wire.encode_receipt(too_many))
    for bad in ("", "a\x00", "\ud800", "x" * 65, "../x"):
        payload = json.dumps(
            {"schema": 1, "gateway": "gw-1", "batches": [bad], "ts": "2026-01-01T00:00:00Z"}
        )
        with pytest.raises(wire.WireError, match=r"^batches\[0\]: .* is not a valid id"):
            wire.decode_receipt(payload.encode())


# ---------------------------------------------------------------------------- item limits


def _items(n: int) -> list[dict[str, str]]:
    return [{"meter": f"M{i}", "date": "2026-11-20"} for i in range(n)]


def test_a_backfill_of_exactly_the_limit_passes_both_ways() -> None:
    cmd = wire.Command(
        "c-max", wire.CommandName.BACKFILL, TS, {"items": _items(wire.MAX_COMMAND_ITEMS)}
    )
    back = wire.decode_command(wire.encode_command(cmd))
    assert len(back.backfill_items()) == wire.MAX_COMMAND_ITEMS == 10_000


@pytest.mark.parametrize("side", ["encode", "decode"])
def test_a_backfill_over_the_limit_is_refused_naming_the_limit(side: str) -> None:
    args = {"items": _items(wire.MAX_COMMAND_ITEMS + 1)}
    with pytest.raises(wire.WireError) as err:
        if side == "encode":
            wire.encode_command(wire.Command("c-big", wire.CommandName.BACKFILL, TS, args))
        else:
            wire.decode_command(_command(command="backfill", args=args))
    assert str(err.value).startswith("args.items: 10001 items exceed the limit of 10000")


def test_read_now_quantities_are_limited_and_checked_one_by_one() -> None:
    many = {"meter": "M1", "quantities": ["voltage_a"] * (wire.MAX_COMMAND_ITEMS + 1)}
    with pytest.raises(wire.WireError, match=r"^args.quantities: 10001 items exceed"):
        wire.decode_command(_command(args=many))
    with pytest.raises(wire.WireError, match=r"^args.quantities\[1\]: 'bogus' is not"):
        wire.decode_command(_command(args={"meter": "M1", "quantities": ["voltage_a", "bogus"]}))


def test_a_duplicate_answer_is_told_from_a_real_result() -> None:
    dup = wire.decode_result(wire.encode_result(wire.duplicate_result("c1", "backfill", TS)))
    assert dup.ok and wire.is_duplicate_answer(dup)
    real = wire.CommandResult("c1", "backfill", True, TS, None, {"read": 3, "failed": []})
    assert not wire.is_duplicate_answer(real)
    # a result that merely mentions the word is not a duplicate answer
    odd = wire.CommandResult("c1", "backfill", True, TS, None, {"duplicate": "no"})
    assert not wire.is_duplicate_answer(odd)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"items": [{"meter": "M 1", "date": "2026-11-20"}]}, "args.items[0].meter: "),
        ({"items": [{"meter": "M" * 65, "date": "2026-11-20"}]}, "args.items[0].meter: "),
        ({"items": ["M1"]}, "args.items[0]: expected an object"),
    ],
)
def test_backfill_meters_follow_the_id_rules(args: dict[str, Any], message: str) -> None:
    with pytest.raises(wire.WireError) as err:
        wire.decode_command(_command(command="backfill", args=args))
    assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(wire.WireError, match=r"^args.meter: "):
        wire.decode_command(_command(args={"meter": "M/1"}))


def test_a_curve_backfill_round_trips_with_the_backfills_bounds() -> None:
    """曲线补抄 is its own command with backfill's meter-days, bounded and checked alike."""
    cmd = wire.Command(
        "c-curve", wire.CommandName.BACKFILL_CURVE, TS, {"items": _items(wire.MAX_COMMAND_ITEMS)}
    )
    back = wire.decode_command(wire.encode_command(cmd))
    assert back.name is wire.CommandName.BACKFILL_CURVE
    assert len(back.backfill_items()) == wire.MAX_COMMAND_ITEMS
    too_many = {"items": _items(wire.MAX_COMMAND_ITEMS + 1)}
    with pytest.raises(wire.WireError, match=r"^args.items: 10001 items exceed the limit"):
        wire.decode_command(_command(command="backfill_curve", args=too_many))
    for args, message in [
        ({"items": []}, "args.items: expected a non-empty list"),
        ({"items": [{"meter": "M1", "date": "2026-13-01"}]}, "args.items[0].date: "),
        ({"items": [{"meter": "M/1", "date": "2026-11-20"}]}, "args.items[0].meter: "),
        ({}, "args.items: expected a non-empty list"),
    ]:
        with pytest.raises(wire.WireError) as err:
            wire.decode_command(_command(command="backfill_curve", args=args))
        assert str(err.value).startswith(message), str(err.value)
    with pytest.raises(wire.WireError, match="has no backfill items"):
        wire.Command("c", wire.CommandName.READ_NOW, TS, {"meter": "M1"}).backfill_items()


@pytest.mark.parametrize("command", ["backfill", "backfill_curve"])
def test_an_item_with_a_key_this_side_does_not_know_is_refused_not_misread(command: str) -> None:
    """A kind from a newer side inside an item is refused by name: read as a plain freeze
    day it would answer "read" for something never asked."""
    args = {"items": [{"meter": "M1", "date": "2026-11-20", "kind": "month_freeze"}]}
    with pytest.raises(wire.WireError) as err:
        wire.decode_command(_command(command=command, args=args))
    assert str(err.value).startswith("args.items[0]: unknown key 'kind'"), str(err.value)


def test_an_older_edge_refuses_the_curve_command_by_its_name() -> None:
    """What an edge that predates backfill_curve answers: its command names did not include
    it, so decoding fails naming the command (never a daily freeze read in its place)."""
    from enum import StrEnum

    from protocols.wire.codec import enum_value

    old_names = StrEnum(  # type: ignore[misc]
        "OldNames", {m.name: m.value for m in wire.CommandName if m.value != "backfill_curve"}
    )
    with pytest.raises(wire.WireError) as err:
        enum_value(old_names, "backfill_curve", "command")
    assert str(err.value).startswith("command: 'backfill_curve' is not one of read_now, backfill")
