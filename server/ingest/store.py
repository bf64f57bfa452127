"""Storing a batch of messages in one transaction: binary COPY into a staging table, then
an idempotent merge on (meter, quantity, ts).

- a repeat with the same value is a no-op; a repeat with a different value goes to
  ``reading_conflicts`` (never overwrites);
- readings of meters not in the archive, of meters the publishing gateway did not hold on
  the reading's data date, and values no meter can show go to ``quarantine`` with the
  reason (:mod:`server.ingest.screening`, on cached archive facts: no per-row query);
- freeze readings land in ``daily_freeze`` by data date (utility time zone), not in
  ``readings``: the register frozen at midnight and the interval sample read at 00:00 are two
  observations of one register at one instant, and differ by what was used in the seconds
  between (found by the chaos run: every midnight looked like a conflict); a repeated freeze
  with a different value goes to ``reading_conflicts`` (kind ``freeze``);
- event and clock readings also land in ``meter_events`` (those of compacted days only in
  ``readings_cold``; ``meter_events_all`` reads both);
- readings of days already compacted (older than the compact zone's start, see
  :mod:`server.db.compact`) are merged into their compact rows by the same rules;
- rows too far in the future or older than the retention go to ``dead_letters`` with the
  reason, and so do whole messages that cannot be decoded;
- the MAC (and RN) an ESAM meter's reading carries goes to ``reading_macs`` /
  ``freeze_macs`` once its reading is stored with the same value (a MAC vouches for the value
  it came with, so a conflicting value gets none); a repeat adds nothing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from protocols.wire import MacRow, ReadingRow

from ..db import curve_points
from ..db.compact import merge_late, zone_start
from ..db.partitions import ensure_partitions
from ..db.queries.ingest import add_dead_letters
from .archive_facts import ArchiveCache, cache_for
from .screening import screen_batch

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging (
    meter_id text, quantity text, ts timestamptz, value double precision, kind text,
    source text, quality text[], gateway_id text, batch_id text
) ON COMMIT DELETE ROWS
"""

# sorted by key: concurrent writers (several consumers, or a redelivery) take the key locks in
# the same order and do not deadlock; duplicates within a batch: the first in key order wins,
# the others go to reading_conflicts (CONFLICTS) when their value differs
MERGE = """
INSERT INTO {table} (meter_id, quantity, ts, value, kind, source, quality, gateway_id)
SELECT DISTINCT ON (meter_id, quantity, ts)
       meter_id, quantity, ts, value, kind, source, quality, gateway_id
FROM staging s
WHERE s.kind <> 'freeze' AND EXISTS (SELECT 1 FROM meters m WHERE m.id = s.meter_id)
ORDER BY meter_id, quantity, ts, value
ON CONFLICT (meter_id, quantity, ts) DO NOTHING
"""

CONFLICTS = """
INSERT INTO reading_conflicts (meter_id, quantity, ts, stored_value, new_value, kind,
                               gateway_id, batch_id)
SELECT s.meter_id, s.quantity, s.ts, r.value, s.value, s.kind, s.gateway_id, s.batch_id
FROM staging s JOIN {table} r USING (meter_id, quantity, ts)
WHERE s.kind <> 'freeze' AND r.value <> s.value
ON CONFLICT (meter_id, quantity, ts, new_value) DO NOTHING
"""

FREEZE_CONFLICTS = """
INSERT INTO reading_conflicts (meter_id, quantity, ts, stored_value, new_value, kind,
                               gateway_id, batch_id)
SELECT s.meter_id, s.quantity, s.ts, f.value, s.value, 'freeze', s.gateway_id, s.batch_id
FROM staging s JOIN daily_freeze f ON f.meter_id = s.meter_id AND f.quantity = s.quantity
 AND f.data_date = ((s.ts AT TIME ZONE %(tz)s) - interval '1 minute')::date
WHERE s.kind = 'freeze' AND f.value <> s.value
ON CONFLICT (meter_id, quantity, ts, new_value) DO NOTHING
"""

QUARANTINE = """
INSERT INTO quarantine (meter_id, quantity, ts, value, kind, source, gateway_id, batch_id,
                        reason)
SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::text[],
                     %s::text[], %s::text[], %s::text[], %s::text[])
ON CONFLICT (meter_id, quantity, ts, gateway_id) DO NOTHING
"""

FREEZE = """
INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source, gateway_id,
                          quality)
SELECT DISTINCT ON (meter_id, d, quantity) meter_id, d, quantity, value, ts, source, gateway_id,
       quality
FROM (SELECT *, ((ts AT TIME ZONE %(tz)s) - interval '1 minute')::date AS d FROM staging
      WHERE kind = 'freeze') s
WHERE EXISTS (SELECT 1 FROM meters m WHERE m.id = s.meter_id)
ORDER BY meter_id, d, quantity, ts
ON CONFLICT (meter_id, data_date, quantity) DO NOTHING
"""

EVENTS = """
INSERT INTO meter_events (meter_id, ts, quantity, value, gateway_id)
SELECT DISTINCT ON (meter_id, quantity, ts) meter_id, ts, quantity, value, gateway_id
FROM staging s WHERE kind IN ('event', 'clock')
AND EXISTS (SELECT 1 FROM meters m WHERE m.id = s.meter_id)
ORDER BY meter_id, quantity, ts
ON CONFLICT (meter_id, quantity, ts) DO NOTHING
"""

MAC_STAGING = """
CREATE TEMP TABLE IF NOT EXISTS staging_macs (
    meter_id text, quantity text, ts timestamptz, value double precision, kind text,
    mac bytea, rn bytea
) ON COMMIT DELETE ROWS
"""

# the stored reading may be in the hot table or, for a late one, in the compact history
READING_MACS = """
INSERT INTO reading_macs (meter_id, quantity, ts, mac, rn)
SELECT s.meter_id, s.quantity, s.ts, s.mac, s.rn FROM staging_macs s
WHERE s.kind <> 'freeze' AND EXISTS (
    SELECT 1 FROM readings_between(s.ts, s.ts + interval '1 microsecond') r
    WHERE r.meter_id = s.meter_id AND r.quantity = s.quantity AND r.value = s.value)
ON CONFLICT (meter_id, quantity, ts) DO NOTHING
"""

FREEZE_MACS = """
INSERT INTO freeze_macs (meter_id, quantity, data_date, mac, rn)
SELECT s.meter_id, s.quantity, f.data_date, s.mac, s.rn
FROM staging_macs s JOIN daily_freeze f ON f.meter_id = s.meter_id AND f.quantity = s.quantity
 AND f.data_date = ((s.ts AT TIME ZONE %(tz)s) - interval '1 minute')::date
WHERE s.kind = 'freeze' AND f.value = s.value
ON CONFLICT (meter_id, quantity, data_date) DO NOTHING
"""

CHECKED_QUANTITIES: frozenset[str] = frozenset(
    {
        "voltage_a",
        "voltage_b",
        "voltage_c",
        "current_a",
        "current_b",
        "current_c",
        "power_active_total",
    }
)

# the meter-days whose anomaly rules should run again (server.checks.rules.run_incremental):
# a freeze for D changes D's consumption and D+1's; events and the per-point quantities of
# the voltage and current rules change their own day
CHECK_QUEUE = """
INSERT INTO check_queue (meter_id, data_date)
SELECT DISTINCT s.meter_id, x.d
FROM staging s
CROSS JOIN LATERAL (
    SELECT ((s.ts AT TIME ZONE %(tz)s) - interval '1 minute')::date + k AS d
    FROM generate_series(0, 1) k WHERE s.kind = 'freeze'
    UNION ALL
    SELECT (s.ts AT TIME ZONE %(tz)s)::date WHERE s.kind <> 'freeze') x
WHERE (s.kind IN ('freeze', 'event', 'clock')
       OR s.quantity = ANY(%(checked)s))
  AND EXISTS (SELECT 1 FROM meters m WHERE m.id = s.meter_id)
ON CONFLICT (meter_id, data_date) DO NOTHING
"""


_NO_FLAGS: list[str] = []  # shared by every row without quality flags (only read, by COPY)


@dataclass
class Batch:
    """Decoded messages waiting to be stored together: their rows as decoded, grouped by
    message (a staging row per reading is built only for the rows that need the merge)."""

    groups: list[tuple[str, str, Sequence[ReadingRow]]] = field(default_factory=list)
    dead: list[tuple[str, str | None, str, bytes]] = field(default_factory=list)
    #: the MACs some of the rows carry (stored once their readings are)
    macs: list[MacRow] = field(default_factory=list)

    def add_rows(
        self, gateway: str, batch_id: str, rows: Sequence[ReadingRow], macs: Sequence[MacRow] = ()
    ) -> None:
        if rows:
            self.groups.append((gateway, batch_id, rows))
            self.macs.extend(macs)

    def add_dead(self, topic: str, gateway: str | None, reason: str, payload: bytes) -> None:
        self.dead.append((topic, gateway, reason, payload))

    @property
    def size(self) -> int:
        return sum(len(rows) for _, _, rows in self.groups)

    @property
    def rows(self) -> list[tuple[Any, ...]]:
        """Every reading as a staging row (meter, quantity, ts, value, kind, source, quality,
        gateway, batch id)."""
        return _staging_rows(self.groups)


@dataclass
class StoreResult:
    staged: int
    inserted: int
    dead: int
    quarantined: int = 0
    #: quarantined readings by class (server.ingest.screening: not_in_archive, ...)
    quarantined_by: dict[str, int] = field(default_factory=dict)


def screen(
    rows: Sequence[ReadingRow], now: datetime, future_s: int, retention_days: int
) -> tuple[list[ReadingRow], list[tuple[ReadingRow, str]]]:
    """Split rows into storable ones and ones with a bad timestamp (and why)."""
    latest = now + timedelta(seconds=future_s)
    earliest = now - timedelta(days=retention_days)
    if all(earliest <= row[2] <= latest for row in rows):  # the usual case: one cheap pass
        return list(rows), []
    good, bad = [], []
    for row in rows:
        ts = row[2]
        if ts > latest:
            bad.append(
                (
                    row,
                    f"timestamp {ts.isoformat()} is more than {future_s} s in the "
                    f"future (received {now.isoformat()})",
                )
            )
        elif ts < earliest:
            bad.append(
                (
                    row,
                    f"timestamp {ts.isoformat()} is older than the retention of "
                    f"{retention_days} days",
                )
            )
        else:
            good.append(row)
    return good, bad


def row_json(row: ReadingRow) -> bytes:
    m, q, ts, v, k, s, qual = row
    return json.dumps(
        {
            "meter": m,
            "quantity": q,
            "ts": ts.isoformat(),
            "value": v,
            "kind": k,
            "source": s,
            "quality": list(qual),
        }
    ).encode()


def store(
    conn: psycopg.Connection[Any],
    batch: Batch,
    *,
    tz: str,
    archive: ArchiveCache | None = None,
) -> StoreResult:
    """Store ``batch`` in one transaction (the caller commits, then acknowledges).
    ``archive``: the archive facts to screen with (by default the process's cache of the
    database ``conn`` is connected to)."""
    inserted = 0
    size = batch.size
    screened = None
    with conn.transaction():
        add_dead_letters(conn, batch.dead)
        if size:
            cache = archive if archive is not None else cache_for(conn)
            snap = cache.snapshot(conn, {r[0] for _, _, rows in batch.groups for r in rows})
            screened = screen_batch(batch.groups, snap, tz)
            if screened.quarantined:
                _quarantine(conn, screened.quarantined)
            groups: Groups = screened.groups
            if groups:
                rest: list[tuple[Any, ...]] = []
                residue: list[tuple[Any, ...]] = []
                # the curve facts' lock before the zone's (the order every writer keeps)
                marked = curve_points.hold(
                    conn, curve_points.curve_days((r for _, _, g in groups for r in g), tz), tz
                )
                start = zone_start(conn)
                if start is not None:
                    groups, late = _split_late(groups, start)
                    if late:
                        # days already compacted: merged into their compact rows, or the
                        # residue table for what a compact row cannot hold
                        kept, rest, residue = merge_late(conn, late, tz)
                        inserted += len(kept)
                        curve_points.add(conn, kept, marked, tz)
                        _queue_checks(conn, [r for r in kept if r[1] in CHECKED_QUANTITIES], tz)
                # hot partitions only for the days at or after the zone's start
                ensure_partitions(conn, _hot_days(groups, tz), tz)
                if groups:
                    direct = _copy_new_series(conn, groups, tz)
                    if direct is None:
                        rest = _staging_rows(groups) + rest
                    else:
                        inserted += direct[0]
                        rest = direct[1] + rest
                        curve_points.add(conn, (r for _, _, g in groups for r in g), marked, tz)
                if rest:
                    inserted += _merge(conn, rest, tz, marked=marked)
                if residue:
                    inserted += _merge(conn, residue, tz, table="readings_cold", marked=marked)
                if batch.macs:
                    _store_macs(conn, batch.macs, tz)
    if screened is None:
        return StoreResult(size, inserted, len(batch.dead))
    return StoreResult(
        size, inserted, len(batch.dead), len(screened.quarantined), screened.by_class
    )


Groups = Sequence[tuple[str, str, Sequence[ReadingRow]]]


def _staging_rows(groups: Groups) -> list[tuple[Any, ...]]:
    """Every reading of ``groups`` as a staging row (see :attr:`Batch.rows`)."""
    none = _NO_FLAGS
    return [
        (m, q, ts, v, k, s, list(qual) if qual else none, gw, bid)
        for gw, bid, rows in groups
        for m, q, ts, v, k, s, qual in rows
    ]


def _hot_days(groups: Groups, tz: str) -> set[date]:
    """The local days of the readings of ``groups`` that go to the hot table (freezes go
    to daily_freeze)."""
    zone = ZoneInfo(tz)
    stamps = {r[2] for _, _, rows in groups for r in rows if r[4] != "freeze"}
    return {ts.astimezone(zone).date() for ts in stamps}


def _split_late(groups: Groups, start: datetime) -> tuple[Groups, list[tuple[Any, ...]]]:
    """(the groups without readings taken before ``start``, those readings as staging rows);
    freezes stay in the groups (they live in daily_freeze whatever their age)."""
    if all(r[2] >= start or r[4] == "freeze" for _, _, rows in groups for r in rows):
        return groups, []
    recent: list[tuple[str, str, Sequence[ReadingRow]]] = []
    late: list[tuple[Any, ...]] = []
    for gw, bid, rows in groups:
        keep = []
        for r in rows:
            if r[2] < start and r[4] != "freeze":
                m, q, ts, v, k, s, qual = r
                late.append((m, q, ts, v, k, s, list(qual) if qual else _NO_FLAGS, gw, bid))
            else:
                keep.append(r)
        if keep:
            recent.append((gw, bid, keep))
    return recent, late


def _quarantine(
    conn: psycopg.Connection[Any], rows: Sequence[tuple[ReadingRow, str, str, str]]
) -> None:
    """Keep readings that may not be stored as valid, each with its reason."""
    cols: list[list[Any]] = [[] for _ in range(9)]
    for (m, q, ts, v, k, s, _qual), gw, bid, reason in rows:
        for col, x in zip(cols, (m, q, ts, v, k, s, gw, bid, reason), strict=True):
            col.append(x)
    conn.execute(QUARANTINE, cols)


def _copy_new_series(
    conn: psycopg.Connection[Any], groups: Groups, tz: str
) -> tuple[int, list[tuple[Any, ...]]] | None:
    """The common case, fast: interval readings (screened: their meters are archived and
    theirs to write) that are all new go straight into ``readings`` by binary COPY (no
    staging, no per-row conflict check), in a savepoint. A repeat (a redelivery, a
    duplicate within the batch, a concurrent writer storing the same reading) makes the COPY
    fail with unique_violation: then nothing of it stays and the caller merges every row.
    Returns (rows stored, staging rows left for the merge: freezes, events and clock
    checks), or None."""
    if not any(r[4] == "interval" for _, _, rows in groups for r in rows):
        return None
    rest: list[tuple[Any, ...]] = []
    direct = 0
    none = _NO_FLAGS
    try:
        with conn.transaction(), conn.cursor() as cur:  # a savepoint
            with cur.copy(
                "COPY readings (meter_id, quantity, ts, value, kind, source, "
                "quality, gateway_id) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(
                    ["text", "text", "timestamptz", "float8", "text", "text", "text[]", "text"]
                )
                write = cp.write_row
                for gw, bid, rows in groups:
                    for m, q, ts, v, k, s, qual in rows:
                        if k == "interval":
                            write((m, q, ts, v, k, s, list(qual) if qual else none, gw))
                            direct += 1
                        else:
                            rest.append((m, q, ts, v, k, s, list(qual) if qual else none, gw, bid))
    except (psycopg.errors.UniqueViolation, psycopg.errors.DeadlockDetected):
        return None
    _queue_checks(
        conn,
        [
            r
            for _, _, rows in groups
            for r in rows
            if r[1] in CHECKED_QUANTITIES and r[4] == "interval"
        ],
        tz,
    )
    return direct, rest


def _queue_checks(conn: psycopg.Connection[Any], rows: list[ReadingRow], tz: str) -> None:
    """What CHECK_QUEUE does for staged rows, for interval rows stored directly (the caller
    passes those of CHECKED_QUANTITIES): the meter-days whose voltage, current and power
    rules should run again."""
    zone = ZoneInfo(tz)
    day_of: dict[datetime, date] = {}  # a batch has few distinct timestamps
    days: set[tuple[str, date]] = set()
    for r in rows:
        d = day_of.get(r[2])
        if d is None:
            d = day_of[r[2]] = r[2].astimezone(zone).date()
        days.add((r[0], d))
    if days:
        meters, dates = zip(*days, strict=True)
        conn.execute(
            "INSERT INTO check_queue (meter_id, data_date) SELECT * FROM "
            "unnest(%s::text[], %s::date[]) ON CONFLICT (meter_id, data_date) "
            "DO NOTHING",
            (list(meters), list(dates)),
        )


def _merge(
    conn: psycopg.Connection[Any],
    rows: list[tuple[Any, ...]],
    tz: str,
    *,
    table: str = "readings",
    marked: frozenset[date] = frozenset(),
) -> int:
    """Stage ``rows`` and merge them into ``table`` (the hot table, or ``readings_cold``
    for readings of compacted days no compact row can hold): repeats, conflicts, freezes,
    events; the load-curve points it stores for a ``marked`` day (counted already, see
    :func:`.curve_points.hold`) are added to the curve facts."""
    conn.execute(STAGING)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY staging (meter_id, quantity, ts, value, kind, source, "
            "quality, gateway_id, batch_id) FROM STDIN (FORMAT BINARY)"
        ) as cp:
            cp.set_types(
                ["text", "text", "timestamptz", "float8", "text", "text", "text[]", "text", "text"]
            )
            for row in rows:
                cp.write_row(row)
    merge = MERGE.format(table=table)
    if marked and curve_points.curve_days(rows, tz) & marked:
        # the rare case (late points of a counted day): which rows the merge stored
        new = conn.execute(f"{merge} RETURNING meter_id, quantity, ts, value, kind").fetchall()
        inserted = len(new)
        curve_points.add(conn, new, marked, tz)
    else:
        inserted = max(conn.execute(merge).rowcount, 0)
    kinds = {r[4] for r in rows}
    series = sum(1 for r in rows if r[4] != "freeze")
    if inserted < series or "freeze" in kinds:
        # some rows were repeats or duplicates within the batch: only then can there be
        # conflicts (the common case skips the query)
        conn.execute(CONFLICTS.format(table=table))
    if "freeze" in kinds:
        inserted += conn.execute(FREEZE, {"tz": tz}).rowcount
        conn.execute(FREEZE_CONFLICTS, {"tz": tz})
    if kinds & {"event", "clock"} and table == "readings":
        # (a late event of a compacted day is stored once, in readings_cold: see
        # meter_events_all, migration 0920)
        conn.execute(EVENTS)
    conn.execute(CHECK_QUEUE, {"tz": tz, "checked": sorted(CHECKED_QUANTITIES)})
    conn.execute("TRUNCATE staging")
    return inserted


def _store_macs(conn: psycopg.Connection[Any], macs: Sequence[MacRow], tz: str) -> None:
    """Keep the MACs (and RNs) of the readings this batch stored, or stored before with the
    same value; nothing for a reading quarantined, dead-lettered or in conflict."""
    conn.execute(MAC_STAGING)
    with conn.cursor() as cur:
        with cur.copy(
            "COPY staging_macs (meter_id, quantity, ts, value, kind, mac, rn) "
            "FROM STDIN (FORMAT BINARY)"
        ) as cp:
            cp.set_types(["text", "text", "timestamptz", "float8", "text", "bytea", "bytea"])
            for row in macs:
                cp.write_row(row)
    if any(m[4] != "freeze" for m in macs):
        conn.execute(READING_MACS)
    if any(m[4] == "freeze" for m in macs):
        conn.execute(FREEZE_MACS, {"tz": tz})
    conn.execute("TRUNCATE staging_macs")
