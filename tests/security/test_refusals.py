"""Each refusal the security review asks to see, through the HTTP API: a viewer changing an
anomaly, a wrong password, an expired token, and no secret in any log line."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.db.migrate import migrate
from tests.conftest import Broker, free_port
from tests.server.conftest import settings_for
from tests.server.helpers import PASSWORD, auth_headers

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand (``at``)."""

    def __init__(self) -> None:
        self.at = T0

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.at += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path, clock: Clock) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(
        settings_for(pg_url, mqtt_broker.url, tmp_path, auth_token_ttl_s=600),
        services=[],
        clock=clock,
    )
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


def _anomaly(url: str) -> int:
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO areas (id, name) VALUES ('A1', 'A1')")
        row = conn.execute(
            "INSERT INTO anomalies (rule, area_id, first_date, last_date) "
            "VALUES ('line_loss', 'A1', '2026-11-20', '2026-11-20') "
            "RETURNING id"
        ).fetchone()
        conn.commit()
    assert row
    return int(row[0])


def test_a_viewer_cannot_change_an_anomaly(client: TestClient, pg_url: str) -> None:
    anomaly = _anomaly(pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    r = client.post(
        f"/api/anomalies/{anomaly}/status",
        headers=viewer,
        json={"status": "dismissed", "comment": "not mine to say"},
    )
    assert r.status_code == 403 and "operator" in r.json()["detail"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT status, comment FROM anomalies").fetchone() == ("open", None)
        assert conn.execute(
            "SELECT count(*) FROM audit_log WHERE entity = 'anomalies'"
        ).fetchone() == (0,)
    operator = auth_headers(client, "operator", pg_url)
    ok = client.post(
        f"/api/anomalies/{anomaly}/status",
        headers=operator,
        json={"status": "confirmed", "comment": "seen on site"},
    )
    assert ok.status_code == 200, ok.text


def test_a_wrong_password_is_refused_and_says_nothing_more(client: TestClient, pg_url: str) -> None:
    auth_headers(client, "operator", pg_url)  # the user exists
    wrong = client.post(
        "/api/auth/login", json={"username": "test-operator", "password": PASSWORD + "x"}
    )
    nobody = client.post("/api/auth/login", json={"username": "nobody", "password": PASSWORD})
    assert wrong.status_code == nobody.status_code == 401
    assert wrong.json() == nobody.json()  # no hint which of the two was wrong
    assert "token" not in wrong.json()


def test_an_expired_token_is_refused(client: TestClient, pg_url: str, clock: Clock) -> None:
    viewer = auth_headers(client, "viewer", pg_url)
    assert client.get("/api/anomalies", headers=viewer).status_code == 200
    clock.at = T0 + timedelta(seconds=599)
    assert client.get("/api/anomalies", headers=viewer).status_code == 200
    clock.at = T0 + timedelta(seconds=601)
    r = client.get("/api/anomalies", headers=viewer)
    assert r.status_code == 401 and "expired" in r.json()["detail"]
    assert r.headers.get("www-authenticate", "").lower().startswith("bearer")


def test_no_secret_in_the_logs(
    client: TestClient, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    headers = auth_headers(client, "admin", pg_url)
    token = headers["Authorization"].split()[1]
    client.post("/api/auth/login", json={"username": "test-admin", "password": "s3cret-wrong"})
    r = client.post(
        "/api/users",
        headers=headers,
        json={"username": "zhang.min", "password": "another long secret", "role": "viewer"},
    )
    assert r.status_code in (200, 201), r.text
    text = "\n".join(rec.getMessage() for rec in caplog.records)
    for secret in (PASSWORD, "s3cret-wrong", "another long secret", token):
        assert secret not in text
    with psycopg.connect(pg_url) as conn:
        audit = conn.execute(
            "SELECT coalesce(before::text, '') || coalesce(after::text, '') "
            "FROM audit_log WHERE entity = 'user'"
        ).fetchall()
    assert audit and not any("another long secret" in a or "$argon2" in a for (a,) in audit)


def test_no_gateway_secret_in_the_edge_logs(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The edge agent's broker password appears in neither its configuration's repr nor its
    log, also while it fails to connect and retries."""
    import time

    from edge.agent import Agent
    from edge.config import config_from_dict

    port = free_port()  # nothing listens there: the broker and the bus both refuse
    secret = "gw-secret-Zq8v"
    cfg = config_from_dict(
        {
            "gateway": {"id": "gw-sec", "data_dir": str(tmp_path)},
            "broker": {
                "url": f"mqtt://127.0.0.1:{port}",
                "username": "gw-sec",
                "password_env": "GW_PW",
            },
            "metrics": {"listen": ""},
            "bus": [
                {
                    "name": "b",
                    "port": f"socket://127.0.0.1:{port}",
                    "meter": [{"id": "M1", "address": "000000000001"}],
                }
            ],
        },
        env={"GW_PW": secret},
    )
    assert cfg.broker.password == secret and secret not in repr(cfg)
    caplog.set_level(logging.DEBUG)
    agent = Agent(cfg)
    agent.start(plans=False)
    try:
        time.sleep(2.0)  # connection refused, retried, logged
    finally:
        agent.stop()
    text = "\n".join(f"{rec.getMessage()} {rec.args!r}" for rec in caplog.records)
    assert "gw-sec" in text  # it did log
    assert secret not in text
