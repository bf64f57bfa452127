"""Line loss (线损) as a clerk works it (issue 19): every area's loss of a day with its
status against the thresholds (high: above the line-loss rule's ``max_ratio``; negative:
below zero, as the rule judges; not computable: a meter it needs is unread), one area with
the meters that block it, the area's loss per day, and for an area its customers ranked as
theft suspects (反窃电): consumption dropped or went to zero while the area's loss rose,
zero-consumption households (零度户), registers that went backwards or stopped.

The day's figures are :func:`server.checks.rules.line_loss` (the rule's own query); the
rest is :mod:`server.db.queries.line_loss`."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query

from server.checks import rules
from server.db.queries import line_loss as q
from server.db.queries import org as qo

from ..contract import Page
from ..deps import Db, ReportDay, Viewer, Yesterday
from ..privacy import redact_meter
from ..workbench import Limit, Offset, WorkPage, body
from ..workbench_models import LineLossArea, LineLossTrend
from .export import FILE_RESPONSES, Out, at_hand, listing

router = APIRouter(prefix="/api", tags=["line loss"])

Status = Literal["high", "negative", "not_computable", "normal"]
#: below this loss an area is "negative" (the master registers less than its customers):
#: the line-loss rule's own limit
NEGATIVE_THRESHOLD = 0.0
#: the suspect signals and what each adds to a customer's score
WEIGHTS = {
    "zero_consumption": 1.0,
    "register_reversed": 1.0,
    "register_stopped": 0.8,
    "consumption_dropped": 0.5,
}
#: the anomaly rules whose open or confirmed records mark a register as stopped / reversed
STOPPED_RULES = ("stopped",)
REVERSED_RULES = ("reverse_energy", "decrease")


def high_threshold(conn: Db) -> float:
    return float(rules.effective_params(rules.load_params(conn), "line_loss")["max_ratio"])


def status_of(loss: float | None, high: float) -> Status:
    if loss is None:
        return "not_computable"
    if loss < NEGATIVE_THRESHOLD:
        return "negative"
    return "high" if loss > high else "normal"


def _figures(row: dict[str, Any], high: float, names: dict[str, dict[str, Any]]) -> dict[str, Any]:
    supply, sales, loss = row["supply"], row["sales"], row["loss"]
    return {
        "area_id": row["area_id"],
        "name": names.get(row["area_id"], {}).get("name"),
        "org_id": names.get(row["area_id"], {}).get("org_id"),
        "supply": None if supply is None else round(supply, 4),
        "sales": None if sales is None else round(sales, 4),
        "loss": None if loss is None or supply is None else round(supply - (sales or 0), 4),
        "loss_rate": None if loss is None else round(loss, 6),
        "status": status_of(loss, high),
        "due": int(row["due"]),
        "read": int(row["read"]),
        "implausible": int(row["implausible"]),
        "blocking": int(row["due"]) - int(row["read"]),
    }


@router.get("/line-loss/areas", response_model=WorkPage, responses=FILE_RESPONSES)
def line_loss_areas(
    principal: Viewer,
    conn: Db,
    out: Out,
    d: ReportDay,
    org_id: str | None = None,
    status: Status | None = None,
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """Every area's loss of the day (of ``org_id`` and the units below it): ``supply``
    (its master meters), ``sales`` (its customers), ``loss`` (kWh), ``loss_rate`` and
    ``status`` (high, negative, not_computable, normal), with ``blocking`` the meters it
    lacks. ``by_status`` counts the statuses before the ``status`` filter; the thresholds
    are beside."""
    high = high_threshold(conn)
    names = q.area_names(conn)
    rows = [_figures(r, high, names) for r in rules.line_loss(conn, d)]
    if org_id is not None:
        units = qo.org_units(conn)
        if org_id not in {u["id"] for u in units}:
            raise HTTPException(404, f"no org unit {org_id!r}")
        under = qo.descendants(units, org_id)
        rows = [r for r in rows if r["org_id"] in under]
    by_status = {s: 0 for s in ("high", "negative", "not_computable", "normal")}
    for r in rows:
        by_status[r["status"]] += 1
    if status is not None:
        rows = [r for r in rows if r["status"] == status]
    return listing(
        conn,
        principal,
        out,
        Page(limit, offset),
        at_hand(rows),
        report="line-loss-areas",
        what=("台区线损", "Line loss per area"),
        scope={"date": d, "org_id": org_id, "status": status},
        extra={
            "date": d,
            "high_threshold": high,
            "negative_threshold": NEGATIVE_THRESHOLD,
            "by_status": by_status,
        },
    )


def _area(conn: Db, area_id: str) -> None:
    if not qo.area_exists(conn, area_id):
        raise HTTPException(404, f"no area {area_id!r}")


@router.get("/line-loss/areas/{area_id}", response_model=LineLossArea)
def line_loss_area(_: Viewer, conn: Db, area_id: str, d: ReportDay) -> dict[str, Any]:
    """One area's loss of the day and ``blocking_meters``: the meters that keep it from
    being computed (no freeze on the day or the day before, or an implausible difference),
    masters first, each with ``why``."""
    _area(conn, area_id)
    high = high_threshold(conn)
    names = q.area_names(conn)
    row = q.area_figures(conn, area_id, d)
    figures = (
        _figures(row, high, names)
        if row is not None
        else {
            "area_id": area_id,
            "name": names[area_id]["name"],
            "org_id": names[area_id]["org_id"],
            "supply": None,
            "sales": None,
            "loss": None,
            "loss_rate": None,
            "status": "not_computable",
            "due": 0,
            "read": 0,
            "implausible": 0,
            "blocking": 0,
        }
    )
    return body(
        date=d,
        **figures,
        high_threshold=high,
        negative_threshold=NEGATIVE_THRESHOLD,
        blocking_meters=q.blocking_meters(conn, area_id, d),
    )


def _daily(meters: dict[str, dict[str, Any]], days: list[date]) -> list[dict[str, Any]]:
    """The area's supply, sales and loss per day from its meters' consumption (computable
    only when every meter it needs has the day)."""
    due = q.due_per_day(meters, days)
    out = []
    for d in days:
        have = [m for m in meters.values() if d in m["use"]]
        supply = sum(m["use"][d] for m in have if m["is_area_master"])
        sales = sum(m["use"][d] for m in have if not m["is_area_master"])
        ok = len(have) >= due[d] and due[d] > 0 and supply > 0
        out.append(
            {
                "date": d,
                "supply": round(supply, 4) if have else None,
                "sales": round(sales, 4) if have else None,
                "loss_rate": round((supply - sales) / supply, 6) if ok else None,
                "due": due[d],
                "read": len(have),
            }
        )
    return out


@router.get("/line-loss/areas/{area_id}/trend", response_model=LineLossTrend)
def line_loss_trend(
    _: Viewer,
    conn: Db,
    area_id: str,
    yesterday: Yesterday,
    end: date | None = Query(None, description="the last day (default yesterday)"),
    days: int = Query(30, ge=1, le=92),
) -> dict[str, Any]:
    """The area's supply, sales, loss rate and status per day, with the thresholds."""
    _area(conn, area_id)
    last = end or yesterday
    span = [last - timedelta(days=i) for i in range(days - 1, -1, -1)]
    high = high_threshold(conn)
    items = _daily(q.daily_use(conn, area_id, span[0], last), span)
    for r in items:
        r["status"] = status_of(r["loss_rate"], high)
    return body(
        area_id=area_id,
        start=span[0],
        end=last,
        high_threshold=high,
        negative_threshold=NEGATIVE_THRESHOLD,
        items=items,
        total=len(items),
    )


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


@router.get(
    "/line-loss/areas/{area_id}/suspects", response_model=WorkPage, responses=FILE_RESPONSES
)
def line_loss_suspects(
    principal: Viewer,
    conn: Db,
    output: Out,
    area_id: str,
    d: ReportDay,
    days: int = Query(14, ge=4, le=62, description="the window, ending on date"),
    limit: Limit = 50,
    offset: Offset = 0,
) -> Any:
    """The area's customers ranked as theft suspects over the ``days`` up to ``date``: the
    window's later half (recent) against its earlier half (baseline). Signals:
    ``zero_consumption`` (every recent day read and zero), ``consumption_dropped`` (recent
    average at most half the baseline's of at least 0.5 kWh a day), ``register_reversed``
    (a day's register below the day before's, or an open reverse/decrease anomaly),
    ``register_stopped`` (an open 'stopped' anomaly in the window). ``score`` adds the
    signals' weights, and 0.25 more for a drop or zero while the area's loss rose. Only
    customers with a signal are listed, highest score first."""
    _area(conn, area_id)
    start = d - timedelta(days=days - 1)
    span = [start + timedelta(days=i) for i in range(days)]
    half = days // 2
    base_days, recent_days = span[:half], span[half:]
    meters = q.daily_use(conn, area_id, start, d)
    area = _daily(meters, span)
    base_loss = _mean([r["loss_rate"] for r in area[:half] if r["loss_rate"] is not None])
    recent_loss = _mean([r["loss_rate"] for r in area[half:] if r["loss_rate"] is not None])
    rose = base_loss is not None and recent_loss is not None and recent_loss > base_loss
    flagged = {
        (m, r)
        for m, r in conn.execute(
            "SELECT meter_id, rule FROM anomalies WHERE area_id = %s AND meter_id IS NOT NULL "
            "AND status IN ('open', 'confirmed') AND first_date <= %s AND last_date >= %s",
            (area_id, d, start),
        ).fetchall()
    }
    out = []
    for mid, m in meters.items():
        if m["is_area_master"]:
            continue
        use = m["use"]
        recent = [use[x] for x in recent_days if x in use]
        base = [use[x] for x in base_days if x in use]
        r_avg, b_avg = _mean(recent), _mean(base)
        signals = []
        if len(recent) == len(recent_days) and all(v == 0 for v in recent):
            signals.append("zero_consumption")
        elif r_avg is not None and b_avg is not None and b_avg >= 0.5 and r_avg <= b_avg / 2:
            signals.append("consumption_dropped")
        if any(v < 0 for v in use.values()) or any((mid, r) in flagged for r in REVERSED_RULES):
            signals.append("register_reversed")
        if any((mid, r) in flagged for r in STOPPED_RULES):
            signals.append("register_stopped")
        if not signals:
            continue
        score = sum(WEIGHTS[s] for s in signals)
        if rose and {"zero_consumption", "consumption_dropped"} & set(signals):
            score += 0.25
        change = round((r_avg - b_avg) / b_avg, 4) if r_avg is not None and b_avg else None
        out.append(
            {
                "meter_id": mid,
                "address": m["address"],
                "customer_name": m["customer_name"],
                "customer_account": m["customer_account"],
                "customer_class": m["customer_class"],
                "score": round(score, 4),
                "signals": signals,
                "recent_kwh_per_day": None if r_avg is None else round(r_avg, 4),
                "baseline_kwh_per_day": None if b_avg is None else round(b_avg, 4),
                "change": change,
                "drop_kwh_per_day": None
                if r_avg is None or b_avg is None
                else round(b_avg - r_avg, 4),
            }
        )
    out.sort(key=lambda r: (-r["score"], -(r["drop_kwh_per_day"] or 0), r["meter_id"]))
    return listing(
        conn,
        principal,
        output,
        Page(limit, offset),
        at_hand([redact_meter(r, principal) for r in out]),
        report=f"suspects-{area_id}",
        what=("窃电嫌疑用户", "Theft suspects"),
        scope={"area_id": area_id, "start": start, "end": d},
        extra={
            "area_id": area_id,
            "start": start,
            "end": d,
            "baseline_loss_rate": None if base_loss is None else round(base_loss, 6),
            "recent_loss_rate": None if recent_loss is None else round(recent_loss, 6),
            "area_loss_rose": rose,
        },
    )
