"""Screening a decoded batch before it is stored: who may write a meter, and whether the
value can be real.

A reading is stored only when

- its meter is in the archive;
- the publishing gateway held the meter on the reading's data date (the archive's stays in
  ``meter_gateway_history`` and the meter's installation and removal dates; a daily freeze
  may also come from a gateway that held the meter within the meter's 62-day freeze
  history after that date, which is how a moved meter's past days are re-read);
- its value and kind are plausible (:mod:`server.ingest.plausibility`).

Anything else goes to ``quarantine`` with a reason a person can act on: never stored as
valid, never dropped. The data date is the store's: a freeze at local 00:00 of D+1 closes
D (``protocols.model.data_date_of_freeze``), any other reading belongs to its local day,
both in the utility's time zone.

The screen is per batch and asks the database nothing per row: the archive facts come
from :class:`~server.ingest.archive_facts.ArchiveCache`, and a batch whose meters are all
owned and whose values are all in range comes out as it went in.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from protocols.wire import ReadingRow

from .archive_facts import MeterFacts, Snapshot
from .plausibility import Limits, implausible

#: Why a reading was quarantined, by class (the metric's label).
NOT_IN_ARCHIVE = "not_in_archive"
NOT_OWNER = "not_owner"
IMPLAUSIBLE = "implausible"

_MINUTE = timedelta(minutes=1)


@dataclass
class Screened:
    """A batch split: the groups to store (gateway, batch id, rows) and the quarantined
    readings (row, gateway, batch id, reason), with counts by class."""

    groups: list[tuple[str, str, Sequence[ReadingRow]]]
    quarantined: list[tuple[ReadingRow, str, str, str]] = field(default_factory=list)
    by_class: dict[str, int] = field(default_factory=dict)

    def add(self, row: ReadingRow, gw: str, bid: str, cls: str, reason: str) -> None:
        self.quarantined.append((row, gw, bid, reason))
        self.by_class[cls] = self.by_class.get(cls, 0) + 1


class _Days:
    """Data dates (as ordinals) of timestamps: a batch has few distinct ones."""

    def __init__(self, tz: str) -> None:
        self.zone = ZoneInfo(tz)
        self.live: dict[datetime, int] = {}
        self.freeze: dict[datetime, int] = {}

    def of(self, ts: datetime, kind: str) -> int:
        if kind == "freeze":
            d = self.freeze.get(ts)
            if d is None:
                d = self.freeze[ts] = (ts.astimezone(self.zone) - _MINUTE).date().toordinal()
            return d
        d = self.live.get(ts)
        if d is None:
            d = self.live[ts] = ts.astimezone(self.zone).date().toordinal()
        return d


def _within(ranges: tuple[tuple[int, int], ...], day: int) -> bool:
    for lo, hi in ranges:
        if lo <= day <= hi:
            return True
    return False


def screen_batch(
    groups: Sequence[tuple[str, str, Sequence[ReadingRow]]], snap: Snapshot, tz: str
) -> Screened:
    """Split ``groups`` into what may be stored and what is quarantined, and why."""
    out = Screened([])
    days = _Days(tz)
    for gw, bid, rows in groups:
        bad = _screen_group(gw, rows, snap, days)
        if not bad:
            out.groups.append((gw, bid, rows))
            continue
        keep = [r for i, r in enumerate(rows) if i not in bad]
        if keep:
            out.groups.append((gw, bid, keep))
        for i, (cls, reason) in sorted(bad.items()):
            out.add(rows[i], gw, bid, cls, reason)
    return out


_Ranges = tuple[tuple[int, int], ...]
#: What screening needs of one meter for one gateway: (refused: class and reason, or None),
#: its limits, the one range of data dates on which the gateway held it (first > last when
#: there are several or none: then every row takes the careful path), and its facts.
_Entry = tuple[tuple[str, str] | None, Limits, int, int, MeterFacts | None]
_NO_LIMITS: Limits = {}
_NEVER = (1, 0)


def _screen_group(
    gw: str, rows: Sequence[ReadingRow], snap: Snapshot, days: _Days
) -> dict[int, tuple[str, str]]:
    """The rows of one message (one gateway) to quarantine: index -> (class, reason).

    The usual row costs a few comparisons: its value against its quantity's range, and the
    span of the message's data dates against the one range of dates the gateway held the
    meter (a meter's entry is derived once per archive version and gateway)."""
    bad: dict[int, tuple[str, str]] = {}
    seen: dict[str, _Entry] | None = snap.derived.get(gw)
    if seen is None:
        seen = snap.derived.setdefault(gw, {})
    # the message's span of data dates, live and freeze alike (a freeze's is a day earlier)
    stamps = {r[2] for r in rows}
    spans = [days.of(t, "interval") for t in stamps] + [days.of(t, "freeze") for t in stamps]
    g_first, g_last = min(spans), max(spans)
    facts = snap.facts
    for i, (m, q, ts, v, k, _s, _qual) in enumerate(rows):
        entry = seen.get(m)
        if entry is None:
            entry = seen[m] = _entry(m, gw, facts)
        refused, limits, first, last, mf = entry
        if refused is not None:
            bad[i] = refused
            continue
        lo, hi, kinds, _why = limits[q]
        if lo <= v <= hi and k in kinds:
            if first <= g_first and g_last <= last:
                continue
            assert mf is not None
            win = mf.windows[gw]
            day = days.of(ts, k)
            if _within(win.freeze if k == "freeze" else win.live, day):
                continue
            bad[i] = (NOT_OWNER, mf.refusal(gw, day))
        else:
            bad[i] = (IMPLAUSIBLE, implausible(limits, q, v, k) or "implausible")
    return bad


def _entry(m: str, gw: str, facts: dict[str, MeterFacts | None]) -> _Entry:
    mf = facts.get(m)
    if mf is None:
        return (NOT_IN_ARCHIVE, "meter not in the archive"), _NO_LIMITS, *_NEVER, None
    win = mf.windows.get(gw)
    if win is None:
        return (NOT_OWNER, mf.refusal(gw)), _NO_LIMITS, *_NEVER, mf
    first, last = win.live[0] if len(win.live) == 1 else _NEVER
    return None, mf.limits, first, last, mf
