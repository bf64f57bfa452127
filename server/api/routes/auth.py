"""Sign-in, sign-out, who am I, one's own password, and user management (admins).

Sign-in rules (locks, throttling, the hashing pool) are :mod:`server.auth.signin`.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import psycopg
from fastapi import APIRouter, HTTPException, Path, Request, Response
from pydantic import BaseModel, Field

from server.auth import passwords, signin, users
from server.auth.deps import COOKIE_NAME, token_from_request
from server.db.queries import auth as q
from server.settings import Settings

from ..contract import Paging
from ..deps import Admin, AuthSecret, ClockDep, Db, Hashing, Pool, SettingsDep, Viewer
from ..models import Me

router = APIRouter(prefix="/api", tags=["auth"])

Role = Literal["viewer", "operator", "admin"]
NAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
UsernameField = Field(pattern=NAME_PATTERN)
UserPath = Path(pattern=NAME_PATTERN, description="user name (any case)")
COOKIE_SAMESITE: Literal["strict"] = "strict"


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
    password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    role: Role
    display_name: str | None = Field(default=None, max_length=200)


class UserUpdate(BaseModel):
    role: Role | None = None
    password: str | None = Field(default=None, min_length=1, max_length=passwords.MAX_LENGTH)
    display_name: str | None = Field(default=None, max_length=200)
    active: bool | None = None


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)
    new_password: str = Field(min_length=1, max_length=passwords.MAX_LENGTH)


class Unlocked(BaseModel):
    username: str
    unlocked: bool = True


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def rules(settings: Settings) -> signin.Rules:
    return signin.Rules(
        max_failures=settings.login_max_failures,
        lock_s=settings.login_lock_s,
        address_max_failures=settings.login_address_max_failures,
    )


def refusal(exc: signin.Refused) -> HTTPException:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else {}
    if exc.retry_after is not None:
        headers["Retry-After"] = str(exc.retry_after)
    return HTTPException(exc.status, str(exc), headers=headers or None)


def set_session_cookie(request: Request, response: Response, token: str, ttl: int) -> None:
    response.set_cookie(
        COOKIE_NAME,
        token,
        max_age=ttl,
        httponly=True,
        samesite=COOKIE_SAMESITE,
        secure=request.url.scheme == "https",
    )


def login_response(token: str, user: dict[str, Any], now: datetime, ttl: int) -> LoginResponse:
    expires = datetime.fromtimestamp(int(now.timestamp()) + ttl, UTC)
    return LoginResponse(
        token=token, username=user["username"], role=user["role"], expires_at=expires
    )


@router.post(
    "/auth/login",
    response_model=LoginResponse,
    responses={429: {"description": "account locked or address throttled"}},
)
async def login(
    body: LoginRequest,
    request: Request,
    response: Response,
    pool: Pool,
    hashing: Hashing,
    settings: SettingsDep,
    clock: ClockDep,
    secret: AuthSecret,
) -> LoginResponse:
    """Sign in with user name and password: the answer carries a bearer token (and sets the
    HttpOnly session cookie the dashboard uses). 401 for a wrong name or password (the same
    answer for both), 429 while the account is locked or the address throttled."""
    now = clock.now()
    ttl = int(settings.auth_token_ttl_s)
    try:
        token, user = await signin.sign_in(
            pool,
            hashing,
            secret=secret,
            username=body.username,
            password=body.password,
            address=client_address(request),
            now=now,
            ttl_s=ttl,
            rules=rules(settings),
        )
    except signin.Refused as exc:
        raise refusal(exc) from None
    set_session_cookie(request, response, token, ttl)
    return login_response(token, user, now, ttl)


@router.post("/auth/logout", status_code=204)
def logout(
    request: Request, response: Response, pool: Pool, clock: ClockDep, secret: AuthSecret
) -> Response:
    """Revoke the caller's token on the server and clear the session cookie."""
    signin.sign_out(
        pool,
        secret=secret,
        token=token_from_request(request),
        address=client_address(request),
        now=clock.now(),
    )
    response.delete_cookie(
        COOKIE_NAME, httponly=True, samesite=COOKIE_SAMESITE, secure=request.url.scheme == "https"
    )
    response.status_code = 204
    return response


@router.post("/auth/password", response_model=LoginResponse)
async def change_password(
    principal: Viewer,
    body: PasswordChange,
    request: Request,
    response: Response,
    pool: Pool,
    hashing: Hashing,
    settings: SettingsDep,
    clock: ClockDep,
    secret: AuthSecret,
) -> LoginResponse:
    """Change one's own password (current + new). Every other token of the user is revoked;
    the answer carries a new token (and cookie) for this session."""
    now = clock.now()
    ttl = int(settings.auth_token_ttl_s)
    try:
        token, user = await signin.change_own_password(
            pool,
            hashing,
            secret=secret,
            username=principal.username,
            current=body.current_password,
            new=body.new_password,
            address=client_address(request),
            now=now,
            ttl_s=ttl,
            rules=rules(settings),
        )
    except passwords.WeakPasswordError as exc:
        raise HTTPException(422, f"new_password: {exc}") from None
    except signin.Refused as exc:
        raise refusal(exc) from None
    set_session_cookie(request, response, token, ttl)
    return login_response(token, user, now, ttl)


@router.get("/auth/me")
def me(principal: Viewer) -> Me:
    """The signed-in user's name and role."""
    return Me(username=principal.username, role=principal.role)


class Users(BaseModel):
    """A page of the users, by name, and how many there are."""

    items: list[UserOut]
    total: int
    limit: int
    offset: int


@router.get("/users", response_model=Users)
def list_users(_: Admin, conn: Db, page: Paging) -> dict[str, Any]:
    """The users by name: role, display name, whether active, when created, changed and
    last signed in (never a password hash)."""
    everyone = q.list_users(conn)
    return {
        "items": everyone[page.offset : page.offset + page.limit],
        "total": len(everyone),
        "limit": page.limit,
        "offset": page.offset,
    }


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(principal: Admin, body: UserCreate, conn: Db, clock: ClockDep) -> dict[str, Any]:
    """Create a user with a role and a password that meets the password policy (409 when
    the name is taken). Audited."""
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
    except psycopg.errors.UniqueViolation:  # the same name (in any case) created meanwhile
        raise HTTPException(409, f"user {body.username!r} already exists") from None


@router.post("/users/{username}/unlock", response_model=Unlocked)
def unlock_user(
    principal: Admin, pool: Pool, clock: ClockDep, username: str = UserPath
) -> Unlocked:
    """Lift a sign-in lock (and forget the account's refused attempts)."""
    if not signin.unlock(pool, actor=principal.username, username=username, now=clock.now()):
        raise HTTPException(404, f"user {username!r} does not exist")
    return Unlocked(username=username)


@router.patch("/users/{username}", response_model=UserOut)
def update_user(
    principal: Admin, body: UserUpdate, conn: Db, clock: ClockDep, username: str = UserPath
) -> dict[str, Any]:
    """Change a user's role, password, display name or whether the account is active (a
    new password or role revokes the user's tokens); admins cannot demote or disable
    themselves. Audited."""
    if username.lower() == principal.username.lower() and (
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
