"""Commands that cannot flood a gateway or hang for ever, on a real database and broker
(issue 16): a backfill past 10,000 items or outside the meters' 62-day freeze history is
refused with the limit named, repeats are asked once, an unanswered command expires and
the API says so, a late result is still recorded, a gateway's "seen before" answer never
replaces a real result, and a result for an unknown command is kept with its payload."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import paho.mqtt.client as mqtt
import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols import wire
from protocols.model import Quality, Reading, slot_start
from server.api.app import create_app
from server.context import AppContext
from server.db.pool import open_pool
from server.db.queries.ingest import DEAD_LETTER_PAYLOAD_MAX
from server.gateways.commands import (
    BACKFILL_ITEM_ALLOWANCE_S,
    CURVE_ITEM_ALLOWANCE_S,
    CommandRefused,
    expire,
    queue_command,
)
from server.ingest.consumer import Consumer, MqttConfig
from server.jobs import JobsService, expire_every_s
from tests.conftest import Broker

from .conftest import settings_for
from .helpers import add_meters, auth_headers

NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.astimezone(ZoneInfo("Asia/Shanghai")).date()  # the utility's today (the default zone)
GW = "gw-lim"


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        pass


@pytest.fixture
def api(migrated: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 4)],
        gateway=GW,
    )
    app = create_app(
        settings_for(migrated, mqtt_broker.url, tmp_path), clock=FixedClock(NOW), services=[]
    )
    with TestClient(app) as c:
        c.headers.update(auth_headers(c, "operator", migrated))
        yield c


def _items(n: int, meter: str = "M1", days_ago: int = 1) -> list[dict[str, str]]:
    return [{"meter": meter, "date": (TODAY - timedelta(days=days_ago)).isoformat()}] * n


def _backfill(api: TestClient, items: list[dict[str, str]]) -> Any:
    return api.post(
        f"/api/gateways/{GW}/commands", json={"name": "backfill", "args": {"items": items}}
    )


def _commands(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT id, status, args, result, expired_at FROM gateway_commands ORDER BY created_at"
        ).fetchall()


# ---------------------------------------------------------------------------- refused


def test_a_backfill_of_50000_items_is_refused_naming_the_limit(
    api: TestClient, migrated: str
) -> None:
    items = [
        {"meter": f"M{i % 3 + 1}", "date": (TODAY - timedelta(days=1 + i % 60)).isoformat()}
        for i in range(50_000)
    ]
    resp = _backfill(api, items)
    assert resp.status_code == 422, resp.text
    assert "50000 meter-days exceed the limit of 10000 per command" in resp.json()["detail"]
    assert _commands(migrated) == []
    # exactly the limit is taken (distinct meter-days are made from 10,000 meters' names)
    limit = [
        {"meter": f"X{i}", "date": (TODAY - timedelta(days=1)).isoformat()}
        for i in range(wire.MAX_COMMAND_ITEMS)
    ]
    assert _backfill(api, limit).status_code == 202
    ((_, status, args, _, _),) = _commands(migrated)
    assert status == "pending" and len(args["items"]) == wire.MAX_COMMAND_ITEMS


@pytest.mark.parametrize("days_ago", [0, -1, 63, 400])
def test_a_day_outside_the_freeze_history_is_refused(
    api: TestClient, migrated: str, days_ago: int
) -> None:
    items = [*_items(1, "M1", 1), *_items(1, "M2", days_ago)]
    resp = _backfill(api, items)
    assert resp.status_code == 422, resp.text
    detail = resp.json()["detail"]
    day = TODAY - timedelta(days=days_ago)
    assert f"args.items[1].date: {day} is outside the meters' 62-day freeze history" in detail
    assert f"({TODAY - timedelta(days=62)} to {TODAY - timedelta(days=1)}" in detail
    assert _commands(migrated) == []


def test_the_history_edges_are_taken_and_repeats_asked_once(api: TestClient, migrated: str) -> None:
    items = [
        *_items(3, "M1", 1),
        *_items(2, "M2", 62),
        *_items(1, "M1", 62),
        *_items(4, "M1", 1),
    ]
    resp = _backfill(api, items)
    assert resp.status_code == 202, resp.text
    ((cmd_id, _, args, _, _),) = _commands(migrated)
    assert cmd_id == resp.json()["id"]
    yesterday, oldest = (str(TODAY - timedelta(days=d)) for d in (1, 62))
    assert args == {
        "items": [
            {"meter": "M1", "date": yesterday},
            {"meter": "M2", "date": oldest},
            {"meter": "M1", "date": oldest},
        ]
    }


def test_staff_rereading_names_the_limit_and_asks_each_meter_day_once(
    api: TestClient, migrated: str
) -> None:
    resp = api.post("/api/reread", json={"items": _items(50_000)})
    assert resp.status_code == 422, resp.text
    assert "50000 meter-days exceed the limit of 10000 per request" in resp.json()["detail"]
    assert _commands(migrated) == []
    resp = api.post("/api/reread", json={"items": [*_items(5, "M1"), *_items(2, "M2")]})
    assert resp.status_code == 202, resp.text
    assert resp.json() == {
        "requested": {GW: 2},
        "already_pending": {},
        "curves_requested": {},
        "curves_already_pending": {},
    }
    ((_, _, args, _, _),) = _commands(migrated)
    assert [it["meter"] for it in args["items"]] == ["M1", "M2"]


def test_the_reread_job_never_asks_more_than_one_command_carries(
    migrated: str, tmp_path: Path
) -> None:
    pool = open_pool(migrated)
    try:
        for rate, expected in ((60, 600), (5_000, wire.MAX_COMMAND_ITEMS)):
            settings = settings_for(
                migrated, "mqtt://127.0.0.1:9", tmp_path, reread_rate_per_gateway_per_min=rate
            )
            jobs = JobsService(AppContext(settings, pool, FixedClock(NOW), ""))
            assert jobs.reread_per_gateway() == expected
    finally:
        pool.close()
    assert [expire_every_s(t) for t in (60, 3600, 86_400)] == [30.0, 300.0, 300.0]


# ---------------------------------------------------------------------------- results


@pytest.fixture
def consumer(migrated: str, mqtt_broker: Broker, topic_prefix: str) -> Iterator[Consumer]:
    pool = open_pool(migrated)
    c = Consumer(
        MqttConfig(
            mqtt_broker.url, root=topic_prefix, share_group=None, client_id=f"srv-{topic_prefix}"
        ),
        pool,
        tz="Asia/Shanghai",
        batch_ms=50,
        retention_days=30,
    )
    c.start()
    assert c.connected.wait(10)
    try:
        yield c
    finally:
        c.stop()
        pool.close()


def _wait(fn: Any, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    return False


class Gateway:
    """A stand-in gateway on the broker: hears its commands, publishes results."""

    def __init__(self, broker: Broker, root: str) -> None:
        self.root = root
        self.commands: list[wire.Command] = []
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
        self.client.on_message = lambda c, u, m: self.commands.append(
            wire.decode_command(m.payload)
        )
        self.client.connect(broker.host, broker.port)
        self.client.loop_start()
        self.client.subscribe(wire.topic(GW, wire.Channel.CMD, root), qos=1)
        time.sleep(0.3)

    def answer(self, payload: bytes) -> None:
        topic = wire.topic(GW, wire.Channel.CMD_RESULT, self.root)
        self.client.publish(topic, payload, qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def test_an_unanswered_command_expires_and_its_late_result_is_still_recorded(
    api: TestClient,
    consumer: Consumer,
    migrated: str,
    mqtt_broker: Broker,
    topic_prefix: str,
    tmp_path: Path,
) -> None:
    gw = Gateway(mqtt_broker, topic_prefix)
    try:
        resp = _backfill(api, _items(2, "M1", 3))
        assert resp.status_code == 202, resp.text
        cmd_id = resp.json()["id"]
        assert _wait(lambda: [c.id for c in gw.commands] == [cmd_id])  # sent by the consumer
        listed = api.get(f"/api/gateways/{GW}/commands").json()
        assert listed["total"] == 1 and listed["items"][0]["status"] == "sent"
        assert listed["items"][0]["items"] == 1  # the two repeats asked once

        # an hour passes with no answer: the job marks it expired (a fresh one stays)
        fresh = api.post(f"/api/gateways/{GW}/commands", json={"name": "time_sync"}).json()["id"]
        assert _wait(lambda: len(gw.commands) == 2)
        pool = open_pool(migrated)
        try:
            settings = settings_for(migrated, mqtt_broker.url, tmp_path, command_ttl_s=3600)
            real_now = datetime.now(UTC)
            late = JobsService(AppContext(settings, pool, FixedClock(real_now), ""))
            assert late.expire_commands() == {"expired": 0, "ids": []}
            later = JobsService(
                AppContext(settings, pool, FixedClock(real_now + timedelta(seconds=3630)), "")
            )
            with psycopg.connect(migrated) as conn:  # the fresh one was sent just now
                conn.execute(
                    "UPDATE gateway_commands SET sent_at = %s WHERE id = %s",
                    (real_now + timedelta(seconds=60), fresh),  # 1 h + 1 s ago: not yet
                )
            assert later.expire_commands() == {"expired": 1, "ids": [cmd_id]}
        finally:
            pool.close()
        expired = api.get(f"/api/gateways/{GW}/commands", params={"status": "expired"}).json()
        assert [c["id"] for c in expired["items"]] == [cmd_id]
        assert expired["items"][0]["expired_at"] is not None
        assert api.get(f"/api/commands/{cmd_id}").json()["status"] == "expired"

        # the gateway answers at last, then repeats itself as a gateway does after a restart
        real = wire.CommandResult(
            cmd_id, "backfill", True, NOW, None, {"read": 1, "failed": [], "items": 1}
        )
        gw.answer(wire.encode_result(real))
        gw.answer(wire.encode_result(wire.duplicate_result(cmd_id, "backfill", NOW)))
        assert _wait(lambda: consumer.stored_messages >= 2)
        ((_, status, _, result, expired_at),) = [r for r in _commands(migrated) if r[0] == cmd_id]
        assert status == "ok" and result == {"read": 1, "failed": [], "items": 1}
        assert expired_at is not None  # it says the answer came late
        shown = api.get(f"/api/gateways/{GW}/commands").json()["items"]
        mine = next(c for c in shown if c["id"] == cmd_id)
        assert mine["status"] == "ok" and mine["summary"] == {"read": 1, "items": 1}
    finally:
        gw.close()


def test_a_duplicate_answer_first_is_replaced_by_the_real_result(
    api: TestClient, consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    gw = Gateway(mqtt_broker, topic_prefix)
    try:
        cmd_id = api.post(f"/api/gateways/{GW}/commands", json={"name": "time_sync"}).json()["id"]
        assert _wait(lambda: len(gw.commands) == 1)
        gw.answer(wire.encode_result(wire.duplicate_result(cmd_id, "time_sync", NOW)))
        assert _wait(lambda: consumer.stored_messages >= 1)
        assert api.get(f"/api/commands/{cmd_id}").json()["result"] == {"duplicate": True}
        real = wire.CommandResult(cmd_id, "time_sync", True, NOW, None, {"buses": {}})
        gw.answer(wire.encode_result(real))
        assert _wait(lambda: consumer.stored_messages >= 2)
        assert api.get(f"/api/commands/{cmd_id}").json()["result"] == {"buses": {}}
    finally:
        gw.close()


def test_a_result_for_an_unknown_command_is_dead_lettered_with_its_payload(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    gw = Gateway(mqtt_broker, topic_prefix)
    small = wire.encode_result(
        wire.CommandResult("nobody-asked", "backfill", True, NOW, None, {"read": 7})
    )
    big = wire.encode_result(
        wire.CommandResult("nor-this", "backfill", True, NOW, None, {"pad": "x" * 200_000})
    )
    try:
        gw.answer(small)
        gw.answer(big)
        assert _wait(lambda: consumer.stored_messages >= 2)
    finally:
        gw.close()
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "SELECT topic, gateway_id, reason, payload, payload_size, payload_sha256 "
            "FROM dead_letters ORDER BY id"
        ).fetchall()
    topic = wire.topic(GW, wire.Channel.CMD_RESULT, topic_prefix)
    assert [r[:3] for r in rows] == [
        (topic, GW, "result for unknown command 'nobody-asked'"),
        (topic, GW, "result for unknown command 'nor-this'"),
    ]
    assert rows[0][3] == small and rows[0][4] == len(small)
    assert rows[1][3] == big[:DEAD_LETTER_PAYLOAD_MAX] and rows[1][4] == len(big)
    assert len(rows[1][5]) == 64


def test_a_late_reading_is_stored_with_its_flag_and_its_slot_time(
    consumer: Consumer, migrated: str, mqtt_broker: Broker, topic_prefix: str
) -> None:
    """What the edge sends for a reading taken after its slot's window: the slot's time and
    the ``late`` flag, both kept by the wire and the database."""
    add_meters(migrated, [{"id": "M-late", "address": "000000000099"}], gateway=GW)
    slot = slot_start(NOW - timedelta(hours=1))
    late = Reading(
        "M-late", "energy_import_total", slot, 12.5, "kWh", quality=frozenset({Quality.LATE})
    )
    gw = Gateway(mqtt_broker, topic_prefix)
    try:
        topic = wire.topic(GW, wire.Channel.READINGS, topic_prefix)
        gw.client.publish(topic, wire.batch_of(GW, "b-late", [late], NOW), qos=1).wait_for_publish(
            10
        )
        assert _wait(lambda: consumer.stored_messages >= 1)
    finally:
        gw.close()
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "SELECT ts, value, quality FROM readings WHERE meter_id = 'M-late'"
        ).fetchall()
    assert rows == [(slot, 12.5, ["late"])]


def test_a_long_backfill_is_given_time_for_its_items_before_it_expires(migrated: str) -> None:
    """A 3,600-item backfill is an hour of line time on one bus: it expires an hour (the
    TTL) plus a second per item after sending, a time sync after the TTL alone."""
    sent = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    items = [{"meter": f"X{i}", "date": "2026-02-27"} for i in range(3_600)]
    with psycopg.connect(migrated) as conn:
        big = queue_command(
            conn, gateway_id=GW, name="backfill", args={"items": items}, requested_by="t"
        )
        small = queue_command(conn, gateway_id=GW, name="time_sync", args={}, requested_by="t")
        conn.execute("UPDATE gateway_commands SET status = 'sent', sent_at = %s", (sent,))
        hour = timedelta(hours=1)
        assert expire(conn, now=sent + hour + timedelta(seconds=1), ttl_s=3600) == [small]
        assert expire(conn, now=sent + 2 * hour, ttl_s=3600) == []
        assert expire(conn, now=sent + 2 * hour + timedelta(seconds=1), ttl_s=3600) == [big]
        assert BACKFILL_ITEM_ALLOWANCE_S == 1.0


def test_a_curve_backfill_is_given_a_days_curve_of_line_time_per_item(migrated: str) -> None:
    """A backfill_curve item is a meter's whole day of 15-minute curve (about 31 s on a
    2400-baud line): 80 items expire the TTL plus 80 x 45 s after sending, not 80 x 1 s."""
    sent = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
    items = [{"meter": f"X{i}", "date": "2026-02-27"} for i in range(80)]
    with psycopg.connect(migrated) as conn:
        curve = queue_command(
            conn, gateway_id=GW, name="backfill_curve", args={"items": items}, requested_by="t"
        )
        freeze = queue_command(
            conn, gateway_id=GW, name="backfill", args={"items": items}, requested_by="t"
        )
        conn.execute("UPDATE gateway_commands SET status = 'sent', sent_at = %s", (sent,))
        ttl = timedelta(hours=1)
        assert expire(conn, now=sent + ttl + timedelta(seconds=81), ttl_s=3600) == [freeze]
        whole = ttl + timedelta(seconds=80 * CURVE_ITEM_ALLOWANCE_S)
        assert expire(conn, now=sent + whole, ttl_s=3600) == []
        assert expire(conn, now=sent + whole + timedelta(seconds=1), ttl_s=3600) == [curve]
        assert CURVE_ITEM_ALLOWANCE_S == 45.0


def test_a_curve_day_outside_the_curve_history_is_refused(migrated: str) -> None:
    items = [{"meter": "X1", "date": "2026-02-10"}]  # 19 days before today: past the 10
    with psycopg.connect(migrated) as conn, pytest.raises(CommandRefused) as err:
        queue_command(
            conn,
            gateway_id=GW,
            name="backfill_curve",
            args={"items": items},
            requested_by="t",
            today=date(2026, 3, 1),
        )
    assert "10-day curve (minute freeze) history (2026-02-19 to 2026-02-28" in str(err.value)
