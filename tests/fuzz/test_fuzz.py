"""Fuzzing in CI (reduced counts; the full counts are documented commands in RELIABILITY.md):
the DL/T 645 stream decoder, the server's handling of MQTT messages, and configuration files
with random mutations."""

from __future__ import annotations

import json
import os
import random
import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from edge.config import ConfigError, load_config
from protocols import wire
from protocols.model import Reading, ReadingKind, Source
from server.db.migrate import migrate
from server.ingest.consumer import Consumer, MqttConfig
from simulators.fleet import FleetError, load_fleet
from tests.fuzz.fuzz_dlt645 import fuzz

ROOT = Path(__file__).resolve().parents[2]
SCALE = int(os.environ.get("METERLINK_FUZZ_SCALE", "1"))


def test_dlt645_stream_decoder() -> None:
    counts = fuzz(20_000 * SCALE, seed=2026)
    assert not counts.failures, "\n".join(counts.failures[:5])
    assert counts.streams == 20_000 * SCALE and counts.frames_expected_clean > 10_000


@dataclass
class Msg:
    topic: str
    payload: bytes
    mid: int = 0
    qos: int = 1


def _mutate(rng: random.Random, payload: bytes) -> bytes:
    data = bytearray(payload)
    for _ in range(rng.randint(1, 4)):
        i = rng.randrange(len(data))
        op = rng.randrange(4)
        if op == 0:
            data[i] = rng.randrange(256)
        elif op == 1:
            del data[i]
        elif op == 2:
            data.insert(i, rng.choice(b'{}[]",:0-9.eE\\\x00\xff'))
        else:
            data[i:i] = rng.choice([b"NaN", b"1e999", b'"x"', b"null", b"-0", b"[]"])
    return bytes(data)


def test_server_message_handling(pg_url: str) -> None:
    """Valid, mutated and random payloads on reading topics (some under the wrong gateway):
    every message is either stored or kept in dead letters with a reason; no exception;
    the stored readings are exactly those of the payloads that decode."""
    migrate(pg_url)
    rng = random.Random(8)
    now = datetime.now(UTC).replace(microsecond=0)
    with psycopg.connect(pg_url) as conn:
        conn.execute("INSERT INTO gateways (id, name) VALUES ('gw-f', 'f')")
        for i in range(20):
            conn.execute(
                "INSERT INTO meters (id, address, protocol, gateway_id, installed_on) "
                "VALUES (%s, %s, 'dlt645-2007', 'gw-f', '2025-01-01')",
                (f"F{i}", f"{i:012d}"),
            )
        conn.commit()
    msgs: list[Msg] = []
    for n in range(1500):
        readings = [
            Reading(
                f"F{rng.randrange(20)}",
                "energy_import_total",
                now - timedelta(minutes=15 * rng.randrange(2000)),
                round(rng.uniform(0, 1e5), 2),
                "kWh",
                ReadingKind.INTERVAL,
                Source.SCHEDULED,
            )
            for _ in range(rng.randint(1, 30))
        ]
        payload = wire.batch_of("gw-f", str(n), readings, now)
        kind = rng.randrange(5)
        topic = "meterlink/v1/gw/gw-f/readings"
        if kind == 1:
            payload = _mutate(rng, payload)
        elif kind == 2:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(0, 200)))
        elif kind == 3:
            topic = "meterlink/v1/gw/gw-other/readings"  # a gateway publishing as another
        elif kind == 4 and rng.random() < 0.3:
            topic = rng.choice(
                [
                    "meterlink/v1/gw//readings",
                    "meterlink/v2/gw/gw-f/readings",
                    "meterlink/v1/gw/gw-f/status",
                    "meterlink/v1/gw/a+b/readings",
                ]
            )
        msgs.append(Msg(topic, payload))
    # what should be stored: the rows of every message the wire decoder accepts on a right
    # topic whose gateway matches (the distinct keys, as storage is idempotent)
    want: set[tuple[Any, ...]] = set()
    for m in msgs:
        try:
            t = wire.parse_topic(m.topic)
            if t.channel is not wire.Channel.READINGS:
                continue
            rows = wire.decode_readings_rows(m.payload)
        except wire.WireError:
            continue
        if rows.gateway == t.gateway:
            want |= {(r[0], r[1], r[2]) for r in rows.rows}
    pool = ConnectionPool(pg_url, min_size=1, max_size=2, open=True)
    try:
        consumer = Consumer(MqttConfig("mqtt://127.0.0.1:9"), pool, tz="Asia/Shanghai")
        for i in range(0, len(msgs), 50):
            consumer._store(msgs[i : i + 50])  # noqa: SLF001 - the handling without transport
    finally:
        pool.close()
    with psycopg.connect(pg_url) as conn:
        stored = {
            (m, q, ts) for m, q, ts in conn.execute("SELECT meter_id, quantity, ts FROM readings")
        }
        quarantined = {
            (m, q, ts) for m, q, ts in conn.execute("SELECT meter_id, quantity, ts FROM quarantine")
        }
        dead = conn.execute("SELECT reason, payload FROM dead_letters").fetchall()
    refused_rows = set()  # rows refused one by one (a timestamp in the future, say)
    for _reason, payload in dead:
        try:
            obj = json.loads(bytes(payload))
            refused_rows.add((obj["meter"], obj["quantity"], wire.parse_ts(obj["ts"], "ts")))
        except (ValueError, KeyError, TypeError, wire.WireError):
            pass
    # nothing invented: every stored or quarantined row was in a message that decodes
    assert stored | quarantined <= want
    assert all(m.startswith("F") for m, _, _ in stored)  # unknown meters are quarantined
    # nothing lost: every decodable row is stored, quarantined or refused with a reason
    assert want <= stored | quarantined | refused_rows
    assert len(dead) > 300 and all(reason for reason, _ in dead)


def _mutate_toml(rng: random.Random, text: str) -> str:
    lines = text.splitlines()
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(lines))
        line = lines[i]
        op = rng.randrange(6)
        if op == 0:
            del lines[i]
        elif op == 1 and "=" in line:
            key = line.split("=")[0]
            lines[i] = (
                key
                + "= "
                + rng.choice(
                    [
                        '""',
                        "-1",
                        "0",
                        "1e9",
                        "true",
                        "[]",
                        "{}",
                        '"\u0000"',
                        '"../../etc"',
                        "99999999999",
                        '"socket://"',
                        '"25:99"',
                        "3.5",
                    ]
                )
            )
        elif op == 2:
            lines.insert(i, lines[rng.randrange(len(lines))])  # a duplicated line
        elif op == 3 and line:
            j = rng.randrange(len(line))
            lines[i] = line[:j] + chr(rng.randrange(32, 127)) + line[j + 1 :]
        elif op == 4:
            lines[i] = line.replace("[[", "[").replace("]]", "]")
        else:
            lines.insert(
                i,
                rng.choice(
                    ["unknown_key = 1", "[nonsense]", "[[bus]]", "[[bus.meter]]", "[[plan]]"]
                ),
            )
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("which", ["edge", "fleet"])
def test_configuration_mutations(which: str, tmp_path: Path) -> None:
    """Random mutations of the shipped configuration files: each is either accepted (and
    then valid) or refused with the loader's own error naming the place; never a crash."""
    source = (
        (ROOT / "edge" / "example.toml")
        if which == "edge"
        else (ROOT / "simulators" / "fleets" / "example.toml")
    )
    text = source.read_text()
    rng = random.Random(which)
    path = tmp_path / "mutated.toml"
    accepted = refused = 0
    for _ in range(400 * SCALE):
        path.write_text(_mutate_toml(rng, text))
        try:
            if which == "edge":
                load_config(path, env={"METERLINK_EDGE_PASSWORD": "x"})
            else:
                load_fleet(path)
            accepted += 1
        except (ConfigError, FleetError) as exc:
            assert str(exc), "an error without a message"
            refused += 1
        except Exception as exc:  # noqa: BLE001
            try:
                tomllib.loads(path.read_text())
            except tomllib.TOMLDecodeError:
                raise AssertionError(
                    f"invalid TOML not reported as a config error: {exc!r}"
                ) from exc
            raise AssertionError(f"{type(exc).__name__}: {exc} for\n{path.read_text()}") from exc
    assert refused > 50 and accepted > 10, (accepted, refused)
    json.dumps({"accepted": accepted, "refused": refused})
