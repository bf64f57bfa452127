"""Rule parameters against the real app on PostgreSQL: the API refuses a value outside the
rule table's range with 422 naming the range, and a value written into ``rule_params``
around the API (out of range, or not a number) cannot break the scan or turn a rule
against every customer: that parameter takes its default, the other rules and parameters
are unaffected. The values are bound as query parameters (a tolerance of -1 once became
``--``, an SQL comment)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.types.json import Jsonb

from server.api.app import create_app
from server.db.migrate import migrate
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers
from tests.server.test_checks import D, days, demand, freezes, put


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


@pytest.mark.parametrize(
    ("rule", "params", "allowed"),
    [
        ("decrease", {"tolerance_kwh": -1}, "between 0 and 1000 kWh"),
        ("demand_over_contract", {"factor": -1}, "between 0.1 and 100 x contracted kW"),
        ("spike", {"factor": 0.5}, "between 1 and 1000 x average"),
        ("spike", {"history_days": 1e9}, "between 1 and 61 days"),
    ],
)
def test_out_of_range_is_422_naming_the_range(
    client: TestClient, pg_url: str, rule: str, params: dict[str, float], allowed: str
) -> None:
    admin = auth_headers(client, "admin", pg_url)
    r = client.put(f"/api/rule-params/{rule}", json={"params": params}, headers=admin)
    assert r.status_code == 422, r.text
    assert allowed in r.json()["detail"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM rule_params").fetchone() == (0,)


def test_stored_out_of_range_values_take_the_default_and_the_scan_runs(
    client: TestClient, pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    add_meters(
        pg_url,
        [
            {"id": "DEC", "address": "000000000001"},
            {"id": "HOME", "address": "000000000002", "contracted_kw": 8},
        ],
    )
    dec = days(3, 100, 10)
    dec[D] = 50.0  # the register went down: a decrease by any sane tolerance
    put(pg_url, [*freezes("DEC", dec), demand("HOME", D, 5.0), demand("HOME", D - timedelta(1), 5)])
    with psycopg.connect(pg_url) as conn:
        for rule, cls, params in (
            ("decrease", "*", {"tolerance_kwh": -1}),  # once '--': the whole scan failed
            ("demand_over_contract", "*", {"factor": -1}),  # once: every customer flagged
            ("spike", "*", {"factor": "3; DROP TABLE meters", "min_kwh": 1e300}),
            ("zero_consumption", "residential", ["not", "an", "object"]),
        ):
            conn.execute(
                "INSERT INTO rule_params (rule, customer_class, params) VALUES (%s, %s, %s)",
                (rule, cls, Jsonb(params)),
            )
    op = auth_headers(client, "operator", pg_url)
    with caplog.at_level(logging.WARNING, logger="server.checks.rules"):
        r = client.post(f"/api/checks/run?date={D}", headers=op)
    assert r.status_code == 200, r.text
    run = r.json()
    assert run["failed"] == {}, run["failed"]  # every rule ran
    assert run["found"]["decrease"] == 1  # with the default tolerance
    assert run["found"]["demand_over_contract"] == 0  # 5 kW of 8 kW contracted: no finding
    ignored = " ".join(rec.getMessage() for rec in caplog.records)
    assert "tolerance_kwh must be between 0 and 1000" in ignored
    assert "factor is not a number" in ignored and "not an object" in ignored

    viewer = auth_headers(client, "viewer", pg_url)
    shown = client.get("/api/rule-params", headers=viewer).json()["rules"]
    assert shown["decrease"]["general"]["tolerance_kwh"] == 0.01
    assert shown["demand_over_contract"]["general"]["factor"] == 1.0
    assert shown["spike"]["general"] == shown["spike"]["defaults"]
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (2,)
