"""FastAPI dependencies: who is calling, and may they do this?

A token is taken from ``Authorization: Bearer <token>`` or, for the dashboard, from the
HttpOnly cookie :data:`COOKIE_NAME`. ``require_role("operator")`` answers 401 when there is
no valid token and 403 when the caller's role is too low. Routes use it through the
``Viewer``, ``Operator`` and ``Admin`` aliases of :mod:`server.api.deps`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from psycopg_pool import ConnectionPool

from server.api import state
from server.auth.roles import Principal, check_role
from server.auth.users import AuthError, principal_for_token
from server.clock import Clock

COOKIE_NAME = "meterlink_session"


def token_from_request(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.cookies.get(COOKIE_NAME) or None


def current_principal(
    request: Request,
    pool: Annotated[ConnectionPool[Any], Depends(state.pool)],
    clock: Annotated[Clock, Depends(state.clock)],
) -> Principal:
    """The signed-in caller (FastAPI computes it once per request)."""
    token = token_from_request(request)
    if token is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "sign in first: no bearer token or session cookie",
            headers={"WWW-Authenticate": "Bearer"},
        )
    try:
        with pool.connection() as conn:
            user = principal_for_token(
                conn, secret=state.auth_secret(request), token=token, now=clock.now()
            )
    except AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    return Principal(user["username"], user["role"])


def require_role(needed: str) -> Callable[[Principal], Principal]:
    check_role(needed)

    def dependency(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.can(needed):
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {needed} role; {principal.username} is {principal.role}",
            )
        return principal

    dependency.__name__ = f"require_{needed}"
    return dependency
