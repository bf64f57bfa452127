"""Completeness, re-reading and the anomaly rules on hand-made data (both DB flavours)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from protocols import wire
from server.checks import completeness, reread, rules
from server.gateways.status import record_status
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers

TZ = "Asia/Shanghai"
D = date(2026, 11, 10)


def freeze_ts(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)  # local 00:00 of day+1


def put(url: str, rows: list[tuple[Any, ...]]) -> None:
    """Store ``rows`` as the gateways holding their meters publish them (the server refuses
    a meter's readings from any other gateway)."""
    with psycopg.connect(url) as conn:
        gateway_of = dict(conn.execute("SELECT id, gateway_id FROM meters").fetchall())
        by_gateway: dict[str, list[tuple[Any, ...]]] = {}
        for r in rows:
            by_gateway.setdefault(gateway_of.get(r[0]) or "gw-1", []).append(r)
        b = Batch()
        for gw, mine in by_gateway.items():
            b.add_rows(gw, "t", mine)
        result = store(conn, b, tz=TZ)
        assert result.quarantined == 0, conn.execute("SELECT reason FROM quarantine").fetchall()


def freezes(
    meter: str,
    totals: dict[date, float],
    tariffs: bool = True,
    export: dict[date, float] | None = None,
) -> list[tuple[Any, ...]]:
    out = []
    for day, total in totals.items():
        ts = freeze_ts(day)
        out.append((meter, "energy_import_total", ts, total, "freeze", "scheduled", ()))
        if tariffs:
            for i, share in enumerate((0.1, 0.3, 0.4, 0.2), start=1):
                out.append(
                    (
                        meter,
                        f"energy_import_t{i}",
                        ts,
                        round(total * share, 2),
                        "freeze",
                        "scheduled",
                        (),
                    )
                )
        out.append(
            (
                meter,
                "energy_export_total",
                ts,
                (export or {}).get(day, 0.0),
                "freeze",
                "scheduled",
                (),
            )
        )
    return out


def interval(
    meter: str, day: date, quantity: str, value: float, points: int = 8
) -> list[tuple[Any, ...]]:
    t0 = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=8)
    return [
        (
            meter,
            quantity,
            t0 + timedelta(hours=10, minutes=15 * i),
            value,
            "interval",
            "scheduled",
            (),
        )
        for i in range(points)
    ]


def days(n: int, start: float, per_day: float) -> dict[date, float]:
    return {D - timedelta(days=k): start + per_day * (n - k) for k in range(n, -1, -1)}


def test_success_rate_failed_reasons_and_reread(migrated: str) -> None:
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(1, 5)],
        gateway="gw-1",
        area="A1",
    )
    add_meters(
        migrated,
        [
            {"id": "N1", "address": "000000000101"},
            {"id": "N2", "address": "000000000102", "installed_on": "2026-11-09"},
        ],
        gateway="gw-2",
        area="A2",
    )
    put(
        migrated,
        freezes("M1", {D: 10.0, D - timedelta(days=1): 5.0})
        + freezes("M2", {D: 10.0, D - timedelta(days=1): 5.0})
        + freezes("M3", {D - timedelta(days=1): 5.0})
        + freezes("N1", {D: 3.0}),
    )
    with psycopg.connect(migrated) as conn:
        # during the collection day of D the gateway reported M3 dead
        at = datetime(D.year, D.month, D.day, 17, tzinfo=UTC)  # 01:00 local of D + 1
        health = (wire.MeterHealth("M3", "dead", None, "timeout", 5),)
        assert record_status(conn, wire.GatewayStatus("gw-1", True, at, meters=health)) is None
        conn.commit()
        total = completeness.success_rate(conn, D)
        assert total == [{"key": "all", "due": 6, "read": 3, "rate": 0.5, "below_threshold": True}]
        by_area = {r["key"]: r for r in completeness.success_rate(conn, D, "area")}
        assert (by_area["A1"]["read"], by_area["A1"]["due"]) == (2, 4)
        assert (by_area["A2"]["read"], by_area["A2"]["due"]) == (1, 2)
        # the one-pass report of every grouping says the same as each grouping alone
        whole = completeness.report(conn, D)
        for by in completeness.GROUPS:
            assert whole[by] == completeness.success_rate(conn, D, by), by
        assert {r["key"] for r in whole["gateway"]} == {"gw-1", "gw-2"}
        assert sum(r["due"] for r in whole["customer_class"]) == 6
        with pytest.raises(ValueError, match="group by one of"):
            completeness.report(conn, D, ("area", "colour"))
        failed = {r["meter_id"]: r for r in completeness.failed_meters(conn, D)}
        assert set(failed) == {"M3", "M4", "N2"}
        assert failed["M3"]["reason"] == "meter_not_answering"
        assert failed["M3"]["reason_text"] == "meter not answering (timeout)"
        assert failed["M3"]["last_good_value"] == 5.0
        assert failed["M4"]["reason_text"] == "never read since installed"
        assert failed["N2"]["reason"] == "never_read"
        # re-reading: one request per failed meter-day, never twice, per-gateway limit
        sent = reread.auto_reread(conn, D + timedelta(days=1), per_gateway=2, days=2)
        assert sent == {"gw-1": 2, "gw-2": 2}  # capped at 2 per gateway per run
        again = reread.auto_reread(conn, D + timedelta(days=1), per_gateway=2, days=2)
        assert again == {}  # earlier commands still unanswered: no flood
        cmds = conn.execute(
            "SELECT gateway_id, args FROM gateway_commands ORDER BY gateway_id"
        ).fetchall()
        assert len(cmds) == 2 and cmds[0][1]["items"][0]["meter"] in {"M3", "M4"}
    # the re-read answer arrives: the rate is recomputed and the recovery reported
    put(migrated, freezes("M3", {D: 9.0}))
    with psycopg.connect(migrated) as conn:
        assert completeness.success_rate(conn, D)[0]["read"] == 4
        assert reread.recovered(conn, D)["recovered"] >= 1


def test_rules_find_each_anomaly_and_leave_healthy_meters_alone(migrated: str) -> None:
    ids = [
        "OK",
        "DEC",
        "UNB",
        "REV",
        "ZERO",
        "SPIKE",
        "STOP",
        "VL",
        "PB",
        "IMB",
        "CLK",
        "COVER",
        "ROLL",
    ]
    add_meters(
        migrated,
        [{"id": m, "address": f"{i + 1:012d}", "rated_voltage": 220} for i, m in enumerate(ids)],
        area="A1",
    )
    rows: list[tuple[Any, ...]] = []
    rows += freezes("OK", days(8, 100, 10))
    dec = days(8, 100, 10)
    dec[D] = dec[D - timedelta(days=1)] - 20
    rows += freezes("DEC", dec)
    unb = freezes("UNB", days(8, 100, 10))
    unb = [
        (
            r[0],
            r[1],
            r[2],
            r[3] + (15 if r[1] == "energy_import_t1" and r[2] == freeze_ts(D) else 0),
            *r[4:],
        )
        for r in unb
    ]
    rows += unb
    rows += freezes("REV", days(8, 100, 10), export={D - timedelta(days=1): 1.0, D: 6.0})
    rows += freezes("ZERO", {d: 50.0 for d in days(8, 0, 0)})
    spike = days(8, 100, 10)
    spike[D] = spike[D - timedelta(days=1)] + 80
    rows += freezes("SPIKE", spike)
    stop = days(8, 100, 10)
    stop[D] = stop[D - timedelta(days=1)]
    rows += freezes("STOP", stop) + interval("STOP", D, "power_active_total", 1.2)
    for m in ("VL", "PB", "IMB", "CLK", "COVER"):
        rows += freezes(m, days(8, 100, 10))
    roll = days(8, 999_925, 10)
    roll[D] = 5.0  # 999,995 -> 5: a rollover (10 kWh used), not a decrease
    rows += freezes("ROLL", roll, tariffs=False)
    for ph, v, i in (("a", 225, 5), ("b", 150, 5), ("c", 226, 5)):
        rows += interval("VL", D, f"voltage_{ph}", v) + interval("VL", D, f"current_{ph}", i)
    for ph, v, i in (("a", 225, 5), ("b", 40, 0.0), ("c", 226, 5)):
        rows += interval("PB", D, f"voltage_{ph}", v) + interval("PB", D, f"current_{ph}", i)
    for ph, v, i in (("a", 225, 10), ("b", 224, 3), ("c", 226, 10)):
        rows += interval("IMB", D, f"voltage_{ph}", v) + interval("IMB", D, f"current_{ph}", i)
    for ph in "abc":
        rows += interval("OK", D, f"voltage_{ph}", 221) + interval("OK", D, f"current_{ph}", 4)
    rows += [
        ("CLK", "clock_offset", freeze_ts(D) - timedelta(hours=6), 420.0, "clock", "scheduled", ()),
        ("OK", "clock_offset", freeze_ts(D) - timedelta(hours=6), 3.0, "clock", "scheduled", ()),
        (
            "COVER",
            "cover_open_count",
            freeze_ts(D) - timedelta(days=2),
            1.0,
            "event",
            "scheduled",
            (),
        ),
        (
            "COVER",
            "cover_open_count",
            freeze_ts(D) - timedelta(hours=10),
            2.0,
            "event",
            "scheduled",
            (),
        ),
        (
            "OK",
            "cover_open_count",
            freeze_ts(D) - timedelta(hours=10),
            0.0,
            "event",
            "scheduled",
            (),
        ),
    ]
    put(migrated, rows)
    with psycopg.connect(migrated) as conn:
        rules.run_rules(conn, D, TZ)
        found = {(r, m) for r, m in conn.execute("SELECT rule, meter_id FROM anomalies")}
    expected = {
        ("decrease", "DEC"),
        ("unbalanced_registers", "UNB"),
        ("reverse_energy", "REV"),
        ("zero_consumption", "ZERO"),
        ("spike", "SPIKE"),
        ("stopped", "STOP"),
        ("voltage_loss", "VL"),
        ("phase_break", "PB"),
        ("current_imbalance", "IMB"),
        ("clock", "CLK"),
        ("cover_open", "COVER"),
    }
    assert expected <= found, expected - found
    assert not {(r, m) for r, m in found if m in {"OK", "ROLL"}}, found
    extra = found - expected
    assert extra <= {("spike", "DEC")} or not extra, extra  # nothing else on other meters


def test_ongoing_anomaly_is_one_record_and_line_loss(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "MASTER", "address": "000000000900", "is_area_master": True},
            {"id": "C1", "address": "000000000001"},
            {"id": "C2", "address": "000000000002"},
        ],
        area="A1",
    )
    # the master registers less than the customers: negative line loss
    rows = (
        freezes("MASTER", days(4, 100, 15))
        + freezes("C1", days(4, 100, 10))
        + freezes("C2", days(4, 100, 10))
    )
    zero = {d: 7.0 for d in days(4, 0, 0)}
    zero[D + timedelta(days=1)] = 7.0
    rows += freezes("C1", {D + timedelta(days=1): 150.0})
    rows += freezes("C2", {D + timedelta(days=1): 150.0})
    rows += freezes("MASTER", {D + timedelta(days=1): 175.0})
    put(migrated, rows)
    with psycopg.connect(migrated) as conn:
        loss = rules.line_loss(conn, D)
        assert loss[0]["complete"] and loss[0]["loss"] < 0
        rules.run_rules(conn, D, TZ)
        rules.run_rules(conn, D + timedelta(days=1), TZ)
        rows2 = conn.execute(
            "SELECT rule, area_id, first_date, last_date FROM anomalies WHERE rule = 'line_loss'"
        ).fetchall()
    assert rows2 == [("line_loss", "A1", D, D + timedelta(days=1))]


def test_incomplete_area_gives_no_line_loss(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "MASTER", "address": "000000000900", "is_area_master": True},
            {"id": "C1", "address": "000000000001"},
        ],
        area="A1",
    )
    put(migrated, freezes("MASTER", days(2, 100, 15)))
    with psycopg.connect(migrated) as conn:
        loss = rules.line_loss(conn, D)
    assert loss[0]["complete"] is False and loss[0]["loss"] is None


def test_api_workflow_exports_and_roles(client: TestClient) -> None:
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    add_meters(url, [{"id": "DEC", "address": "000000000001"}], area="A1")
    dec = days(3, 100, 10)
    dec[D] = 50.0
    put(url, freezes("DEC", dec))
    viewer = auth_headers(client, "viewer", url)
    op = auth_headers(client, "operator", url)
    admin = auth_headers(client, "admin", url)
    assert client.post(f"/api/checks/run?date={D}", headers=viewer).status_code == 403
    r = client.post(f"/api/checks/run?date={D}", headers=op)
    assert r.status_code == 200 and r.json()["found"]["decrease"] == 1
    items = client.get("/api/anomalies?status=open", headers=viewer).json()["items"]
    aid = items[0]["id"]
    body = {"status": "confirmed", "comment": "seen on site"}
    assert client.post(f"/api/anomalies/{aid}/status", json=body, headers=viewer).status_code == 403
    assert client.post(f"/api/anomalies/{aid}/status", json=body, headers=op).status_code == 200
    bad = client.post(
        f"/api/anomalies/{aid}/status", json={"status": "dismissed", "comment": "x"}, headers=op
    )
    assert bad.status_code == 409 and "cannot become" in bad.json()["detail"]
    with psycopg.connect(url) as conn:
        audit = conn.execute(
            "SELECT actor, action FROM audit_log WHERE entity = 'anomalies'"
        ).fetchall()
    assert audit == [("test-operator", "anomaly.status")]
    csv_resp = client.get(f"/api/failed-meters?date={D}&format=csv", headers=viewer)
    assert csv_resp.status_code == 200 and csv_resp.headers["content-type"].startswith("text/csv")
    xlsx = client.get("/api/anomalies?format=xlsx", headers=viewer)
    assert xlsx.status_code == 200 and xlsx.content[:2] == b"PK"
    rate = client.get(f"/api/completeness?date={D}&by=area", headers=viewer).json()
    assert rate["groups"][0]["key"] == "A1"
    whole = client.get(f"/api/completeness/report?date={D}", headers=viewer).json()
    assert whole["groups"]["area"] == rate["groups"] and len(whole["groups"]["all"]) == 1
    assert (
        client.put(
            "/api/rule-params/decrease", json={"params": {"tolerance_kwh": 1}}, headers=op
        ).status_code
        == 403
    )
    assert (
        client.put(
            "/api/rule-params/decrease", json={"params": {"tolerance_kwh": 1}}, headers=admin
        ).status_code
        == 200
    )
    assert (
        client.put(
            "/api/rule-params/decrease", json={"params": {"nonsense": 1}}, headers=admin
        ).status_code
        == 422
    )
    today = datetime.now(UTC).date()
    r = client.post(
        "/api/reread",
        headers=op,
        json={"items": [{"meter": "DEC", "date": (today - timedelta(days=2)).isoformat()}]},
    )
    assert r.status_code == 202 and r.json()["requested"] == {"gw-1": 1}
    r = client.post(
        "/api/reread",
        headers=op,
        json={"items": [{"meter": "DEC", "date": (today - timedelta(days=90)).isoformat()}]},
    )
    assert r.status_code == 422 and "62-day" in r.json()["detail"]


def demand(meter: str, day: date, kw: float) -> tuple[Any, ...]:
    return (
        meter,
        "max_demand_import",
        freeze_ts(day) - timedelta(minutes=5),
        kw,
        "event",
        "scheduled",
        (),
    )


def test_demand_over_contract_uses_the_ratio_and_class_parameters(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "HOME", "address": "000000000001", "contracted_kw": 8},
            {
                "id": "SHOP",
                "address": "000000000002",
                "contracted_kw": 20,
                "customer_class": "commercial",
            },
            {
                "id": "CT",
                "address": "000000000003",
                "contracted_kw": 100,
                "customer_class": "industrial",
            },
            {"id": "NOCONTRACT", "address": "000000000004"},
        ],
        area="A1",
    )
    with psycopg.connect(migrated) as conn:
        conn.execute("UPDATE meters SET ct_ratio = 40 WHERE id = 'CT'")
        conn.commit()
    put(
        migrated,
        [
            demand("HOME", D, 9.5),
            demand("SHOP", D, 22.0),
            demand("CT", D, 2.6),
            demand("NOCONTRACT", D, 50.0),
            demand("HOME", D - timedelta(days=1), 30),
        ],
    )
    with psycopg.connect(migrated) as conn:
        found = rules.run_rules(conn, D, TZ, rules=["demand_over_contract"]).found
        rows = {
            m: ev
            for m, ev in conn.execute(
                "SELECT meter_id, evidence FROM anomalies WHERE rule = 'demand_over_contract'"
            )
        }
    # CT: 2.6 kW on the secondary side x 40 = 104 kW primary > 100 kW
    assert set(rows) == {"HOME", "SHOP", "CT"} and found["demand_over_contract"] == 3
    assert rows["CT"]["max_demand_kw"] == 104.0 and rows["HOME"]["max_demand_kw"] == 9.5


def test_rule_parameters_per_customer_class(client: TestClient) -> None:
    migrated = str(client.app.state.database_url)  # type: ignore[attr-defined]
    add_meters(
        migrated,
        [
            {"id": "HOME", "address": "000000000001", "contracted_kw": 8},
            {
                "id": "SHOP",
                "address": "000000000002",
                "contracted_kw": 20,
                "customer_class": "commercial",
            },
        ],
        area="A1",
    )
    put(migrated, [demand("HOME", D, 9.5), demand("SHOP", D, 22.0)])
    admin = auth_headers(client, "admin", migrated)
    viewer = auth_headers(client, "viewer", migrated)
    # commercial customers may exceed their contract by 20 % before it is an anomaly
    r = client.put(
        "/api/rule-params/demand_over_contract?customer_class=commercial",
        json={"params": {"factor": 1.2}},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["params"] == {"factor": 1.2}
    bad = client.put(
        "/api/rule-params/line_loss?customer_class=commercial",
        json={"params": {"max_ratio": 0.2}},
        headers=admin,
    )
    assert bad.status_code == 422 and "areas" in bad.json()["detail"]
    bad = client.put(
        "/api/rule-params/demand_over_contract?customer_class=nobody",
        json={"params": {"factor": 1.2}},
        headers=admin,
    )
    assert bad.status_code == 422
    shown = client.get("/api/rule-params", headers=viewer).json()["rules"]
    assert shown["demand_over_contract"]["general"] == {"factor": 1.0}
    assert shown["demand_over_contract"]["by_customer_class"] == {"commercial": {"factor": 1.2}}
    with psycopg.connect(migrated) as conn:
        rules.run_rules(conn, D, TZ, rules=["demand_over_contract"])
        rows = dict(conn.execute("SELECT meter_id, params FROM anomalies").fetchall())
        audit = conn.execute(
            "SELECT entity_id, actor FROM audit_log WHERE entity = 'rule_params'"
        ).fetchall()
    assert rows == {"HOME": {"factor": 1.0}}  # SHOP: 22 kW < 1.2 x 20 kW
    assert audit == [("demand_over_contract/commercial", "test-admin")]


def test_rules_run_as_data_arrives(migrated: str) -> None:
    add_meters(
        migrated,
        [{"id": m, "address": f"{i:012d}"} for i, m in enumerate(("OK", "DEC", "LATE"), start=1)],
        area="A1",
    )
    with psycopg.connect(migrated) as conn:
        # nothing arrived yet: nothing to do
        assert rules.run_incremental(conn, TZ) == {"meter_days": 0, "found": {}, "failed": {}}
    dec = days(2, 100, 10)
    put(
        migrated,
        freezes("OK", days(2, 100, 10)) + freezes("DEC", {d: v for d, v in dec.items() if d < D}),
    )
    with psycopg.connect(migrated) as conn:
        queued = conn.execute("SELECT count(*) FROM check_queue").fetchone()
        # a freeze for a day queues that day and the next: OK D-2..D+1, DEC D-2..D
        assert queued and queued[0] == 4 + 3
        done = rules.run_incremental(conn, TZ)
        assert done["meter_days"] == 7 and not any(done["found"].values())
    # the decreasing register arrives later (a re-read): only then is it found
    put(migrated, freezes("DEC", {D: dec[D - timedelta(days=1)] - 30}))
    with psycopg.connect(migrated) as conn:
        done = rules.run_incremental(conn, TZ)
        assert done["found"]["decrease"] == 1 and done["meter_days"] == 2
        assert conn.execute("SELECT meter_id, last_date FROM anomalies").fetchall() == [("DEC", D)]
        assert conn.execute("SELECT count(*) FROM check_queue").fetchone() == (0,)
    # a failing rule costs its own findings only, says so, and leaves the meter-days queued
    # for the next run
    put(migrated, freezes("LATE", {D: 5.0}))
    with psycopg.connect(migrated) as conn:
        conn.execute("ALTER VIEW meter_events_all RENAME TO meter_events_gone")
        conn.commit()
        done = rules.run_incremental(conn, TZ)
        failed_rules = {key.split()[0] for key in done["failed"]}
        # the rules reading meter events failed; the others ran
        assert failed_rules == {"clock", "cover_open", "demand_over_contract"}, done["failed"]
        assert all("meter_events_all" in why for why in done["failed"].values())
        assert "decrease" in done["found"] and done["meter_days"] == 2
        conn.execute("ALTER VIEW meter_events_gone RENAME TO meter_events_all")
        conn.commit()
        assert conn.execute("SELECT count(*) FROM check_queue").fetchone() == (2,)
        assert rules.run_incremental(conn, TZ)["meter_days"] == 2


def rated(url: str, ratings: dict[str, tuple[float, float, int]]) -> None:
    with psycopg.connect(url) as conn:
        for meter, (volts, amps, phases) in ratings.items():
            conn.execute(
                "UPDATE meters SET rated_voltage = %s, rated_current = %s, phases = %s "
                "WHERE id = %s",
                (volts, amps, phases, meter),
            )
        conn.commit()


def test_overrun_and_flying_are_two_thresholds_of_one_capacity(client: TestClient) -> None:
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    # 220 V x 10 A x 24 h = 52.8 kWh a day single-phase; three-phase 3 x that = 158.4 kWh
    add_meters(
        url,
        [
            {"id": m, "address": f"{i:012d}"}
            for i, m in enumerate(
                ("OK", "OVER", "FLY", "FLY3", "EDGE", "NORATING", "MASTER", "SHOP", "CT"), start=1
            )
        ],
        area="A1",
    )
    with psycopg.connect(url) as conn:
        conn.execute("UPDATE meters SET is_area_master = true WHERE id = 'MASTER'")
        conn.execute("UPDATE meters SET customer_class = 'commercial' WHERE id = 'SHOP'")
        # a CT meter: registers count the secondary side, its rating is the secondary 1.5 A
        conn.execute("UPDATE meters SET ct_ratio = 40 WHERE id = 'CT'")
        conn.commit()
    rated(
        url,
        {m: (220, 10, 1) for m in ("OK", "OVER", "FLY", "EDGE", "MASTER", "SHOP")}
        | {"FLY3": (220, 10, 3), "CT": (220, 1.5, 1)},
    )
    use = {
        "OK": 10.0,
        "OVER": 60.0,
        "FLY": 160.0,
        "FLY3": 480.0,
        "EDGE": 79.0,
        "NORATING": 5000.0,
        "MASTER": 500.0,
        "SHOP": 160.0,
        "CT": 25.0,
    }
    rows: list[tuple[Any, ...]] = []
    for m, kwh in use.items():
        rows += freezes(m, {D - timedelta(days=1): 1000.0, D: 1000.0 + kwh}, tariffs=False)
    put(url, rows)
    with psycopg.connect(url) as conn:
        found = rules.run_rules(conn, D, TZ, rules=["overrun", "flying"]).found
        got = {
            m: (r, ev, p)
            for r, m, ev, p in conn.execute(
                "SELECT rule, meter_id, evidence, params FROM anomalies"
            )
        }
    # 60 = 1.14 x capacity: overrun; 160 = 3.03 x: flying, not also overrun; 79 = 1.496 x:
    # just under the flying threshold, so overrun; CT: 25 kWh > 1.5 x 7.92 kWh (secondary)
    assert {m: r for m, (r, _, _) in got.items()} == {
        "OVER": "overrun",
        "FLY": "flying",
        "FLY3": "flying",
        "EDGE": "overrun",
        "SHOP": "flying",
        "CT": "flying",
    }
    assert found == {"overrun": 2, "flying": 4}
    rule, ev, params = got["FLY"]
    assert params == {"factor": 1.5}
    assert ev == {
        "kwh": 160.0,
        "capacity_kwh": 52.8,
        "ratio": 3.03,
        "previous": 1000.0,
        "current": 1160.0,
    }
    assert got["FLY3"][1]["capacity_kwh"] == 158.4 and got["OVER"][2] == {"factor": 1.0}

    admin = auth_headers(client, "admin", url)
    viewer = auth_headers(client, "viewer", url)
    shown = client.get("/api/rule-params", headers=viewer).json()["rules"]
    assert shown["flying"] == {
        "defaults": {"factor": 1.5},
        "general": {"factor": 1.5},
        "by_customer_class": {},
    }
    # shops may run at up to 4 x capacity before it is flying: 3 x is then an overrun
    r = client.put(
        "/api/rule-params/flying?customer_class=commercial",
        json={"params": {"factor": 4.0}},
        headers=admin,
    )
    assert r.status_code == 200 and r.json()["params"] == {"factor": 4.0}
    assert (
        client.put(
            "/api/rule-params/flying", json={"params": {"ratio": 2}}, headers=admin
        ).status_code
        == 422
    )
    # the next day: the same use again; FLY stays one ongoing record (first D, last D + 1)
    rows = []
    for m, kwh in use.items():
        rows += freezes(m, {D + timedelta(days=1): 1000.0 + 2 * kwh}, tariffs=False)
    put(url, rows)
    with psycopg.connect(url) as conn:
        rules.run_rules(conn, D + timedelta(days=1), TZ)
        rules.run_rules(conn, D + timedelta(days=1), TZ)  # a second scan changes nothing
        recs = conn.execute(
            "SELECT meter_id, rule, first_date, last_date, params FROM "
            "anomalies WHERE rule IN ('overrun', 'flying') ORDER BY meter_id, "
            "rule"
        ).fetchall()
    nxt = D + timedelta(days=1)
    assert recs == [
        ("CT", "flying", D, nxt, {"factor": 1.5}),
        ("EDGE", "overrun", D, nxt, {"factor": 1.0}),
        ("FLY", "flying", D, nxt, {"factor": 1.5}),
        ("FLY3", "flying", D, nxt, {"factor": 1.5}),
        ("OVER", "overrun", D, nxt, {"factor": 1.0}),
        # the class override: flying on D (the old threshold), overrun on D + 1
        ("SHOP", "flying", D, D, {"factor": 1.5}),
        ("SHOP", "overrun", nxt, nxt, {"factor": 1.0}),
    ]
    listed = client.get("/api/anomalies?rule=flying", headers=viewer).json()
    assert listed["total"] == 4 and {"rule": "flying", "n": 4} in listed["open_by_rule"]


def test_rule_table_through_the_api(client: TestClient) -> None:
    url = str(client.app.state.database_url)  # type: ignore[attr-defined]
    viewer = auth_headers(client, "viewer", url)
    admin = auth_headers(client, "admin", url)
    listed = client.get("/api/rules", headers=viewer).json()["rules"]
    assert [r["name"] for r in listed] == list(rules.DEFAULTS)
    clock = next(r for r in listed if r["name"] == "clock")
    assert clock["params"] == [
        {"name": "max_offset_s", "default": 300, "min": 1, "max": 86400, "unit": "s",
         "integer": False}
    ]  # fmt: skip
    # an update outside the table's range is refused with the range, and nothing is stored
    bad = client.put("/api/rule-params/voltage_loss", json={"params": {"ratio": 7}}, headers=admin)
    assert bad.status_code == 422
    assert bad.json()["detail"] == (
        "rule voltage_loss: ratio must be between 0 and 1 x rated voltage, not 7"
    )
    bad = client.put(
        "/api/rule-params/spike", json={"params": {"history_days": 6.5}}, headers=admin
    )
    assert bad.status_code == 422 and "whole number" in bad.json()["detail"]
    unknown = client.put("/api/rule-params/nope", json={"params": {}}, headers=admin)
    assert unknown.status_code == 404 and "no rule 'nope'" in unknown.json()["detail"]
    shown = client.get("/api/rule-params", headers=viewer).json()["rules"]
    assert shown["voltage_loss"]["general"] == {"ratio": 0.78, "min_current_a": 0.05}
    assert shown["spike"]["general"] == rules.DEFAULTS["spike"]


def test_unbalanced_registers_take_a_rollover_of_either_side_as_a_whole_range(
    migrated: str,
) -> None:
    """A total past 999999.99 beside tariff registers that have not rolled over (or one
    tariff register rolled over beside a total that has not) is not an imbalance; a real
    gap next to a rollover still is."""
    add_meters(
        migrated,
        [
            {"id": "TOTROLL", "address": "000000000001"},
            {"id": "TARROLL", "address": "000000000002"},
            {"id": "GAP", "address": "000000000003"},
        ],
        area="A1",
    )
    ts = freeze_ts(D)

    def regs(meter: str, total: float, tariffs: tuple[float, ...]) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = [
            (meter, "energy_import_total", ts, total, "freeze", "scheduled", ())
        ]
        for i, v in enumerate(tariffs, start=1):
            rows.append((meter, f"energy_import_t{i}", ts, v, "freeze", "scheduled", ()))
        return rows

    rows = regs("TOTROLL", 12.5, (100_002.5, 300_000.0, 400_000.0, 200_010.0))
    rows += regs("TARROLL", 999_990.0, (12.0, 299_988.0, 400_000.0, 299_990.0))
    rows += regs("GAP", 12.5, (100_002.5, 300_000.0, 400_000.0, 200_020.0))
    put(migrated, rows)
    with psycopg.connect(migrated) as conn:
        rules.run_rules(conn, D, TZ, rules=["unbalanced_registers"])
        found = {m for (m,) in conn.execute("SELECT meter_id FROM anomalies")}
    assert found == {"GAP"}


def test_current_imbalance_follows_a_class_override_of_phase_break(migrated: str) -> None:
    """A class whose phase_break ratio is lower does not count a phase at 45 % of the
    rated voltage as broken, so current_imbalance judges its currents (and finds them
    unbalanced) while the same readings on a residential meter are a phase break."""
    add_meters(
        migrated,
        [
            {"id": "HOME", "address": "000000000001"},
            {"id": "SHOP", "address": "000000000002", "customer_class": "commercial"},
        ],
        area="A1",
    )
    rows: list[tuple[Any, ...]] = []
    for m in ("HOME", "SHOP"):
        for ph, v, i in (("a", 225, 10), ("b", 100, 0.0), ("c", 226, 10)):
            rows += interval(m, D, f"voltage_{ph}", v) + interval(m, D, f"current_{ph}", i)
    put(migrated, rows)
    with psycopg.connect(migrated) as conn:
        conn.execute(
            "INSERT INTO rule_params (rule, customer_class, params) VALUES "
            "('phase_break', 'commercial', %s)",
            (Jsonb({"ratio": 0.3}),),
        )
        conn.commit()
        rules.run_rules(conn, D, TZ, rules=["phase_break", "current_imbalance"])
        found = {(r, m) for r, m in conn.execute("SELECT rule, meter_id FROM anomalies")}
    assert found == {("phase_break", "HOME"), ("current_imbalance", "SHOP")}


def test_spike_min_history_days_above_history_days_is_clamped(migrated: str) -> None:
    """history_days = 3 with min_history_days = 5 (each in its own range) still judges a
    spike: a three-day window holds three deltas, so the minimum is clamped to three."""
    add_meters(migrated, [{"id": "SPIKE", "address": "000000000001"}], area="A1")
    totals = days(8, 100, 10)
    totals[D] = totals[D - timedelta(days=1)] + 80
    put(migrated, freezes("SPIKE", totals))
    with psycopg.connect(migrated) as conn:
        conn.execute(
            "INSERT INTO rule_params (rule, customer_class, params) VALUES ('spike', '*', %s)",
            (Jsonb({"history_days": 3, "min_history_days": 5}),),
        )
        conn.commit()
        rules.run_rules(conn, D, TZ, rules=["spike"])
        found = {m for (m,) in conn.execute("SELECT meter_id FROM anomalies")}
    assert found == {"SPIKE"}


def test_terminal_freezes_count_as_read_and_a_missed_one_says_it_cannot_be_reread(
    migrated: str,
) -> None:
    """终端日冻结: DL/T 645-1997 and Modbus meters keep no freeze history; the gateway's
    terminal freeze (source ``terminal``) counts them as read per area, gateway and protocol,
    and a missed day is reported as not re-readable and never asked for again."""
    add_meters(
        migrated,
        [
            {"id": "V7", "address": "000000000007"},
            {"id": "O97", "address": "000000001997", "protocol": "dlt645-1997"},
            {"id": "MB1", "address": "000000000101", "protocol": "modbus"},
            {"id": "MB2", "address": "000000000102", "protocol": "modbus"},
        ],
        gateway="gw-t",
        area="AT",
    )
    terminal = [
        (m, q, ts, v, kind, "terminal", flags)
        for m, q, ts, v, kind, _, flags in freezes("O97", {D: 40.0}) + freezes("MB1", {D: 7.5})
    ]
    put(migrated, freezes("V7", {D: 12.0}) + terminal)
    with psycopg.connect(migrated) as conn:
        whole = completeness.report(conn, D)
        by_protocol = {r["key"]: (r["read"], r["due"]) for r in whole["protocol"]}
        assert by_protocol == {"dlt645-1997": (1, 1), "dlt645-2007": (1, 1), "modbus": (1, 2)}
        assert [(r["read"], r["due"]) for r in whole["area"]] == [(3, 4)]
        assert [(r["read"], r["due"]) for r in whole["gateway"]] == [(3, 4)]
        sources = dict(
            conn.execute(
                "SELECT meter_id, source FROM daily_freeze WHERE quantity = 'energy_import_total'"
            ).fetchall()
        )
        assert sources == {"V7": "scheduled", "O97": "terminal", "MB1": "terminal"}
        failed = {r["meter_id"]: r["reason_text"] for r in completeness.failed_meters(conn, D)}
        assert failed == {
            "MB2": "never read since installed; terminal freeze missed: the meter keeps no "
            "freeze history, the day cannot be re-read"
        }
        assert reread.missing_meter_days(conn, D, D) == []  # MB2 is never asked
