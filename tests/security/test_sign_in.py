"""Sign-in that holds, through the HTTP API on real PostgreSQL (issue 17): account locks
that hold even for the right password, address throttling, an admin unlock, every attempt
kept, the password policy, user names unique without regard to case, logout that revokes
the token, one's own password change, a disabled account answered like a wrong password,
and 4xx (not 500) for a non-ASCII token or a lone surrogate."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.auth import passwords
from server.db.migrate import migrate, migration_files
from simulators.demo.stack import admin_password
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import PASSWORD, auth_headers

T0 = datetime(2026, 11, 22, 8, 0, tzinfo=UTC)
NEW_PASSWORD = "a much longer passphrase 42"


class Clock:
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
def make_client(
    pg_url: str, mqtt_broker: Broker, tmp_path: Path, clock: Clock
) -> Iterator[Callable[..., TestClient]]:
    migrate(pg_url)
    opened: list[TestClient] = []

    def make(**over: Any) -> TestClient:
        app = create_app(
            settings_for(pg_url, mqtt_broker.url, tmp_path, **over), services=[], clock=clock
        )
        c = TestClient(app)
        c.__enter__()
        opened.append(c)
        return c

    yield make
    for c in opened:
        c.__exit__(None, None, None)


@pytest.fixture
def client(make_client: Callable[..., TestClient]) -> TestClient:
    return make_client()


def login(client: TestClient, username: str, password: str = PASSWORD) -> Any:
    return client.post("/api/auth/login", json={"username": username, "password": password})


def rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(sql, args).fetchall()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- lockout, throttling, unlock, attempts kept ------------------------------------------


def test_five_failures_lock_the_account_even_for_the_right_password(
    client: TestClient, pg_url: str, clock: Clock
) -> None:
    auth_headers(client, "operator", pg_url)
    for _ in range(5):
        assert login(client, "test-operator", "wrong password 1").status_code == 401
    right = login(client, "test-operator")
    wrong = login(client, "test-operator", "wrong password 1")
    assert right.status_code == wrong.status_code == 429
    assert right.json() == wrong.json()  # nothing says whether the password was right
    assert "locked" in right.json()["detail"] and "token" not in right.json()
    assert 0 < int(right.headers["retry-after"]) <= 900
    clock.at = T0 + timedelta(minutes=14)
    assert login(client, "test-operator").status_code == 429  # still locked
    clock.at = T0 + timedelta(minutes=15, seconds=1)
    assert login(client, "test-operator").status_code == 200  # the lock ran out


def test_a_name_that_does_not_exist_locks_the_same_way(client: TestClient) -> None:
    answers = [login(client, "nobody-here", "wrong password 1") for _ in range(6)]
    assert [a.status_code for a in answers] == [401] * 5 + [429]


def test_an_admin_unlocks_an_account(client: TestClient, pg_url: str) -> None:
    admin = auth_headers(client, "admin", pg_url)
    viewer = auth_headers(client, "viewer", pg_url)
    for _ in range(5):
        login(client, "test-operator-x", "wrong password 1")
    auth_headers(client, "operator", pg_url)
    for _ in range(5):
        login(client, "test-operator", "wrong password 1")
    assert login(client, "test-operator").status_code == 429
    assert client.post("/api/users/test-operator/unlock", headers=viewer).status_code == 403
    assert client.post("/api/users/no-such-user/unlock", headers=admin).status_code == 404
    r = client.post("/api/users/TEST-OPERATOR/unlock", headers=admin)
    assert r.status_code == 200, r.text
    assert login(client, "test-operator").status_code == 200
    assert rows(
        pg_url,
        "SELECT actor, entity_id FROM audit_log WHERE action = 'unlocked'",
    ) == [("test-admin", "test-operator")]


def test_one_address_cannot_spray_many_accounts(
    make_client: Callable[..., TestClient], pg_url: str
) -> None:
    client = make_client(login_address_max_failures=8)
    auth_headers(client, "viewer", pg_url)
    for i in range(8):  # one guess each at eight names: no account reaches its own limit
        assert login(client, f"user-{i}", "password guess 1").status_code == 401
    r = login(client, "test-viewer")  # the right password, but from the spraying address
    assert r.status_code == 429 and "address" in r.json()["detail"]
    assert int(r.headers["retry-after"]) > 0


def test_every_attempt_is_kept_with_account_and_address(client: TestClient, pg_url: str) -> None:
    auth_headers(client, "viewer", pg_url)
    assert login(client, "test-viewer", "wrong password 1").status_code == 401
    assert login(client, "nobody", "wrong password 1").status_code == 401
    assert login(client, "Test-Viewer").status_code == 200
    assert rows(pg_url, "SELECT username, address, outcome FROM sign_in_attempts ORDER BY id") == [
        ("test-viewer", "testclient", "ok"),  # auth_headers signs in
        ("test-viewer", "testclient", "wrong"),
        ("nobody", "testclient", "wrong"),
        ("test-viewer", "testclient", "ok"),
    ]
    audit = rows(
        pg_url,
        "SELECT action, entity, entity_id, after->>'address' FROM audit_log"
        " WHERE action LIKE 'sign_in%%' ORDER BY id",
    )
    assert audit == [
        ("sign_in", "user", "test-viewer", "testclient"),
        ("sign_in_failed", "user", "test-viewer", "testclient"),
        ("sign_in_failed", "user", "nobody", "testclient"),
        ("sign_in", "user", "test-viewer", "testclient"),
    ]


def test_the_lock_is_audited(client: TestClient, pg_url: str) -> None:
    for _ in range(5):
        login(client, "someone", "wrong password 1")
    assert rows(pg_url, "SELECT entity_id FROM audit_log WHERE action = 'locked'") == [("someone",)]


# --- disabled account ----------------------------------------------------------------------


def test_a_disabled_account_is_answered_like_a_wrong_password(
    client: TestClient, pg_url: str
) -> None:
    admin = auth_headers(client, "admin", pg_url)
    auth_headers(client, "viewer", pg_url)
    r = client.patch("/api/users/test-viewer", headers=admin, json={"active": False})
    assert r.status_code == 200, r.text
    right = login(client, "test-viewer")
    wrong = login(client, "test-viewer", "wrong password 1")
    nobody = login(client, "nobody", PASSWORD)
    assert right.status_code == wrong.status_code == nobody.status_code == 401
    assert right.json() == wrong.json() == nobody.json()


# --- password policy -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("12345678", "at least 12"),
        ("password", "at least 12"),
        ("        ", "at least 12"),
        (" " * 16, "whitespace"),
        ("a" * 16, "repeated"),
        ("qwertyuiopasdfghjkl", "common"),
        ("PasswordPassword", "common"),
        ("meterlink2026", "common"),
        ("123456789012", "common"),
    ],
)
def test_weak_passwords_are_refused_everywhere(
    client: TestClient, pg_url: str, password: str, rule: str
) -> None:
    admin = auth_headers(client, "admin", pg_url)
    viewer_token = login(client, "test-admin").json()["token"]
    created = client.post(
        "/api/users",
        headers=admin,
        json={"username": "weak", "password": password, "role": "viewer"},
    )
    assert created.status_code == 422 and rule in created.json()["detail"], created.text
    auth_headers(client, "viewer", pg_url)
    reset = client.patch("/api/users/test-viewer", headers=admin, json={"password": password})
    assert reset.status_code == 422 and rule in reset.json()["detail"], reset.text
    own = client.post(
        "/api/auth/password",
        headers=bearer(viewer_token),
        json={"current_password": PASSWORD, "new_password": password},
    )
    assert own.status_code == 422 and rule in own.json()["detail"], own.text


def test_generated_passwords_pass_the_policy(tmp_path: Path) -> None:
    passwords.check_policy(admin_password(tmp_path))  # the demo's
    passwords.check_policy(PASSWORD)  # the tests'
    assert len(passwords.common_passwords()) >= 300


# --- user names without regard to case -----------------------------------------------------


def test_user_names_are_unique_without_regard_to_case(client: TestClient, pg_url: str) -> None:
    admin = auth_headers(client, "admin", pg_url)
    for name in ("Test-Admin", "TEST-ADMIN"):
        r = client.post(
            "/api/users",
            headers=admin,
            json={"username": name, "password": NEW_PASSWORD, "role": "admin"},
        )
        assert r.status_code == 409, r.text
    with psycopg.connect(pg_url) as conn, pytest.raises(psycopg.errors.UniqueViolation):
        conn.execute(
            "INSERT INTO users (username, role, password_hash) VALUES ('TEST-admin', 'admin', 'x')"
        )
    ok = login(client, "TEST-ADMIN")  # sign-in ignores case and answers the stored name
    assert ok.status_code == 200 and ok.json()["username"] == "test-admin"


def test_the_migration_names_existing_duplicates(pg_url: str) -> None:
    migrate(pg_url)
    sql = dict(migration_files())["0510_sign_in"]
    with psycopg.connect(pg_url) as conn:
        conn.execute("DROP INDEX users_username_lower")
        conn.execute(
            "INSERT INTO users (username, role, password_hash) VALUES"
            " ('admin', 'admin', 'x'), ('Admin', 'viewer', 'x'), ('ADMIN', 'viewer', 'x')"
        )
        with pytest.raises(psycopg.errors.RaiseException, match="ADMIN, Admin, admin"):
            conn.execute(sql.encode())
        conn.rollback()


# --- logout, own password ------------------------------------------------------------------


def test_logout_revokes_the_token_on_the_server(client: TestClient, pg_url: str) -> None:
    auth_headers(client, "viewer", pg_url)
    signed_in = login(client, "test-viewer")
    token = signed_in.json()["token"]
    other = login(client, "test-viewer").json()["token"]  # another device
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200
    out = client.post("/api/auth/logout", headers=bearer(token))
    assert out.status_code == 204
    r = client.get("/api/auth/me", headers=bearer(token))
    assert r.status_code == 401 and "revoked" in r.json()["detail"]
    assert client.get("/api/auth/me", headers=bearer(other)).status_code == 200
    assert rows(pg_url, "SELECT count(*) FROM audit_log WHERE action = 'sign_out'") == [(1,)]
    # the cookie is cleared with the attributes it was set with
    set_cookie = signed_in.headers["set-cookie"].lower()
    cleared = out.headers["set-cookie"].lower()
    assert "samesite=strict" in set_cookie and "samesite=strict" in cleared
    assert "httponly" in cleared


def test_a_user_changes_their_own_password(client: TestClient, pg_url: str) -> None:
    auth_headers(client, "viewer", pg_url)
    here = login(client, "test-viewer").json()["token"]
    elsewhere = login(client, "test-viewer").json()["token"]
    wrong = client.post(
        "/api/auth/password",
        headers=bearer(here),
        json={"current_password": "not my password", "new_password": NEW_PASSWORD},
    )
    assert wrong.status_code == 403 and "current password" in wrong.json()["detail"]
    r = client.post(
        "/api/auth/password",
        headers=bearer(here),
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 200, r.text
    fresh = r.json()["token"]
    assert client.get("/api/auth/me", headers=bearer(fresh)).status_code == 200
    for old in (here, elsewhere):  # every other token is revoked
        assert client.get("/api/auth/me", headers=bearer(old)).status_code == 401
    assert login(client, "test-viewer").status_code == 401
    assert login(client, "test-viewer", NEW_PASSWORD).status_code == 200
    assert rows(pg_url, "SELECT actor FROM audit_log WHERE action = 'password_changed'") == [
        ("test-viewer",)
    ]


def test_the_own_password_change_needs_sign_in(client: TestClient) -> None:
    r = client.post(
        "/api/auth/password",
        json={"current_password": PASSWORD, "new_password": NEW_PASSWORD},
    )
    assert r.status_code == 401


# --- 4xx, not 500, without sign-in ---------------------------------------------------------


def test_a_non_ascii_bearer_token_is_401(client: TestClient) -> None:
    for token in ("é", "tökën.sig", "abc.dé"):
        r = client.get("/api/auth/me", headers={"Authorization": f"Bearer {token}".encode()})
        assert r.status_code == 401 and "malformed" in r.json()["detail"], r.text


def test_a_lone_surrogate_in_a_body_is_422(client: TestClient, pg_url: str) -> None:
    body = b'{"username": "x\\ud800", "password": "whatever it is"}'
    r = client.post("/api/auth/login", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 422 and "username" in r.json()["detail"], r.text
    admin = auth_headers(client, "admin", pg_url)
    r = client.post(
        "/api/users",
        headers={**admin, "content-type": "application/json"},
        content=b'{"username": "someone", "password": "a long \\udc00 passphrase",'
        b' "role": "viewer", "display_name": "\\ud83d"}',
    )
    assert r.status_code == 422, r.text


def test_text_fields_of_the_user_models_are_bounded(client: TestClient, pg_url: str) -> None:
    admin = auth_headers(client, "admin", pg_url)
    too_long = {
        "username": "u" * 65,
        "password": "p" * 1025,
        "role": "viewer",
        "display_name": "d" * 201,
    }
    r = client.post("/api/users", headers=admin, json=too_long)
    assert r.status_code == 422
    for field in ("username", "password", "display_name"):
        assert field in r.json()["detail"]
    r = client.patch("/api/users/" + "u" * 65, headers=admin, json={"display_name": "x"})
    assert r.status_code == 422


def test_a_weak_bootstrap_admin_password_stops_the_start(
    pg_url: str, mqtt_broker: Broker, tmp_path: Path
) -> None:
    migrate(pg_url)
    app = create_app(
        settings_for(pg_url, mqtt_broker.url, tmp_path, admin_password="12345678"), services=[]
    )
    with pytest.raises(ValueError, match="METERLINK_ADMIN_PASSWORD refused: .*at least 12"):
        with TestClient(app):
            pass
    assert rows(pg_url, "SELECT count(*) FROM users") == [(0,)]
