"""The day's collection reports: success rate (by any grouping, as a trend, in one report),
the meters that failed and why, load-curve completeness, and line loss per transformer
area. Each report is about one data date, by default yesterday in the utility time zone;
the success rate and failed meters also export as CSV or XLSX."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal

from fastapi import APIRouter, Query

from server.audit import record_export
from server.checks import completeness, reread, rules

from ..actor import current_actor
from ..deps import Db, ReportDay, SettingsDep, Viewer, Yesterday
from ..models import (
    CurveCompleteness,
    FailedMeters,
    LineLoss,
    RereadTally,
    SuccessRate,
    SuccessReport,
    Trend,
)
from .export import FILE_RESPONSES, Format, export

router = APIRouter(prefix="/api", tags=["completeness"])
Grouping = Literal["all", "area", "gateway", "protocol", "customer_class"]


@router.get("/completeness", response_model=SuccessRate, responses=FILE_RESPONSES)
def success_rate(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    by: Grouping = "all",
    format: Format = "json",
) -> Any:
    rows = completeness.success_rate(conn, d, by, settings.success_threshold)
    rec = reread.recovered(conn, d)
    if format != "json":
        record_export(
            conn,
            actor=current_actor(principal),
            report="success-rate",
            fmt=format,
            rows=rows,
            filters={"date": d, "by": by},
        )
        return export(rows, format, f"success-rate-{d}-{by}")
    return SuccessRate(date=d, by=by, groups=rows, reread=RereadTally.model_validate(rec))


@router.get("/completeness/report")
def success_report(_: Viewer, conn: Db, settings: SettingsDep, d: ReportDay) -> SuccessReport:
    """Every grouping of the day's success rate (organisation, area, concentrator, protocol,
    customer class) from one pass over the archive, and the re-reading tally."""
    groups = completeness.report(conn, d, threshold=settings.success_threshold)
    rec = reread.recovered(conn, d)
    return SuccessReport(date=d, groups=groups, reread=RereadTally.model_validate(rec))


@router.get("/completeness/trend")
def trend(_: Viewer, conn: Db, end: Yesterday, days: int = Query(30, ge=1, le=62)) -> Trend:
    out = []
    for n in range(days - 1, -1, -1):
        d = end - timedelta(days=n)
        g = completeness.success_rate(conn, d, "all")
        out.append({"date": d, **(g[0] if g else {"due": 0, "read": 0, "rate": None})})
    return Trend(days=out)


@router.get("/failed-meters", response_model=FailedMeters, responses=FILE_RESPONSES)
def failed(
    principal: Viewer,
    conn: Db,
    settings: SettingsDep,
    d: ReportDay,
    area: str | None = None,
    gateway: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    format: Format = "json",
) -> Any:
    rows = completeness.failed_meters(
        conn,
        d,
        tz=settings.utility_timezone,
        limit=limit,
        offset=offset,
        area=area,
        gateway=gateway,
    )
    if format != "json":
        record_export(
            conn,
            actor=current_actor(principal),
            report="failed-meters",
            fmt=format,
            rows=rows,
            filters={"date": d, "area": area, "gateway": gateway, "limit": limit, "offset": offset},
        )
        return export(rows, format, f"failed-meters-{d}")
    return FailedMeters(date=d, items=rows)


@router.get("/curve-completeness")
def curves(
    _: Viewer, conn: Db, settings: SettingsDep, d: ReportDay, by: Grouping = "area"
) -> CurveCompleteness:
    rows = completeness.curve_completeness(conn, d, settings.utility_timezone, by)
    return CurveCompleteness(date=d, by=by, groups=rows)


@router.get("/line-loss")
def loss(_: Viewer, conn: Db, d: ReportDay) -> LineLoss:
    return LineLoss(date=d, areas=rules.line_loss(conn, d))
