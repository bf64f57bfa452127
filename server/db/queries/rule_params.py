"""Stored anomaly-rule parameters (``rule_params``): one row per rule and customer class
(``*`` for every class), written by admins through the API."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.types.json import Jsonb


def stored(conn: psycopg.Connection[Any], *, rule: str, customer_class: str) -> Any:
    """The parameters stored for ``rule`` and ``customer_class``, or None."""
    row = conn.execute(
        "SELECT params FROM rule_params WHERE rule = %s AND customer_class = %s",
        (rule, customer_class),
    ).fetchone()
    return row[0] if row else None


def put(
    conn: psycopg.Connection[Any],
    *,
    rule: str,
    customer_class: str,
    params: dict[str, float],
    actor: str,
) -> None:
    """Store (replace) the parameters of ``rule`` for ``customer_class``."""
    conn.execute(
        "INSERT INTO rule_params (rule, customer_class, params, updated_by) "
        "VALUES (%s, %s, %s, %s) "
        "ON CONFLICT (rule, customer_class) DO UPDATE SET params = "
        "excluded.params, updated_by = excluded.updated_by, updated_at = now()",
        (rule, customer_class, Jsonb(params), actor),
    )
