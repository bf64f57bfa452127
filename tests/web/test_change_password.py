"""The dashboard's change-password page in Debian's Chromium (issue 17): a signed-in user
changes their own password; the page keeps working with the new token, the old token is
revoked and the new password signs in."""

from __future__ import annotations

import os

import httpx
import pytest

from tests.conftest import IN_CI
from tests.server.helpers import PASSWORD, auth_headers
from tests.web import test_dashboard as dashboard

CHROMIUM = dashboard.CHROMIUM
live_server = dashboard.live_server  # the dashboard test's running server and its client
api_client = dashboard.api_client

NEW_PASSWORD = "another much longer passphrase"


def test_change_password_in_chromium(
    live_server: tuple[str, str], api_client: httpx.Client
) -> None:
    if not os.path.exists(CHROMIUM):
        reason = "Debian's chromium is not installed (.ci/run installs it)"
        pytest.fail(reason) if IN_CI else pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    base, db = live_server
    old = auth_headers(api_client, "viewer", db)  # creates test-viewer; a token from elsewhere
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page()
        page.goto(base + "/ui/#/login")
        page.fill("#username", "test-viewer")
        page.fill("#password", PASSWORD)
        page.click("#signin")
        page.wait_for_selector("#rate-yesterday")
        assert page.is_visible("#password-link")
        page.goto(base + "/ui/#/password")
        page.wait_for_selector("main[data-page='password'] #password-form")
        page.fill("#current-password", PASSWORD)
        page.fill("#new-password", "qwertyuiop123")  # on the common list: the server says so
        page.click("#change-password")
        page.wait_for_selector("#password-message:has-text('common')")
        dashboard.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(dashboard.ARTIFACTS / "password-refused.png"), full_page=True)
        page.fill("#current-password", PASSWORD)
        page.fill("#new-password", NEW_PASSWORD)
        page.click("#change-password")
        page.wait_for_selector("#password-message:not(.error):not(:empty)")
        page.screenshot(path=str(dashboard.ARTIFACTS / "password-changed.png"), full_page=True)
        page.goto(base + "/ui/#/overview")  # the page's new token still works
        page.wait_for_selector("#rate-yesterday")
        browser.close()
    assert api_client.get("/api/auth/me", headers=old).status_code == 401
    ok = api_client.post(
        "/api/auth/login", json={"username": "test-viewer", "password": NEW_PASSWORD}
    )
    assert ok.status_code == 200
