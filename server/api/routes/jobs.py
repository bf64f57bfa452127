"""What the scheduled jobs did: their recent runs, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query

from server.db.queries import job_runs as q

from ..deps import Db, Viewer
from ..models import JobRuns

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs/runs")
def job_runs(_: Viewer, conn: Db, limit: int = Query(50, ge=1, le=1000)) -> JobRuns:
    return JobRuns(runs=q.recent(conn, limit=limit))
