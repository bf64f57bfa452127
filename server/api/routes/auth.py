"""Sign-in, sign-out, who am I, and user management (admins)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response, status
from pydantic import BaseModel, Field

from server.auth import users
from server.auth.deps import COOKIE_NAME
from server.db.queries import auth as q

from ..deps import Admin, AuthSecret, ClockDep, Db, SettingsDep, Viewer
from ..models import Me

router = APIRouter(prefix="/api", tags=["auth"])

Role = Literal["viewer", "operator", "admin"]
UsernameField = Field(pattern=r"^[A-Za-z0-9_.@-]{1,64}$")


class LoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class LoginResponse(BaseModel):
    token: str
    token_type: str = "bearer"
    username: str
    role: str
    expires_at: datetime


class UserOut(BaseModel):
    username: str
    role: str
    display_name: str | None = None
    active: bool
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None = None


class UserCreate(BaseModel):
    username: str = UsernameField
    password: str = Field(min_length=8, max_length=1024)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)


class UserUpdate(BaseModel):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    display_name: str | None = Field(default=None, max_length=200)
    active: bool | None = None


@router.post("/auth/login", response_model=LoginResponse)
def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    conn: Db,
    settings: SettingsDep,
    clock: ClockDep,
    secret: AuthSecret,
) -> LoginResponse:
    now = clock.now()
    ttl = int(settings.auth_token_ttl_s)
    try:
        token, user = users.sign_in(
            conn,
            secret=secret,
            username=body.username,
            password=body.password,
            now=now,
            ttl_s=ttl,
        )
    except users.AuthError as exc:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, str(exc), headers={"WWW-Authenticate": "Bearer"}
        ) from exc
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=ttl,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )
    expires = datetime.fromtimestamp(int(now.timestamp()) + ttl, UTC)
    return LoginResponse(
        token=token, username=user["username"], role=user["role"], expires_at=expires
    )


@router.post("/auth/logout", status_code=204)
def logout(response: Response) -> Response:
    response.delete_cookie(COOKIE_NAME)
    response.status_code = 204
    return response


@router.get("/auth/me")
def me(principal: Viewer) -> Me:
    return Me(username=principal.username, role=principal.role)


@router.get("/users", response_model=list[UserOut])
def list_users(_: Admin, conn: Db) -> list[dict[str, Any]]:
    return q.list_users(conn)


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(principal: Admin, body: UserCreate, conn: Db, clock: ClockDep) -> dict[str, Any]:
    try:
        return users.create_user(
            conn,
            actor=principal.username,
            username=body.username,
            password=body.password,
            role=body.role,
            display_name=body.display_name,
            now=clock.now(),
        )
    except users.UserError as exc:
        code = 409 if "already exists" in str(exc) else 422
        raise HTTPException(code, str(exc)) from exc


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    principal: Admin, username: str, body: UserUpdate, conn: Db, clock: ClockDep
) -> dict[str, Any]:
    if username == principal.username and (
        body.role not in (None, "admin") or body.active is False
    ):
        raise HTTPException(409, "an admin cannot demote or disable their own account")
    try:
        return users.update_user(
            conn,
            actor=principal.username,
            username=username,
            now=clock.now(),
            role=body.role,
            password=body.password,
            display_name=body.display_name,
            active=body.active,
        )
    except users.UserError as exc:
        code = 404 if "does not exist" in str(exc) else 422
        raise HTTPException(code, str(exc)) from exc
