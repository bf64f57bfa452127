"""Every message type of the wire, mutated: a decoder either returns a message the server can
store or raises :class:`WireError` naming what was wrong — never another exception, never a
string PostgreSQL cannot hold (NUL, a lone surrogate), never a non-finite number (issue 16).

Mutations work on the JSON tree (a field replaced by a hostile value, deleted, duplicated
under a hostile key; containers nested deep) and on the bytes (flips, insertions, truncation).
Seeds are fixed, so a failure names a reproducible case; ``METERLINK_FUZZ_SCALE`` multiplies
the counts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import random
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from protocols import wire
from protocols.model import Reading, ReadingKind, Source
from protocols.wire import codec

SCALE = int(os.environ.get("METERLINK_FUZZ_SCALE", "1"))
NOW = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)

HOSTILE_TEXT = [
    "",
    "\x00",
    "gw\x00x",
    "\ud800",
    "a\udfffb",
    "x" * 10_000,
    "é" * 3000,
    "../../etc/passwd",
    "<img src=x onerror=alert(1)>",
    '=HYPERLINK("x")',
    " ",
    "meterlink/v1/gw/+/readings",
]
HOSTILE_NUMBERS: list[Any] = [
    1e308,
    -1e308,
    float("nan"),
    float("inf"),
    -1,
    0,
    2**63,
    -(2**64),
    10**400,
    0.1,
    -0.0,
]
HOSTILE_OTHER: list[Any] = [None, True, False, [], {}, [None], {"": None}]


def _deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = [value]
    return value


def hostile_value(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.45:
        return rng.choice(HOSTILE_TEXT)
    if pick < 0.8:
        return rng.choice(HOSTILE_NUMBERS)
    if pick < 0.95:
        return rng.choice(HOSTILE_OTHER)
    return _deep(rng.choice([40, 200, 600]))  # deeper: see mutate_bytes


def _paths(node: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(node, dict):
        for k, v in node.items():
            yield from _paths(v, (*path, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from _paths(v, (*path, i))


def mutate_tree(rng: random.Random, obj: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``obj`` with one to three hostile edits."""
    obj = json.loads(json.dumps(obj))
    for _ in range(rng.randint(1, 3)):
        path = rng.choice([p for p in _paths(obj) if p])
        parent: Any = obj
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        op = rng.randrange(4)
        if op == 0 or not isinstance(parent, dict):
            parent[last] = hostile_value(rng)
        elif op == 1:
            del parent[last]
        elif op == 2:
            parent[rng.choice(HOSTILE_TEXT)] = parent[last]
        else:
            parent[last] = [parent[last]] * rng.choice([2, 1000])
    return obj


def mutate_bytes(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        if not data:
            break
        i = rng.randrange(len(data))
        op = rng.randrange(4)
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1:
            del data[i:]
        elif op == 2:
            data.insert(i, rng.choice(b'{}[]",:0-9.eE\\\x00\xff'))
        else:
            data[i:i] = rng.choice(
                [b"NaN", b"1e999", b"\\u0000", b"\\ud800", b"null", b"[]", b"[" * 100_000]
            )
    return bytes(data)


def encode(obj: dict[str, Any]) -> bytes:
    """JSON as a hostile peer may send it (ASCII escapes carry NUL and lone surrogates)."""
    return json.dumps(obj).encode()


def check_storable(value: Any, where: str = "") -> None:
    """Every string of a decoded message can be stored by PostgreSQL and every number is
    finite."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            check_storable(getattr(value, f.name), f"{where}.{f.name}")
    elif isinstance(value, str):
        assert codec.text_fault(value) is None, f"{where}: {value[:40]!r} reached the server"
        value.encode("utf-8")
    elif isinstance(value, float):
        assert math.isfinite(value), f"{where}: {value} reached the server"
    elif isinstance(value, dict):
        for k, v in value.items():
            check_storable(k, f"{where}[key]")
            check_storable(v, f"{where}[{k!r}]")
    elif isinstance(value, list | tuple):
        for i, v in enumerate(value):
            check_storable(v, f"{where}[{i}]")


def _readings() -> bytes:
    readings = [
        Reading(
            "M-1",
            "energy_import_total",
            NOW - timedelta(minutes=15 * i),
            1234.5 + i,
            "kWh",
            ReadingKind.INTERVAL,
            Source.SCHEDULED,
        )
        for i in range(3)
    ]
    readings.append(
        Reading(
            "M-2",
            "voltage_a",
            NOW,
            229.8,
            "V",
            ReadingKind.INTERVAL,
            Source.ON_DEMAND,
        )
    )
    return wire.batch_of("gw-x", "1-4-0123456789abcdef", readings, NOW)


def _status() -> bytes:
    return wire.encode_status(
        wire.GatewayStatus(
            gateway="gw-x",
            online=True,
            ts=NOW,
            version="1.2.3",
            buses=(wire.BusHealth("bus-1", True, 10, 1, 0, 3, 1, "timeout"),),
            meters=(wire.MeterHealth("M-1", "ok", NOW, None, 0),),
            outbox_depth=5,
            outbox_oldest_age_s=12.5,
        )
    )


def _command() -> bytes:
    return wire.encode_command(
        wire.Command(
            "c-1",
            wire.CommandName.BACKFILL,
            NOW,
            {"items": [{"meter": "M-1", "date": "2026-11-30"}]},
        )
    )


def _result() -> bytes:
    return wire.encode_result(
        wire.CommandResult(
            "c-1",
            "backfill",
            True,
            NOW,
            None,
            {"read": 3, "failed": {"M-2": "timeout"}, "dates": [str(date(2026, 11, 30))]},
        )
    )


def _receipt() -> bytes:
    return wire.encode_receipt(wire.Receipt("gw-x", ("1-4-0123456789abcdef",), NOW))


def _decode_rows(payload: bytes) -> object:
    return wire.decode_readings_rows(payload)


MESSAGES: dict[str, tuple[Callable[[], bytes], list[Callable[[bytes], object]]]] = {
    "readings": (_readings, [wire.decode_readings, _decode_rows]),
    "status": (_status, [wire.decode_status]),
    "command": (_command, [wire.decode_command]),
    "result": (_result, [wire.decode_result]),
    "receipt": (_receipt, [wire.decode_receipt]),
}


@pytest.mark.parametrize("kind", sorted(MESSAGES))
def test_mutated_messages_decode_to_storable_values_or_raise_wire_error(kind: str) -> None:
    make, decoders = MESSAGES[kind]
    valid = make()
    for decode in decoders:  # the unmutated message decodes: the fuzz starts from valid input
        check_storable(decode(valid))
    rng = random.Random(f"wire-{kind}")
    base = json.loads(valid)
    counts = {"accepted": 0, "refused": 0}
    for n in range(2000 * SCALE):
        if n % 3 == 2:
            payload = mutate_bytes(rng, valid)
        else:
            payload = encode(mutate_tree(rng, base))
        for decode in decoders:
            try:
                decoded = decode(payload)
            except wire.WireError as exc:
                assert str(exc), f"case {n}: a WireError without a message"
                # the reason goes into dead_letters.reason: it must be storable text itself
                check_storable(str(exc), f"case {n}: reason")
                counts["refused"] += 1
            except Exception as exc:  # noqa: BLE001 - the point of the test
                raise AssertionError(
                    f"{kind} case {n}: {type(exc).__name__}: {exc} for {payload[:300]!r}"
                ) from exc
            else:
                check_storable(decoded, f"{kind} case {n}")
                counts["accepted"] += 1
    # the mutations must have reached both outcomes, or the test proves nothing
    assert counts["refused"] > 500 * SCALE and counts["accepted"] > 20, counts
