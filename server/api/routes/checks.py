"""Completeness, failed meters, re-reading, line loss and the anomaly archive; CSV and XLSX
exports of the reports."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from pydantic import BaseModel, Field

from server.auth.deps import require_role
from server.auth.roles import Principal
from server.checks import completeness, reread, rule_table, rules
from server.db.queries.archive import audit

from ..actor import current_actor

router = APIRouter(prefix="/api", tags=["checks"])
Format = Literal["json", "csv", "xlsx"]


def _day(request: Request, day: date | None) -> date:
    if day is not None:
        return day
    now = request.app.state.clock.now()
    yesterday: date = now.astimezone(request.app.state.settings.tz).date() - timedelta(days=1)
    return yesterday


def export(rows: list[dict[str, Any]], fmt: str, name: str) -> Any:
    if fmt == "json":
        return rows
    cols = list(rows[0].keys()) if rows else ["empty"]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return Response(
            buf.getvalue().encode("utf-8-sig"),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(cols)
    for r in rows:
        ws.append(
            [
                v if isinstance(v, (int, float, str)) or v is None else str(v)
                for v in (r.get(c) for c in cols)
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )


@router.get("/completeness")
def success_rate(
    request: Request,
    day: date | None = Query(None, alias="date"),
    by: Literal["all", "area", "gateway", "protocol", "customer_class"] = "all",
    format: Format = "json",
    _: Principal = Depends(require_role("viewer")),
) -> Any:
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        rows = completeness.success_rate(conn, d, by, request.app.state.settings.success_threshold)
        rec = reread.recovered(conn, d)
    if format != "json":
        return export(rows, format, f"success-rate-{d}-{by}")
    return {"date": d, "by": by, "groups": rows, "reread": rec}


@router.get("/completeness/report")
def success_report(
    request: Request,
    day: date | None = Query(None, alias="date"),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    """Every grouping of the day's success rate (organisation, area, concentrator, protocol,
    customer class) from one pass over the archive, and the re-reading tally."""
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        groups = completeness.report(
            conn, d, threshold=request.app.state.settings.success_threshold
        )
        rec = reread.recovered(conn, d)
    return {"date": d, "groups": groups, "reread": rec}


@router.get("/completeness/trend")
def trend(
    request: Request,
    days: int = Query(30, ge=1, le=62),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    end = _day(request, None)
    out = []
    with request.app.state.pool.connection() as conn:
        for n in range(days - 1, -1, -1):
            d = end - timedelta(days=n)
            g = completeness.success_rate(conn, d, "all")
            out.append({"date": d, **(g[0] if g else {"due": 0, "read": 0, "rate": None})})
    return {"days": out}


@router.get("/failed-meters")
def failed(
    request: Request,
    day: date | None = Query(None, alias="date"),
    area: str | None = None,
    gateway: str | None = None,
    limit: int = Query(1000, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    format: Format = "json",
    _: Principal = Depends(require_role("viewer")),
) -> Any:
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        rows = completeness.failed_meters(
            conn, d, limit=limit, offset=offset, area=area, gateway=gateway
        )
    if format != "json":
        return export(rows, format, f"failed-meters-{d}")
    return {"date": d, "items": rows}


@router.get("/curve-completeness")
def curves(
    request: Request,
    day: date | None = Query(None, alias="date"),
    by: Literal["all", "area", "gateway", "protocol", "customer_class"] = "area",
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        rows = completeness.curve_completeness(
            conn, d, request.app.state.settings.utility_timezone, by
        )
    return {"date": d, "by": by, "groups": rows}


@router.get("/line-loss")
def loss(
    request: Request,
    day: date | None = Query(None, alias="date"),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        return {"date": d, "areas": rules.line_loss(conn, d)}


class RereadIn(BaseModel):
    items: list[dict[str, str]] = Field(min_length=1, max_length=10_000)


@router.post("/reread", status_code=202)
def staff_reread(
    body: RereadIn, request: Request, principal: Principal = Depends(require_role("operator"))
) -> dict[str, Any]:
    today = request.app.state.clock.now().astimezone(request.app.state.settings.tz).date()
    items = []
    with request.app.state.pool.connection() as conn, conn.transaction():
        for i, it in enumerate(body.items):
            try:
                d = date.fromisoformat(it.get("date", ""))
            except ValueError:
                raise HTTPException(422, f"items[{i}].date: expected YYYY-MM-DD") from None
            if not 1 <= (today - d).days <= reread.HISTORY_DAYS:
                raise HTTPException(
                    422,
                    f"items[{i}].date: {d} is outside the meters' "
                    f"{reread.HISTORY_DAYS}-day freeze history",
                )
            row = conn.execute(
                "SELECT gateway_id FROM meters WHERE id = %s", (it.get("meter"),)
            ).fetchone()
            if row is None or row[0] is None:
                raise HTTPException(
                    422,
                    f"items[{i}].meter: {it.get('meter')!r} is not in "
                    "the archive or has no concentrator",
                )
            items.append((str(it["meter"]), str(row[0]), d))
        conn.execute(
            "DELETE FROM reread_requests WHERE (meter_id, data_date) IN "
            "(SELECT * FROM unnest(%s::text[], %s::date[]))",
            ([m for m, _, _ in items], [d for _, _, d in items]),
        )
        sent = reread.request(
            conn, items, requested_by=current_actor(principal), per_gateway=len(items)
        )
    return {"requested": sent}


@router.get("/anomalies")
def anomalies(
    request: Request,
    status: str | None = None,
    rule: str | None = None,
    area: str | None = None,
    meter: str | None = None,
    limit: int = Query(100, ge=1, le=100_000),
    offset: int = Query(0, ge=0, le=1_000_000_000),
    format: Format = "json",
    _: Principal = Depends(require_role("viewer")),
) -> Any:
    where, params = [], []
    for col, val in (("status", status), ("rule", rule), ("area_id", area), ("meter_id", meter)):
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    clause = ("WHERE " + " AND ".join(where)) if where else ""
    with request.app.state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT * FROM anomalies {clause} ORDER BY last_date DESC, id LIMIT %s OFFSET %s",
            (*params, limit, offset),
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM anomalies {clause}", params).fetchone()
        by_rule = cur.execute(
            "SELECT rule, count(*) AS n FROM anomalies WHERE status IN "
            "('open', 'confirmed') GROUP BY rule ORDER BY rule"
        ).fetchall()
    if format != "json":
        return export(rows, format, "anomalies")
    return {"items": rows, "total": total["n"] if total else 0, "open_by_rule": by_rule}


TRANSITIONS = {
    "open": {"confirmed", "dismissed"},
    "confirmed": {"closed"},
    "dismissed": {"closed", "open"},
    "closed": set(),
}


class StatusIn(BaseModel):
    status: Literal["confirmed", "dismissed", "closed", "open"]
    comment: str = Field(min_length=1, max_length=2000)


@router.post("/anomalies/{anomaly_id}/status")
def set_status(
    anomaly_id: int,
    body: StatusIn,
    request: Request,
    principal: Principal = Depends(require_role("operator")),
) -> dict[str, Any]:
    actor = current_actor(principal)
    with (
        request.app.state.pool.connection() as conn,
        conn.transaction(),
        conn.cursor(row_factory=dict_row) as cur,
    ):
        row = cur.execute(
            "SELECT * FROM anomalies WHERE id = %s FOR UPDATE", (anomaly_id,)
        ).fetchone()
        if row is None:
            raise HTTPException(404, f"no anomaly {anomaly_id}")
        if body.status not in TRANSITIONS[row["status"]]:
            raise HTTPException(
                409, f"an anomaly that is {row['status']} cannot become {body.status}"
            )
        after = cur.execute(
            "UPDATE anomalies SET status = %s, comment = %s, updated_by = %s, "
            "updated_at = now() WHERE id = %s RETURNING *",
            (body.status, body.comment, actor, anomaly_id),
        ).fetchone()
        audit(
            conn,
            actor=actor,
            action="anomaly.status",
            entity="anomalies",
            entity_id=str(anomaly_id),
            before=row,
            after=after,
        )
    return dict(after or {})


@router.post("/checks/run")
def run_checks(
    request: Request,
    day: date | None = Query(None, alias="date"),
    _: Principal = Depends(require_role("operator")),
) -> dict[str, Any]:
    d = _day(request, day)
    with request.app.state.pool.connection() as conn:
        found = rules.run_rules(conn, d, request.app.state.settings.utility_timezone)
    return {"date": d, "found": found}


class ParamsIn(BaseModel):
    params: dict[str, float]


CustomerClass = Literal["*", "residential", "commercial", "industrial", "agricultural", "other"]


@router.get("/rules")
def list_rules(_: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    """The rule table: names, labels, scope, quantities, parameters with defaults and ranges."""
    return {"rules": rule_table.describe()}


@router.get("/rule-params")
def get_params(request: Request, _: Principal = Depends(require_role("viewer"))) -> dict[str, Any]:
    """Every rule's parameters in force: general, and per customer class where overridden."""
    with request.app.state.pool.connection() as conn:
        stored = rules.load_params(conn)
    out: dict[str, Any] = {}
    for rule in rules.DEFAULTS:
        by_class = {
            c: rules.effective_params(stored, rule, c)
            for c in rules.CUSTOMER_CLASSES
            if rule in stored.get(c, {})
        }
        out[rule] = {
            "defaults": rules.DEFAULTS[rule],
            "general": rules.effective_params(stored, rule),
            "by_customer_class": by_class,
        }
    return {"rules": out}


@router.put("/rule-params/{rule}")
def set_params(
    rule: str,
    body: ParamsIn,
    request: Request,
    customer_class: CustomerClass = Query("*"),
    principal: Principal = Depends(require_role("admin")),
) -> dict[str, Any]:
    """Set a rule's parameters for every customer class (``*``) or for one class."""
    try:
        rule_table.check_update(rule, body.params, customer_class)
    except rule_table.UnknownRule as exc:
        raise HTTPException(404, str(exc)) from exc
    except rule_table.BadParams as exc:
        raise HTTPException(422, str(exc)) from exc
    actor = current_actor(principal)
    with request.app.state.pool.connection() as conn, conn.transaction():
        before = conn.execute(
            "SELECT params FROM rule_params WHERE rule = %s AND customer_class = %s",
            (rule, customer_class),
        ).fetchone()
        conn.execute(
            "INSERT INTO rule_params (rule, customer_class, params, updated_by) "
            "VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (rule, customer_class) DO UPDATE SET params = "
            "excluded.params, updated_by = excluded.updated_by, updated_at = now()",
            (rule, customer_class, Jsonb(body.params), actor),
        )
        audit(
            conn,
            actor=actor,
            action="rule_params.update",
            entity="rule_params",
            entity_id=f"{rule}/{customer_class}",
            before=before[0] if before else None,
            after=body.params,
        )
        stored = rules.load_params(conn)
    return {
        "rule": rule,
        "customer_class": customer_class,
        "params": rules.effective_params(stored, rule, customer_class),
    }


@router.get("/jobs/runs")
def job_runs(
    request: Request,
    limit: int = Query(50, ge=1, le=1000),
    _: Principal = Depends(require_role("viewer")),
) -> dict[str, Any]:
    with request.app.state.pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute("SELECT * FROM job_runs ORDER BY id DESC LIMIT %s", (limit,)).fetchall()
    return {"runs": rows}
