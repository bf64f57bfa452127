"""Sign-in that holds against guessing: account locks, address throttling, every attempt kept.

The rules (numbers from :class:`Rules`, set in the settings):

- ``max_failures`` refused attempts for one name within ``lock_s`` seconds lock the name for
  ``lock_s`` seconds. While locked, the password is not checked at all: the answer (429,
  ``Retry-After``) is the same whether it was right or wrong. Names that do not exist lock
  the same way, so a lock says nothing about whether an account does. An admin unlocks.
- ``address_max_failures`` refused attempts from one client address within ``lock_s``
  seconds throttle the address (429) whatever name it tries next, so one address cannot
  spray guesses across many accounts.
- A wrong name, a wrong password and a disabled account (whatever its password) get one
  answer (401 "wrong user name or password") and each counts as a failure.
- Every attempt is a row of ``sign_in_attempts`` (name, address, outcome) and an audit row
  ('sign_in', 'sign_in_failed', 'locked'), written in their own transaction: a refused
  sign-in is kept, not rolled back with the refusal.
- Password checks run in the :class:`~server.auth.hashing.HashingPool`; when it is full the
  answer is 503 with ``Retry-After`` (recorded as 'busy', not counted as a failure).

Blocking work (SQL) runs in worker threads; the coroutines here only await.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar

from psycopg_pool import ConnectionPool
from starlette.concurrency import run_in_threadpool

from server.auth import passwords, tokens
from server.auth.hashing import HashingBusy, HashingPool
from server.db.queries import auth as q

WRONG = "wrong user name or password"
T = TypeVar("T")


@dataclass(frozen=True)
class Rules:
    max_failures: int = 5
    lock_s: int = 900
    address_max_failures: int = 50

    @property
    def window(self) -> timedelta:
        return timedelta(seconds=self.lock_s)


class Refused(Exception):
    """A refused sign-in or password change; ``str()`` is safe to show."""

    def __init__(self, status: int, message: str, retry_after: int | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after


def _seconds_until(when: datetime, now: datetime) -> int:
    return max(1, int((when - now).total_seconds() + 0.999))


def _record(
    pool: ConnectionPool[Any],
    *,
    username: str,
    address: str,
    outcome: str,
    now: datetime,
    reason: str,
    rules: Rules | None = None,
) -> datetime | None:
    """Keep a refused attempt (own transaction); count it against the name when ``rules``
    are given. Returns when the name is now locked until, if this attempt locked it."""
    with pool.connection() as conn, conn.transaction():
        q.record_attempt(conn, username=username, address=address, outcome=outcome, now=now)
        q.audit_sign_in(
            conn,
            actor="anonymous",
            action="sign_in_failed",
            username=username,
            address=address,
            now=now,
            reason=reason,
        )
        if rules is None:
            return None
        until = q.count_failure(
            conn,
            username=username,
            now=now,
            max_failures=rules.max_failures,
            window=rules.window,
            lock=rules.window,
        )
        if until is not None:
            q.audit_sign_in(
                conn,
                actor="anonymous",
                action="locked",
                username=username,
                address=address,
                now=now,
                reason=f"{rules.max_failures} refused sign-ins within {rules.lock_s} s;"
                f" locked until {until.isoformat()}",
            )
        return until


def _precheck(
    pool: ConnectionPool[Any], *, username: str, address: str, now: datetime, rules: Rules
) -> dict[str, Any] | None:
    """The account (None when there is none), unless the address or the name is refused."""
    with pool.connection() as conn:
        failures, first = q.address_failures(conn, address=address, since=now - rules.window)
        locked = q.locked_until(conn, username=username, now=now)
        user = q.get_user(conn, username=username)
    if failures >= rules.address_max_failures and first is not None:
        _record(
            pool,
            username=username,
            address=address,
            outcome="throttled",
            now=now,
            reason=f"address over {rules.address_max_failures} refused sign-ins",
        )
        raise Refused(
            429,
            "too many refused sign-ins from this address: try again later",
            _seconds_until(first + rules.window, now),
        )
    if locked is not None:
        _record(
            pool, username=username, address=address, outcome="locked", now=now, reason="locked"
        )
        raise Refused(
            429,
            "this account is locked after repeated refused sign-ins: try again later"
            " or ask an admin to unlock it",
            _seconds_until(locked, now),
        )
    return user


def _succeed(
    pool: ConnectionPool[Any],
    *,
    user: dict[str, Any],
    address: str,
    now: datetime,
    new_hash: str | None,
) -> None:
    name = user["username"]
    with pool.connection() as conn, conn.transaction():
        if new_hash is not None:
            q.update_user(conn, username=name, now=now, password_hash=new_hash)
        q.record_login(conn, username=name, now=now)
        q.clear_failures(conn, username=name, now=now)
        q.record_attempt(conn, username=name, address=address, outcome="ok", now=now)
        q.audit_sign_in(conn, actor=name, action="sign_in", username=name, address=address, now=now)


async def _db(hashing: HashingPool, work: Callable[[], T]) -> T:
    async with hashing.database:
        return await run_in_threadpool(work)


async def _check(hashing: HashingPool, stored_hash: str, password: str) -> bool:
    try:
        return await hashing.run(passwords.verify_password, stored_hash, password)
    except HashingBusy as exc:
        raise Refused(503, "sign-in is busy: try again in a moment", 1) from exc


async def sign_in(
    pool: ConnectionPool[Any],
    hashing: HashingPool,
    *,
    secret: bytes,
    username: str,
    password: str,
    address: str,
    now: datetime,
    ttl_s: int,
    rules: Rules,
) -> tuple[str, dict[str, Any]]:
    """A token and the account, or :class:`Refused` (already recorded)."""
    try:
        with hashing.reserve():
            return await _sign_in(
                pool,
                hashing,
                secret=secret,
                username=username,
                password=password,
                address=address,
                now=now,
                ttl_s=ttl_s,
                rules=rules,
            )
    except HashingBusy:
        await _db(
            hashing,
            lambda: _record(
                pool, username=username, address=address, outcome="busy", now=now, reason="busy"
            ),
        )
        raise Refused(503, "sign-in is busy: try again in a moment", 1) from None


async def _sign_in(
    pool: ConnectionPool[Any],
    hashing: HashingPool,
    *,
    secret: bytes,
    username: str,
    password: str,
    address: str,
    now: datetime,
    ttl_s: int,
    rules: Rules,
) -> tuple[str, dict[str, Any]]:
    user = await _db(
        hashing, lambda: _precheck(pool, username=username, address=address, now=now, rules=rules)
    )
    stored = user["password_hash"] if user is not None else passwords.dummy_hash()
    ok = await hashing.run_reserved(passwords.verify_password, stored, password)
    if ok and user is not None and user["active"]:
        new_hash = None
        if passwords.needs_rehash(stored):
            new_hash = await hashing.run_reserved(passwords.rehash, password)
        await _db(
            hashing, lambda: _succeed(pool, user=user, address=address, now=now, new_hash=new_hash)
        )
        token = tokens.issue(
            secret,
            username=user["username"],
            generation=user["token_generation"],
            now=now,
            ttl_s=ttl_s,
        )
        return token, user
    reason = "no such user" if user is None else "wrong password" if not ok else "disabled"
    name = user["username"] if user is not None else username
    await _db(
        hashing,
        lambda: _record(
            pool,
            username=name,
            address=address,
            outcome="wrong",
            now=now,
            reason=reason,
            rules=rules,
        ),
    )
    raise Refused(401, WRONG)


async def change_own_password(
    pool: ConnectionPool[Any],
    hashing: HashingPool,
    *,
    secret: bytes,
    username: str,
    current: str,
    new: str,
    address: str,
    now: datetime,
    ttl_s: int,
    rules: Rules,
) -> tuple[str, dict[str, Any]]:
    """Check ``current``, set ``new`` (policy applied: :class:`passwords.WeakPasswordError`),
    revoke every token of the user and give the caller a new one. A wrong ``current`` counts
    as a refused sign-in (so a stolen session cannot guess the password without limit)."""
    passwords.check_policy(new)
    if new == current:
        raise passwords.WeakPasswordError("the new password must differ from the current one")
    user = await _db(
        hashing, lambda: _precheck(pool, username=username, address=address, now=now, rules=rules)
    )
    if user is None:
        raise Refused(401, "token has been revoked")
    if not await _check(hashing, user["password_hash"], current):
        await _db(
            hashing,
            lambda: _record(
                pool,
                username=username,
                address=address,
                outcome="wrong",
                now=now,
                reason="password change: current password wrong",
                rules=rules,
            ),
        )
        raise Refused(403, "the current password is wrong")
    try:
        new_hash = await hashing.run(passwords.hash_password, new)
    except HashingBusy as exc:
        raise Refused(503, "busy: try again in a moment", 1) from exc

    def store() -> dict[str, Any]:
        with pool.connection() as conn, conn.transaction():
            q.update_user(
                conn, username=username, now=now, password_hash=new_hash, revoke_tokens=True
            )
            q.audit_sign_in(
                conn,
                actor=username,
                action="password_changed",
                username=username,
                address=address,
                now=now,
            )
            after = q.get_user(conn, username=username)
        assert after is not None
        return after

    after = await _db(hashing, store)
    token = tokens.issue(
        secret, username=username, generation=after["token_generation"], now=now, ttl_s=ttl_s
    )
    return token, after


def sign_out(
    pool: ConnectionPool[Any], *, secret: bytes, token: str | None, address: str, now: datetime
) -> None:
    """Revoke the token on the server (until it would have expired); nothing when it is not
    a valid token."""
    if token is None:
        return
    try:
        claims = tokens.verify(secret, token, now=now)
    except tokens.TokenError:
        return
    expires = datetime.fromtimestamp(claims.expires_at, now.tzinfo)
    with pool.connection() as conn, conn.transaction():
        q.revoke_token(
            conn, token_id=claims.token_id, username=claims.username, expires_at=expires, now=now
        )
        q.audit_sign_in(
            conn,
            actor=claims.username,
            action="sign_out",
            username=claims.username,
            address=address,
            now=now,
        )


def unlock(pool: ConnectionPool[Any], *, actor: str, username: str, now: datetime) -> bool:
    """Clear the account's failures and lock; False when there is no such user."""
    with pool.connection() as conn, conn.transaction():
        user = q.get_user(conn, username=username)
        if user is None:
            return False
        was_locked = q.clear_failures(conn, username=user["username"], now=now)
        q.audit_sign_in(
            conn,
            actor=actor,
            action="unlocked",
            username=user["username"],
            address=None,
            now=now,
            reason=None if was_locked else "was not locked",
        )
    return True
