"""Automatic re-reading (补抄): failed meter-days still inside the meters' 62-day freeze
history become ``backfill`` commands to their concentrators, tracked to their results.
Never a flood: at most ``per_gateway`` meter-days per gateway per run, no meter-day asked
twice, and no new request to a gateway whose previous one is still unanswered."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from typing import Any

import psycopg

from protocols.vocabulary import FREEZE_HISTORY_DAYS
from server.gateways.commands import queue_command

HISTORY_DAYS = FREEZE_HISTORY_DAYS  # the meters' daily-freeze depth (DL/T 645 0506xxnn)


def missing_meter_days(
    conn: psycopg.Connection[Any], start: date, end: date
) -> list[tuple[str, str, date]]:
    """(meter, gateway, day) due and unread, oldest first, not yet requested."""
    return [
        (m, g, d)
        for m, g, d in conn.execute(
            """
        SELECT m.id, m.gateway_id, d::date
        FROM meters m CROSS JOIN generate_series(%(s)s::date, %(e)s::date, '1 day') d
        WHERE m.gateway_id IS NOT NULL AND m.protocol = 'dlt645-2007'
          AND m.installed_on <= d::date AND (m.removed_on IS NULL OR m.removed_on > d::date)
          AND NOT EXISTS (SELECT 1 FROM daily_freeze f WHERE f.meter_id = m.id
                          AND f.data_date = d::date AND f.quantity = 'energy_import_total')
          AND NOT EXISTS (SELECT 1 FROM reread_requests r WHERE r.meter_id = m.id
                          AND r.data_date = d::date)
        ORDER BY d, m.gateway_id, m.id""",
            {"s": start, "e": end},
        )
    ]


def request(
    conn: psycopg.Connection[Any],
    items: list[tuple[str, str, date]],
    *,
    requested_by: str,
    per_gateway: int,
) -> dict[str, int]:
    """Queue backfill commands for ``items``; returns meter-days requested per gateway."""
    by_gw: dict[str, list[tuple[str, date]]] = defaultdict(list)
    for meter, gw, day in items:
        by_gw[gw].append((meter, day))
    out: dict[str, int] = {}
    for gw, pairs in sorted(by_gw.items()):
        busy = conn.execute(
            "SELECT 1 FROM gateway_commands WHERE gateway_id = %s AND name = "
            "'backfill' AND status IN ('pending', 'sent') AND created_at > "
            "now() - interval '1 hour' LIMIT 1",
            (gw,),
        ).fetchone()
        if busy:
            continue
        take = pairs[:per_gateway]
        cmd = queue_command(
            conn,
            gateway_id=gw,
            name="backfill",
            requested_by=requested_by,
            args={"items": [{"meter": m, "date": d.isoformat()} for m, d in take]},
        )
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO reread_requests (meter_id, data_date, gateway_id, "
                "command_id, requested_by) VALUES (%s, %s, %s, %s, %s) "
                "ON CONFLICT (meter_id, data_date) DO UPDATE SET command_id = "
                "excluded.command_id, requested_at = now()",
                [(m, d, gw, cmd, requested_by) for m, d in take],
            )
        out[gw] = len(take)
    return out


def auto_reread(
    conn: psycopg.Connection[Any], today: date, *, per_gateway: int, days: int = 7
) -> dict[str, int]:
    """The daily job: the last ``days`` days (within the 62-day history)."""
    start = today - timedelta(days=min(days, HISTORY_DAYS))
    with conn.transaction():
        return request(
            conn,
            missing_meter_days(conn, start, today - timedelta(days=1)),
            requested_by="reread-job",
            per_gateway=per_gateway,
        )


def recovered(conn: psycopg.Connection[Any], day: date) -> dict[str, int]:
    row = conn.execute(
        """
        SELECT count(*), count(f.meter_id) FROM reread_requests r
        LEFT JOIN daily_freeze f ON f.meter_id = r.meter_id AND f.data_date = r.data_date
             AND f.quantity = 'energy_import_total'
        WHERE r.data_date = %s""",
        (day,),
    ).fetchone()
    return {"requested": int(row[0]) if row else 0, "recovered": int(row[1]) if row else 0}
