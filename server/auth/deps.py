"""FastAPI dependencies: who is calling, and may they do this?

A token is taken from ``Authorization: Bearer <token>`` or, for the dashboard, from the
HttpOnly cookie :data:`COOKIE_NAME`. ``require_role("operator")`` answers 401 when there is
no valid token and 403 when the caller's role is too low.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import HTTPException, Request, status

from server.auth.roles import Principal, check_role
from server.auth.secret import load_or_create_secret
from server.auth.users import AuthError, principal_for_token
from server.clock import Clock

COOKIE_NAME = "meterlink_session"


def app_now(request: Request) -> datetime:
    clock: Clock = request.app.state.clock
    return clock.now()


def auth_secret(request: Request) -> bytes:
    state = request.app.state
    secret: bytes | None = getattr(state, "auth_secret", None)
    if secret is None:
        settings = state.settings
        configured = settings.auth_secret.get_secret_value() if settings.auth_secret else None
        secret = load_or_create_secret(configured, Path(settings.data_dir))
        state.auth_secret = secret
    return secret


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


def current_principal(request: Request) -> Principal:
    cached: Principal | None = getattr(request.state, "principal", None)
    if cached is not None:
        return cached
    token = token_from_request(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: no bearer token or session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        with request.app.state.pool.connection() as conn:
            user = principal_for_token(
                conn, secret=auth_secret(request), token=token, now=app_now(request)
            )
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    principal = Principal(user["username"], user["role"])
    request.state.principal = principal
    return principal


def require_role(needed: str) -> Callable[[Request], Principal]:
    check_role(needed)

    def dependency(request: Request) -> Principal:
        principal = current_principal(request)
        if not principal.can(needed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {needed} role; {principal.username} is {principal.role}",
            )
        return principal

    dependency.__name__ = f"require_{needed}"
    return dependency
