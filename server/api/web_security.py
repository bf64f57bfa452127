"""What a browser is told and what it may not do: security headers on every response, the
cross-site check for requests authenticated by the session cookie, and the scheme the
public address says (the server behind a TLS reverse proxy).

* **Headers**: every response carries a Content-Security-Policy that allows only the
  server's own origin (the dashboard has no inline script or style), ``frame-ancestors
  'none'`` (and ``X-Frame-Options: DENY`` for older browsers), ``X-Content-Type-Options:
  nosniff`` and ``Referrer-Policy: no-referrer``. The API documentation pages (``/docs``,
  ``/redoc``, :mod:`server.api.docs`) load their vendored libraries and start-up scripts
  from this server too (no CDN, no inline script); their policy differs only where the
  libraries need it: inline *style* (both libraries set style attributes and ReDoc injects
  style elements), ``data:`` images (Swagger UI's icons) and ReDoc's search worker, which
  it starts from a ``blob:`` URL.
* **CSRF**: the dashboard sends its token as ``Authorization: Bearer``; the HttpOnly session
  cookie the sign-in also sets would let another page (another port of the same host is the
  same *site*, so ``SameSite`` does not stop it) make the browser send a request as the
  signed-in user. A state-changing request (anything but GET, HEAD, OPTIONS) that carries
  the cookie and no bearer token must show it comes from the server's own origin: every
  one of ``Sec-Fetch-Site``, ``Origin`` and ``Referer`` that is present must say so, and at
  least one must be present; otherwise 403. The sign-in itself is exempt (it acts on the
  credentials in its body, not as the cookie's user).
* **Public URL**: with ``METERLINK_PUBLIC_URL=https://…`` the server is reached through TLS
  (the reverse proxy of deploy/compose): requests count as https, so the sign-in cookie is
  ``Secure``, and the public URL's origin is the server's own origin for the CSRF check.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI

from server.auth.deps import COOKIE_NAME
from server.settings import Settings

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# the sign-in acts on the credentials in its body, never as the cookie's user
NOT_AS_THE_COOKIE = frozenset({"/api/auth/login"})

STRICT_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


# the documentation pages: every script from this server, no inline script; inline style,
# data: images and a blob: worker because the vendored Swagger UI and ReDoc need them
DOCS_CSP = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
DOCS_PATHS = ("/docs", "/redoc")

COMMON_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
)


def csp_for(path: str) -> str:
    """The Content-Security-Policy for a response to ``path``."""
    if any(path == p or path.startswith(p + "/") for p in DOCS_PATHS):
        return DOCS_CSP
    return STRICT_CSP


def origin_of(url: str) -> str | None:
    """``scheme://host[:port]`` of a URL, lower case, without the scheme's default port;
    None for anything that is not an http(s) URL."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    host = parts.hostname
    if ":" in host:
        host = f"[{host}]"
    if port is None or port == {"http": 80, "https": 443}[parts.scheme]:
        return f"{parts.scheme}://{host}"
    return f"{parts.scheme}://{host}:{port}"


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _cookie_names(scope: Scope) -> Iterable[str]:
    for key, value in scope.get("headers", ()):
        if key == b"cookie":
            for part in bytes(value).decode("latin-1").split(";"):
                yield part.split("=", 1)[0].strip()


def authenticated_by_cookie(scope: Scope) -> bool:
    """The request would be signed in by the session cookie: it carries the cookie and no
    bearer token (which wins, see :func:`server.auth.deps.token_from_request`)."""
    scheme, _, value = (_header(scope, b"authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return False
    return COOKIE_NAME in _cookie_names(scope)


def own_origin(scope: Scope, public_url: str | None) -> str | None:
    if public_url:
        return origin_of(public_url)
    host = _header(scope, b"host")
    return origin_of(f"{scope.get('scheme', 'http')}://{host}") if host else None


def cross_site_problem(scope: Scope, public_url: str | None) -> str | None:
    """Why a cookie-authenticated state-changing request is refused, or None."""
    mine = own_origin(scope, public_url)
    fetch_site = _header(scope, b"sec-fetch-site")
    origin = _header(scope, b"origin")
    referer = _header(scope, b"referer")
    if fetch_site is None and origin is None and referer is None:
        return "no Origin, Referer or Sec-Fetch-Site to show it comes from this site"
    if fetch_site is not None and fetch_site.strip().lower() != "same-origin":
        return f"Sec-Fetch-Site is {fetch_site!r}"
    if origin is not None and (mine is None or origin_of(origin) != mine):
        return f"Origin {origin!r} is not this server's"
    if referer is not None and (mine is None or origin_of(referer) != mine):
        return "Referer is not this server's"
    return None


class WebSecurity:
    """ASGI middleware: the public scheme, the CSRF check and the security headers."""

    def __init__(self, app: ASGIApp, public_url: str | None = None) -> None:
        self.app = app
        self.public_url = public_url
        self.public_https = bool(public_url) and urlsplit(public_url or "").scheme == "https"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.public_https:
            scope["scheme"] = "https"
        headers = [
            *COMMON_HEADERS,
            (b"content-security-policy", csp_for(scope.get("path", "")).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k for k, _ in headers}
                kept = [(k, v) for k, v in message.get("headers", ()) if k.lower() not in names]
                message["headers"] = kept + headers
            await send(message)

        if (
            scope.get("method", "GET") not in SAFE_METHODS
            and scope.get("path") not in NOT_AS_THE_COOKIE
            and authenticated_by_cookie(scope)
        ):
            problem = cross_site_problem(scope, self.public_url)
            if problem is not None:
                body = json.dumps(
                    {
                        "detail": "cross-site request refused: "
                        f"{problem}; send the token as Authorization: Bearer"
                    }
                ).encode()
                await send_with_headers(
                    {
                        "type": "http.response.start",
                        "status": 403,
                        "headers": [
                            (b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()),
                        ],
                    }
                )
                await send_with_headers({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send_with_headers)


def add_web_security(app: FastAPI, settings: Settings) -> None:
    """Security headers, the cookie CSRF check and the public URL's scheme (see above)."""
    app.add_middleware(WebSecurity, public_url=settings.public_url)
