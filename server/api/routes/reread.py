"""Staff re-reading (补抄): ask concentrators to read meters' frozen values of past days
again, within the meters' freeze history. The automatic re-reading is a job
(:mod:`server.checks.reread`); this route queues the same ``backfill`` commands on request,
and for a DL/T 698.45 meter's day of 15-minute curve (曲线补抄) ``backfill_curve`` ones."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from protocols import wire
from server.checks import reread
from server.db.queries import reread as q

from ..actor import current_actor
from ..deps import Db, LocalToday, Operator, SettingsDep
from ..models import RereadRequested

router = APIRouter(prefix="/api", tags=["re-reading"])


#: What an item may ask of a meter-day: its daily freeze, or its 15-minute curve.
KINDS = ("freeze", "curve")


class RereadIn(BaseModel):
    items: list[dict[str, str]] = Field(min_length=1)


@router.post("/reread", status_code=202)
def staff_reread(
    principal: Operator, body: RereadIn, conn: Db, today: LocalToday, settings: SettingsDep
) -> RereadRequested:
    """Re-read the given meter-days (each within the 62-day freeze history, at most 10,000
    in one request, repeats asked once): one backfill command per concentrator for the
    meter-days no unanswered command already asks for, queued beside any pending one. The
    answer says per concentrator how many were requested now and how many were already
    pending (those stay with their earlier command and its record).

    An item with ``"kind": "curve"`` asks instead for that local day's 15-minute curve
    (96 points) from a DL/T 698.45 meter's minute freeze (曲线补抄), within the meters'
    10-day curve history; a meter of another protocol is refused (422) since it keeps no
    curve. Those go in backfill_curve commands, counted in ``curves_requested`` and
    ``curves_already_pending``. ``kind`` defaults to ``freeze``."""
    if len(body.items) > wire.MAX_COMMAND_ITEMS:
        raise HTTPException(
            422,
            f"items: {len(body.items)} meter-days exceed the limit of {wire.MAX_COMMAND_ITEMS} "
            "per request; send them in several requests",
        )
    items: list[tuple[str, str, date]] = []
    curves: list[tuple[str, str, date]] = []
    seen: set[tuple[str, date, str]] = set()
    with conn.transaction():
        for i, it in enumerate(body.items):
            kind = it.get("kind", "freeze")
            if kind not in KINDS:
                raise HTTPException(
                    422, f"items[{i}].kind: {kind!r} is not one of {', '.join(KINDS)}"
                )
            extra = sorted(set(it) - {"meter", "date", "kind"})
            if extra:
                raise HTTPException(
                    422, f"items[{i}]: unknown key {extra[0]!r} (an item is meter, date, kind)"
                )
            try:
                d = date.fromisoformat(it.get("date", ""))
            except ValueError:
                raise HTTPException(422, f"items[{i}].date: expected YYYY-MM-DD") from None
            days, history = (
                (reread.CURVE_DAYS, "curve (minute freeze)")
                if kind == "curve"
                else (reread.HISTORY_DAYS, "freeze")
            )
            if not 1 <= (today - d).days <= days:
                raise HTTPException(
                    422, f"items[{i}].date: {d} is outside the meters' {days}-day {history} history"
                )
            found = q.meter_gateway_protocol(conn, meter=it.get("meter"))
            gateway, protocol = found if found is not None else (None, "")
            if gateway is None:
                raise HTTPException(
                    422,
                    f"items[{i}].meter: {it.get('meter')!r} is not in "
                    "the archive or has no concentrator",
                )
            if kind == "curve" and protocol not in reread.CURVE_REREADABLE:
                raise HTTPException(
                    422,
                    f"items[{i}].meter: {it['meter']!r} is a {protocol} meter, which keeps no "
                    "15-minute curve to re-read (only "
                    f"{', '.join(reread.CURVE_REREADABLE)} meters' minute freeze can)",
                )
            key = (str(it["meter"]), d, kind)
            if key not in seen:
                seen.add(key)
                (curves if kind == "curve" else items).append((key[0], gateway, d))
        actor = current_actor(principal)
        sent = reread.request(
            conn, items, requested_by=actor, per_gateway=len(items), beside_pending=True
        )
        curve_sent = reread.request_curves(
            conn, curves, requested_by=actor, tz=settings.utility_timezone
        )
    return RereadRequested(
        requested=sent.requested,
        already_pending=sent.already_pending,
        curves_requested=curve_sent.requested,
        curves_already_pending=curve_sent.already_pending,
    )
