"""Audit rows for what staff and jobs *do* rather than change: running the anomaly checks,
sending commands to gateways, exporting reports as files. Each is one call where it
happens; the rows go through :func:`server.db.queries.archive.audit` into ``audit_log``
(chained by its trigger, read back at ``GET /api/audit``).

Scheduled jobs write as :data:`SYSTEM`, with the job's name in the row."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import psycopg

from .api.privacy import PERSONAL
from .db.queries.archive import audit, audit_many

SYSTEM = "system"
#: the ``requested_by`` of commands the scheduled jobs queue
#: (:func:`server.checks.reread.auto_reread`): audited as :data:`SYSTEM`
JOB_REQUESTERS = frozenset({"reread-job"})


def record_check_run(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    day: date,
    found: Mapping[str, int],
    failed: Mapping[str, str],
    rules: Iterable[str] | None = None,
    job: str | None = None,
) -> None:
    """A run of the anomaly rules: who, for which data date, which rules, what it found."""
    audit(
        conn,
        actor=actor,
        action="checks.run",
        entity="checks",
        entity_id=day.isoformat(),
        before=None,
        after={
            "date": day.isoformat(),
            "rules": sorted(rules) if rules is not None else "all",
            "found": dict(found),
            "failed": dict(failed),
            **({"job": job} if job else {}),
        },
    )


def record_command(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    command_id: str,
    gateway: str,
    name: str,
    args: Mapping[str, Any],
) -> None:
    """A command queued for a gateway (staff's re-reads and on-demand reads, the re-read
    job's backfills) by ``actor`` (a job's name becomes :data:`SYSTEM`, the name kept in
    the row): its id, gateway, name and what it asks (a backfill's meter-days are
    summarised: at most 10,000 of them)."""
    a, action, entity, entity_id, before, after = _command_row(
        actor, command_id, gateway, name, args
    )
    audit(
        conn, actor=a, action=action, entity=entity, entity_id=entity_id, before=before, after=after
    )


def record_commands(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    commands: list[tuple[str, str, str, Mapping[str, Any]]],
) -> None:
    """:func:`record_command` for many commands ((id, gateway, name, args)) at once: the
    same rows, in the given order, written in one statement."""
    audit_many(conn, [_command_row(actor, c, g, n, a) for c, g, n, a in commands])


def _command_row(
    actor: str, command_id: str, gateway: str, name: str, args: Mapping[str, Any]
) -> tuple[str, str, str, str, None, dict[str, Any]]:
    job = actor if actor in JOB_REQUESTERS else None
    shown: dict[str, Any] = dict(args)
    items = shown.get("items")
    if isinstance(items, list):
        days = sorted({str(it.get("date")) for it in items if isinstance(it, dict)})
        shown["items"] = len(items)
        shown["meters"] = len({str(it.get("meter")) for it in items if isinstance(it, dict)})
        shown["dates"] = [days[0], days[-1]] if days else []
    after = {"gateway": gateway, "name": name, "args": shown, **({"job": job} if job else {})}
    return SYSTEM if job else actor, "command.queued", "gateway_commands", command_id, None, after


def record_export(
    conn: psycopg.Connection[Any],
    *,
    actor: str,
    report: str,
    fmt: str,
    rows: list[dict[str, Any]],
    filters: Mapping[str, Any],
) -> None:
    """A report exported as a file: who, which report with which filters, how many rows,
    and which personal details (customer name, phone, address) the file carried."""
    personal = sorted({k for r in rows for k in PERSONAL if r.get(k) is not None})
    audit(
        conn,
        actor=actor,
        action="export",
        entity="report",
        entity_id=report,
        before=None,
        after={
            "format": fmt,
            "rows": len(rows),
            "filters": {k: v for k, v in filters.items() if v is not None},
            "personal_data": personal,
        },
    )
