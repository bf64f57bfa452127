"""The audit log through the real server (PostgreSQL and TimescaleDB): ``GET /api/audit`` for
admins only, its filters, paging and refusals, no password hash in it; and the things that
were not recorded before: check runs (staff's and the scheduled scan's), commands (staff's
on-demand reads and re-reads, the re-read job's backfills as ``system``) and exports."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from server.checks.reread import auto_reread
from server.context import AppContext
from server.db.pool import open_pool
from server.db.queries.audit_log import verify_chain
from server.jobs import JobsService
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers

T = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _rows(url: str, where: str = "TRUE", params: tuple[Any, ...] = ()) -> list[dict[str, Any]]:
    with psycopg.connect(url) as conn, conn.cursor(row_factory=psycopg.rows.dict_row) as cur:
        return cur.execute(
            f"SELECT actor, action, entity, entity_id, before, after FROM audit_log "
            f"WHERE {where} ORDER BY chain_seq",
            params,
        ).fetchall()


def _seed(url: str) -> None:
    """Ten rows an hour apart: alice on meters M0..M4, bob on areas A0..A4."""
    with psycopg.connect(url) as conn:
        for i in range(10):
            who, entity = ("alice", "meters") if i % 2 == 0 else ("bob", "areas")
            conn.execute(
                "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after) "
                "VALUES (%s, %s, %s, %s, %s, NULL, %s)",
                (
                    T + timedelta(hours=i),
                    who,
                    "delete" if i == 8 else "update",
                    entity,
                    f"{entity[0].upper()}{i // 2}",
                    Jsonb({"i": i}),
                ),
            )
        conn.commit()


def test_only_an_admin_reads_the_audit_log(client: TestClient, migrated: str) -> None:
    assert client.get("/api/audit").status_code == 401
    for role in ("viewer", "operator"):
        resp = client.get("/api/audit", headers=auth_headers(client, role, migrated))
        assert resp.status_code == 403, role
    admin = auth_headers(client, "admin", migrated)
    resp = client.get("/api/audit", params={"entity": "user"}, headers=admin)
    assert resp.status_code == 200
    body = resp.json()
    # the test users' creation is itself audited
    created = [r for r in body["items"] if r["action"] == "user.create"]
    assert sorted((r["actor"], r["entity_id"]) for r in created) == [
        ("test", "test-admin"),
        ("test", "test-operator"),
        ("test", "test-viewer"),
    ]
    assert (body["limit"], body["offset"]) == (50, 0)


def test_filters_paging_and_order(client: TestClient, migrated: str) -> None:
    admin = auth_headers(client, "admin", migrated)
    _seed(migrated)

    def get(**params: Any) -> dict[str, Any]:
        resp = client.get("/api/audit", params=params, headers=admin)
        assert resp.status_code == 200, resp.text
        body: dict[str, Any] = resp.json()
        return body

    page = get(entity="meters")
    assert page["total"] == 5
    assert [r["after"]["i"] for r in page["items"]] == [8, 6, 4, 2, 0]  # newest first
    assert [r["entity_id"] for r in get(actor="bob")["items"]] == ["A4", "A3", "A2", "A1", "A0"]
    assert [r["after"]["i"] for r in get(action="delete")["items"]] == [8]
    assert [r["after"]["i"] for r in get(entity="areas", entity_id="A2")["items"]] == [5]
    window = get(
        **{"from": (T + timedelta(hours=3)).isoformat(), "to": "2026-11-21T00:00:00+08:00"}
    )
    # from is inclusive, to exclusive: 15:00 UTC up to 16:00 UTC (midnight in UTC+8)
    assert [r["after"]["i"] for r in window["items"]] == [3]
    assert get(actor="alice", **{"from": "2026-11-20T16:00:00Z"})["total"] == 3
    first = get(entity="meters", limit=2)
    second = get(entity="meters", limit=2, offset=2)
    last = get(entity="meters", limit=2, offset=4)
    assert [r["after"]["i"] for r in first["items"] + second["items"] + last["items"]] == [
        8,
        6,
        4,
        2,
        0,
    ]
    assert first["total"] == second["total"] == last["total"] == 5
    assert get(entity="meters", offset=5)["items"] == []
    assert get(actor="nobody")["total"] == 0
    assert len(get(limit=500)["items"]) == get()["total"]


@pytest.mark.parametrize(
    "params",
    [
        {"limit": "1001"},
        {"limit": "0"},
        {"offset": "-1"},
        {"from": "yesterday"},
        {"from": "2026-11-20T12:00:00"},  # no offset: which day is it?
        {"to": "2026-13-01T00:00:00Z"},
        {"from": "2026-11-21T00:00:00Z", "to": "2026-11-20T00:00:00Z"},
        {"from": "2026-11-21T00:00:00Z", "to": "2026-11-21T00:00:00Z"},
        {"actor": ""},
        {"entity": "x" * 201},
    ],
)
def test_invalid_filters_answer_422(
    client: TestClient, migrated: str, params: dict[str, str]
) -> None:
    resp = client.get("/api/audit", params=params, headers=auth_headers(client, "admin", migrated))
    assert resp.status_code == 422, resp.text
    assert resp.json()["detail"]


def test_no_password_hash_ever_shows(client: TestClient, migrated: str) -> None:
    admin = auth_headers(client, "admin", migrated)
    resp = client.post(
        "/api/users",
        json={"username": "carol", "password": "a long enough passphrase 9", "role": "viewer"},
        headers=admin,
    )
    assert resp.status_code == 201, resp.text
    with psycopg.connect(migrated) as conn:  # a careless writer of the future
        conn.execute(
            "INSERT INTO audit_log (actor, action, entity, entity_id, after) "
            "VALUES ('x', 'update', 'user', 'carol', %s)",
            (Jsonb({"password_hash": "$argon2id$v=19$leak", "nested": [{"token": "t"}]}),),
        )
        conn.commit()
    body = client.get("/api/audit", params={"entity": "user"}, headers=admin).json()
    assert "carol" in {r["entity_id"] for r in body["items"]}
    assert "argon2" not in resp.text + str(body) and "password_hash" not in str(body)
    assert "'token'" not in str(body)


def test_check_runs_are_recorded(client: TestClient, migrated: str, tmp_path: Path) -> None:
    op = auth_headers(client, "operator", migrated)
    resp = client.post("/api/checks/run", params={"date": "2026-11-19"}, headers=op)
    assert resp.status_code == 200, resp.text
    (row,) = _rows(migrated, "action = 'checks.run'")
    assert (row["actor"], row["entity"], row["entity_id"]) == (
        "test-operator",
        "checks",
        "2026-11-19",
    )
    assert row["after"]["rules"] == "all" and row["after"]["failed"] == {}
    assert row["after"]["found"] == resp.json()["found"]

    # the scheduled scan, as the system
    pool = open_pool(migrated)
    ctx = AppContext(
        settings_for(migrated, "mqtt://127.0.0.1:9", tmp_path), pool, client.app.state.clock, ""
    )
    try:
        result = JobsService(ctx).anomaly_scan()
    finally:
        pool.close()
    rows = _rows(migrated, "action = 'checks.run' AND actor = 'system'")
    assert len(rows) == 1
    assert rows[0]["entity_id"] == result["date"]
    assert rows[0]["after"]["job"] == "anomaly_scan"


def test_commands_are_recorded(client: TestClient, migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}], gateway="gw-1")
    op = auth_headers(client, "operator", migrated)
    resp = client.post(
        "/api/gateways/gw-1/commands",
        json={"name": "read_now", "args": {"meter": "M1"}},
        headers=op,
    )
    assert resp.status_code == 202, resp.text
    on_demand = resp.json()["id"]
    day = datetime.now(UTC).date() - timedelta(days=2)
    resp = client.post(
        "/api/reread", json={"items": [{"meter": "M1", "date": day.isoformat()}]}, headers=op
    )
    assert resp.status_code == 202, resp.text
    staff = _rows(migrated, "action = 'command.queued'")
    assert [(r["actor"], r["entity"], r["after"]["name"]) for r in staff] == [
        ("test-operator", "gateway_commands", "read_now"),
        ("test-operator", "gateway_commands", "backfill"),
    ]
    assert staff[0]["entity_id"] == on_demand and staff[0]["after"]["gateway"] == "gw-1"
    assert staff[1]["after"]["args"] == {
        "items": 1,
        "meters": 1,
        "dates": [day.isoformat(), day.isoformat()],
    }
    # the re-read job's own backfills, as the system (gw-2's meter was never read)
    add_meters(migrated, [{"id": "N1", "address": "000000000101"}], gateway="gw-2", area="A2")
    with psycopg.connect(migrated) as conn:
        sent = auto_reread(conn, date.today(), per_gateway=5, days=2)
    assert "gw-2" in sent
    job = _rows(migrated, "action = 'command.queued' AND actor = 'system'")
    assert [(r["after"]["gateway"], r["after"]["job"]) for r in job] == [("gw-2", "reread-job")]


def test_exports_are_recorded_with_what_they_carried(client: TestClient, migrated: str) -> None:
    viewer = auth_headers(client, "viewer", migrated)
    for path, params in (
        ("/api/failed-meters", {"format": "csv", "date": "2026-11-19", "area": "A1"}),
        ("/api/completeness", {"format": "xlsx", "date": "2026-11-19", "by": "area"}),
        ("/api/anomalies", {"format": "csv", "status": "open"}),
    ):
        resp = client.get(path, params=params, headers=viewer)
        assert resp.status_code == 200, resp.text
    resp = client.get("/api/failed-meters", params={"date": "2026-11-19"}, headers=viewer)
    assert resp.status_code == 200  # JSON for the screen is not an export
    rows = _rows(migrated, "action = 'export'")
    assert [(r["actor"], r["entity_id"], r["after"]["format"]) for r in rows] == [
        ("test-viewer", "failed-meters", "csv"),
        ("test-viewer", "success-rate", "xlsx"),
        ("test-viewer", "anomalies", "csv"),
    ]
    # the filters under their current names (area is area_id's deprecated alias); a file
    # carries the whole filtered table, so no paging
    assert rows[0]["after"]["filters"] == {"date": "2026-11-19", "area_id": "A1"}
    assert rows[2]["after"]["filters"]["status"] == "open"
    assert all(r["after"]["personal_data"] == [] for r in rows)  # no export carries any today
    with psycopg.connect(migrated) as conn:
        assert verify_chain(conn).ok
