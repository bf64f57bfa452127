"""Gateway status on the wire: round trips, and hostile payloads refused with the field path.

Every refusal must be a :class:`WireError` (the server dead-letters those with the reason);
any other exception would be filed as a defect of ours.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols import wire

TS = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)


def _status() -> wire.GatewayStatus:
    return wire.GatewayStatus(
        gateway="gw-1",
        online=True,
        ts=TS,
        version="0.1.0",
        buses=(wire.BusHealth("rs485-1", True, 120, 3, 1, 7, 1, None),),
        meters=(
            wire.MeterHealth("M0001", "ok", TS, None, 0),
            wire.MeterHealth("M0002", "dead", None, "timeout", 9),
        ),
        outbox_depth=12,
        outbox_oldest_age_s=30.5,
        outbox_dropped=0,
    )


def _payload() -> dict[str, Any]:
    obj: dict[str, Any] = json.loads(wire.encode_status(_status()))
    return obj


def _decode(obj: object) -> wire.GatewayStatus:
    return wire.decode_status(json.dumps(obj).encode())


def test_status_round_trips() -> None:
    assert wire.decode_status(wire.encode_status(_status())) == _status()


def test_last_will_is_an_offline_status() -> None:
    st_ = wire.decode_status(wire.last_will("gw-1", TS))
    assert (st_.online, st_.reason, st_.buses, st_.meters) == (False, "last will", (), ())


def test_defaults_for_absent_optional_fields() -> None:
    st_ = _decode({"schema": 1, "gateway": "gw-1", "online": True, "ts": "2026-11-22T16:00:00Z"})
    assert st_ == wire.GatewayStatus("gw-1", True, TS)


def _set(path: tuple[str | int, ...], value: object) -> dict[str, Any]:
    obj = _payload()
    node: Any = obj
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return obj


def _drop(path: tuple[str | int, ...]) -> dict[str, Any]:
    obj = _payload()
    node: Any = obj
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return obj


BIG = 10**30


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        # wrong types
        (_set(("online",), "yes"), 'online: expected true or false, got "yes"'),
        (_set(("version",), 3), "version: expected a string"),
        (_set(("reason",), ["x"]), "reason: expected null or a string"),
        (_set(("buses",), {"a": 1}), 'buses: expected a list, got {"a": 1}'),
        (_set(("meters",), "M1"), 'meters: expected a list, got "M1"'),
        (_set(("outbox",), [1]), "outbox: expected an object, got [1]"),
        (_set(("buses", 0), "rs485-1"), 'buses[0]: expected an object, got "rs485-1"'),
        (_set(("buses", 0, "name"), 5), "buses[0].name: expected a string"),
        (_set(("buses", 0, "ok"), 1), "buses[0].ok: expected true or false, got 1"),
        (
            _set(("buses", 0, "transactions"), "x"),
            'buses[0].transactions: expected a non-negative integer, got "x"',
        ),
        (_set(("buses", 0, "timeouts"), 1.5), "buses[0].timeouts: expected a non-negative"),
        (_set(("buses", 0, "meters_ok"), True), "buses[0].meters_ok: expected a non-negative"),
        (_set(("buses", 0, "last_error"), 7), "buses[0].last_error: expected null or a string"),
        (_set(("meters", 1, "meter"), 1), "meters[1].meter: 1 is not a valid id"),
        (_set(("meters", 1, "meter"), ""), 'meters[1].meter: "" is not a valid id'),
        (_set(("meters", 1, "meter"), "M\x00"), 'meters[1].meter: "M\\u0000" is not a valid id'),
        (_set(("version",), "v\x00"), "version: text contains a NUL character"),
        (_set(("reason",), "\ud800"), "reason: text is not valid Unicode (a lone surrogate)"),
        (_set(("meters", 1, "state"), "asleep"), "meters[1].state: 'asleep' is not one of"),
        (_set(("meters", 0, "last_ok"), 5), "meters[0].last_ok: expected an ISO 8601"),
        (_set(("meters", 0, "last_ok"), "yesterday"), "meters[0].last_ok: 'yesterday' is not"),
        (_set(("meters", 1, "last_error"), {}), "meters[1].last_error: expected null or a"),
        (
            _set(("meters", 1, "consecutive_failures"), "9"),
            'meters[1].consecutive_failures: expected a non-negative integer, got "9"',
        ),
        (_set(("outbox", "depth"), None), "outbox.depth: expected a non-negative integer"),
        (_set(("outbox", "oldest_age_s"), "1"), "outbox.oldest_age_s: expected null or a"),
        (_set(("ts",), "2026-11-22T16:00:00"), "ts: '2026-11-22T16:00:00' has no time zone"),
        # negative counters
        (_set(("buses", 0, "checksum_errors"), -1), "buses[0].checksum_errors: expected a non-"),
        (_set(("buses", 0, "meters_failing"), -5), "buses[0].meters_failing: expected a non-"),
        (_set(("meters", 0, "consecutive_failures"), -1), "meters[0].consecutive_failures:"),
        (_set(("outbox", "dropped"), -1), "outbox.dropped: expected a non-negative integer"),
        (_set(("outbox", "oldest_age_s"), -0.5), "outbox.oldest_age_s: expected null or a"),
        # huge numbers
        (_set(("buses", 0, "transactions"), BIG), "buses[0].transactions: 1000000000"),
        (_set(("outbox", "depth"), 2**53), "outbox.depth: 9007199254740992 is out of range"),
        (_set(("outbox", "oldest_age_s"), BIG**20), "outbox.oldest_age_s: 1000"),
        # missing fields
        (_drop(("online",)), "status: missing field(s) online"),
        (_drop(("ts",)), "status: missing field(s) ts"),
        (_drop(("gateway",)), "status: missing field(s) gateway"),
        (_drop(("buses", 0, "name")), "buses[0]: missing field(s) name"),
        (_drop(("buses", 0, "ok")), "buses[0]: missing field(s) ok"),
        (_drop(("meters", 0, "meter")), "meters[0]: missing field(s) meter"),
        (_drop(("meters", 0, "state")), "meters[0]: missing field(s) state"),
        # extra nesting
        (_set(("buses", 0, "name"), {"name": "rs485-1"}), "buses[0].name: expected a string"),
        (_set(("buses", 0), [{"name": "x", "ok": True}]), "buses[0]: expected an object, got"),
        (_set(("buses", 0, "timeouts"), [3]), "buses[0].timeouts: expected a non-negative"),
        (_set(("meters", 0, "state"), ["ok"]), "meters[0].state: ['ok'] is not one of"),
        (_set(("outbox", "depth"), {"n": 1}), "outbox.depth: expected a non-negative integer"),
        (_set(("online",), {"online": True}), "online: expected true or false"),
        (_set(("buses", 0, "extra"), {"x": 1}), 'buses[0]: unknown field(s) "extra"'),
    ],
)
def test_hostile_status_is_refused_with_the_field_path(obj: object, message: str) -> None:
    with pytest.raises(wire.WireError) as err:
        _decode(obj)
    assert str(err.value).startswith(message), str(err.value)


@pytest.mark.parametrize("text", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_age_is_refused(text: bytes) -> None:
    payload = wire.encode_status(_status()).replace(
        b'"oldest_age_s":30.5', b'"oldest_age_s":' + text
    )
    with pytest.raises(wire.WireError, match=r"^outbox\.oldest_age_s: "):
        wire.decode_status(payload)


_JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner),
    max_leaves=6,
)
_PATHS = [
    ("online",),
    ("ts",),
    ("version",),
    ("reason",),
    ("buses",),
    ("buses", 0),
    *[("buses", 0, f) for f in wire.BusHealth.__dataclass_fields__],
    ("meters",),
    ("meters", 1),
    ("meters", 1, "meter"),
    ("meters", 1, "state"),
    ("meters", 1, "last_ok"),
    ("meters", 1, "last_error"),
    ("meters", 1, "consecutive_failures"),
    ("outbox",),
    ("outbox", "depth"),
    ("outbox", "oldest_age_s"),
    ("outbox", "dropped"),
]


@settings(max_examples=300, deadline=None)
@given(path=st.sampled_from(_PATHS), value=_JUNK)
def test_any_junk_in_any_field_decodes_or_raises_wire_error(
    path: tuple[str | int, ...], value: object
) -> None:
    try:
        st_ = _decode(_set(path, value))
    except wire.WireError as exc:
        field = ".".join(str(p) for p in path).replace(".0", "[0]").replace(".1", "[1]")
        assert str(exc).startswith((field, "status:")), (field, str(exc))
    else:  # what it accepts, it can send on again unchanged
        assert wire.decode_status(wire.encode_status(st_)) == st_


def test_connected_since_names_the_connection_and_is_bounded() -> None:
    from datetime import timedelta

    since = TS - timedelta(hours=3)
    st_ = wire.GatewayStatus("gw-1", True, TS, connected_since=since)
    assert wire.decode_status(wire.encode_status(st_)).connected_since == since
    will = wire.decode_status(wire.last_will("gw-1", since))
    assert (will.ts, will.connected_since) == (since, since)  # the will names its connection
    plain = wire.encode_status(wire.GatewayStatus("gw-1", True, TS))
    assert b"connected_since" not in plain  # optional: absent unless set
    assert wire.decode_status(plain).connected_since is None
    for bad, why in (
        ("2026-11-22T17:00:00Z", "outside"),  # after the status's own time
        ("1999-12-31T23:59:59Z", "outside"),
        ("yesterday", "not an ISO 8601 time"),
        (12, "expected an ISO 8601"),
    ):
        obj = json.loads(plain) | {"connected_since": bad}
        with pytest.raises(wire.WireError, match=f"connected_since: .*{why}"):
            wire.decode_status(json.dumps(obj).encode())
