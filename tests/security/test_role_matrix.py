"""The role matrix (server/auth/matrix.py) walked as a table: every operation of the
application's OpenAPI document, for no token and for each role, answers as the matrix says
(401 without a token, 403 below the least role, neither at or above it); an operation the
matrix does not name fails the walk. Also: each route's declared role agrees with the matrix,
and the archive (writes and the import) is an admin's."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.auth.matrix import MATRIX, PUBLIC
from server.auth.roles import ROLES, role_at_least
from server.db.migrate import migrate
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import auth_headers

#: done last: after the sign-in branch, logging out revokes the token the walk uses
LAST = {("POST", "/api/auth/logout")}


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


def api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    """The application's routes, those of included routers too (FastAPI keeps an included
    router as one entry)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from api_routes(inner.routes)


def operations(client: TestClient) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document, and the routes left out of it (the
    dashboard's page)."""
    spec = client.get("/openapi.json").json()
    ops = {(m.upper(), p) for p, items in spec["paths"].items() for m in items}
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        if not route.include_in_schema:
            ops |= {(m, route.path_format) for m in route.methods}
    return sorted(ops, key=lambda op: (op in LAST, op))


def concrete(path: str) -> str:
    """A path template with every parameter filled (a value that names nothing)."""
    return re.sub(r"\{[^}]+\}", "1", path).replace("/users/1", "/users/nobody-here")


def call(client: TestClient, method: str, path: str, headers: dict[str, str]) -> int:
    client.cookies.clear()  # only the bearer header (or nothing) says who calls
    body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
    return client.request(
        method, concrete(path), headers=headers, json=body, follow_redirects=False
    ).status_code


def expected(needed: str, role: str | None) -> str:
    if needed == PUBLIC:
        return "allowed"
    if role is None:
        return "401"
    return "allowed" if role_at_least(role, needed) else "403"


@pytest.mark.parametrize("role", [None, *ROLES])
def test_every_operation_answers_as_the_role_matrix_says(
    client: TestClient, pg_url: str, role: str | None
) -> None:
    headers = auth_headers(client, role, pg_url) if role else {}
    missing, wrong = [], []
    ops = operations(client)
    assert len(ops) >= 50
    for method, path in ops:
        needed = MATRIX.get((method, path))
        if needed is None:
            missing.append(f"{method} {path}")
            continue
        status = call(client, method, path, headers)
        want = expected(needed, role)
        got = "401" if status == 401 else "403" if status == 403 else "allowed"
        if got != want or status >= 500:
            wrong.append(f"{method} {path}: {status}, the matrix says {want} ({needed})")
    assert not missing, f"operations absent from the role matrix: {missing}"
    assert not wrong, "\n".join(wrong)


def test_each_route_declares_the_role_the_matrix_names(client: TestClient) -> None:
    declared_checked = 0
    for route in api_routes(client.app.routes):  # type: ignore[attr-defined]
        stack, names = [route.dependant], set()
        while stack:
            dep = stack.pop()
            stack += dep.dependencies
            name = getattr(dep.call, "__name__", "")
            if name.startswith("require_"):
                names.add(name.removeprefix("require_"))
        for method in route.methods:
            needed = MATRIX[(method, route.path_format)]
            assert names <= {needed}, (method, route.path_format, names, needed)
            declared_checked += len(names)
    assert declared_checked >= 40


def test_an_operation_absent_from_the_matrix_is_refused_to_everyone(
    client: TestClient, pg_url: str
) -> None:
    app = client.app

    def hidden() -> dict[str, str]:
        return {"secret": "yes"}

    app.router.add_api_route("/api/not-in-the-matrix", hidden)  # type: ignore[attr-defined]
    admin = auth_headers(client, "admin", pg_url)
    client.cookies.clear()
    r = client.get("/api/not-in-the-matrix", headers=admin)
    assert r.status_code == 403 and "role matrix" in r.json()["detail"]
    assert client.get("/api/not-in-the-matrix").status_code == 403


def test_an_operator_cannot_change_the_archive(client: TestClient, pg_url: str) -> None:
    op = auth_headers(client, "operator", pg_url)
    admin = auth_headers(client, "admin", pg_url)
    client.cookies.clear()
    meter = {"address": "000000000001", "protocol": "dlt645-2007", "installed_on": "2025-01-01"}
    for method, url, body in [
        ("PUT", "/api/org-units/OU1", {"name": "OU"}),
        ("PUT", "/api/areas/A1", {"name": "A"}),
        ("PUT", "/api/gateways/gw-1", {"name": "G"}),
        ("PUT", "/api/meters/M1", meter),
    ]:
        r = client.request(method, url, json=body, headers=op)
        assert r.status_code == 403 and "admin" in r.json()["detail"], (url, r.text)
        assert client.request(method, url, json=body, headers=admin).status_code == 200
    assert client.patch("/api/meters/M1", json={"ct_ratio": 1000}, headers=op).status_code == 403
    for url in ("/api/meters/M1", "/api/gateways/gw-1", "/api/areas/A1", "/api/org-units/OU1"):
        assert client.delete(url, headers=op).status_code == 403
    csv = b"id,address,protocol,installed_on\nM9,000000000009,2007,2025-01-01\n"
    r = client.post("/api/archive/import", headers=op, files={"file": ("a.csv", csv, "text/csv")})
    assert r.status_code == 403
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id, ct_ratio FROM meters").fetchall() == [("M1", 1)]
        actors = conn.execute("SELECT DISTINCT actor FROM audit_log WHERE entity = 'meters'")
        assert actors.fetchall() == [("test-admin",)]
