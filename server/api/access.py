"""The role matrix enforced for every API route: :func:`guard` is an application-wide
dependency that looks up the matched route in :data:`server.auth.matrix.MATRIX` before the
route's own dependencies run (so a refused call takes no connection of its own).

Deny by default: a route the matrix does not name answers 403 to everyone, so a new route
cannot ship open by accident (and the role-matrix test names it). The routes still declare
their role (``Viewer``/``Operator``/``Admin``) for readers and for the OpenAPI document; the
test checks both agree with the matrix.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.routing import APIRoute
from psycopg_pool import ConnectionPool

from server.auth.deps import current_principal
from server.auth.matrix import PUBLIC, needed_role
from server.clock import Clock

from . import state


def guard(
    request: Request,
    pool: Annotated[ConnectionPool[Any], Depends(state.pool)],
    clock: Annotated[Clock, Depends(state.clock)],
) -> None:
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    needed = needed_role(request.method, route.path_format)
    if needed == PUBLIC:
        return
    if needed is None:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"{request.method} {route.path_format} is not in the role matrix: nobody may call it",
        )
    principal = current_principal(request, pool, clock)  # 401 without a valid token
    if not principal.can(needed):
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"this needs the {needed} role; {principal.username} is {principal.role}",
        )
