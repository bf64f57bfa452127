"""Navigation (issue 19): the organisation tree (供电单位 -> 供电所 -> 台区) with each node's
meters and the day's collection rate, the area list, an area's concentrators, a
concentrator's meters, and the search by meter id, address, customer account or name.
SQL in :mod:`server.db.queries.org`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from server.db.queries import org as q

from ..contract import Page
from ..deps import Db, ReportDay, SettingsDep, Viewer
from ..privacy import redact_meter
from ..workbench import Limit, Offset, WorkPage, body
from ..workbench_models import OrgTree
from .export import FILE_RESPONSES, Out, at_hand, listing

#: the exports' first columns (the rest follow as the rows have them)
GATEWAY_COLUMNS = ("id", "name", "online", "last_seen", "meters", "due", "read", "rate", "areas")
METER_COLUMNS = ("id", "address", "customer_name", "customer_account", "area_id", "bus", "read")
SEARCH_COLUMNS = ("meter_id", "address", "customer_name", "customer_account", "area_id")

router = APIRouter(prefix="/api", tags=["navigation"])


@router.get("/org/tree", response_model=OrgTree)
def org_tree(_: Viewer, conn: Db, settings: SettingsDep, d: ReportDay) -> dict[str, Any]:
    """Organisation units nested by parent, each area a leaf under its unit; every node
    with ``meters``, ``gateways``, the day's ``due``, ``read``, ``rate`` and
    ``below_threshold`` (summed over what is below it). Areas without a unit are under
    ``unassigned``. Concentrators and meters: ``/api/org/areas/{area_id}/gateways`` and
    ``/api/org/gateways/{gateway_id}/meters``."""
    t = settings.success_threshold
    return body(date=d, threshold=t, **q.tree(conn, d, t))


@router.get("/org/areas", response_model=WorkPage, responses=FILE_RESPONSES)
def area_list(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    d: ReportDay,
    org_id: str | None = None,
    q_: Annotated[str | None, Query(alias="q", max_length=100)] = None,
    below_threshold: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Transformer areas (of ``org_id`` and the units below it), whose id or name contains
    ``q``, with their meters, concentrators and the day's rate; ``below_threshold`` keeps
    only those below (true) or at or above (false) the threshold."""
    units = q.org_units(conn)
    rows = q.area_rows(conn, d, settings.success_threshold)
    names = {u["id"]: u["name"] for u in units}
    if org_id is not None:
        if org_id not in names:
            raise HTTPException(404, f"no org unit {org_id!r}")
        under = q.descendants(units, org_id)
        rows = [r for r in rows if r["org_id"] in under]
    if q_:
        needle = q_.lower()
        rows = [r for r in rows if needle in r["id"].lower() or needle in r["name"].lower()]
    if below_threshold is not None:
        rows = [r for r in rows if r["below_threshold"] is below_threshold]
    for r in rows:
        r["org_name"] = names.get(r["org_id"])
    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        at_hand(rows),
        report="areas-report",
        what=("台区清单", "Areas"),
        scope={"date": d, "org_id": org_id, "below_threshold": below_threshold},
        extra={"date": d, "threshold": settings.success_threshold},
    )


@router.get("/org/areas/{area_id}/gateways", response_model=WorkPage, responses=FILE_RESPONSES)
def area_gateways(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    area_id: str,
    d: ReportDay,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The concentrators serving the area (its own and any with meters of the area: one
    concentrator can serve several areas and is listed under each), with ``meters``, the
    day's ``due``, ``read`` and rate of this area's meters on it, ``meters_all`` (on it in
    every area) and ``areas`` (every area it serves). ``format=csv|xlsx``: all as a file."""
    if not q.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")
    t = settings.success_threshold

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = q.area_gateways(conn, area_id, d, limit=limit, offset=offset)
        for r in rows:
            r["rate"] = round(r["read"] / r["due"], 6) if r["due"] else None
            r["below_threshold"] = r["rate"] is not None and r["rate"] < t
        return rows, total

    return listing(
        conn,
        principal,
        out,
        Page(limit=limit, offset=offset),
        fetch,
        report="area-concentrators",
        what=("台区集中器", "Concentrators of the area"),
        scope={"date": d, "area_id": area_id},
        columns=GATEWAY_COLUMNS,
        labels={"id": ("集中器", "Concentrator")},
        extra={"date": d, "threshold": t, "area_id": area_id},
    )


@router.get("/org/gateways/{gateway_id}/meters", response_model=WorkPage, responses=FILE_RESPONSES)
def gateway_meters(
    principal: Viewer,
    conn: Db,
    out: Out,
    gateway_id: str,
    d: ReportDay,
    area_id: Annotated[
        str | None, Query(description="only this area's meters (a concentrator may serve several)")
    ] = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The concentrator's meters (by bus; of ``area_id`` only, given one), each with whether
    the day was read (null: not due that day). ``format=csv|xlsx``: all as a file."""
    if not q.gateway_exists(conn, gateway_id):
        raise HTTPException(404, f"no gateway {gateway_id!r}")
    if area_id is not None and not q.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = q.gateway_meters(
            conn, gateway_id, d, area_id=area_id, limit=limit, offset=offset
        )
        return [redact_meter(r, principal) for r in rows], total

    return listing(
        conn,
        principal,
        out,
        Page(limit=limit, offset=offset),
        fetch,
        report="concentrator-meters",
        what=("集中器电表", "Meters of the concentrator"),
        scope={"date": d, "gateway_id": gateway_id, "area_id": area_id},
        columns=METER_COLUMNS,
        labels={"id": ("电表", "Meter"), "read": ("当日已抄", "Read that day")},
        extra={"date": d, "gateway_id": gateway_id, "area_id": area_id},
    )


@router.get("/search", response_model=WorkPage, responses=FILE_RESPONSES)
def search(
    principal: Viewer,
    conn: Db,
    out: Out,
    q_: Annotated[str, Query(alias="q", min_length=2, max_length=64)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Meters whose id, address or customer account contains ``q`` (at least 2
    characters, case-insensitive), or whose customer name does (operators and admins:
    viewers do not see names); those starting with ``q`` first. ``matched`` says which.
    ``format=csv|xlsx``: every match as a file."""
    needle = q_.strip()
    if len(needle) < 2:
        raise HTTPException(422, "q: at least 2 characters besides spaces")
    personal = principal.can("operator")

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, total = q.search_meters(conn, needle, personal=personal, limit=limit, offset=offset)
        return [redact_meter(r, principal) for r in rows], total

    return listing(
        conn,
        principal,
        out,
        Page(limit=limit, offset=offset),
        fetch,
        report="search",
        what=("电表查询结果", "Meter search results"),
        scope={"q": needle},
        columns=SEARCH_COLUMNS,
        labels={"q": ("查询", "Search")},
        extra={"q": needle},
    )
