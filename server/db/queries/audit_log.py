"""Reading the audit log back: the filtered, paged list for the API, and the walk along the
hash chain that migration 0530 makes (its trigger writes ``chain_seq``, ``prev_hash`` and
``row_hash`` on every insert; the SQL function ``audit_row_hash`` recomputes one row's).

Rows are written elsewhere (:func:`server.db.queries.archive.audit`,
:func:`server.db.queries.auth.audit_user_change`, :mod:`server.audit`)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

#: the columns the API shows (the chain's own columns are for audit-verify)
COLUMNS = "id, at, actor, action, entity, entity_id, before, after"


@dataclass(frozen=True)
class AuditFilter:
    entity: str | None = None
    entity_id: str | None = None
    actor: str | None = None
    action: str | None = None
    since: datetime | None = None  # inclusive
    until: datetime | None = None  # exclusive


def _where(f: AuditFilter) -> tuple[str, list[Any]]:
    where: list[str] = []
    params: list[Any] = []
    for col, val in (
        ("entity", f.entity),
        ("entity_id", f.entity_id),
        ("actor", f.actor),
        ("action", f.action),
    ):
        if val is not None:
            where.append(f"{col} = %s")
            params.append(val)
    if f.since is not None:
        where.append("at >= %s")
        params.append(f.since)
    if f.until is not None:
        where.append("at < %s")
        params.append(f.until)
    return ("WHERE " + " AND ".join(where)) if where else "", params


def listing(
    conn: psycopg.Connection[Any], f: AuditFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A page of audit rows, newest first (by time, then id), and how many match in all."""
    clause, params = _where(f)
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {COLUMNS} FROM audit_log {clause} ORDER BY at DESC, id DESC "
            "LIMIT %s OFFSET %s",
            (*params, limit, offset),
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM audit_log {clause}", params).fetchone()
    return rows, total["n"] if total else 0


@dataclass(frozen=True)
class ChainReport:
    """What :func:`verify_chain` found: ``rows`` checked, and the first ``problem`` (with
    the row it concerns) or None when the chain holds."""

    rows: int
    problem: str | None = None
    row_id: int | None = None
    head_hash: str | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _chain_rows(conn: psycopg.Connection[Any]) -> Iterator[tuple[Any, ...]]:
    # a named (server-side) cursor: the log can be longer than memory
    with conn.cursor(name="audit_verify") as cur:
        cur.itersize = 5000
        cur.execute(
            "SELECT id, chain_seq, prev_hash, row_hash, audit_row_hash(a, a.prev_hash) "
            "FROM audit_log a ORDER BY chain_seq NULLS LAST, id"
        )
        yield from cur


def verify_chain(conn: psycopg.Connection[Any]) -> ChainReport:
    """Recompute every row's hash in chain order and check the links: a changed row (its
    hash differs), a removed row (a gap in ``chain_seq``, or a link to a hash that is not
    the row before's), a row outside the chain, and the recorded end of the chain (rows
    removed from the end). Stops at the first problem."""
    n = 0
    prev_hash: bytes | None = None
    prev_seq = 0
    prev_id: int | None = None
    with conn.transaction():
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        for row_id, seq, linked, stored, recomputed in _chain_rows(conn):
            n += 1
            if seq is None or stored is None:
                return ChainReport(n, f"row {row_id} is outside the chain (no hash)", row_id)
            if seq != prev_seq + 1:
                after = f"row {prev_id}" if prev_id is not None else "the start"
                return ChainReport(
                    n,
                    f"rows missing: chain positions {prev_seq + 1}..{seq - 1} between "
                    f"{after} and row {row_id} are gone",
                    row_id,
                )
            if bytes(stored) != bytes(recomputed):
                return ChainReport(
                    n, f"row {row_id} (chain position {seq}) was changed: its hash differs", row_id
                )
            if (bytes(linked) if linked is not None else None) != prev_hash:
                return ChainReport(
                    n,
                    f"row {row_id} (chain position {seq}) does not follow the row before it "
                    f"({prev_id}): that row was changed or replaced",
                    row_id,
                )
            prev_hash, prev_seq, prev_id = bytes(stored), seq, row_id
        head = conn.execute("SELECT last_seq, last_hash FROM audit_chain_head").fetchone()
    if head is None:
        return ChainReport(n, "the chain's head (audit_chain_head) is missing")
    last_seq, last_hash = head
    if last_seq != prev_seq or (bytes(last_hash) if last_hash is not None else None) != prev_hash:
        after = f"row {prev_id}" if prev_id is not None else "the start"
        return ChainReport(
            n,
            f"rows missing at the end: the chain ends at position {last_seq}, the table "
            f"at {prev_seq} ({after})",
            prev_id,
        )
    return ChainReport(n, None, None, prev_hash.hex() if prev_hash else None)
