"""The HTTP API under schemathesis: every operation of the OpenAPI document is called with
generated and edge-case requests, signed in as an admin (so the handlers run, not only the
role check). No request may produce a server error (5xx)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings

from server.api.app import create_app
from server.db.migrate import migrate
from tests.conftest import Broker, _fresh_database
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers

EXAMPLES = int(os.environ.get("METERLINK_SCHEMATHESIS_EXAMPLES", "40"))


@pytest.fixture(scope="module")
def api(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[tuple[Any, dict[str, str]]]:
    broker: Broker = request.getfixturevalue("mqtt_broker")
    for url in _fresh_database(pg_admin_url, "mltest_api"):
        migrate(url)
        add_meters(url, [{"id": "M1", "address": "000000000001"}])
        tmp: Path = tmp_path_factory.mktemp("api")
        app = create_app(settings_for(url, broker.url, tmp), services=[])
        with TestClient(app) as client:  # runs the lifespan: pool, admin user
            headers = auth_headers(client, "admin", url)
            yield app, headers


@pytest.fixture(scope="module")
def api_schema(api: tuple[Any, dict[str, str]]) -> Any:
    app, _ = api
    return schemathesis.openapi.from_asgi("/openapi.json", app)


def test_no_request_breaks_the_server(api_schema: Any, api: tuple[Any, dict[str, str]]) -> None:
    """Each operation in turn (schemathesis' strategies driven by Hypothesis directly)."""
    app, headers = api
    failures: list[str] = []
    operations = 0
    calls = {"n": 0}
    for result in api_schema.get_all_operations():
        op = result.ok()
        operations += 1

        @given(case=op.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def run(case: Any) -> None:
            if "test-admin" in str(case.path_parameters or {}) and case.method != "GET":
                return  # changing the signed-in admin would turn the rest into 401s
            # signing out revokes the token: the rest would be 401s; call it without one
            sign_out = case.path == "/api/auth/logout"
            response = case.call() if sign_out else case.call(headers=headers)
            calls["n"] += 1
            if response.status_code >= 500:
                failures.append(
                    f"{case.method} {case.formatted_path} "
                    f"{case.query or ''} {str(case.body)[:200]} -> "
                    f"{response.status_code}: {response.text[:200]}"
                )

        run()
    assert operations > 20 and calls["n"] > operations * 3
    assert not failures, "\n".join(failures[:20])
    # still signed in at the end: the handlers ran, not only the 401 of a revoked token
    assert TestClient(app).get("/api/auth/me", headers=headers).status_code == 200
