"""The failed list says what was true on the day, not what the gateway says now (issue 18,
item 4): a recovered meter is not reported with its old error, a concentrator that went
offline later does not rewrite its older failures, and the last good reading is the meter's
last stored register at or before the day (both DB flavours)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from protocols import wire
from server.checks import completeness
from server.db.partitions import drop_old
from server.db.queries.gateways import log_health
from server.gateways.status import record_status
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers
from .test_checks import TZ, freezes, put

D = date(2026, 11, 10)  # the day the meters failed
CONNECTED = datetime(2026, 10, 1, tzinfo=UTC)  # when the gateway's connection began


def local(day: date, hour: int, minute: int = 0) -> datetime:
    """``hour`` o'clock of ``day`` in Asia/Shanghai (UTC+8), as UTC."""
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=UTC) - timedelta(hours=8)


def status(conn: psycopg.Connection[Any], gw: str, at: datetime, *meters: tuple[Any, ...]) -> None:
    """An online status at ``at`` as the gateway publishes it: (meter, state, last_error)."""
    st = wire.GatewayStatus(
        gateway=gw,
        online=True,
        ts=at,
        meters=tuple(wire.MeterHealth(m, s, None, e, 3 if s != "ok" else 0) for m, s, e in meters),
        connected_since=CONNECTED,
    )
    assert record_status(conn, st) is None
    conn.commit()


def will(conn: psycopg.Connection[Any], gw: str) -> None:
    """The gateway's last will: it crashed (stamped when its connection began)."""
    st = wire.decode_status(wire.last_will(gw, CONNECTED))
    assert record_status(conn, st) is None
    conn.commit()


def failed(conn: psycopg.Connection[Any], day: date) -> dict[str, dict[str, Any]]:
    return {r["meter_id"]: r for r in completeness.failed_meters(conn, day, tz=TZ)}


def register(meter: str, at: datetime, value: float) -> tuple[Any, ...]:
    return (meter, "energy_import_total", at, value, "interval", "scheduled", ())


def test_reasons_are_those_of_the_day(migrated: str) -> None:
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 5)]
        + [{"id": "O97", "address": "000000001997", "protocol": "dlt645-1997"}],
        gateway="gw-1",
        area="A1",
    )
    before = D - timedelta(days=1)
    put(
        migrated,
        freezes("M1", {before: 5.0})
        + freezes("M2", {before: 6.0})
        + freezes("O97", {before: 7.0})
        # M3 keeps no freeze: only its registers were read (last on D at 10:00)
        + [register("M3", local(D, 7), 11.5), register("M3", local(D, 10), 12.25)],
        # M4: nothing stored, ever
    )
    with psycopg.connect(migrated) as conn:
        # collection day of D (D + 1): M1 dead (timeout), M2 answers with another address,
        # the 1997 meter dead; M3 reported fine
        status(
            conn,
            "gw-1",
            local(D + timedelta(days=1), 0, 31),
            ("M1", "dead", "timeout"),
            ("M2", "failing", "wrong_address"),
            ("M3", "ok", None),
            ("O97", "dead", "timeout"),
        )
        # M1 reads again on D + 2: an older edge still reports its last error
        status(conn, "gw-1", local(D + timedelta(days=2), 3), ("M1", "ok", "timeout"))
        # a week later the concentrator crashes and stays offline
        status(conn, "gw-1", local(D + timedelta(days=8), 12), ("M3", "ok", None))
        will(conn, "gw-1")
        day_d = failed(conn, D)
        assert set(day_d) == {"M1", "M2", "M3", "M4", "O97"}
        m1 = day_d["M1"]
        assert (m1["reason"], m1["reason_text"]) == (
            "meter_not_answering",
            "meter not answering (timeout)",
        )
        assert (m1["meter_state"], m1["last_error"], m1["gateway_online"]) == (
            "dead",
            "timeout",
            True,
        )
        assert m1["last_good_value"] == 5.0 and m1["last_good_date"] == before
        assert day_d["M2"]["reason"] == "wrong_answers"
        assert day_d["M2"]["reason_text"] == "wrong answers (wrong_address)"
        # not "concentrator offline": it was online that day and reported M3 fine
        m3 = day_d["M3"]
        assert (m3["reason"], m3["meter_state"], m3["gateway_online"]) == (
            "no_reading",
            None,
            True,
        )
        # its last good reading is its last register read, not empty
        assert m3["last_good_value"] == 12.25 and m3["last_good_ts"] == local(D, 10)
        assert m3["last_good_date"] == D and m3["last_good_kind"] == "interval"
        assert day_d["M4"]["reason"] == "never_read" and day_d["M4"]["last_good_ts"] is None
        o97 = day_d["O97"]
        assert (o97["reason"], o97["cause"], o97["rereadable"]) == (
            "not_rereadable",
            "meter_not_answering",
            False,
        )
        assert o97["reason_text"] == (
            "meter not answering (timeout); terminal freeze missed: the meter keeps no "
            "freeze history, the day cannot be re-read"
        )
        assert day_d["M1"]["rereadable"] is True

        # D + 3: M1 had read again (D + 2), so its old error does not explain a missing day
        later = failed(conn, D + timedelta(days=3))
        assert later["M1"]["reason"] == "no_reading" and later["M1"]["last_error"] is None
        # D + 40: the concentrator went offline (its will) and said nothing since; M2 was
        # still failing when it was last heard of, M4 was never read
        gone = failed(conn, D + timedelta(days=40))
        assert {m: r["reason"] for m, r in gone.items() if m != "O97"} == {
            "M1": "concentrator_offline",
            "M2": "wrong_answers",
            "M3": "concentrator_offline",
            "M4": "never_read",
        }
        assert gone["M1"]["gateway_online"] is False
        assert gone["O97"]["cause"] == "meter_not_answering"  # dead when last heard of
        # a page of the list is that part of the whole list, reasons included
        page = completeness.failed_meters(conn, D, tz=TZ, limit=2, offset=1)
        assert page == sorted(day_d.values(), key=lambda r: r["meter_id"])[1:3]
        # every code is one of the documented ones
        codes = {r["reason"] for r in [*day_d.values(), *later.values(), *gone.values()]}
        assert codes <= set(completeness.REASONS)


def test_a_quarantined_freeze_is_named(migrated: str) -> None:
    """The day's freeze came from a concentrator that does not hold the meter: the failed
    list says it was quarantined and why (an archive problem), not that it never came."""
    add_meters(migrated, [{"id": "Q1", "address": "000000000031"}], gateway="gw-q", area="AQ")
    add_meters(migrated, [], gateway="gw-other", area="AQ")
    put(migrated, freezes("Q1", {D - timedelta(days=1): 3.0}))
    with psycopg.connect(migrated) as conn:
        b = Batch()
        b.add_rows("gw-other", "t", freezes("Q1", {D: 4.0}, tariffs=False))
        assert store(conn, b, tz=TZ).quarantined > 0
        row = failed(conn, D)["Q1"]
    assert row["reason"] == "quarantined"
    assert row["reason_text"] == (
        "reading quarantined (meter not on this gateway (archive: gw-q since 2025-01-01))"
    )


def test_the_api_gives_code_and_text(migrated: str, client: TestClient) -> None:
    add_meters(migrated, [{"id": "A1M", "address": "000000000041"}], gateway="gw-a", area="AA")
    put(migrated, [register("A1M", local(D, 9), 1.5)])
    with psycopg.connect(migrated) as conn:
        status(conn, "gw-a", local(D + timedelta(days=1), 1), ("A1M", "failing", "timeout"))
    viewer = auth_headers(client, "viewer", migrated)
    got = client.get(f"/api/failed-meters?date={D}", headers=viewer)
    assert got.status_code == 200, got.text
    (item,) = got.json()["items"]
    assert item["reason"] == "meter_not_answering"
    # the words in the clerk's language: ?lang, else Accept-Language, else Chinese (the
    # exports' rule); the gateway's error code stays as it came
    assert item["reason_text"] == "电表不应答（timeout）"

    def text(params: str, **headers: str) -> str:
        r = client.get(f"/api/failed-meters?date={D}{params}", headers={**viewer, **headers})
        assert r.status_code == 200, r.text
        return str(r.json()["items"][0]["reason_text"])

    assert text("&lang=en") == "meter not answering (timeout)"
    assert text("", **{"Accept-Language": "en-GB,en;q=0.8"}) == "meter not answering (timeout)"
    assert text("", **{"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"}) == "电表不应答（timeout）"
    assert text("&lang=zh", **{"Accept-Language": "en"}) == "电表不应答（timeout）"
    bad = client.get(f"/api/failed-meters?date={D}&lang=fr", headers=viewer)
    assert bad.status_code == 422 and "lang" in bad.text
    assert item["last_good_value"] == 1.5 and item["last_good_date"] == str(D)


def test_retention_keeps_the_state_at_its_edge(migrated: str) -> None:
    """Retention drops the health logs' changes older than each gateway's and meter's state
    at the cutoff, and keeps that state: every day from the cutoff on is judged as before."""
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 3)],
        gateway="gw-1",
        area="A1",
    )
    put(migrated, freezes("M1", {D - timedelta(days=3): 5.0}) + freezes("M2", {D: 6.0}))
    cutoff = local(D + timedelta(days=4), 0)  # the close of D + 3

    def log(at: datetime, online: bool, *meters: tuple[str, str, str | None]) -> None:
        log_health(conn, gateway_id="gw-1", at=at, online=online, meters=meters)

    days = [D + timedelta(days=i) for i in range(3, 8)]
    with psycopg.connect(migrated) as conn:
        log(local(D - timedelta(days=2), 9), True, ("M1", "dead", "timeout"))
        log(local(D - timedelta(days=1), 6), False)
        log(local(D + timedelta(days=1), 0, 31), True, ("M2", "failing", "wrong_address"))
        log(local(D + timedelta(days=2), 3), True, ("M1", "ok", None))
        log(local(D + timedelta(days=3), 5), True, ("M2", "dead", "timeout"))
        log(cutoff, True, ("M1", "failing", "wrong_address"))  # at the edge: kept
        log(local(D + timedelta(days=5), 12), False)
        # a will and the status it ends share a time: both rows stay
        log(local(D + timedelta(days=6), 8), True, ("M2", "ok", None))
        log(local(D + timedelta(days=6), 8), False)
        conn.commit()
        judged = {d: failed(conn, d) for d in days}
        assert judged[days[0]]["M2"]["reason"] == "meter_not_answering"  # the edge's state
        assert judged[days[0]]["M1"]["last_error"] == "wrong_address"
        assert judged[days[1]]["M1"]["reason"] == "wrong_answers"
        assert judged[days[1]]["M1"]["gateway_online"] is False  # offline on D + 5
        with conn.transaction():
            dropped = drop_old(conn, 365, now=cutoff + timedelta(days=365))
        assert "gateway_online_log: 2 rows" in dropped
        assert "meter_health_log: 3 rows" in dropped
        left = conn.execute(
            "SELECT 'g', gateway_id, ts FROM gateway_online_log UNION ALL "
            "SELECT 'm', meter_id, ts FROM meter_health_log ORDER BY 1, 2, 3"
        ).fetchall()
        assert left == [
            ("g", "gw-1", local(D + timedelta(days=1), 0, 31)),
            ("g", "gw-1", local(D + timedelta(days=5), 12)),
            ("g", "gw-1", local(D + timedelta(days=6), 8)),
            ("g", "gw-1", local(D + timedelta(days=6), 8)),
            ("m", "M1", cutoff),
            ("m", "M2", local(D + timedelta(days=3), 5)),
            ("m", "M2", local(D + timedelta(days=6), 8)),
        ]
        assert {d: failed(conn, d) for d in days} == judged
        # a second run finds nothing more to drop
        with conn.transaction():
            again = drop_old(conn, 365, now=cutoff + timedelta(days=365))
        assert not [x for x in again if "_log" in x]
