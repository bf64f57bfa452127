"""Navigation (issue 19): the organisation tree (供电单位 -> 供电所 -> 台区) with each node's
meters and the day's collection rate, the area list, an area's concentrators, a
concentrator's meters, and the search by meter id, address, customer account or name.
SQL in :mod:`server.db.queries.org`."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, HTTPException, Query

from server.db.queries import org as q

from ..deps import Db, ReportDay, SettingsDep, Viewer
from ..privacy import redact_meter
from ..workbench import Limit, Offset, WorkBody, WorkPage, body, page, slice_page

router = APIRouter(prefix="/api", tags=["navigation"])


@router.get("/org/tree")
def org_tree(_: Viewer, conn: Db, settings: SettingsDep, d: ReportDay) -> WorkBody:
    """Organisation units nested by parent, each area a leaf under its unit; every node
    with ``meters``, ``gateways``, the day's ``due``, ``read``, ``rate`` and
    ``below_threshold`` (summed over what is below it). Areas without a unit are under
    ``unassigned``. Concentrators and meters: ``/api/org/areas/{area_id}/gateways`` and
    ``/api/org/gateways/{gateway_id}/meters``."""
    t = settings.success_threshold
    return body(date=d, threshold=t, **q.tree(conn, d, t))


@router.get("/org/areas")
def area_list(
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    org_id: str | None = None,
    q_: Annotated[str | None, Query(alias="q", max_length=100)] = None,
    below_threshold: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorkPage:
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
    return slice_page(rows, limit, offset, date=d, threshold=settings.success_threshold)


@router.get("/org/areas/{area_id}/gateways")
def area_gateways(
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    area_id: str,
    d: ReportDay,
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorkPage:
    """The area's concentrators with their meters and the day's due, read and rate."""
    if not q.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")
    rows, total = q.area_gateways(conn, area_id, d, limit=limit, offset=offset)
    t = settings.success_threshold
    for r in rows:
        r["rate"] = round(r["read"] / r["due"], 6) if r["due"] else None
        r["below_threshold"] = r["rate"] is not None and r["rate"] < t
    return page(rows, total, limit, offset, date=d, threshold=t)


@router.get("/org/gateways/{gateway_id}/meters")
def gateway_meters(
    principal: Viewer,
    conn: Db,
    gateway_id: str,
    d: ReportDay,
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorkPage:
    """The concentrator's meters (by bus), each with whether the day was read (null: not
    due that day)."""
    if not q.gateway_exists(conn, gateway_id):
        raise HTTPException(404, f"no gateway {gateway_id!r}")
    rows, total = q.gateway_meters(conn, gateway_id, d, limit=limit, offset=offset)
    return page([redact_meter(r, principal) for r in rows], total, limit, offset, date=d)


@router.get("/search")
def search(
    principal: Viewer,
    conn: Db,
    q_: Annotated[str, Query(alias="q", min_length=2, max_length=64)],
    limit: Limit = 50,
    offset: Offset = 0,
) -> WorkPage:
    """Meters whose id, address or customer account contains ``q`` (at least 2
    characters, case-insensitive), or whose customer name does (operators and admins:
    viewers do not see names); those starting with ``q`` first. ``matched`` says which."""
    needle = q_.strip()
    if len(needle) < 2:
        raise HTTPException(422, "q: at least 2 characters besides spaces")
    personal = principal.can("operator")
    rows, total = q.search_meters(conn, needle, personal=personal, limit=limit, offset=offset)
    return page([redact_meter(r, principal) for r in rows], total, limit, offset, q=needle)
