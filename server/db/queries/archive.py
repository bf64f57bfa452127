"""Archive SQL: meters, areas, gateways, with an audit row for every change."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

METER_FIELDS = (
    "address",
    "protocol",
    "modbus_profile",
    "modbus_unit",
    "gateway_id",
    "gateway_since",
    "bus",
    "area_id",
    "customer_class",
    "customer_name",
    "customer_phone",
    "customer_account",
    "customer_address",
    "phases",
    "rated_voltage",
    "rated_current",
    "ct_ratio",
    "pt_ratio",
    "contracted_kw",
    "is_generation",
    "is_area_master",
    "installed_on",
    "removed_on",
    "replaces_meter_id",
)
TABLES = {
    "meters": METER_FIELDS,
    "areas": ("name", "org_unit_id", "master_meter_id", "capacity_kva"),
    "gateways": ("name", "area_id", "org_unit_id"),
    "org_units": ("name", "parent_id", "level"),
}


def number(value: Decimal) -> int | float:
    """A ``numeric`` column's value as the number it is (40, 0.5), not the text JSON would
    make of a :class:`~decimal.Decimal` ("40")."""
    return int(value) if value == value.to_integral_value() else float(value)


def numbers(row: dict[str, Any] | None) -> dict[str, Any] | None:
    """An archive row with its ``numeric`` values (CT/PT ratios, rated voltage and current,
    contracted power, capacity) as numbers."""
    if row is None:
        return None
    return {k: number(v) if isinstance(v, Decimal) and v.is_finite() else v for k, v in row.items()}


def _jsonable(row: dict[str, Any] | None) -> Any:
    if row is None:
        return None

    def default(v: Any) -> Any:
        if isinstance(v, (date, datetime)):
            return v.isoformat()
        if isinstance(v, Decimal) and v.is_finite():
            return number(v)
        return str(v)

    return json.loads(json.dumps(row, default=default))


def audit(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    action: str,
    entity: str,
    entity_id: str | None,
    before: Any,
    after: Any,
) -> None:
    conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (actor, action, entity, entity_id, Jsonb(_jsonable(before)), Jsonb(_jsonable(after))),
    )


def audit_many(
    conn: psycopg.Connection[Any],
    rows: list[tuple[str, str, str, str | None, Any, Any]],
) -> None:
    """Many audit rows ((actor, action, entity, entity_id, before, after), as :func:`audit`
    writes one) in one statement, chained in the given order."""
    if not rows:
        return
    conn.execute(
        "INSERT INTO audit_log (actor, action, entity, entity_id, before, after) "
        "SELECT a.actor, a.action, a.entity, a.entity_id, a.before, a.after "
        "FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::jsonb[], "
        "%s::jsonb[]) WITH ORDINALITY AS a(actor, action, entity, entity_id, before, after, i) "
        "ORDER BY a.i",
        (
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
            [Jsonb(_jsonable(r[4])) for r in rows],
            [Jsonb(_jsonable(r[5])) for r in rows],
        ),
    )


def get(conn: psycopg.Connection[Any], table: str, key: str) -> dict[str, Any] | None:
    assert table in TABLES
    with conn.cursor(row_factory=dict_row) as cur:
        return numbers(cur.execute(f"SELECT * FROM {table} WHERE id = %s", (key,)).fetchone())


def listing(
    conn: psycopg.Connection[Any], table: str, *, filters: dict[str, Any], limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    assert table in TABLES
    where, params = [], []
    for col, val in filters.items():
        if val is not None:
            assert col in TABLES[table] or col == "id"
            where.append(f"{col} = %s")
            params.append(val)
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT * FROM {table}{clause} ORDER BY id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM {table}{clause}", params).fetchone()
    return [r for r in map(numbers, rows) if r is not None], int(total["n"]) if total else 0


def upsert(
    conn: psycopg.Connection[Any], table: str, key: str, values: dict[str, Any], *, actor: str
) -> dict[str, Any]:
    assert table in TABLES
    cols = [c for c in values if c in TABLES[table]]
    before = get(conn, table, key)
    if before is None:
        names = ", ".join(["id", *cols])
        marks = ", ".join(["%s"] * (len(cols) + 1))
        conn.execute(
            f"INSERT INTO {table} ({names}) VALUES ({marks})", (key, *[values[c] for c in cols])
        )
        action = f"{table}.create"
    else:
        if not cols:
            return before
        sets = ", ".join(f"{c} = %s" for c in cols)
        conn.execute(f"UPDATE {table} SET {sets} WHERE id = %s", (*[values[c] for c in cols], key))
        action = f"{table}.update"
    after = get(conn, table, key)
    assert after is not None
    audit(conn, actor=actor, action=action, entity=table, entity_id=key, before=before, after=after)
    return after


def delete(conn: psycopg.Connection[Any], table: str, key: str, *, actor: str) -> bool:
    before = get(conn, table, key)
    if before is None:
        return False
    conn.execute(f"DELETE FROM {table} WHERE id = %s", (key,))
    audit(
        conn,
        actor=actor,
        action=f"{table}.delete",
        entity=table,
        entity_id=key,
        before=before,
        after=None,
    )
    return True


def mark_gateway_known(conn: psycopg.Connection[Any], *, gateway_id: str) -> None:
    """The archive lists this gateway (it may have been created by its own status report)."""
    conn.execute("UPDATE gateways SET known = true WHERE id = %s", (gateway_id,))


#: table -> (what refers to one of its records, the SQL that finds one, a reason); a record
#: still referred to is not deleted
_IN_USE: dict[str, tuple[tuple[str, str], ...]] = {
    "meters": (
        ("readings", "SELECT 1 FROM readings WHERE meter_id = %s LIMIT 1"),
        ("readings", "SELECT 1 FROM readings_compact WHERE meter_id = %s LIMIT 1"),
        ("readings", "SELECT 1 FROM readings_cold WHERE meter_id = %s LIMIT 1"),
        ("daily freezes", "SELECT 1 FROM daily_freeze WHERE meter_id = %s LIMIT 1"),
        ("events", "SELECT 1 FROM meter_events WHERE meter_id = %s LIMIT 1"),
        ("an area it is the master meter of", "SELECT 1 FROM areas WHERE master_meter_id = %s"),
        ("a meter that replaced it", "SELECT 1 FROM meters WHERE replaces_meter_id = %s"),
    ),
    "areas": (
        ("meters", "SELECT 1 FROM meters WHERE area_id = %s LIMIT 1"),
        ("gateways", "SELECT 1 FROM gateways WHERE area_id = %s LIMIT 1"),
    ),
    "gateways": (("meters", "SELECT 1 FROM meters WHERE gateway_id = %s LIMIT 1"),),
    "org_units": (
        ("areas", "SELECT 1 FROM areas WHERE org_unit_id = %s LIMIT 1"),
        ("gateways", "SELECT 1 FROM gateways WHERE org_unit_id = %s LIMIT 1"),
        ("org units under it", "SELECT 1 FROM org_units WHERE parent_id = %s LIMIT 1"),
    ),
}


def in_use(conn: psycopg.Connection[Any], table: str, key: str) -> list[str]:
    """What still refers to the record (empty when it may be deleted)."""
    return [what for what, sql in _IN_USE[table] if conn.execute(sql, (key,)).fetchone()]
