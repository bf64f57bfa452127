"""The day's collection reports: success rate (by any grouping, as a trend, in one report),
the meters that failed and why, load-curve completeness, and line loss per transformer
area. Each report is about one data date, by default yesterday in the utility time zone;
the success rate and failed meters also export as CSV or XLSX."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from server.checks import completeness, reread, rules
from server.db.queries import reports

from ..contract import Paging, one_of
from ..deps import Db, LocalToday, ReportDay, SettingsDep, Viewer, Yesterday
from ..models import (
    CurveCompleteness,
    CurveReread,
    FailedMeters,
    LineLoss,
    RereadTally,
    SuccessRate,
    SuccessReport,
    Trend,
)
from .export import FILE_RESPONSES, Out, export, listing

router = APIRouter(prefix="/api", tags=["completeness"])
Grouping = Literal["all", "area", "gateway", "protocol", "customer_class"]
AreaId = Annotated[str | None, Query(description="only meters of this area (台区)")]
GatewayId = Annotated[str | None, Query(description="only meters of this concentrator")]
OldArea = Annotated[
    str | None, Query(alias="area", deprecated=True, description="old name of area_id")
]
OldGateway = Annotated[
    str | None, Query(alias="gateway", deprecated=True, description="old name of gateway_id")
]


@router.get("/completeness", response_model=SuccessRate, responses=FILE_RESPONSES)
def success_rate(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    out: Out,
    by: Grouping = "all",
) -> Any:
    """The data date's collection success rate (read / due meters) for the organisation or
    per area, concentrator, protocol or customer class; groups under
    METERLINK_SUCCESS_THRESHOLD are marked ``below_threshold``; the re-reading tally of the
    date. ``format=csv|xlsx`` answers the groups as a file."""
    rows = completeness.success_rate(conn, d, by, settings.success_threshold)
    if out.format != "json":
        return export(
            conn,
            principal,
            out,
            rows,
            report="success-rate",
            what=("采集成功率", "Collection success rate"),
            scope={"date": d, "by": by},
        )
    rec = reread.recovered(conn, d)
    return SuccessRate(date=d, by=by, groups=rows, reread=RereadTally.model_validate(rec))


@router.get("/completeness/report")
def success_report(_: Viewer, conn: Db, settings: SettingsDep, d: ReportDay) -> SuccessReport:
    """Every grouping of the day's success rate (organisation, area, concentrator, protocol,
    customer class) from one pass over the archive, and the re-reading tally."""
    groups = completeness.report(conn, d, threshold=settings.success_threshold)
    rec = reread.recovered(conn, d)
    return SuccessReport(date=d, groups=groups, reread=RereadTally.model_validate(rec))


@router.get("/completeness/trend")
def trend(
    _: Viewer,
    conn: Db,
    settings: SettingsDep,
    end: Yesterday,
    days: int = Query(30, ge=1, le=62),
) -> Trend:
    """The organisation's success rate for each of the last ``days`` data dates (oldest
    first, ending yesterday in the utility time zone)."""
    items = reports.trend(conn, end - timedelta(days=days - 1), end, by="all", key=None)
    out = [
        {
            "date": r["date"],
            "key": "all",
            "due": r["due"],
            "read": r["read"],
            "rate": rate,
            "below_threshold": rate is not None and rate < settings.success_threshold,
        }
        for r in items
        for rate in [round(r["read"] / r["due"], 6) if r["due"] else None]
    ]
    return Trend(days=out)


@router.get("/failed-meters", response_model=FailedMeters, responses=FILE_RESPONSES)
def failed(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    page: Paging,
    out: Out,
    area_id: AreaId = None,
    gateway_id: GatewayId = None,
    area: OldArea = None,
    gateway: OldGateway = None,
) -> Any:
    """The due meters without a reading for the data date, by area and meter, each with a
    reason to act on, its last good reading and its re-read request, paged; ``format=csv|xlsx``
    answers all of them as a file. ``area`` and ``gateway`` are deprecated spellings of
    ``area_id`` and ``gateway_id``."""
    area_id = one_of("area_id", area_id, "area", area)
    gateway_id = one_of("gateway_id", gateway_id, "gateway", gateway)

    def fetch(limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        rows = completeness.failed_meters(
            conn,
            d,
            tz=settings.utility_timezone,
            limit=limit,
            offset=offset,
            area=area_id,
            gateway=gateway_id,
            lang=out.lang,
        )
        total = completeness.failed_meters_total(conn, d, area=area_id, gateway=gateway_id)
        return rows, total

    return listing(
        conn,
        principal,
        out,
        page,
        fetch,
        report="failed-meters",
        what=("失败电表清单", "Failed meters"),
        scope={"date": d, "area_id": area_id, "gateway_id": gateway_id},
        extra={"date": d},
    )


@router.get("/curve-completeness", response_model=CurveCompleteness, responses=FILE_RESPONSES)
def curves(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    out: Out,
    today: LocalToday,
    by: Grouping = "area",
) -> Any:
    """Load-curve completeness of the data date per grouping: meters, 15-minute points
    stored and expected (96 a meter), meters with a complete curve, and
    ``curve_rereadable``: meters lacking points whose curve can be re-read from the meter
    (DL/T 698.45 meters, the date within their 10-day curve history). ``curve_reread``
    names those meters (at most 1,000) with each one's latest curve re-read request; ask
    for one with ``POST /api/reread`` and an item of ``"kind": "curve"``."""
    tz = settings.utility_timezone
    rows = completeness.curve_completeness(conn, d, tz, by, today=today)
    if out.format != "json":
        return export(
            conn,
            principal,
            out,
            rows,
            report="curve-completeness",
            what=("曲线完整率", "Load-curve completeness"),
            scope={"date": d, "by": by},
        )
    meters, total = completeness.rereadable_curves(conn, d, tz, today=today)
    reread_info = CurveReread(
        protocols=reread.CURVE_REREADABLE,
        history_days=reread.CURVE_DAYS,
        within_history=completeness.curve_rereadable_day(d, today),
        meters=meters,
        total=total,
    )
    return CurveCompleteness(date=d, by=by, groups=rows, curve_reread=reread_info)


@router.get("/line-loss", response_model=LineLoss, responses=FILE_RESPONSES)
def loss(principal: Viewer, conn: Db, d: ReportDay, out: Out) -> Any:
    """Per transformer area for the data date: supply (the area master meter), sales (the
    customers' meters), the loss ratio, and whether the area's readings are complete (the
    loss is null when not, instead of a false figure)."""
    rows = rules.line_loss(conn, d)
    if out.format != "json":
        return export(
            conn,
            principal,
            out,
            rows,
            report="line-loss",
            what=("台区线损", "Line loss per area"),
            scope={"date": d},
            labels={"complete": ("数据完整", "Readings complete")},
        )
    return LineLoss(date=d, areas=rows)
