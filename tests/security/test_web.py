"""What a browser may do with the server, against the real app on PostgreSQL: a page of
another origin (another port of the same host) cannot make the signed-in browser change
anything through the session cookie, the dashboard's own requests still work, and every
response carries the security headers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.api.web_security import DOCS_CSP, STRICT_CSP
from server.auth.deps import COOKIE_NAME
from server.db.migrate import migrate
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import auth_headers

OWN = "http://testserver"
EVIL = "http://testserver:8081"  # another port of the same host: the same site
CSV = "id,address,protocol,installed_on\nM900,000000000900,2007,2025-01-01\n"


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


def _signed_in_cookie(client: TestClient, url: str) -> str:
    """Sign in as an admin the way the dashboard does; the answer also sets the cookie."""
    auth_headers(client, "admin", url)
    cookie = client.cookies.get(COOKIE_NAME)
    assert cookie, "the sign-in sets the session cookie"
    return cookie


def _meters(url: str) -> list[str]:
    with psycopg.connect(url) as conn:
        return [r[0] for r in conn.execute("SELECT id FROM meters ORDER BY id")]


def _import(client: TestClient, headers: dict[str, str], meter: str = "M900") -> int:
    body = CSV.replace("M900", meter).encode()
    r = client.post(
        "/api/archive/import", headers=headers, files={"file": ("m.csv", body, "text/csv")}
    )
    return r.status_code


def test_cross_origin_form_post_with_the_cookie_is_refused(client: TestClient, pg_url: str) -> None:
    _signed_in_cookie(client, pg_url)
    # what a browser sends for a form on another port posting to the import: the cookie,
    # no bearer token, its own origin
    refused = client.post(
        "/api/archive/import",
        headers={"Origin": EVIL, "Referer": EVIL + "/evil.html", "Sec-Fetch-Site": "same-site"},
        files={"file": ("m.csv", CSV.encode(), "text/csv")},
    )
    assert refused.status_code == 403, refused.text
    assert "cross-site" in refused.json()["detail"]
    assert refused.headers["content-security-policy"] == STRICT_CSP
    # each signal alone is enough to refuse, and no signal at all is refused too
    for headers in (
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Referer": EVIL + "/x"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site", "Origin": OWN},
        {},
    ):
        assert _import(client, headers) == 403, headers
    # other state-changing methods and routes are covered, not only the import
    r = client.put(
        "/api/rule-params/decrease",
        json={"params": {"tolerance_kwh": 1}},
        headers={"Origin": EVIL},
    )
    assert r.status_code == 403
    assert _meters(pg_url) == []
    # reads with the cookie still work (a GET changes nothing)
    assert client.get("/api/meters", headers={"Sec-Fetch-Site": "cross-site"}).status_code == 200


def test_own_origin_and_the_bearer_token_still_work(client: TestClient, pg_url: str) -> None:
    cookie = _signed_in_cookie(client, pg_url)
    # a same-origin request from the server's own page with the cookie
    same = {"Origin": OWN, "Referer": OWN + "/ui/", "Sec-Fetch-Site": "same-origin"}
    assert _import(client, same, "M901") == 200
    # the dashboard's way: the bearer token (its requests also carry the cookie)
    bearer = auth_headers(client, "admin", pg_url)
    assert client.cookies.get(COOKIE_NAME)
    dashboard = {**bearer, "Sec-Fetch-Site": "same-origin", "Origin": OWN}
    assert _import(client, dashboard, "M902") == 200
    # the bearer token is no CSRF risk (a page cannot set it): no origin needed
    assert _import(client, bearer, "M903") == 200
    client.cookies.clear()
    assert _import(client, {**bearer, "Origin": EVIL}, "M904") == 200
    # without the cookie and without a token it is the usual 401, not the CSRF refusal
    assert _import(client, {"Origin": EVIL}, "M905") == 401
    assert _meters(pg_url) == ["M901", "M902", "M903", "M904"]
    assert cookie


SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
}


def _assert_headers(resp: object, csp: str = STRICT_CSP) -> None:
    headers = resp.headers  # type: ignore[attr-defined]
    for name, value in SECURITY_HEADERS.items():
        assert headers.get(name) == value, (resp, name)
    assert headers.get("content-security-policy") == csp, resp


def test_security_headers_on_every_kind_of_response(client: TestClient, pg_url: str) -> None:
    viewer = auth_headers(client, "viewer", pg_url)
    client.cookies.clear()
    answers = {
        "dashboard": client.get("/ui/"),
        "script": client.get("/static/js/main.js"),
        "vendored": client.get("/vendor/echarts/6.1.0/echarts.min.js"),
        "style": client.get("/static/style.css"),
        "redirect": client.get("/", follow_redirects=False),
        "health": client.get("/health/live"),
        "api": client.get("/api/meters", headers=viewer),
        "openapi": client.get("/openapi.json"),
        "not found": client.get("/no/such/page"),
        "no sign-in": client.get("/api/meters"),
        "wrong role": client.put("/api/areas/A", json={"name": "A"}, headers=viewer),
        "invalid": client.get("/api/meters?limit=nope", headers=viewer),
        "login failed": client.post("/api/auth/login", json={"username": "x", "password": "y"}),
    }
    expected = {
        "dashboard": 200,
        "script": 200,
        "vendored": 200,
        "style": 200,
        "redirect": 307,
        "health": 200,
        "api": 200,
        "openapi": 200,
        "not found": 404,
        "no sign-in": 401,
        "wrong role": 403,
        "invalid": 422,
        "login failed": 401,
    }
    assert {k: r.status_code for k, r in answers.items()} == expected
    for resp in answers.values():
        _assert_headers(resp)
    csp = answers["dashboard"].headers["content-security-policy"]
    assert "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "http" not in csp  # only its own origin
    # the documentation pages keep working as they are (CDN assets, inline start-up script)
    for path in ("/docs", "/redoc"):
        _assert_headers(client.get(path), DOCS_CSP)
    assert "frame-ancestors 'none'" in DOCS_CSP


def test_dashboard_needs_nothing_inline() -> None:
    """The strict policy forbids inline script and style: the dashboard has none."""
    static = Path(__file__).parents[2] / "server" / "web" / "static"
    html = (static / "index.html").read_text(encoding="utf-8")
    assert "<style" not in html and " style=" not in html and " on" not in html.split("<body")[1]
    for tag in html.split("<script")[1:]:  # only files of the server's own
        src = tag.split("src=", 1)[1].split(">", 1)[0]
        assert src.startswith(('"/static/', '"/vendor/')), tag
        assert tag.split(">", 1)[1].startswith("</script>"), tag  # nothing inline
    for path in (static / "js").rglob("*.js"):  # the dashboard's own modules
        js = path.read_text(encoding="utf-8")
        assert "style=" not in js and "eval(" not in js and "new Function" not in js, path
