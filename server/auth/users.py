"""User management, audited, and the user behind a token. Sign-in itself (locks,
throttling, the hashing pool) is :mod:`server.auth.signin`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection

from server.auth import passwords, tokens
from server.auth.roles import check_role
from server.db.queries import auth as q


class AuthError(Exception):
    """Sign-in or token refused; the message is safe to show (it never says which part)."""


class UserError(ValueError):
    """A bad user-management request (unknown user, duplicate, weak password, bad role)."""


def create_user(
    conn: Connection[Any],
    *,
    actor: str,
    username: str,
    password: str,
    role: str,
    display_name: str | None = None,
    now: datetime,
) -> dict[str, Any]:
    try:
        check_role(role)
        hashed = passwords.hash_password(password)
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    existing = q.get_user(conn, username=username)  # names are unique without regard to case
    if existing is not None:
        raise UserError(f"user {existing['username']!r} already exists")
    row = q.insert_user(
        conn,
        username=username,
        role=role,
        password_hash=hashed,
        display_name=display_name,
        now=now,
    )
    q.audit_user_change(
        conn,
        actor=actor,
        action="user.create",
        username=username,
        before=None,
        after=row,
        now=now,
    )
    return row


def update_user(
    conn: Connection[Any],
    *,
    actor: str,
    username: str,
    now: datetime,
    role: str | None = None,
    password: str | None = None,
    display_name: str | None = None,
    active: bool | None = None,
) -> dict[str, Any]:
    before = q.get_user(conn, username=username)
    if before is None:
        raise UserError(f"user {username!r} does not exist")
    try:
        if role is not None:
            check_role(role)
        hashed = passwords.hash_password(password) if password is not None else None
    except ValueError as exc:
        raise UserError(str(exc)) from exc
    username = before["username"]  # as stored (the lookup ignores case)
    revoke = (
        password is not None or (role is not None and role != before["role"]) or (active is False)
    )
    after = q.update_user(
        conn,
        username=username,
        now=now,
        role=role,
        password_hash=hashed,
        display_name=display_name,
        active=active,
        revoke_tokens=revoke,
    )
    assert after is not None
    action = "user.password" if password is not None else "user.update"
    q.audit_user_change(
        conn, actor=actor, action=action, username=username, before=before, after=after, now=now
    )
    return after


def principal_for_token(
    conn: Connection[Any], *, secret: bytes, token: str, now: datetime
) -> dict[str, Any]:
    try:
        claims = tokens.verify(secret, token, now=now)
    except tokens.TokenError as exc:
        raise AuthError(str(exc)) from exc
    user = q.get_user(conn, username=claims.username)
    if user is None or not user["active"] or user["token_generation"] != claims.generation:
        raise AuthError("token has been revoked")
    if q.is_revoked(conn, token_id=claims.token_id):
        raise AuthError("token has been revoked (signed out)")
    return user
