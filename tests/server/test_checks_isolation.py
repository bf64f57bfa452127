"""The anomaly scan that one bad row cannot stop (issue 16), on PostgreSQL and TimescaleDB:
absurd freezes leave the scan, the line-loss report and the dashboard's area data standing;
a failing rule costs only its own findings and is reported; the scheduled scan saves what
it finds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.checks import rules
from server.context import AppContext
from server.db.pool import open_pool
from server.ingest.store import Batch, store
from server.jobs import JobsService

from .conftest import settings_for
from .helpers import add_meters, auth_headers
from .test_checks import TZ, D, days, freeze_ts, freezes, put

#: a rule's query that fails on the data it meets (division by zero at execution)
BROKEN = "SELECT id, area_id, jsonb_build_object('x', 1 / (length(id) - length(id))) FROM meters"


def _url(client: TestClient) -> str:
    return str(client.app.state.database_url)  # type: ignore[attr-defined]


def _area_with_a_decrease(url: str) -> None:
    """Area A1 (a master and two customers, all read) and a meter whose register went back
    on D in area A2: the decrease is a finding any healthy scan saves."""
    add_meters(
        url,
        [
            {"id": "MA", "address": "000000000900", "is_area_master": True},
            {"id": "C1", "address": "000000000001"},
            {"id": "C2", "address": "000000000002"},
        ],
        area="A1",
    )
    add_meters(url, [{"id": "DEC", "address": "000000000003"}], gateway="gw-2", area="A2")
    dec = days(3, 100, 10)
    dec[D] = 50.0
    put(
        url,
        freezes("MA", days(2, 1000, 30))
        + freezes("C1", days(2, 100, 10), tariffs=False)
        + freezes("C2", days(2, 100, 10), tariffs=False)
        + freezes("DEC", dec),
    )


def _decrease_found(url: str) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM anomalies WHERE rule = 'decrease' AND meter_id = 'DEC'"
        ).fetchone()
    return bool(row and row[0] == 1)


def test_two_absurd_freezes_in_an_area_leave_the_scan_and_line_loss_standing(
    client: TestClient,
) -> None:
    url = _url(client)
    _area_with_a_decrease(url)
    # ingestion refuses such values now (quarantined) ...
    with psycopg.connect(url) as conn:
        b = Batch()
        b.add_rows(
            "gw-1", "x", [("C1", "energy_import_total", freeze_ts(D), 1e308, "freeze", "s", ())]
        )
        assert store(conn, b, tz=TZ).quarantined == 1
        # ... but rows stored before it did, or written by hand, must not break the checks
        conn.execute(
            "UPDATE daily_freeze SET value = 1e308 WHERE meter_id IN ('C1', 'C2') "
            "AND data_date = %s AND quantity = 'energy_import_total'",
            (D,),
        )
        conn.commit()
    op = auth_headers(client, "operator", url)
    r = client.post(f"/api/checks/run?date={D}", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["failed"] == {} and r.json()["found"]["decrease"] == 1
    assert _decrease_found(url)
    viewer = auth_headers(client, "viewer", url)
    loss = client.get(f"/api/line-loss?date={D}", headers=viewer)
    assert loss.status_code == 200, loss.text
    a1 = next(a for a in loss.json()["areas"] if a["area_id"] == "A1")
    # the absurd days are not counted as read: no loss figure rather than a wrong one
    assert (a1["due"], a1["read"], a1["implausible"], a1["complete"], a1["loss"]) == (
        3,
        1,
        2,
        False,
        None,
    )
    # what the dashboard's area pages ask for answers too
    for path in (f"/api/completeness?by=area&date={D}", "/api/line-loss"):
        assert client.get(path, headers=viewer).status_code == 200, path


def test_a_failing_rule_costs_only_its_own_findings(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _url(client)
    _area_with_a_decrease(url)
    put(url, freezes("C1", {D - timedelta(days=1): 110.0, D: 120.0}, tariffs=False))
    with psycopg.connect(url) as conn:  # a reverse-energy finding for another rule to save
        conn.execute(
            "UPDATE daily_freeze SET value = 40 WHERE meter_id = 'C2' AND data_date = %s "
            "AND quantity = 'energy_export_total'",
            (D,),
        )
        conn.commit()
    for key in list(rules.SCOPED):
        if key[0] == "decrease":
            monkeypatch.setitem(rules.SCOPED, key, BROKEN)
    op = auth_headers(client, "operator", url)
    r = client.post(f"/api/checks/run?date={D}", headers=op)
    assert r.status_code == 200, r.text
    body = r.json()
    assert list(body["failed"]) == ["decrease"]
    assert body["failed"]["decrease"].startswith("DivisionByZero")
    assert "decrease" not in body["found"] and body["found"]["reverse_energy"] == 1
    with psycopg.connect(url) as conn:
        saved = {rule for (rule,) in conn.execute("SELECT rule FROM anomalies")}
    assert saved == {"reverse_energy", "line_loss"}  # A1's master registers 30, sales 20


class FixedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        pass


def _job_runs(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT job, outcome, detail FROM job_runs ORDER BY id").fetchall()


def test_the_scheduled_scan_saves_its_findings_and_names_a_failed_rule(
    migrated: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daily scan runs through run_locked on a pool connection; its findings must be
    committed (an earlier version read the parameters outside its transaction, so the
    scan's transaction was a savepoint that run_locked rolled back: nothing was saved)."""
    _area_with_a_decrease(migrated)
    pool = open_pool(migrated)
    the_day_after = datetime(D.year, D.month, D.day, 23, 0, tzinfo=UTC)  # D+1 07:00 local
    ctx = AppContext(
        settings_for(migrated, "mqtt://127.0.0.1:9", tmp_path), pool, FixedClock(the_day_after), ""
    )
    jobs = JobsService(ctx)
    try:
        first = jobs.anomaly_scan()
        assert first["date"] == str(D) and first["found"]["decrease"] == 1
        assert _decrease_found(migrated)
        monkeypatch.setitem(rules.SCOPED, ("zero_consumption", "all", False), BROKEN)
        second = jobs.anomaly_scan()
        assert list(second["failed"]) == ["zero_consumption"]
    finally:
        pool.close()
    runs = _job_runs(migrated)
    assert [(job, outcome) for job, outcome, _ in runs] == [
        ("anomaly_scan", "ok"),
        ("anomaly_scan", "partial"),
    ]
    assert runs[1][2]["failed"]["zero_consumption"].startswith("DivisionByZero")
    assert runs[1][2]["found"]["decrease"] == 1
    assert _decrease_found(migrated)


def test_a_rule_failure_in_the_incremental_run_keeps_its_meter_days_queued(
    migrated: str,
) -> None:
    _area_with_a_decrease(migrated)
    with psycopg.connect(migrated) as conn:
        conn.execute("DELETE FROM check_queue")
        conn.execute("INSERT INTO check_queue VALUES ('DEC', %s), ('C1', %s)", (D, D))
        conn.commit()
        original = dict(rules.SCOPED)
        try:
            rules.SCOPED[("spike", "all", True)] = BROKEN
            done = rules.run_incremental(conn, TZ)
        finally:
            rules.SCOPED.clear()
            rules.SCOPED.update(original)
        assert list(done["failed"]) == [f"spike {D}"]
        assert done["found"]["decrease"] == 1
        queued = conn.execute("SELECT meter_id FROM check_queue ORDER BY 1").fetchall()
        assert queued == [("C1",), ("DEC",)]
        assert rules.run_incremental(conn, TZ)["failed"] == {}
        assert conn.execute("SELECT count(*) FROM check_queue").fetchone() == (0,)
    assert _decrease_found(migrated)
