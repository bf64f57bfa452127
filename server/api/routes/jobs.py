"""What the scheduled jobs did: their recent runs, newest first, paged and exportable."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from server.db.queries import job_runs as q

from ..contract import Paging
from ..deps import Db, Viewer
from ..models import JobRuns
from .export import FILE_RESPONSES, Out, listing

router = APIRouter(prefix="/api", tags=["jobs"])


@router.get("/jobs/runs", response_model=JobRuns, responses=FILE_RESPONSES)
def job_runs(
    principal: Viewer,
    conn: Db,
    page: Paging,
    out: Out,
    job: Annotated[str | None, Query(max_length=100, description="only this job's runs")] = None,
) -> Any:
    """The scheduled jobs' runs (daily scan, re-reading, partitions, ...), newest first: when
    each started and finished, its outcome and what it did."""
    return listing(
        conn,
        principal,
        out,
        page,
        lambda limit, offset: q.recent(conn, limit=limit, offset=offset, job=job),
        report="job-runs",
        what=("定时任务记录", "Scheduled job runs"),
        scope={"job": job},
    )
