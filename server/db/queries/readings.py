"""Reading queries for the API: curves, latest values, daily freezes (both DB flavours)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import psycopg
from psycopg.rows import dict_row


def curve(conn: psycopg.Connection[Any], *, meter: str, quantity: str, start: datetime,
          end: datetime, limit: int) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT ts, value, source, quality FROM readings WHERE meter_id = %s AND "
            "quantity = %s AND ts >= %s AND ts < %s AND kind = 'interval' ORDER BY ts LIMIT %s",
            (meter, quantity, start, end, limit)).fetchall()


def latest(conn: psycopg.Connection[Any], *, meter: str) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        # freezes live in daily_freeze (not in readings): the newest of either counts
        return cur.execute(
            "SELECT DISTINCT ON (quantity) quantity, ts, value, kind, source FROM ("
            " SELECT quantity, ts, value, kind, source FROM readings"
            " WHERE meter_id = %(m)s AND ts > now() - interval '400 days'"
            " UNION ALL SELECT quantity, freeze_ts, value, 'freeze', source FROM daily_freeze"
            " WHERE meter_id = %(m)s AND freeze_ts > now() - interval '400 days') x "
            "ORDER BY quantity, ts DESC, kind", {"m": meter}).fetchall()


def freezes(conn: psycopg.Connection[Any], *, meter: str, start: date,
            end: date) -> list[dict[str, Any]]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(
            "SELECT data_date, quantity, value, freeze_ts, source FROM daily_freeze "
            "WHERE meter_id = %s AND data_date BETWEEN %s AND %s ORDER BY data_date, quantity",
            (meter, start, end)).fetchall()
