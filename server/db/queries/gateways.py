"""SQL for gateways' commands and reported status (tables ``gateway_commands`` and
``gateways``, and the changes statuses bring, ``gateway_online_log`` and
``meter_health_log``): what :mod:`server.gateways` writes (the wire checks and the sending are
there) and what the API reads back about one gateway or command."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, NamedTuple

from psycopg import Connection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


class PendingCommand(NamedTuple):
    id: str
    gateway_id: str
    name: str
    args: dict[str, Any]
    created_at: datetime


def gateway_exists(conn: Connection[Any], *, gateway_id: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM gateways WHERE id = %s", (gateway_id,)).fetchone() is not None
    )


def get_command(conn: Connection[Any], *, command_id: str) -> dict[str, Any] | None:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute("SELECT * FROM gateway_commands WHERE id = %s", (command_id,)).fetchone()


def insert_command(
    conn: Connection[Any],
    *,
    command_id: str,
    gateway_id: str,
    name: str,
    args: dict[str, Any],
    requested_by: str,
) -> None:
    conn.execute(
        "INSERT INTO gateway_commands (id, gateway_id, name, args, requested_by) "
        "VALUES (%s, %s, %s, %s, %s)",
        (command_id, gateway_id, name, Jsonb(args), requested_by),
    )


def insert_commands(
    conn: Connection[Any],
    rows: Sequence[tuple[str, str, str, dict[str, Any]]],
    *,
    requested_by: str,
) -> None:
    """Many commands ((id, gateway, name, args)) in one statement, in the given order."""
    conn.execute(
        "INSERT INTO gateway_commands (id, gateway_id, name, args, requested_by) "
        "SELECT c.id, c.gw, c.name, c.args, %s FROM unnest(%s::text[], %s::text[], "
        "%s::text[], %s::jsonb[]) WITH ORDINALITY AS c(id, gw, name, args, i) ORDER BY c.i",
        (
            requested_by,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [Jsonb(r[3]) for r in rows],
        ),
    )


def lock_pending_commands(conn: Connection[Any], *, limit: int) -> list[PendingCommand]:
    """The oldest pending commands, locked for the caller's transaction (rows another
    transaction holds are skipped, so two senders never send one command twice)."""
    rows = conn.execute(
        "SELECT id, gateway_id, name, args, created_at FROM gateway_commands "
        "WHERE status = 'pending' ORDER BY created_at LIMIT %s FOR UPDATE SKIP LOCKED",
        (limit,),
    ).fetchall()
    return [PendingCommand(i, gw, name, args or {}, created) for i, gw, name, args, created in rows]


def mark_command_sent(conn: Connection[Any], *, command_id: str) -> None:
    conn.execute(
        "UPDATE gateway_commands SET status = 'sent', sent_at = now() WHERE id = %s",
        (command_id,),
    )


class Finish(StrEnum):
    """What became of a result: stored, ignored because the command already has its answer,
    or naming no command of its gateway."""

    RECORDED = "recorded"
    KEPT = "kept"
    UNKNOWN = "unknown"


def finish_command(
    conn: Connection[Any],
    *,
    command_id: str,
    gateway_id: str,
    ok: bool,
    finished_at: datetime,
    result: dict[str, Any],
    error: str | None,
    duplicate: bool,
    outcome: str | None = None,
) -> Finish:
    """Close a command with its result (status ``outcome`` when given, else ``ok``/``error``
    by ``ok``). The first answer stands: a later one (a redelivery)
    is ignored, except that a real result replaces a gateway's "seen before" answer
    (``duplicate``), which never replaces anything. An expired command still takes its
    late answer (``expired_at`` stays)."""
    row = conn.execute(
        "SELECT finished_at IS NOT NULL, coalesce(result->'duplicate' = 'true'::jsonb, false) "
        "FROM gateway_commands WHERE id = %s AND gateway_id = %s FOR UPDATE",
        (command_id, gateway_id),
    ).fetchone()
    if row is None:
        return Finish.UNKNOWN
    answered, answered_as_duplicate = row
    if answered and (duplicate or not answered_as_duplicate):
        return Finish.KEPT
    conn.execute(
        "UPDATE gateway_commands SET status = %s, finished_at = %s, result = %s, error = %s "
        "WHERE id = %s",
        (outcome or ("ok" if ok else "error"), finished_at, Jsonb(result), error, command_id),
    )
    return Finish.RECORDED


def expire_commands(
    conn: Connection[Any],
    *,
    now: datetime,
    ttl_s: float,
    per_item_s: float,
    per_curve_item_s: float | None = None,
) -> list[str]:
    """Mark 'expired' every command still pending or sent ``ttl_s`` (plus ``per_item_s`` for
    each backfill item, ``per_curve_item_s`` for each backfill_curve item: a day of curve is
    far more line time than a daily freeze) after it was sent, or queued if never sent;
    returns their ids. A pending one is then never sent."""
    rows = conn.execute(
        "UPDATE gateway_commands SET status = 'expired', expired_at = %(now)s "
        "WHERE status IN ('pending', 'sent') "
        "AND coalesce(sent_at, created_at) < %(now)s - make_interval(secs => %(ttl)s "
        "+ CASE WHEN name = 'backfill_curve' THEN %(per_curve)s ELSE %(per_item)s END "
        f"* {_ITEMS}) RETURNING id",
        {
            "now": now,
            "ttl": ttl_s,
            "per_item": per_item_s,
            "per_curve": per_item_s if per_curve_item_s is None else per_curve_item_s,
        },
    ).fetchall()
    return [r[0] for r in rows]


#: how many items a command's arguments carry (0 for commands without ``items``)
_ITEMS = (
    "jsonb_array_length(CASE WHEN jsonb_typeof(args->'items') = 'array' "
    "THEN args->'items' ELSE '[]' END)"
)


def gateway_commands(
    conn: Connection[Any], *, gateway_id: str, status: str | None, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """A gateway's commands, newest first, without their arguments and results (a backfill
    carries up to 10,000 items): the item count and the result's top-level counts stand in."""
    return commands(
        conn, CommandFilter(gateway_id=gateway_id, status=status), limit=limit, offset=offset
    )


@dataclass(frozen=True)
class CommandFilter:
    """Which commands a listing shows: every filter optional; ``since``/``until`` bound
    ``created_at`` (``until`` excluded); a meter matches a command naming it (read_now's
    ``meter``, or one of a backfill's ``items``)."""

    gateway_id: str | None = None
    meter_id: str | None = None
    name: str | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def commands(
    conn: Connection[Any], f: CommandFilter, *, limit: int, offset: int
) -> tuple[list[dict[str, Any]], int]:
    """Commands matching ``f``, newest first, with who asked and when, the outcome
    (status, error, the result's top-level counts as ``summary``), the item count and the
    meter a one-meter command names; without arguments and results in full."""
    conds = [
        ("gateway_id = %(gw)s", f.gateway_id),
        ("name = %(name)s", f.name),
        ("status = %(status)s", f.status),
        ("created_at >= %(since)s", f.since),
        ("created_at < %(until)s", f.until),
        (
            "(args->>'meter' = %(meter)s OR args->'items' @> "
            "jsonb_build_array(jsonb_build_object('meter', %(meter)s::text)))",
            f.meter_id,
        ),
    ]
    where = " AND ".join([c for c, v in conds if v is not None] or ["TRUE"])
    params = {
        "gw": f.gateway_id,
        "name": f.name,
        "status": f.status,
        "since": f.since,
        "until": f.until,
        "meter": f.meter_id,
        "limit": limit,
        "offset": offset,
    }
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            "SELECT id, gateway_id, name, args->>'meter' AS meter_id, status, requested_by, "
            f"created_at, sent_at, finished_at, expired_at, error, {_ITEMS} AS items, "
            "(SELECT jsonb_object_agg(key, value) FROM jsonb_each(coalesce(result, '{}')) "
            " WHERE jsonb_typeof(value) IN ('number', 'boolean', 'string')) AS summary "
            f"FROM gateway_commands WHERE {where} "
            "ORDER BY created_at DESC, id LIMIT %(limit)s OFFSET %(offset)s",
            params,
        ).fetchall()
    total = conn.execute(f"SELECT count(*) FROM gateway_commands WHERE {where}", params).fetchone()
    return rows, int(total[0]) if total else 0


def stored_status(conn: Connection[Any], *, gateway_id: str) -> dict[str, Any] | None:
    """The gateway's stored status as reported (the wire payload), or None."""
    row = conn.execute("SELECT status FROM gateways WHERE id = %s", (gateway_id,)).fetchone()
    return row[0] if row and isinstance(row[0], dict) else None


def upsert_status(
    conn: Connection[Any],
    *,
    gateway_id: str,
    online: bool,
    status_at: datetime,
    status: dict[str, Any],
    version: str | None,
    over_newer: bool = False,
) -> datetime | None:
    """Record a gateway's reported status; a gateway not in the archive appears with
    ``known = false``, and a status older than the stored one changes nothing (unless
    ``over_newer``: then it replaces it, and the stored time stays the newer of the two).
    Returns the time of the status stored before (None for a gateway's first status)."""
    before = conn.execute(
        "SELECT status_at FROM gateways WHERE id = %s FOR UPDATE", (gateway_id,)
    ).fetchone()
    if over_newer and before is not None and before[0] is not None:
        status_at = max(status_at, before[0])
    conn.execute(
        "INSERT INTO gateways (id, online, known, last_seen, status, status_at, version) "
        "VALUES (%s, %s, false, %s, %s, %s, %s) ON CONFLICT (id) DO UPDATE SET "
        "online = excluded.online, last_seen = greatest(gateways.last_seen, "
        "excluded.last_seen), status = excluded.status, status_at = excluded.status_at, "
        "version = coalesce(nullif(excluded.version, ''), gateways.version), "
        "updated_at = now() WHERE gateways.status_at IS NULL OR "
        "gateways.status_at <= excluded.status_at",
        (gateway_id, online, status_at, Jsonb(status), status_at, version),
    )
    return before[0] if before else None


def log_health(
    conn: Connection[Any],
    *,
    gateway_id: str,
    at: datetime,
    online: bool,
    meters: Sequence[tuple[str, str, str | None]],
) -> None:
    """Keep the changes a gateway's status at ``at`` brings: its online state, and each
    meter's (state, error) — the error only while the meter is not ``ok`` (a meter that reads
    again is clear, whatever an older edge still reports). A meter first seen ``ok`` needs
    no row (no row means nothing was wrong). A will and the status it ends may share a time:
    the offline row sorts after the online one."""
    conn.execute(
        "INSERT INTO gateway_online_log (gateway_id, ts, online) SELECT %(gw)s, %(at)s, "
        "%(online)s WHERE (SELECT online FROM gateway_online_log WHERE gateway_id = %(gw)s "
        "AND ts <= %(at)s ORDER BY ts DESC, online LIMIT 1) IS DISTINCT FROM %(online)s "
        "ON CONFLICT DO NOTHING",
        {"gw": gateway_id, "at": at, "online": online},
    )
    if not meters:
        return
    ids, states, errors = (list(x) for x in zip(*meters, strict=True))
    conn.execute(
        """
        INSERT INTO meter_health_log (meter_id, ts, gateway_id, state, last_error)
        SELECT x.m, %(at)s, %(gw)s, x.s, CASE WHEN x.s <> 'ok' THEN x.e END
        FROM unnest(%(ids)s::text[], %(states)s::text[], %(errors)s::text[]) AS x(m, s, e)
        LEFT JOIN LATERAL (
            SELECT l.state, l.last_error FROM meter_health_log l
            WHERE l.meter_id = x.m AND l.ts <= %(at)s ORDER BY l.ts DESC LIMIT 1) p ON true
        WHERE CASE WHEN p.state IS NULL THEN x.s <> 'ok'
                   ELSE (p.state, p.last_error)
                        IS DISTINCT FROM (x.s, CASE WHEN x.s <> 'ok' THEN x.e END) END
        ON CONFLICT (meter_id, ts) DO UPDATE SET state = excluded.state,
            last_error = excluded.last_error, gateway_id = excluded.gateway_id
        """,
        {"gw": gateway_id, "at": at, "ids": ids, "states": states, "errors": errors},
    )


def drop_old_health(conn: Connection[Any], cutoff: datetime) -> dict[str, int]:
    """Retention for the two change logs: drop each gateway's and each meter's rows older
    than its latest row at or before ``cutoff``. That row (and a will sharing its time) states
    what was true at the cutoff and stays, so every day the failed list can still judge (by
    the latest change at or before the day's close, then the day's own) is judged as before.
    Returns rows dropped per log."""
    gw = conn.execute(
        "DELETE FROM gateway_online_log o USING (SELECT gateway_id, max(ts) AS edge "
        "FROM gateway_online_log WHERE ts <= %(c)s GROUP BY gateway_id) e "
        "WHERE o.gateway_id = e.gateway_id AND o.ts < e.edge",
        {"c": cutoff},
    ).rowcount
    meters = conn.execute(
        "DELETE FROM meter_health_log l USING (SELECT meter_id, max(ts) AS edge "
        "FROM meter_health_log WHERE ts <= %(c)s GROUP BY meter_id) e "
        "WHERE l.meter_id = e.meter_id AND l.ts < e.edge",
        {"c": cutoff},
    ).rowcount
    return {"gateway_online_log": gw, "meter_health_log": meters}
