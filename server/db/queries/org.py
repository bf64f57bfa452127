"""Navigation SQL for the workbench: the organisation tree (供电单位 -> 供电所 -> 台区) with
each node's meters and the day's collection rate, the area list, an area's concentrators,
a concentrator's meters, and the search over meters.

Counts of a day come from :func:`server.checks.completeness.period_report` (one pass over
the archive and the day's freezes); this module adds the archive's names and structure and
rolls areas up to their units. Org units form a tree by ``parent_id``; a unit whose parent
chain loops or leads to a missing unit is shown as a root (the archive does not forbid it).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date
from typing import Any

import psycopg
from psycopg.rows import dict_row

from server.checks import completeness

#: the node levels: a root unit is a supply company (供电单位), the units under it supply
#: stations (供电所), unless the archive says otherwise (``org_units.level``)
LEVELS = ("company", "station")


def org_units(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT id, name, parent_id, level FROM org_units ORDER BY id"
        ).fetchall()


def org_exists(conn: psycopg.Connection[Any], org_id: str) -> bool:
    return conn.execute("SELECT 1 FROM org_units WHERE id = %s", (org_id,)).fetchone() is not None


def area_exists(conn: psycopg.Connection[Any], area_id: str) -> bool:
    return conn.execute("SELECT 1 FROM areas WHERE id = %s", (area_id,)).fetchone() is not None


def gateway_exists(conn: psycopg.Connection[Any], gateway_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway_id,)).fetchone() is not None
    )


def descendants(units: list[dict[str, Any]], org_id: str) -> set[str]:
    """``org_id`` and every unit below it (a loop in the archive ends the walk)."""
    children: dict[str, list[str]] = defaultdict(list)
    for u in units:
        if u["parent_id"] is not None:
            children[u["parent_id"]].append(u["id"])
    out: set[str] = set()
    todo = [org_id]
    while todo:
        x = todo.pop()
        if x in out:
            continue
        out.add(x)
        todo.extend(children.get(x, ()))
    return out


def areas_of(conn: psycopg.Connection[Any], units: set[str]) -> list[str]:
    """The areas of the given org units."""
    rows = conn.execute(
        "SELECT id FROM areas WHERE org_unit_id = ANY(%s) ORDER BY id", (sorted(units),)
    ).fetchall()
    return [r[0] for r in rows]


#: which transformer areas each concentrator serves: its own area in the archive and the
#: areas of the meters on it (installed, not removed); one concentrator can serve several
#: (a line reaching into a neighbouring area), and is shown under each of them
SERVED = """
    SELECT id AS gateway_id, area_id FROM gateways WHERE area_id IS NOT NULL
    UNION
    SELECT gateway_id, area_id FROM meters
    WHERE gateway_id IS NOT NULL AND area_id IS NOT NULL
      AND (removed_on IS NULL OR removed_on > current_date)
"""


def _areas(conn: psycopg.Connection[Any]) -> list[dict[str, Any]]:
    """Every area with its unit and how many meters (installed, not removed) and
    concentrators it has now (every one serving it, :data:`SERVED`)."""
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            f"""
            SELECT a.id, a.name, a.org_unit_id AS org_id, a.master_meter_id,
                   coalesce(m.n, 0)::int AS meters, coalesce(g.n, 0)::int AS gateways
            FROM areas a
            LEFT JOIN (SELECT area_id, count(*) AS n FROM meters
                       WHERE removed_on IS NULL OR removed_on > current_date
                       GROUP BY area_id) m ON m.area_id = a.id
            LEFT JOIN (SELECT area_id, count(*) AS n FROM ({SERVED}) s GROUP BY area_id) g
                   ON g.area_id = a.id
            ORDER BY a.id"""
        ).fetchall()


def _with_rate(row: dict[str, Any], due: int, read: int, threshold: float) -> dict[str, Any]:
    rate = round(read / due, 6) if due else None
    row.update(due=due, read=read, rate=rate)
    row["below_threshold"] = rate is not None and rate < threshold
    return row


def area_rows(conn: psycopg.Connection[Any], day: date, threshold: float) -> list[dict[str, Any]]:
    """Every area with its counts and the day's due, read and rate."""
    by_area = {r["key"]: r for r in completeness.period_report(conn, day, day, ("area",))["area"]}
    out = []
    for a in _areas(conn):
        got = by_area.get(a["id"], {"due": 0, "read": 0})
        out.append(_with_rate(a, int(got["due"]), int(got["read"]), threshold))
    return out


def tree(conn: psycopg.Connection[Any], day: date, threshold: float) -> dict[str, Any]:
    """The organisation units as a tree, each with its areas as leaves, every node with its
    meters, due, read and rate of ``day`` (summed over what is below it); areas without a
    unit (or with a unit not in the archive) under ``unassigned``."""
    units = org_units(conn)
    areas = area_rows(conn, day, threshold)
    # a concentrator serving several areas counts once in the units above them
    served: dict[str, set[str]] = defaultdict(set)
    for gw, area in conn.execute(f"SELECT gateway_id, area_id FROM ({SERVED}) s").fetchall():
        served[area].add(gw)
    ids = {u["id"] for u in units}
    kids: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for u in units:
        parent = u["parent_id"] if u["parent_id"] in ids and u["parent_id"] != u["id"] else None
        kids[parent].append(u)
    area_kids: dict[str | None, list[dict[str, Any]]] = defaultdict(list)
    for a in areas:
        area_kids[a["org_id"] if a["org_id"] in ids else None].append(a)
    seen: set[str] = set()

    def node(u: dict[str, Any], depth: int) -> dict[str, Any]:
        seen.add(u["id"])
        children = [node(c, depth + 1) for c in kids.get(u["id"], []) if c["id"] not in seen]
        children += [_area_node(a, served) for a in area_kids.get(u["id"], [])]
        level = u["level"] or LEVELS[min(depth, len(LEVELS) - 1)]
        out = {"type": "org", "id": u["id"], "name": u["name"], "level": level}
        return _rolled(out, children, threshold)

    roots = [node(u, 0) for u in kids.get(None, [])]
    # units on a loop of parents have no root above them: shown as roots themselves
    for u in units:
        if u["id"] not in seen:
            roots.append(node(u, 0))
    unassigned = _rolled(
        {"type": "unassigned", "id": None, "name": None, "level": None},
        [_area_node(a, served) for a in area_kids.get(None, [])],
        threshold,
    )
    for n in [*roots, unassigned]:
        _strip(n)
    return {"items": roots, "unassigned": unassigned}


def _strip(node: dict[str, Any]) -> None:
    """The node without the concentrator sets its counts came from."""
    node.pop("_gateways", None)
    for c in node["children"]:
        _strip(c)


def _area_node(a: dict[str, Any], served: dict[str, set[str]]) -> dict[str, Any]:
    return {
        "_gateways": served.get(a["id"], set()),
        "type": "area",
        "id": a["id"],
        "name": a["name"],
        "level": "area",
        "meters": a["meters"],
        "gateways": a["gateways"],
        "due": a["due"],
        "read": a["read"],
        "rate": a["rate"],
        "below_threshold": a["below_threshold"],
        "children": [],
    }


def _rolled(
    out: dict[str, Any], children: list[dict[str, Any]], threshold: float
) -> dict[str, Any]:
    out["meters"] = sum(c["meters"] for c in children)
    out["_gateways"] = set().union(*(c["_gateways"] for c in children))
    out["gateways"] = len(out["_gateways"])
    _with_rate(out, sum(c["due"] for c in children), sum(c["read"] for c in children), threshold)
    out["children"] = children
    return out


def area_gateways(
    conn: psycopg.Connection[Any], area_id: str, day: date, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """The concentrators serving the area (:data:`SERVED`: its own, and those with meters of
    the area), each with ``meters``, the day's ``due`` and ``read`` of this area's meters on
    it, ``meters_all`` on it in every area, and ``areas``, every area it serves."""
    sql = f"""
    WITH due AS ({completeness.DUE}), rd AS ({completeness.READ}), served AS ({SERVED})
    SELECT g.id, g.name, g.area_id AS home_area_id, g.online, g.last_seen, g.version,
           (SELECT count(*) FROM meters x WHERE x.gateway_id = g.id AND x.area_id = %(area)s
              AND (x.removed_on IS NULL OR x.removed_on > current_date))::int AS meters,
           (SELECT count(*) FROM meters x WHERE x.gateway_id = g.id
              AND (x.removed_on IS NULL OR x.removed_on > current_date))::int AS meters_all,
           (SELECT array_agg(s.area_id ORDER BY s.area_id) FROM served s
             WHERE s.gateway_id = g.id) AS areas,
           count(m.id)::int AS due, count(r.meter_id)::int AS read
    FROM gateways g
    LEFT JOIN due m ON m.gateway_id = g.id AND m.area_id = %(area)s
    LEFT JOIN rd r ON r.meter_id = m.id
    WHERE g.id IN (SELECT gateway_id FROM served WHERE area_id = %(area)s)
    GROUP BY g.id ORDER BY g.id LIMIT %(limit)s OFFSET %(offset)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql, {"d": day, "area": area_id, "limit": limit, "offset": offset}
        ).fetchall()
        total = cur.execute(
            f"SELECT count(*) AS n FROM ({SERVED}) s WHERE s.area_id = %s", (area_id,)
        ).fetchone()
    return rows, int(total["n"]) if total else 0


def gateway_meters(
    conn: psycopg.Connection[Any],
    gateway_id: str,
    day: date,
    *,
    area_id: str | None = None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The concentrator's meters (not removed by ``day``; of ``area_id`` only, given one),
    each with whether ``day`` was read (null when the meter was not due that day)."""
    sql = """
    SELECT m.id, m.address, m.protocol, m.bus, m.customer_class, m.customer_name,
           m.customer_account, m.area_id, m.is_area_master,
           CASE WHEN m.installed_on > %(d)s THEN NULL
                ELSE EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                             AND f.data_date = %(d)s AND f.quantity = 'energy_import_total')
           END AS read
    FROM meters m
    WHERE m.gateway_id = %(gw)s AND (m.removed_on IS NULL OR m.removed_on > %(d)s)
      AND (%(area)s::text IS NULL OR m.area_id = %(area)s)
    ORDER BY m.bus NULLS LAST, m.id LIMIT %(limit)s OFFSET %(offset)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            sql, {"d": day, "gw": gateway_id, "area": area_id, "limit": limit, "offset": offset}
        ).fetchall()
        total = cur.execute(
            "SELECT count(*) AS n FROM meters WHERE gateway_id = %s "
            "AND (removed_on IS NULL OR removed_on > %s) AND (%s::text IS NULL OR area_id = %s)",
            (gateway_id, day, area_id, area_id),
        ).fetchone()
    return rows, int(total["n"]) if total else 0


def _like(q: str) -> str:
    """``q`` as a LIKE pattern matching it literally, anywhere."""
    return "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_meters(
    conn: psycopg.Connection[Any], q: str, *, personal: bool, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Meters whose id, address or customer account (and, with ``personal``, customer
    name) contains ``q`` (case-insensitive); matches that start with ``q`` first, then by
    id. Each row says which field ``matched`` first (id, address, account, name). The
    trigram indexes of migration 0720 serve the four conditions."""
    needle = q.lower()
    params = {"pat": _like(needle), "pre": needle, "limit": limit, "offset": offset}
    conds = [
        "lower(m.id) LIKE %(pat)s",
        "m.address LIKE %(pat)s",
        "lower(m.customer_account) LIKE %(pat)s",
    ]
    if personal:
        conds.append("lower(m.customer_name) LIKE %(pat)s")
    where = " OR ".join(conds)
    name_match = "WHEN lower(m.customer_name) LIKE %(pat)s THEN 'name'" if personal else ""
    sql = f"""
    SELECT m.id AS meter_id, m.address, m.customer_name, m.customer_account, m.area_id,
           a.name AS area_name, m.gateway_id, a.org_unit_id AS org_id, m.protocol,
           m.customer_class, m.removed_on,
           CASE WHEN lower(m.id) LIKE %(pat)s THEN 'meter_id'
                WHEN m.address LIKE %(pat)s THEN 'address'
                WHEN lower(m.customer_account) LIKE %(pat)s THEN 'account'
                {name_match} END AS matched
    FROM meters m LEFT JOIN areas a ON a.id = m.area_id
    WHERE {where}
    ORDER BY (starts_with(lower(m.id), %(pre)s) OR starts_with(m.address, %(pre)s)
              OR starts_with(lower(coalesce(m.customer_account, '')), %(pre)s)) DESC, m.id
    LIMIT %(limit)s OFFSET %(offset)s
    """
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(sql, params).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM meters m WHERE {where}", params).fetchone()
    return rows, int(total["n"]) if total else 0
