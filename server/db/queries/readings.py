"""Reading queries for the API: curves, latest values, daily freezes (both DB flavours).

Readings are read through ``readings_between(lo, hi)``: the hot table and the compact
history as one (:mod:`server.db.compact`)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row

#: the MAC and RN a reading carries (an ESAM meter's, issue 21) as upper-case hex, or null
MAC_COLUMNS = "upper(encode(k.mac, 'hex')) AS mac, upper(encode(k.rn, 'hex')) AS rn"


def curve(
    conn: psycopg.Connection[Any],
    *,
    meter: str,
    quantity: str,
    start: datetime,
    end: datetime,
    limit: int,
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT ts, value, source, quality, " + MAC_COLUMNS + " FROM readings_between(%s, %s)"
            " LEFT JOIN reading_macs k USING (meter_id, quantity, ts) "
            "WHERE meter_id = %s AND quantity = %s AND kind = 'interval' ORDER BY ts LIMIT %s",
            (start, end, meter, quantity, limit),
        ).fetchall()


def latest(conn: psycopg.Connection[Any], *, meter: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        # freezes live in daily_freeze (not in readings): the newest of any counts (the residue
        # table's too); of
        # the compact history only each quantity's newest row can hold its latest reading
        return cur.execute(
            "SELECT DISTINCT ON (quantity) quantity, ts, value, kind, source, quality, mac, rn"
            " FROM ("
            " SELECT x.quantity, x.ts, x.value, x.kind, x.source, x.quality, "
            + MAC_COLUMNS
            + " FROM ("
            " SELECT quantity, ts, value, kind, source, quality FROM readings"
            " WHERE meter_id = %(m)s AND ts > now() - interval '400 days'"
            " UNION ALL SELECT quantity, ts, value, kind, source, quality FROM readings_cold"
            " WHERE meter_id = %(m)s AND ts > now() - interval '400 days'"
            " UNION ALL SELECT l.quantity, l.ts, l.value, l.kind, l.source, l.quality"
            " FROM quantity_keys k"
            " CROSS JOIN LATERAL (SELECT c.day_start FROM readings_compact c"
            "  WHERE c.meter_id = %(m)s AND c.qkey = k.key"
            "  AND c.day_start > now() - interval '401 days'"
            "  ORDER BY c.day_start DESC LIMIT 1) c"
            " CROSS JOIN LATERAL (SELECT r.quantity, r.ts, r.value, r.kind, r.source, r.quality"
            "  FROM readings_between(c.day_start, c.day_start + interval '25 hours') r"
            "  WHERE r.meter_id = %(m)s AND r.quantity = k.quantity"
            "  ORDER BY r.ts DESC LIMIT 1) l"
            " WHERE l.ts > now() - interval '400 days') x"
            " LEFT JOIN reading_macs k ON k.meter_id = %(m)s AND k.quantity = x.quantity"
            "  AND k.ts = x.ts"
            " UNION ALL SELECT f.quantity, f.freeze_ts, f.value, 'freeze', f.source, f.quality, "
            + MAC_COLUMNS
            + " FROM daily_freeze f LEFT JOIN freeze_macs k USING (meter_id, quantity, data_date)"
            " WHERE f.meter_id = %(m)s AND f.freeze_ts > now() - interval '400 days') y "
            "ORDER BY quantity, ts DESC, kind",
            {"m": meter},
        ).fetchall()


def freezes(
    conn: psycopg.Connection[Any], *, meter: str, start: date, end: date
) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT data_date, quantity, value, freeze_ts, source, quality, "
            + MAC_COLUMNS
            + " FROM daily_freeze LEFT JOIN freeze_macs k USING (meter_id, quantity, data_date) "
            "WHERE meter_id = %s AND data_date BETWEEN %s AND %s ORDER BY data_date, quantity",
            (meter, start, end),
        ).fetchall()


def _page(
    conn: psycopg.Connection[Any],
    *,
    table: str,
    columns: str,
    order: str,
    meter: str,
    start: datetime,
    end: datetime,
    quantity: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """One page of a meter's rows of ``table`` in [start, end) (one quantity or all), and
    how many there are in all. ``table`` may name ``%(s)s`` and ``%(e)s``."""
    cond = "meter_id = %(m)s AND ts >= %(s)s AND ts < %(e)s"
    if quantity is not None:
        cond += " AND quantity = %(q)s"
    args = {"m": meter, "s": start, "e": end, "q": quantity, "limit": limit, "offset": offset}
    with conn.cursor(row_factory=dict_row) as cur:
        rows = cur.execute(
            f"SELECT {columns} FROM {table} WHERE {cond} ORDER BY {order} "
            "LIMIT %(limit)s OFFSET %(offset)s",
            args,
        ).fetchall()
        total = cur.execute(f"SELECT count(*) AS n FROM {table} WHERE {cond}", args).fetchone()
    return rows, int(total["n"]) if total else 0


def raw_readings(
    conn: psycopg.Connection[Any],
    *,
    meter: str,
    start: datetime,
    end: datetime,
    quantity: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The readings as stored (every kind but freezes, which live in ``daily_freeze``) in
    [start, end), oldest first, one page; and how many there are in all. ``received_at``
    to the whole second: that is what the compact history keeps."""
    return _page(
        conn,
        table="readings_between(%(s)s, %(e)s) LEFT JOIN reading_macs k "
        "USING (meter_id, quantity, ts)",
        order="ts, quantity",
        columns="ts, quantity, value, kind, source, quality, gateway_id, "
        "date_trunc('second', received_at) AS received_at, " + MAC_COLUMNS,
        meter=meter,
        start=start,
        end=end,
        quantity=quantity,
        limit=limit,
        offset=offset,
    )


def events(
    conn: psycopg.Connection[Any],
    *,
    meter: str,
    start: datetime,
    end: datetime,
    quantity: str | None,
    limit: int,
    offset: int,
) -> tuple[list[dict[str, Any]], int]:
    """The meter's events (cover openings, clock offsets, power-downs, maximum demand) in
    [start, end), newest first, one page; and how many there are in all."""
    return _page(
        conn,
        table="meter_events_all",
        order="ts DESC, quantity",
        columns="ts, quantity, value, gateway_id, received_at",
        meter=meter,
        start=start,
        end=end,
        quantity=quantity,
        limit=limit,
        offset=offset,
    )
