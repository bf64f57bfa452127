"""Staff re-reading (补抄): ask concentrators to read meters' frozen values of past days
again, within the meters' freeze history. The automatic re-reading is a job
(:mod:`server.checks.reread`); this route queues the same ``backfill`` commands on request."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, HTTPException
from pydantic import BaseModel, Field

from protocols import wire
from server.checks import reread
from server.db.queries import reread as q

from ..actor import current_actor
from ..deps import Db, LocalToday, Operator
from ..models import RereadRequested

router = APIRouter(prefix="/api", tags=["re-reading"])


class RereadIn(BaseModel):
    items: list[dict[str, str]] = Field(min_length=1)


@router.post("/reread", status_code=202)
def staff_reread(
    principal: Operator, body: RereadIn, conn: Db, today: LocalToday
) -> RereadRequested:
    """Re-read the given meter-days (each within the 62-day freeze history, at most 10,000
    in one request, repeats asked once): one backfill command per concentrator for the
    meter-days no unanswered command already asks for, queued beside any pending one. The
    answer says per concentrator how many were requested now and how many were already
    pending (those stay with their earlier command and its record)."""
    if len(body.items) > wire.MAX_COMMAND_ITEMS:
        raise HTTPException(
            422,
            f"items: {len(body.items)} meter-days exceed the limit of {wire.MAX_COMMAND_ITEMS} "
            "per request; send them in several requests",
        )
    items = []
    seen: set[tuple[str, date]] = set()
    with conn.transaction():
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
            gateway = q.meter_gateway(conn, meter=it.get("meter"))
            if gateway is None:
                raise HTTPException(
                    422,
                    f"items[{i}].meter: {it.get('meter')!r} is not in "
                    "the archive or has no concentrator",
                )
            if (str(it["meter"]), d) not in seen:
                seen.add((str(it["meter"]), d))
                items.append((str(it["meter"]), gateway, d))
        sent = reread.request(
            conn,
            items,
            requested_by=current_actor(principal),
            per_gateway=len(items),
            beside_pending=True,
        )
    return RereadRequested(requested=sent.requested, already_pending=sent.already_pending)
