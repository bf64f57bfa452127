"""Compact history (issue 20): closed days older than the hot window move from ``readings``
(one row per reading, ~240 bytes each slot by slot) into ``readings_compact`` (one row per
meter, quantity and local day: the day's 15-minute slots as an array of scaled integers).

This module owns the layout (migration 0800 describes it), the compaction itself and the
merge of a late reading into a compacted day. ``readings_between(lo, hi)`` (SQL, same
migration) reads hot and compact rows as one table; every read path goes through it.

Rules that keep every value:

- only interval readings on the day's 15-minute grid whose value round-trips exactly
  through ``n / 10^scale`` (scale 0..6, ``|n| < 2^53``) are compacted; anything else (other
  kinds, off-grid timestamps, a float32 value from a Modbus register) moves, as it is, to
  the residue table ``readings_cold`` (migration 0910), so a compacted day leaves nothing
  in the hot table, whose emptied partitions or chunks are then dropped whole;
- a reading lives in exactly one place: ingestion sends a reading older than the compact
  zone's start (``compaction_state.before_ts``) here (or to the residue table) instead of
  to the hot table's COPY;
  moving that start takes an exclusive advisory lock that every ingestion transaction holds
  shared, so no transaction that read the old start is still writing when compaction begins;
- compaction and the late merge lock the compact rows they touch (``FOR UPDATE``, in key
  order) before they look at either table, so a day being compacted and a late reading
  for it serialize; a repeat with the same value is a no-op and one with another value goes
  to ``reading_conflicts``, as in :mod:`server.ingest.store`;
- each chunk of meters is one transaction: a crash loses or doubles nothing, and a re-run
  continues with what is still in ``readings``.

Arrival times (``received_at``) are kept to the whole second (the readings endpoint shows
them so for hot rows too).
"""

from __future__ import annotations

import json
import math
import zlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

#: advisory lock: ingestion holds it shared per transaction, moving the zone's start takes
#: it exclusive for a moment
ZONE_LOCK = zlib.crc32(b"meterlink.compaction.zone")
#: one compaction at a time (the nightly job and the command line)
RUN_LOCK = zlib.crc32(b"meterlink.compaction.run")

SLOT = timedelta(minutes=15)
SECOND = timedelta(seconds=1)
MAX_SCALE = 6
EXACT = 2**53  # integers a float8 holds exactly
INT4 = 2**31 - 1
INT2 = 2**15 - 1

#: a reading as staged by ingestion: meter, quantity, ts, value, kind, source, quality,
#: gateway, batch id
Staged = tuple[Any, ...]


def min_scale(value: float) -> int | None:
    """The smallest scale s (0..6) with ``round(value * 10^s) / 10^s == value`` exactly (as
    PostgreSQL computes it: float8(n) / float8(10^s)), or None."""
    if value == 0:  # -0.0 equals 0.0 (and shares its cache entry) but would lose its sign
        return None if math.copysign(1.0, value) < 0 else 0
    return _min_scale(value)


@lru_cache(maxsize=1 << 16)
def _min_scale(value: float) -> int | None:
    if not math.isfinite(value):
        return None
    for s in range(MAX_SCALE + 1):
        n = round(value * 10**s)
        if abs(n) < EXACT and n / 10**s == value:
            return s
    return None


@dataclass
class Point:
    value: float
    source: str
    quality: list[str]
    gateway: str | None
    received: datetime


@dataclass
class Row:
    """One compact row, decoded: its points by slot."""

    meter: str
    qkey: int
    day_start: datetime  # UTC
    points: dict[int, Point] = field(default_factory=dict)
    changed: bool = False

    def ts(self, slot: int) -> datetime:
        return self.day_start + slot * SLOT


def day_start_of(ts: datetime, zone: ZoneInfo) -> datetime:
    """The local midnight (as UTC) of the day ``ts`` falls in."""
    d = ts.astimezone(zone).date()
    return datetime.combine(d, time.min, zone).astimezone(UTC)


@lru_cache(maxsize=1 << 14)
def slot_of(ts: datetime, zone: ZoneInfo) -> tuple[datetime, int] | None:
    """(day start, slot) of an on-grid timestamp; None when it is off the 15-minute grid."""
    start = day_start_of(ts, zone)
    off = ts.astimezone(UTC) - start
    if off % SLOT:
        return None
    return start, off // SLOT


def decode(rec: Sequence[Any]) -> Row:
    """A row as selected by ``_SELECT_ROWS``."""
    meter, qkey, day_start, scale, source, gateway, vbase, v2, v4, v8 = rec[:10]
    rbase, rstep, rd, extra = rec[10:]
    row = Row(meter, qkey, day_start.astimezone(UTC))
    values = v2 if v2 is not None else v4 if v4 is not None else v8
    if not values:
        return row
    div = 10**scale
    extra = extra or {}
    for i, n in enumerate(values):
        if n is None:
            continue
        e = extra.get(str(i), {})
        secs = i * rstep + rbase + (e["r"] if "r" in e else rd[i])
        row.points[i] = Point(
            (vbase + n) / div,
            e.get("s", source),
            list(e.get("q", [])),
            e["g"] if "g" in e else gateway,
            row.day_start + secs * SECOND,
        )
    return row


def encodable(value: float) -> bool:
    return min_scale(value) is not None


def _arrivals(row: Row) -> tuple[int, int, dict[int, int]]:
    """(rbase, rstep, per slot: seconds about them) for the points' arrival times: rstep
    900 (each slot's delay) or 0 (one instant), whichever leaves more within an int2."""
    offs = {i: (p.received - row.day_start) // SECOND for i, p in row.points.items()}
    best: tuple[int, int, int, dict[int, int]] | None = None
    for step in (900, 0):
        cand = {i: o - i * step for i, o in offs.items()}
        base = sorted(cand.values())[len(cand) // 2]
        base = max(-INT4, min(INT4, base))
        fits = sum(1 for c in cand.values() if -INT2 <= c - base <= INT2)
        if best is None or fits > best[0]:
            best = (fits, base, step, {i: c - base for i, c in cand.items()})
    assert best is not None
    return best[1], best[2], best[3]


def encode(row: Row) -> tuple[Any, ...]:
    """The columns (scale, source, gateway_id, vbase, v2, v4, v8, rbase, rstep, rd, extra
    as JSON text) of ``row``; every point must be encodable."""
    pts = row.points
    if not pts:
        return (0, None, None, 0, None, None, None, 0, 0, None, None)
    scale = max(min_scale(p.value) or 0 for p in pts.values())
    size = max(pts) + 1
    ints: list[int | None] = [None] * size
    rd: list[int | None] = [None] * size
    source = Counter(p.source for p in pts.values()).most_common(1)[0][0]
    gateway = Counter(p.gateway for p in pts.values()).most_common(1)[0][0]
    rbase, rstep, arrivals = _arrivals(row)
    extra: dict[str, dict[str, Any]] = {}
    for i, p in pts.items():
        ints[i] = round(p.value * 10**scale)
        secs = arrivals[i]
        e: dict[str, Any] = {}
        if -INT2 <= secs <= INT2:
            rd[i] = secs
        else:
            e["r"] = secs
        if p.source != source:
            e["s"] = p.source
        if p.gateway != gateway:
            e["g"] = p.gateway
        if p.quality:
            e["q"] = list(p.quality)
        if e:
            extra[str(i)] = e
    present = [n for n in ints if n is not None]
    lo, hi = min(present), max(present)
    v2 = v4 = v8 = None
    if hi - lo <= 2 * INT2:
        vbase = lo + INT2
        v2 = [None if n is None else n - vbase for n in ints]
    elif hi - lo <= 2 * INT4:
        vbase = lo + INT4
        v4 = [None if n is None else n - vbase for n in ints]
    else:
        vbase, v8 = 0, ints
    return (
        scale,
        source,
        gateway,
        vbase,
        v2,
        v4,
        v8,
        rbase,
        rstep,
        rd,
        json.dumps(extra, separators=(",", ":")) if extra else None,
    )


# --- the database side -------------------------------------------------------------------

_SELECT_ROWS = """
SELECT c.meter_id, c.qkey, c.day_start, c.scale, c.source, c.gateway_id, c.vbase, c.v2,
       c.v4, c.v8, c.rbase, c.rstep, c.rd, c.extra
FROM readings_compact c
JOIN unnest(%b::text[], %b::int2[], %b::timestamptz[]) k(m, q, d)
  ON c.meter_id = k.m AND c.qkey = k.q AND c.day_start = k.d
ORDER BY c.meter_id, c.qkey, c.day_start
FOR UPDATE OF c
"""

_PLACEHOLDERS = """
INSERT INTO readings_compact (meter_id, qkey, day_start)
SELECT * FROM unnest(%b::text[], %b::int2[], %b::timestamptz[]) ORDER BY 1, 2, 3
ON CONFLICT (meter_id, qkey, day_start) DO NOTHING
"""

_STAGE = """
CREATE TEMP TABLE IF NOT EXISTS compact_stage (
    meter_id text, qkey int2, day_start timestamptz, scale int2, source text,
    gateway_id text, vbase int8, v2 int2[], v4 int4[], v8 int8[], rbase int4, rstep int2,
    rd int2[], extra text
) ON COMMIT DELETE ROWS
"""

_APPLY = """
UPDATE readings_compact c SET scale = s.scale, source = s.source, gateway_id = s.gateway_id,
       vbase = s.vbase, v2 = s.v2, v4 = s.v4, v8 = s.v8, rbase = s.rbase, rstep = s.rstep,
       rd = s.rd, extra = s.extra::jsonb
FROM compact_stage s
WHERE c.meter_id = s.meter_id AND c.qkey = s.qkey AND c.day_start = s.day_start
"""

_DROP_EMPTY = """
DELETE FROM readings_compact c USING unnest(%s::text[], %s::int2[], %s::timestamptz[]) k(m, q, d)
WHERE c.meter_id = k.m AND c.qkey = k.q AND c.day_start = k.d
  AND c.v2 IS NULL AND c.v4 IS NULL AND c.v8 IS NULL
"""

_CONFLICTS = """
INSERT INTO reading_conflicts (meter_id, quantity, ts, stored_value, new_value, kind,
                               gateway_id, batch_id)
SELECT * FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::float8[], %s::float8[],
                     %s::text[], %s::text[], %s::text[])
ON CONFLICT (meter_id, quantity, ts, new_value) DO NOTHING
"""


def quantity_keys(conn: psycopg.Connection[Any], names: Iterable[str]) -> dict[str, int]:
    """The small integer of each quantity (created on first use). Read each time (a few
    dozen rows): a cache could outlive a database recreated under the same name."""
    want = set(names)
    for _ in range(5):
        known = {q: k for k, q in conn.execute("SELECT key, quantity FROM quantity_keys")}
        missing = sorted(want - known.keys())
        if not missing:
            return known
        # two writers may pick the same next key for different quantities: the loser
        # inserts nothing (ON CONFLICT) and tries again with the keys now taken
        conn.execute(
            "INSERT INTO quantity_keys (key, quantity) "
            "SELECT coalesce((SELECT max(key) FROM quantity_keys), 0) + row_number() OVER "
            "(ORDER BY q), q FROM unnest(%s::text[]) q "
            "ON CONFLICT DO NOTHING",
            (missing,),
        )
    raise RuntimeError(f"could not number quantities {sorted(want - known.keys())}")


def zone_start(conn: psycopg.Connection[Any]) -> datetime | None:
    """In an ingestion transaction: where the compact zone ends (readings before it are
    merged into compact rows), holding the zone lock shared until the transaction ends."""
    row = conn.execute(
        "SELECT pg_advisory_xact_lock_shared(%s), (SELECT before_ts FROM compaction_state)",
        (ZONE_LOCK,),
    ).fetchone()
    return row[1] if row else None


def advance_zone(conn: psycopg.Connection[Any], before: date, zone: ZoneInfo) -> datetime:
    """Move the zone's start to local midnight of ``before`` (never back) and commit;
    returns the start now in force. Waits for ingestion transactions in flight."""
    start = datetime.combine(before, time.min, zone)
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (ZONE_LOCK,))
        conn.execute(
            "UPDATE compaction_state SET before = %s, before_ts = %s "
            "WHERE before IS NULL OR before < %s",
            (before, start, before),
        )
        row = conn.execute("SELECT before_ts FROM compaction_state").fetchone()
    assert row is not None and row[0] is not None
    return row[0]  # type: ignore[no-any-return]


def _lock_rows(
    conn: psycopg.Connection[Any], keys: list[tuple[str, int, datetime]]
) -> dict[tuple[str, int, datetime], Row]:
    """Create (empty) and lock the compact rows ``keys``, in key order; decoded."""
    keys = sorted(set(keys))
    cols = [list(c) for c in zip(*keys, strict=True)]
    with conn.cursor(binary=True) as cur:
        cur.execute(_PLACEHOLDERS, cols)
        found = cur.execute(_SELECT_ROWS, cols).fetchall()
    rows = {}
    for rec in found:
        row = decode(rec)
        rows[(row.meter, row.qkey, row.day_start)] = row
    return rows


def _write_rows(conn: psycopg.Connection[Any], rows: Iterable[Row]) -> int:
    """Store the changed rows; drop the ones left empty. Returns rows written."""
    changed = [r for r in rows if r.changed and r.points]
    empty = [(r.meter, r.qkey, r.day_start) for r in rows if not r.points]
    if changed:
        conn.execute(_STAGE)
        with conn.cursor() as cur:
            with cur.copy(
                "COPY compact_stage (meter_id, qkey, day_start, scale, source, gateway_id, "
                "vbase, v2, v4, v8, rbase, rstep, rd, extra) FROM STDIN (FORMAT BINARY)"
            ) as cp:
                cp.set_types(
                    [
                        "text",
                        "int2",
                        "timestamptz",
                        "int2",
                        "text",
                        "text",
                        "int8",
                        "int2[]",
                        "int4[]",
                        "int8[]",
                        "int4",
                        "int2",
                        "int2[]",
                        "text",
                    ]
                )
                for r in changed:
                    cp.write_row((r.meter, r.qkey, r.day_start, *encode(r)))
        conn.execute(_APPLY)
        conn.execute("TRUNCATE compact_stage")
    if empty:
        conn.execute(_DROP_EMPTY, [list(c) for c in zip(*empty, strict=True)])
    return len(changed)


def _add_conflicts(conn: psycopg.Connection[Any], conflicts: list[tuple[Any, ...]]) -> None:
    if conflicts:
        conn.execute(_CONFLICTS, [list(c) for c in zip(*conflicts, strict=True)])


def merge_late(
    conn: psycopg.Connection[Any], rows: list[Staged], tz: str
) -> tuple[list[Staged], list[Staged], list[Staged]]:
    """Merge staged readings older than the compact zone's start into compact rows, in the
    caller's transaction. Returns (the rows stored in compact rows, the rows left for the
    hot table's merge: keys the hot table still holds, whose repeat or conflict that merge
    judges, the rows left for the residue table's merge: other kinds, off-grid or
    unencodable values, and keys the residue table holds). The compact row of each
    reading's meter, quantity and day is locked (created empty if need be, and dropped
    again if it stays empty) before either table is looked at, so compaction moving that
    day's hot readings waits, and the caller's merges run under the same locks."""
    zone = ZoneInfo(tz)
    cand: list[tuple[Staged, datetime, int | None]] = []
    for r in rows:
        where = slot_of(r[2], zone) if r[4] == "interval" else None
        if where is None:
            cand.append((r, day_start_of(r[2], zone), None))
        else:
            cand.append((r, *where))
    if not cand:
        return [], [], []
    qk = quantity_keys(conn, {r[1] for r, _, _ in cand})
    locked = _lock_rows(conn, [(r[0], qk[r[1]], d) for r, d, _ in cand])
    keys = [[r[0] for r, _, _ in cand], [r[1] for r, _, _ in cand], [r[2] for r, _, _ in cand]]
    hot = _held(conn, "readings", keys)
    cold = _held(conn, "readings_cold", keys)
    stored: list[Staged] = []
    rest: list[Staged] = []
    residue: list[Staged] = []
    conflicts: list[tuple[Any, ...]] = []
    now_row = conn.execute("SELECT now()").fetchone()  # received_at's default in readings
    assert now_row is not None
    now: datetime = now_row[0]
    # in key order, the smallest value first: what the hot table's merge keeps of duplicates
    cand.sort(key=lambda c: (c[0][0], c[0][1], c[0][2], c[0][3]))
    for r, d, slot in cand:
        m, q, ts, v, k, s, qual, gw, bid = r
        if (m, q, ts) in hot:
            rest.append(r)
            continue
        if (m, q, ts) in cold:
            residue.append(r)
            continue
        row = locked[(m, qk[q], d)]
        have = row.points.get(slot) if slot is not None else None
        if have is not None:
            if have.value != v:
                conflicts.append((m, q, ts, have.value, v, k, gw, bid))
            continue
        if slot is None or not encodable(v):
            residue.append(r)
            cold.add((m, q, ts))  # a duplicate in this batch is judged by that merge too
            continue
        row.points[slot] = Point(v, s, list(qual or ()), gw, now)
        row.changed = True
        stored.append(r)
    _write_rows(conn, locked.values())
    _add_conflicts(conn, conflicts)
    return stored, rest, residue


def _held(
    conn: psycopg.Connection[Any], table: str, keys: list[list[Any]]
) -> set[tuple[str, str, datetime]]:
    """The (meter, quantity, ts) of ``keys`` (three columns) that ``table`` holds."""
    return {
        (m, q, t)
        for m, q, t in conn.execute(
            f"SELECT r.meter_id, r.quantity, r.ts FROM {table} r JOIN "
            "unnest(%s::text[], %s::text[], %s::timestamptz[]) k(m, q, t) "
            "ON r.meter_id = k.m AND r.quantity = k.q AND r.ts = k.t",
            keys,
        ).fetchall()
    }


@dataclass
class CompactResult:
    before: date
    meters: int = 0
    readings: int = 0  # readings moved into compact rows
    rows: int = 0  # compact rows written
    residue: int = 0  # readings moved to readings_cold (other kinds, off-grid, unencodable)
    repeats: int = 0  # hot readings already in a compact row with the same value
    conflicts: int = 0
    seconds: float = 0.0
    dropped: list[str] = field(default_factory=list)  # hot chunks / partitions emptied

    def as_dict(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, date) else v) for k, v in self.__dict__.items()}


_HOT = """
SELECT meter_id, quantity, ts, value, kind, source, quality, gateway_id, received_at
FROM readings WHERE meter_id = ANY(%s) AND ts < %s
"""

_DELETE_HOT = """
DELETE FROM readings r
WHERE r.meter_id = ANY(%(meters)b) AND r.ts < %(before)b
  AND (r.meter_id, r.quantity, r.ts) IN (
      SELECT * FROM unnest(%(m)b::text[], %(q)b::text[], %(t)b::timestamptz[]))
"""

#: a hot reading compaction cannot encode, moved as it is (a key the residue table already
#: holds is left there: the hot reading is then a repeat or a conflict)
_TO_COLD = """
INSERT INTO readings_cold (meter_id, quantity, ts, value, kind, source, quality, gateway_id,
                           received_at)
SELECT r.meter_id, r.quantity, r.ts, r.value, r.kind, r.source, r.quality, r.gateway_id,
       r.received_at
FROM readings r
WHERE r.meter_id = ANY(%(meters)b) AND r.ts < %(before)b
  AND (r.meter_id, r.quantity, r.ts) IN (
      SELECT * FROM unnest(%(m)b::text[], %(q)b::text[], %(t)b::timestamptz[]))
ORDER BY 1, 2, 3
ON CONFLICT (meter_id, quantity, ts) DO NOTHING
"""

#: the ``meter_events`` copies of the events and clock checks just moved to the residue
#: table (same key and value): a compacted event is stored once (migration 0920)
_DROP_EVENT_COPIES = """
DELETE FROM meter_events e
USING readings_cold c
WHERE c.meter_id = e.meter_id AND c.quantity = e.quantity AND c.ts = e.ts
  AND c.value = e.value AND c.kind IN ('event', 'clock')
  AND e.meter_id = ANY(%(meters)b) AND e.ts < %(before)b
  AND (e.meter_id, e.quantity, e.ts) IN (
      SELECT * FROM unnest(%(m)b::text[], %(q)b::text[], %(t)b::timestamptz[]))
"""


def compact_chunk(
    conn: psycopg.Connection[Any], meters: list[str], before_ts: datetime, zone: ZoneInfo
) -> CompactResult:
    """Move every hot reading of ``meters`` before ``before_ts`` out of the hot table, in
    one transaction: the encodable interval readings into compact rows, the others into
    ``readings_cold``, under the locks of their compact rows (see :func:`merge_late`)."""
    res = CompactResult(before=before_ts.date())
    with conn.transaction():
        with conn.cursor(binary=True) as cur:
            hot = cur.execute(_HOT, (meters, before_ts)).fetchall()
        if not hot:
            return res
        placed: list[tuple[tuple[Any, ...], tuple[str, int, datetime], int | None]] = []
        qk = quantity_keys(conn, {r[1] for r in hot})
        for r in hot:
            where = slot_of(r[2], zone) if r[4] == "interval" else None
            if where is None or not encodable(r[3]):
                placed.append((r, (r[0], qk[r[1]], day_start_of(r[2], zone)), None))
            else:
                placed.append((r, (r[0], qk[r[1]], where[0]), where[1]))
        locked = _lock_rows(conn, [key for _, key, _ in placed])
        moved: list[tuple[str, str, datetime]] = []
        conflicts: list[tuple[Any, ...]] = []
        residue: list[tuple[Any, ...]] = []
        for r, key, slot in placed:
            m, q, ts, v, k, s, qual, gw, recv = r
            moved.append((m, q, ts))
            if slot is None:
                residue.append(r)
                continue
            row = locked[key]
            have = row.points.get(slot)
            if have is not None:
                if have.value != v:
                    conflicts.append((m, q, ts, have.value, v, "interval", gw, None))
                    res.conflicts += 1
                else:
                    res.repeats += 1
                continue
            row.points[slot] = Point(v, s, list(qual or ()), gw, recv)
            row.changed = True
            res.readings += 1
        res.rows = _write_rows(conn, locked.values())
        if residue:
            res.residue += _move_residue(conn, residue, meters, before_ts, conflicts)
        _add_conflicts(conn, conflicts)
        conn.cursor(binary=True).execute(_DELETE_HOT, _keyed(meters, before_ts, moved))
        res.meters = len({x[0] for x in moved})
    return res


def _move_residue(
    conn: psycopg.Connection[Any],
    rows: list[tuple[Any, ...]],
    meters: list[str],
    before_ts: datetime,
    conflicts: list[tuple[Any, ...]],
) -> int:
    """Copy hot rows, as they are, into ``readings_cold`` (the caller deletes them from the
    hot table); a key it holds already (none should: a reading lives in one place) is
    judged as a repeat, or added to ``conflicts``. Returns the rows copied."""
    cols = [list(c) for c in zip(*rows, strict=True)]
    held = {
        (m, q, t): v
        for m, q, t, v in conn.execute(
            "SELECT r.meter_id, r.quantity, r.ts, r.value FROM readings_cold r JOIN "
            "unnest(%s::text[], %s::text[], %s::timestamptz[]) k(m, q, t) "
            "ON r.meter_id = k.m AND r.quantity = k.q AND r.ts = k.t",
            cols[:3],
        ).fetchall()
    }
    for m, q, ts, v, k, _s, _qual, gw, _recv in rows:
        if (m, q, ts) in held and held[(m, q, ts)] != v:
            conflicts.append((m, q, ts, held[(m, q, ts)], v, k, gw, None))
    with conn.cursor(binary=True) as cur:
        cur.execute(_TO_COLD, _keyed(meters, before_ts, rows))
        copied = max(cur.rowcount, 0)
        events = [r for r in rows if r[4] in ("event", "clock")]
        if events:
            cur.execute(_DROP_EVENT_COPIES, _keyed(meters, before_ts, events))
        return copied


def _keyed(meters: list[str], before_ts: datetime, rows: Sequence[Sequence[Any]]) -> dict[str, Any]:
    """The parameters of a statement on the keys (meter, quantity, ts) of ``rows`` among
    ``meters``' readings before ``before_ts``."""
    return {
        "meters": meters,
        "before": before_ts,
        "m": [r[0] for r in rows],
        "q": [r[1] for r in rows],
        "t": [r[2] for r in rows],
    }


def compact(
    conn: psycopg.Connection[Any],
    before: date,
    tz: str,
    *,
    chunk: int = 100,
    vacuum: bool = True,
) -> CompactResult | None:
    """Compact every interval reading before local midnight of ``before``: move the zone's
    start there, then each chunk of ``chunk`` meters in a transaction of its own. None when
    another compaction runs. ``conn`` must not be in a transaction (autocommit is fine)."""
    import time as _time

    zone = ZoneInfo(tz)
    got = conn.execute("SELECT pg_try_advisory_lock(%s)", (RUN_LOCK,)).fetchone()
    if not conn.autocommit:
        conn.commit()
    if not got or not got[0]:
        return None
    t0 = _time.perf_counter()
    total = CompactResult(before=before)
    try:
        before_ts = advance_zone(conn, before, zone)
        total.before = before_ts.astimezone(zone).date()
        last = ""
        while True:
            ids = [
                r[0]
                for r in conn.execute(
                    "SELECT id FROM meters WHERE id > %s ORDER BY id LIMIT %s", (last, chunk)
                ).fetchall()
            ]
            if not conn.autocommit:
                conn.commit()
            if not ids:
                break
            last = ids[-1]
            part = compact_chunk(conn, ids, before_ts, zone)
            if not conn.autocommit:
                conn.commit()
            for k in ("meters", "readings", "rows", "residue", "repeats", "conflicts"):
                setattr(total, k, getattr(total, k) + getattr(part, k))
        from .partitions import drop_emptied  # (partitions imports this module)

        total.dropped = drop_emptied(conn, before_ts, ZONE_LOCK)
        if not conn.autocommit:
            conn.commit()
        if vacuum and conn.autocommit:
            conn.execute("VACUUM (ANALYZE) readings")
            conn.execute("VACUUM (ANALYZE) readings_compact")
            if total.residue:  # the events' copies it deleted: their space is reused
                conn.execute("VACUUM (ANALYZE) meter_events")
    finally:
        conn.execute("SELECT pg_advisory_unlock(%s)", (RUN_LOCK,))
        if not conn.autocommit:
            conn.commit()
    total.seconds = round(_time.perf_counter() - t0, 3)
    return total


def drop_old(conn: psycopg.Connection[Any], cutoff: datetime) -> int:
    """Retention: drop compact rows whose every point is older than ``cutoff``."""
    return conn.execute(
        "DELETE FROM readings_compact WHERE day_start < %(c)s AND day_start + "
        "coalesce(array_length(v2, 1), array_length(v4, 1), array_length(v8, 1), 0) "
        "* interval '15 minutes' "
        "<= %(c)s",
        {"c": cutoff},
    ).rowcount
