"""SQL for users and sign-in: accounts (names unique without regard to case), sign-in
attempts, account locks and revoked tokens."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

_PUBLIC = "username, role, display_name, active, created_at, updated_at, last_login_at"


def get_user(conn: Connection[Any], *, username: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_PUBLIC}, password_hash, token_generation FROM users"
            " WHERE lower(username) = lower(%s)",
            (username,),
        )
        return cur.fetchone()


def list_users(conn: Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(f"SELECT {_PUBLIC} FROM users ORDER BY username")
        return cur.fetchall()


def count_users(conn: Connection[Any]) -> int:
    row = conn.execute("SELECT count(*) FROM users").fetchone()
    return int(row[0]) if row else 0


def insert_user(
    conn: Connection[Any],
    *,
    username: str,
    role: str,
    password_hash: str,
    display_name: str | None,
    now: datetime,
) -> dict[str, Any]:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"INSERT INTO users (username, role, password_hash, display_name, created_at,"
            f" updated_at) VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_PUBLIC}",
            (username, role, password_hash, display_name, now, now),
        )
        row = cur.fetchone()
    assert row is not None
    return row


def update_user(
    conn: Connection[Any],
    *,
    username: str,
    now: datetime,
    role: str | None = None,
    password_hash: str | None = None,
    display_name: str | None = None,
    active: bool | None = None,
    revoke_tokens: bool = False,
) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"""UPDATE users SET
                  role = COALESCE(%(role)s, role),
                  password_hash = COALESCE(%(hash)s, password_hash),
                  display_name = COALESCE(%(display)s, display_name),
                  active = COALESCE(%(active)s, active),
                  token_generation = token_generation + CASE WHEN %(revoke)s THEN 1 ELSE 0 END,
                  updated_at = %(now)s
                WHERE username = %(username)s RETURNING {_PUBLIC}""",
            {
                "role": role,
                "hash": password_hash,
                "display": display_name,
                "active": active,
                "revoke": revoke_tokens,
                "now": now,
                "username": username,
            },
        )
        return cur.fetchone()


def record_login(conn: Connection[Any], *, username: str, now: datetime) -> None:
    conn.execute("UPDATE users SET last_login_at = %s WHERE username = %s", (now, username))


def record_attempt(
    conn: Connection[Any], *, username: str, address: str, outcome: str, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO sign_in_attempts (at, username, address, outcome) VALUES (%s, %s, %s, %s)",
        (now, username, address, outcome),
    )


def address_failures(
    conn: Connection[Any], *, address: str, since: datetime
) -> tuple[int, datetime | None]:
    """Refused attempts ('wrong', 'locked') from ``address`` since ``since``, and the first."""
    row = conn.execute(
        "SELECT count(*), min(at) FROM sign_in_attempts"
        " WHERE address = %s AND at > %s AND outcome IN ('wrong', 'locked')",
        (address, since),
    ).fetchone()
    assert row is not None
    return int(row[0]), row[1]


def locked_until(conn: Connection[Any], *, username: str, now: datetime) -> datetime | None:
    row = conn.execute(
        "SELECT locked_until FROM sign_in_locks WHERE name_key = lower(%s) AND locked_until > %s",
        (username, now),
    ).fetchone()
    return row[0] if row else None


def count_failure(
    conn: Connection[Any],
    *,
    username: str,
    now: datetime,
    max_failures: int,
    window: timedelta,
    lock: timedelta,
) -> datetime | None:
    """One more failure for the name; when it is the ``max_failures``-th within ``window``
    the name is locked until ``now + lock`` (returned; None when this failure did not lock)."""
    row = conn.execute(
        """INSERT INTO sign_in_locks AS l (name_key, failures, window_start)
           VALUES (lower(%(name)s), 1, %(now)s)
           ON CONFLICT (name_key) DO UPDATE SET
             failures = CASE WHEN l.locked_until > %(now)s THEN l.failures
                             WHEN l.window_start > %(now)s - %(window)s THEN l.failures + 1
                             ELSE 1 END,
             window_start = CASE WHEN l.locked_until > %(now)s THEN l.window_start
                                 WHEN l.window_start > %(now)s - %(window)s THEN l.window_start
                                 ELSE %(now)s END,
             locked_until = CASE WHEN l.locked_until > %(now)s THEN l.locked_until END
           RETURNING failures""",
        {"name": username, "now": now, "window": window},
    ).fetchone()
    assert row is not None
    if int(row[0]) < max_failures:
        return None
    until = now + lock
    conn.execute(
        "UPDATE sign_in_locks SET locked_until = %s, failures = 0 WHERE name_key = lower(%s)",
        (until, username),
    )
    # names nobody has tried lately (sprayed names that do not exist) are forgotten
    conn.execute(
        "DELETE FROM sign_in_locks WHERE window_start < %s"
        " AND (locked_until IS NULL OR locked_until < %s)",
        (now - window, now),
    )
    return until


def clear_failures(conn: Connection[Any], *, username: str, now: datetime) -> bool:
    """Forget the name's failures and lock; True when it was locked."""
    row = conn.execute(
        "DELETE FROM sign_in_locks WHERE name_key = lower(%s) RETURNING locked_until > %s",
        (username, now),
    ).fetchone()
    return bool(row and row[0])


def revoke_token(
    conn: Connection[Any], *, token_id: str, username: str, expires_at: datetime, now: datetime
) -> None:
    conn.execute(
        "INSERT INTO revoked_tokens (jti, username, expires_at) VALUES (%s, %s, %s)"
        " ON CONFLICT (jti) DO NOTHING",
        (token_id, username, expires_at),
    )
    conn.execute("DELETE FROM revoked_tokens WHERE expires_at < %s", (now,))


def is_revoked(conn: Connection[Any], *, token_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM revoked_tokens WHERE jti = %s", (token_id,)).fetchone()
        is not None
    )


def audit_sign_in(
    conn: Connection[Any],
    *,
    actor: str,
    action: str,
    username: str,
    address: str | None,
    now: datetime,
    reason: str | None = None,
) -> None:
    """An audit row for a sign-in event ('sign_in', 'sign_in_failed', 'sign_out', 'locked',
    'unlocked', 'password_changed'): who, from which address, and why when refused."""
    after: dict[str, Any] = {"address": address}
    if reason is not None:
        after["reason"] = reason
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
        " VALUES (%s, %s, %s, 'user', %s, NULL, %s)",
        (now, actor, action, username, Jsonb(after)),
    )


def audit_user_change(
    conn: Connection[Any],
    *,
    actor: str,
    action: str,
    username: str,
    before: dict[str, Any] | None,
    after: dict[str, Any] | None,
    now: datetime,
) -> None:
    """An audit row for a change to a user (never with the password or its hash)."""
    conn.execute(
        "INSERT INTO audit_log (at, actor, action, entity, entity_id, before, after)"
        " VALUES (%s, %s, %s, 'user', %s, %s, %s)",
        (now, actor, action, username, Jsonb(_safe(before)), Jsonb(_safe(after))),
    )


def _safe(row: dict[str, Any] | None) -> dict[str, Any] | None:
    if row is None:
        return None
    return {
        k: (v.isoformat() if isinstance(v, datetime) else v)
        for k, v in row.items()
        if k not in {"password_hash", "token_generation"}
    }
