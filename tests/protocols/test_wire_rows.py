"""The fast row decoder accepts and rejects exactly what ``decode_readings`` does."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from protocols.model import QUANTITIES, Quality, Reading, ReadingKind, Source
from protocols.wire import (
    WireError,
    batch_of,
    decode_readings,
    decode_readings_rows,
)

_JUNK = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)

_TS = st.one_of(
    st.sampled_from(
        [
            "2026-11-22T16:00:00Z",
            "2026-11-22T16:15:00+00:00",
            "2026-11-23T00:00:00+08:00",
            "2026-11-22T16:00:00.250Z",
            "2026-11-22T16:00:00",  # no zone
            "22/11/2026",
            "",
        ]
    ),
    _JUNK,
)


_HEXISH = st.one_of(
    st.binary(min_size=1, max_size=64).map(lambda b: b.hex()),
    st.binary(min_size=1, max_size=64).map(lambda b: b.hex().upper()),
    st.sampled_from(["", "A", "ZZ", "1A2B3C4", "1a 2b", "AB" * 65, "0x1A"]),
)


def _maybe(valid: st.SearchStrategy[object]) -> st.SearchStrategy[object]:
    return st.one_of(valid, valid, valid, _JUNK)


_reading = st.fixed_dictionaries(
    {
        "meter": _maybe(st.text(min_size=0, max_size=70)),
        "quantity": _maybe(st.sampled_from([q.name for q in QUANTITIES] + ["bogus"])),
        "ts": _TS,
        "value": _maybe(
            st.one_of(
                st.floats(allow_nan=False, allow_infinity=False),
                st.integers(min_value=-(2**60), max_value=2**60),
            )
        ),
    },
    optional={
        "unit": _maybe(st.sampled_from(["kWh", "V", "A", "kW", "s", "Hz", "x"])),
        "kind": _maybe(st.sampled_from([k.value for k in ReadingKind] + ["bad"])),
        "source": _maybe(st.sampled_from([s.value for s in Source] + ["bad"])),
        "quality": _maybe(
            st.lists(st.sampled_from([q.value for q in Quality] + ["odd"]), max_size=3)
        ),
        # an ESAM meter's MAC and the edge's RN (issue 21): hex, 1-64 bytes, rn only with mac
        "mac": _maybe(_HEXISH),
        "rn": _maybe(_HEXISH),
    },
)

_item = st.one_of(_reading, _reading, _reading, _JUNK)


def _outcome(fn, payload: bytes):  # noqa: ANN001, ANN202 - helper for both decoders
    try:
        return ("ok", fn(payload))
    except WireError as exc:
        return ("error", str(exc))


def _rows_of(batch) -> list[tuple]:  # noqa: ANN001
    return [
        (
            r.meter,
            r.quantity,
            r.ts,
            r.value,
            r.kind.value,
            r.source.value,
            tuple(sorted(q.value for q in r.quality)),
        )
        for r in batch.readings
    ]


def _check_same(payload: bytes) -> str:
    ref = _outcome(decode_readings, payload)
    fast = _outcome(decode_readings_rows, payload)
    assert ref[0] == fast[0], (ref, fast)
    if ref[0] == "error":
        assert ref[1] == fast[1]
        return "error"
    assert ref[1].gateway == fast[1].gateway
    assert ref[1].batch_id == fast[1].batch_id
    assert ref[1].sent_at == fast[1].sent_at
    assert _rows_of(ref[1]) == fast[1].rows
    # the same readings set aside with the same reasons, the same MACs kept
    assert list(ref[1].refused) == fast[1].refused
    assert [
        (*row[:5], r.mac, r.rn)
        for r, row in zip(ref[1].readings, _rows_of(ref[1]), strict=True)
        if r.mac
    ] == fast[1].macs
    for a, b in zip(_rows_of(ref[1]), fast[1].rows, strict=True):
        assert type(a[3]) is type(b[3]) is float
        assert a[2].tzinfo is not None and b[2].utcoffset() == a[2].utcoffset()
    return "ok"


@settings(max_examples=400, deadline=None)
@given(items=st.lists(_item, max_size=6))
def test_rows_decoder_agrees_with_reference(items: list[object]) -> None:
    payload = json.dumps(
        {
            "schema": 1,
            "gateway": "GW-1",
            "batch_id": "b1",
            "sent_at": "2026-11-22T16:00:01Z",
            "readings": items,
        }
    ).encode()
    _check_same(payload)


@settings(max_examples=200, deadline=None)
@given(
    envelope=st.fixed_dictionaries(
        {},
        optional={
            "schema": _maybe(st.just(1)),
            "gateway": _maybe(st.sampled_from(["GW-1", "bad gw", "", "-x"])),
            "batch_id": _maybe(st.just("b")),
            "sent_at": _TS,
            "readings": _maybe(st.just([])),
        },
    )
)
def test_envelope_errors_agree(envelope: dict[str, object]) -> None:
    _check_same(json.dumps(envelope).encode())


@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        b"\xff\xfe",
        b"[]",
        b'{"schema": 2}',
        b'{"schema": 1, "gateway": "G", "batch_id": "b", "sent_at": "2026-11-22T16:00:00Z",'
        b' "readings": [{"meter": "M", "quantity": "frequency", "ts": "2026-11-22T16:00:00Z",'
        b' "value": 1' + b"0" * 400 + b"}]}",
        b'{"schema": 1, "gateway": "G", "batch_id": "b", "sent_at": "2026-11-22T16:00:00Z",'
        b' "readings": [{"meter": "M", "quantity": "frequency", "ts": "2026-11-22T16:00:00Z",'
        b' "value": NaN}]}',
    ],
)
def test_bad_payloads_rejected_alike(payload: bytes) -> None:
    assert _check_same(payload) == "error"


def test_valid_batch_round_trips() -> None:
    ts = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    readings = [
        Reading("M1", "energy_import_total", ts, 12.5),
        Reading("M2", "voltage_a", ts, 230, unit="V", quality=frozenset({Quality.LATE})),
        Reading("M1", "energy_import_total", ts, 3.0, kind=ReadingKind.FREEZE),
    ]
    payload = batch_of("GW-1", "7", readings, ts)
    assert _check_same(payload) == "ok"
    rows = decode_readings_rows(payload).rows
    assert rows[1] == ("M2", "voltage_a", ts, 230.0, "interval", "scheduled", ("late",))


def test_rows_are_named_tuples() -> None:
    ts = datetime(2026, 11, 22, 16, 0, tzinfo=UTC)
    big = 2**60  # an integer beyond 2**53 leaves the fast path for the reference decoder
    payload = batch_of(
        "GW-1",
        "8",
        [Reading("M1", "voltage_a", ts, 230.5), Reading("M3", "frequency", ts, big)],
        ts,
    ).replace(str(float(big)).encode(), str(big).encode())
    fast, ref = decode_readings_rows(payload).rows
    for row in (fast, ref):
        assert type(row) is tuple  # exact tuples: the fast path and psycopg's COPY want them
    assert fast == ("M1", "voltage_a", ts, 230.5, "interval", "scheduled", ())
    meter, quantity, _, value, *_ = ref
    assert (meter, quantity, value) == ("M3", "frequency", float(big))


def test_a_bad_mac_sets_only_its_reading_aside_in_both_decoders() -> None:
    base = {"meter": "O2", "quantity": "energy_import_total", "ts": "2026-11-22T16:00:00Z"}
    items = [
        {
            **base,
            "value": 1.0,
            "kind": "freeze",
            "quality": ["unverified"],
            "mac": "1a2b3c4d",
            "rn": "00" * 16,
        },
        {**base, "value": 2.0, "mac": "1A2B3C4"},  # odd number of digits
        {**base, "value": 3.0, "rn": "AB"},  # an rn without a mac
        {**base, "value": 4.0},
    ]
    payload = json.dumps(
        {
            "schema": 1,
            "gateway": "GW-1",
            "batch_id": "b1",
            "sent_at": "2026-11-22T16:00:01Z",
            "readings": items,
        }
    ).encode()
    assert _check_same(payload) == "ok"
    ref = decode_readings(payload)
    assert [r.value for r in ref.readings] == [1.0, 4.0]
    assert ref.readings[0].mac == bytes.fromhex("1A2B3C4D") and ref.readings[0].rn == bytes(16)
    assert [why for _, why in ref.refused] == [
        "readings[1].mac: '1A2B3C4' is not hex octets (digits 0-9 A-F, an even number, at least 2)",
        "readings[2].rn: an rn without a mac (the rn only pairs a mac)",
    ]
    assert json.loads(ref.refused[0][0]) == items[1]  # the reading kept as it came
    # any other fault still rejects the whole batch, mac or not
    items[1]["value"] = "x"
    bad = json.dumps(
        {
            "schema": 1,
            "gateway": "GW-1",
            "batch_id": "b1",
            "sent_at": "2026-11-22T16:00:01Z",
            "readings": items,
        }
    ).encode()
    assert _check_same(bad) == "error"


def test_a_mac_key_spelt_with_an_escape_is_still_seen() -> None:
    """A ``mac`` key written with a JSON escape is the same key: checked, set aside."""
    item = '{"meter": "M1", "quantity": "energy_import_total", "ts": "2026-11-22T16:00:00Z", '
    payload = (
        '{"schema": 1, "gateway": "GW-1", "batch_id": "b1", "sent_at": "2026-11-22T16:00:01Z", '
        '"readings": [' + item + '"value": 1.0, "\\u006dac": "ZZ"}, ' + item + '"value": 2.0}]}'
    ).encode()
    assert _check_same(payload) == "ok"
    rows = decode_readings_rows(payload)
    assert [r[3] for r in rows.rows] == [2.0]
    assert [why for _, why in rows.refused] == [
        "readings[0].mac: 'ZZ' is not hex octets (digits 0-9 A-F, an even number, at least 2)"
    ]


@pytest.mark.parametrize(
    ("mac", "rn", "why"),
    [
        (b"", None, "reading mac must be 1-64 bytes"),
        (b"\x01" * 65, None, "reading mac must be 1-64 bytes"),
        ("1A2B", None, "reading mac must be 1-64 bytes"),  # hex text, not bytes
        (b"\x01\x02", b"", "reading rn must be 1-64 bytes"),
        (None, b"\x01", "reading has an rn without a mac"),
    ],
)
def test_the_model_refuses_a_bad_mac_or_rn(mac: object, rn: object, why: str) -> None:
    from protocols.model import ReadingError

    with pytest.raises(ReadingError, match=why):
        Reading(
            "M1",
            "energy_import_total",
            datetime(2026, 11, 22, 16, tzinfo=UTC),
            1.0,
            mac=mac,  # type: ignore[arg-type]
            rn=rn,  # type: ignore[arg-type]
        )
