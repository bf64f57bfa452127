"""The log of scheduled job runs (``job_runs``) and the advisory lock that lets one process
at a time run a job: written by :mod:`server.jobs`, read back for the API. What the jobs
do is elsewhere (:mod:`server.checks`, :mod:`server.db.partitions`)."""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


def recent(
    conn: psycopg.Connection[Any], *, limit: int, offset: int = 0, job: str | None = None
) -> tuple[list[dict[str, Any]], int]:
    """A page of runs (of one job, or all), newest first, and how many there are in all."""
    where = "WHERE job = %(job)s" if job is not None else ""
    params = {"job": job, "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT * FROM job_runs {where} ORDER BY id DESC LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM job_runs {where}", params).fetchone()
    return rows, int(total[0]) if total else 0


def try_job_lock(conn: psycopg.Connection[Any], *, key: int) -> bool:
    """Take the session-level advisory lock ``key``; False when another session holds it."""
    row = conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone()
    return bool(row and row[0])


def release_job_lock(conn: psycopg.Connection[Any], *, key: int) -> None:
    conn.execute("SELECT pg_advisory_unlock(%s)", (key,))


def start_job_run(conn: psycopg.Connection[Any], *, job: str) -> int | None:
    """Record that ``job`` started now; the run's id."""
    row = conn.execute("INSERT INTO job_runs (job) VALUES (%s) RETURNING id", (job,)).fetchone()
    return int(row[0]) if row else None


def finish_job_run(
    conn: psycopg.Connection[Any], *, run_id: int | None, outcome: str, detail: Any
) -> None:
    """Close a run with its outcome (``ok`` or ``error``) and a JSON detail."""
    conn.execute(
        "UPDATE job_runs SET finished_at = now(), outcome = %s, detail = %s WHERE id = %s",
        (outcome, Jsonb(detail), run_id),
    )
