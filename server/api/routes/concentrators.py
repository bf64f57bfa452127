"""Concentrators (集中器) as a clerk watches them (issue 19): the list with the online rate,
last communication, outbox depth, failing meters and the day's collection, filtered by
unit, area and online state; one concentrator's buses (as it reports them, beside the
archive's meters per bus), failing meters, recent commands, last time sync, its meters'
clock offsets and events. From the status the edge publishes (:mod:`protocols.wire.status`).
SQL in :mod:`server.db.queries.concentrators`."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from server.db.queries import concentrators as q
from server.db.queries import org as qo

from ..contract import Page
from ..deps import Db, ReportDay, SettingsDep, Viewer
from ..workbench import Limit, Offset, WorkPage, body
from ..workbench_models import Concentrator
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["concentrators"])


def _rate(row: dict[str, Any], threshold: float) -> dict[str, Any]:
    row["rate"] = round(row["read"] / row["due"], 6) if row["due"] else None
    row["below_threshold"] = row["rate"] is not None and row["rate"] < threshold
    return row


@router.get("/concentrators", response_model=WorkPage, responses=FILE_RESPONSES)
def concentrators(
    principal: Viewer,
    conn: Db,
    out: Out,
    settings: SettingsDep,
    d: ReportDay,
    org_id: str | None = None,
    area_id: str | None = None,
    online: bool | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The archive's concentrators by id: ``online``, ``last_seen`` (UTC; the page shows it
    in local time), ``outbox_depth``/``outbox_oldest_age_s``/``outbox_dropped`` as last
    reported, ``meters``, ``failing_meters`` (reported not ok) and the day's ``due``,
    ``read``, ``rate``; ``areas``, every area it serves (its own and its meters'; one
    concentrator can serve several). ``area_id`` keeps every concentrator serving the area.
    Beside: ``count``, ``online`` and ``online_rate`` over all that
    match the filters."""
    org_ids = None
    if org_id is not None:
        units = qo.org_units(conn)
        if org_id not in {u["id"] for u in units}:
            raise HTTPException(404, f"no org unit {org_id!r}")
        org_ids = sorted(qo.descendants(units, org_id))
    if area_id is not None and not qo.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")
    t = settings.success_threshold
    tally: dict[str, int] = {}

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows, counts = q.listing(
            conn, d, org_ids=org_ids, area_id=area_id, online=online, limit=limit, offset=offset
        )
        tally.update(counts)
        return [_rate(r, t) for r in rows], counts["count"]

    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        fetch,
        report="concentrators",
        what=("集中器", "Concentrators"),
        scope={"date": d, "org_id": org_id, "area_id": area_id, "online": online},
        extra=lambda: {
            "date": d,
            "threshold": t,
            "count": tally["count"],
            "online": tally["online"],
            "online_rate": round(tally["online"] / tally["count"], 6) if tally["count"] else None,
        },
    )


@router.get("/concentrators/{gateway_id}", response_model=Concentrator)
def concentrator(
    _: Viewer, conn: Db, settings: SettingsDep, gateway_id: str, d: ReportDay
) -> dict[str, Any]:
    """One concentrator: the list's fields; ``buses`` as reported (transactions, timeouts,
    checksum errors, meters ok and failing, last error) with ``archive_meters`` per bus;
    ``failing_meters`` (reported state, last good read, last error, failures in a row);
    ``time_sync`` (the last time-sync command and its result); ``clock_offsets`` (each
    meter's latest, largest first); ``commands`` (the last 20); ``events`` (its meters'
    last 50)."""
    row = q.one(conn, gateway_id, d)
    if row is None:
        raise HTTPException(404, f"no gateway {gateway_id!r}")
    status = row.pop("status") or {}
    per_bus = q.archive_buses(conn, gateway_id)
    reported: list[Any] = status["buses"] if isinstance(status.get("buses"), list) else []
    buses = []
    for b in reported:
        if isinstance(b, dict):
            buses.append({**b, "archive_meters": per_bus.get(b.get("name"), 0)})
    named = {b.get("name") for b in buses}
    for name, n in sorted(per_bus.items(), key=lambda x: str(x[0])):
        if name not in named:  # in the archive, not reported: shown, marked unreported
            buses.append({"name": name, "ok": None, "reported": False, "archive_meters": n})
    meters: list[Any] = status["meters"] if isinstance(status.get("meters"), list) else []
    failing = [m for m in meters if isinstance(m, dict) and m.get("state") != "ok"]
    return body(
        **_rate(row, settings.success_threshold),
        date=d,
        failing_meters=failing,
        failing_count=len(failing),
        buses=buses,
        reported_at=status.get("ts"),
        time_sync=q.last_time_sync(conn, gateway_id),
        clock_offsets=q.clock_offsets(conn, gateway_id),
        commands=q.recent_commands(conn, gateway_id),
        events=q.recent_events(conn, gateway_id),
    )
