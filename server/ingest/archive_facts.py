"""What ingestion needs to know about the archive, cached so the hot path asks no per-row
question: per meter, its stays on gateways (``meter_gateway_history``), its installation
and removal dates and what bounds its values (protocol, ratings, CT/PT, phases).

A cache belongs to one database (a process keeps one per database it writes) and is
filled lazily with the meters a batch names. It is valid while ``archive_version`` is
unchanged: every change of the columns read here bumps it by trigger (migration 0440), and
a store reads it once per batch, in the batch's transaction, before it looks at the cache.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import psycopg

from .plausibility import Limits, MeterRatings, limits_for

#: How long after a freeze's data date a gateway that holds the meter may still read it
#: from the meter's history (DL/T 645 keeps 62 days).
FREEZE_HISTORY_DAYS: Final[int] = 62
_FOREVER: Final[int] = date.max.toordinal()

FACTS_SQL = """
SELECT m.id, m.protocol, m.rated_voltage, m.rated_current, m.ct_ratio, m.pt_ratio, m.phases,
       m.installed_on, m.removed_on, m.gateway_id, m.gateway_since,
       coalesce(h.gateways, '{}'), coalesce(h.froms, '{}'), coalesce(h.tos, '{}')
FROM meters m
LEFT JOIN LATERAL (
    SELECT array_agg(gateway_id ORDER BY valid_from, id) AS gateways,
           array_agg(valid_from ORDER BY valid_from, id) AS froms,
           array_agg(valid_to ORDER BY valid_from, id) AS tos
    FROM meter_gateway_history WHERE meter_id = m.id) h ON true
WHERE m.id = ANY(%s)
"""

#: Day ranges (first, last as date ordinals, both included).
Ranges = tuple[tuple[int, int], ...]


@dataclass(frozen=True)
class Window:
    """The data dates on which one gateway's readings of one meter are accepted: ``live``
    for readings taken then (interval, event, clock), ``freeze`` for daily freezes, which a
    gateway holding the meter later may still read from the meter's history."""

    live: Ranges
    freeze: Ranges


@dataclass
class MeterFacts:
    meter: str
    installed_on: date
    removed_on: date | None
    gateway: str | None  # the current one
    gateway_since: date | None
    limits: Limits
    windows: dict[str, Window] = field(default_factory=dict)

    def refusal(self, gateway: str, day: int | None = None) -> str:
        """Why ``gateway`` may not write this meter (for data date ``day``, an ordinal,
        when only some dates are refused)."""
        if day is not None:
            d = date.fromordinal(day)
            if d < self.installed_on:
                return f"reading for {d}, before the meter was installed ({self.installed_on})"
            if self.removed_on is not None and d > self.removed_on:
                return f"reading for {d}, after the meter was removed ({self.removed_on})"
        if self.gateway:
            where = f"archive: {self.gateway} since {self.gateway_since}"
        else:
            where = "archive: on no gateway"
            if self.gateway_since:
                where += f" since {self.gateway_since}"
        on = f" on {date.fromordinal(day)}" if day is not None else ""
        return f"meter not on this gateway{on} ({where})"


def _clip(first: int, last: int, lo: int, hi: int) -> tuple[int, int] | None:
    a, b = max(first, lo), min(last, hi)
    return (a, b) if a <= b else None


def windows_of(
    installed_on: date,
    removed_on: date | None,
    stays: list[tuple[str, date, date | None]],
) -> dict[str, Window]:
    """Per gateway, the data dates it may write: its stays ``[from, to)`` within the days
    the meter was installed (``installed_on`` to ``removed_on``, both included). A freeze
    of date D may come from a gateway that held the meter on D or on one of the
    :data:`FREEZE_HISTORY_DAYS` days after (it read the meter's history)."""
    lo = installed_on.toordinal()
    hi = removed_on.toordinal() if removed_on is not None else _FOREVER
    live: dict[str, list[tuple[int, int]]] = {}
    frz: dict[str, list[tuple[int, int]]] = {}
    for gw, start, end in stays:
        first = start.toordinal()
        last = end.toordinal() - 1 if end is not None else _FOREVER
        if last < first:
            continue
        r = _clip(first, last, lo, hi)
        if r is not None:
            live.setdefault(gw, []).append(r)
        f = _clip(first - FREEZE_HISTORY_DAYS, last, lo, hi)
        if f is not None:
            frz.setdefault(gw, []).append(f)
    return {
        gw: Window(tuple(live.get(gw, ())), tuple(frz.get(gw, ())))
        for gw in live.keys() | frz.keys()
    }


def facts_from_row(row: tuple[Any, ...]) -> MeterFacts:
    (meter, protocol, rated_v, rated_i, ct, pt, phases, installed, removed, gw, since, gws,
     froms, tos) = row  # fmt: skip
    limits = _limits_cached(
        MeterRatings(
            protocol,
            None if rated_v is None else float(rated_v),
            None if rated_i is None else float(rated_i),
            float(ct),
            float(pt),
            int(phases),
        )
    )
    stays = list(zip(gws, froms, tos, strict=True))
    return MeterFacts(
        meter, installed, removed, gw, since, limits, windows_of(installed, removed, stays)
    )


_LIMITS: dict[MeterRatings, Limits] = {}
_LIMITS_LOCK = threading.Lock()


def _limits_cached(r: MeterRatings) -> Limits:
    """Meters with the same ratings share one table (a fleet has few kinds of meter)."""
    got = _LIMITS.get(r)
    if got is None:
        with _LIMITS_LOCK:
            got = _LIMITS.setdefault(r, limits_for(r))
    return got


@dataclass
class Snapshot:
    """The archive facts of one archive version: per meter (None: not in the archive), and
    what the screening derived from them per gateway (kept with the facts they came from)."""

    facts: dict[str, MeterFacts | None] = field(default_factory=dict)
    derived: dict[str, dict[str, Any]] = field(default_factory=dict)


class ArchiveCache:
    """The archive facts of one database, filled lazily, dropped when the archive changes.
    Safe to share between the writer threads of a process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: tuple[int, str] | None = None
        self._snap = Snapshot()
        self.loads = 0  # queries for missing meters (tests look)

    def snapshot(self, conn: psycopg.Connection[Any], meters: set[str]) -> Snapshot:
        """The facts of (at least) ``meters`` as of the archive version ``conn`` sees now
        (call it inside the batch's transaction)."""
        row = conn.execute("SELECT n, token FROM archive_version").fetchone()
        version = (int(row[0]), str(row[1])) if row else (0, "")
        with self._lock:
            if version != self._version:
                self._snap = Snapshot()
                self._version = version
            snap = self._snap
            missing = [m for m in meters if m not in snap.facts]
        if not missing:
            return snap
        found: dict[str, MeterFacts | None] = dict.fromkeys(missing)
        for r in conn.execute(FACTS_SQL, (missing,)):
            found[r[0]] = facts_from_row(r)
        with self._lock:
            self.loads += 1
            if self._version == version and self._snap is snap:
                snap.facts.update(found)
                return snap
        # the archive changed meanwhile: this batch screens with what it loaded
        return Snapshot({**snap.facts, **found})


_CACHES: dict[tuple[Any, ...], ArchiveCache] = {}
_CACHES_LOCK = threading.Lock()


def cache_for(conn: psycopg.Connection[Any]) -> ArchiveCache:
    """The process's cache for the database ``conn`` is connected to."""
    info = conn.info
    key = (info.host, info.port, info.dbname)
    with _CACHES_LOCK:
        cache = _CACHES.get(key)
        if cache is None:
            cache = _CACHES[key] = ArchiveCache()
        return cache
