"""The dashboard's change-password page in Debian's Chromium (issue 17): a signed-in user
changes their own password; the page keeps working with the new token, the old token is
revoked and the new password signs in. The server's refusal is shown in the page's words."""

from __future__ import annotations

from typing import Any

from tests.server.helpers import PASSWORD
from tests.web.harness import (
    Live,
    check,
    open_page,
    shoot,
    sign_in,
)

NEW_PASSWORD = "another much longer passphrase"


def test_change_password_in_chromium(live: Live, browser: Any) -> None:
    old = live.headers("viewer")  # a token from elsewhere
    page = open_page(browser, live.base, "zh")
    sign_in(page, "viewer")
    assert page.is_visible("#password-link")
    page.click("#password-link")
    page.wait_for_selector("main[data-page='password'] #password-form")
    page.fill("#current-password", "not my password")
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_selector("#password-message:text-is('当前密码不正确。')")
    page.fill("#current-password", PASSWORD)
    page.fill("#new-password", "qwertyuiop123")  # on the common list: the server says so
    page.click("#change-password")
    page.wait_for_selector("#password-message:has-text('新密码太常见')")
    shoot(page, "password-refused-zh")
    page.fill("#current-password", PASSWORD)
    page.fill("#new-password", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_selector("#password-message:not(.error):not(:empty)")
    assert page.inner_text("#password-message") == "密码已修改；其他设备上的登录已失效。"
    page.goto(live.base + "/ui/#/report")  # the page's new token still works
    page.wait_for_selector("main[data-page='report'][data-state='ready'] #rate-yesterday")
    check(page)
    page.context.close()
    assert live.client.get("/api/auth/me", headers=old).status_code == 401
    ok = live.client.post(
        "/api/auth/login", json={"username": "test-viewer", "password": NEW_PASSWORD}
    )
    assert ok.status_code == 200
