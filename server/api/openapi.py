"""The OpenAPI document (``/openapi.json``) as the application builds it, plus what FastAPI
cannot know from the routes alone:

* the **security schemes**: a bearer token (``Authorization: Bearer``, from
  ``POST /api/auth/login``) and the dashboard's HttpOnly session cookie; every operation the
  role matrix (:data:`server.auth.matrix.MATRIX`, what :func:`server.api.access.guard`
  enforces) does not mark public requires one of them, and says which role it needs (in
  its description and as ``x-role``), with its 401 and 403 answers; public operations say
  ``security: []``.

The document is built once per application and cached, as FastAPI does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from server.auth.deps import COOKIE_NAME
from server.auth.matrix import PUBLIC, needed_role

BEARER = "bearer"
COOKIE = "session_cookie"
SECURITY_SCHEMES: dict[str, dict[str, Any]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "the token answered by POST /api/auth/login, sent as "
        "`Authorization: Bearer <token>`",
    },
    COOKIE: {
        "type": "apiKey",
        "in": "cookie",
        "name": COOKIE_NAME,
        "description": "the HttpOnly session cookie the sign-in also sets (the dashboard's); "
        "a state-changing request authenticated by it must come from this server's own "
        "origin (Origin, Referer or Sec-Fetch-Site), otherwise 403",
    },
}
METHODS = ("get", "put", "post", "patch", "delete", "head", "options")


def secure(document: dict[str, Any]) -> dict[str, Any]:
    """Add the security schemes and each operation's requirement and role, in place."""
    document.setdefault("components", {})["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document.get("paths", {}).items():
        for method, op in operations.items():
            if method not in METHODS:
                continue
            role = needed_role(method, path)
            if role == PUBLIC:
                op["security"] = []
                continue
            op["security"] = [{BEARER: []}, {COOKIE: []}]
            op["x-role"] = role or "nobody (not in the role matrix)"
            line = f"Needs the **{role}** role (or higher)." if role else "Refused to everyone."
            description = op.get("description", "").rstrip()
            op["description"] = f"{description}\n\n{line}" if description else line
            op.setdefault("responses", {}).setdefault(
                "401", {"description": "not signed in: no valid bearer token or session cookie"}
            )
            op["responses"].setdefault("403", {"description": "the role is too low"})
    return document


def install(app: FastAPI) -> None:
    """Make ``app.openapi()`` (and so ``/openapi.json``) answer the secured document."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                openapi_version=app.openapi_version,
                description=app.description,
                routes=app.routes,
                tags=app.openapi_tags,
            )
            app.openapi_schema = secure(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
