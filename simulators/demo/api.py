"""A small JSON client for the server's HTTP API (stdlib ``urllib``), signed in as a user.

It knows URLs, bearer tokens and JSON, and turns an HTTP error into :class:`ApiError`
with the server's own detail; it knows nothing of tables or SQL.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any
from urllib.error import HTTPError, URLError
from urllib.parse import quote, urlencode
from urllib.request import Request, urlopen


class ApiError(RuntimeError):
    """The server refused a request or could not be reached; the message says which."""


def path(*parts: str) -> str:
    """``/api/...`` with each part percent-encoded (ids may hold ``:`` or ``.``)."""
    return "/api/" + "/".join(quote(p, safe="") for p in parts)


class ServerApi:
    def __init__(self, base_url: str, *, timeout_s: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s
        self._token: str | None = None

    def login(self, username: str, password: str) -> None:
        body = self.call("POST", "/api/auth/login", {"username": username, "password": password})
        self._token = str(body["token"])

    def get(self, url: str, **query: str | int | date) -> Any:
        return self.call("GET", url, query=query)

    def put(self, url: str, body: dict[str, Any]) -> Any:
        return self.call("PUT", url, body)

    def post(self, url: str, body: dict[str, Any]) -> Any:
        return self.call("POST", url, body)

    def call(
        self,
        method: str,
        url: str,
        body: dict[str, Any] | None = None,
        *,
        query: dict[str, Any] | None = None,
    ) -> Any:
        full = self.base_url + url
        if query:
            full += "?" + urlencode({k: str(v) for k, v in query.items()})
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = json.dumps(body, default=str).encode()
            headers["Content-Type"] = "application/json"
        if self._token is not None:
            headers["Authorization"] = f"Bearer {self._token}"
        request = Request(full, data=data, method=method, headers=headers)
        try:
            with urlopen(request, timeout=self.timeout_s) as response:
                raw = response.read()
        except HTTPError as exc:
            with exc:
                detail = exc.read().decode(errors="replace")[:500]
            raise ApiError(f"{method} {url}: HTTP {exc.code} {detail}") from None
        except URLError as exc:
            raise ApiError(f"{method} {url}: {exc.reason}") from None
        return json.loads(raw) if raw else None
