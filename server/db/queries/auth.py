"""SQL for users and sign-in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

_PUBLIC = "username, role, display_name, active, created_at, updated_at, last_login_at"


def get_user(conn: Connection[Any], *, username: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        cur.execute(
            f"SELECT {_PUBLIC}, password_hash, token_generation FROM users WHERE username = %s",
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


def record_login(conn: Connection[Any], *, username: str, ok: bool, now: datetime) -> None:
    if ok:
        conn.execute(
            "UPDATE users SET last_login_at = %s, failed_logins = 0 WHERE username = %s",
            (now, username),
        )
    else:
        conn.execute(
            "UPDATE users SET failed_logins = failed_logins + 1 WHERE username = %s", (username,)
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
