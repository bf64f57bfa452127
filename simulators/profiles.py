"""Deterministic consumption from a seed: register values at any instant without stepping.

How it is built (so a register is reproducible at any t, fast, and never runs backwards):

* A *day* is a local calendar day (the meter's time zone). The cumulative energy at the
  start of day ``d`` has a closed form ``F(d) = M(d) + c * dM(d) * u(d)``: ``M`` is the
  integral of a mean daily energy (weekday pattern plus a yearly sinusoid, both with
  closed-form integrals), ``dM(d) = M(d+1) - M(d)`` and ``u(d)`` in [0, 1) comes from a
  hash of (seed, meter, day). With ``c < 1`` each day's energy is at least
  ``(1 - c) * dM(d) > 0``, so ``F`` only grows, and a register 700 days after
  commissioning costs the same as one after a day.
* Day energy is kept in integer hundredths of a kWh and split over tariffs T1..T4 by the
  profile's mean shares (:func:`simulators.tariffs.split_cumulative`), so tariff
  registers add up exactly to the total at any instant.
* Inside a day each tariff's energy is spread over its 15-minute slots by the profile's
  daily shape times a per-slot hash noise; power in a slot is that slot's energy divided
  by 15 minutes, so power and accumulated energy agree.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from enum import StrEnum
from typing import Final

from simulators.tariffs import (
    DEFAULT_SCHEDULE,
    SLOT_MINUTES,
    SLOTS_PER_DAY,
    TariffSchedule,
    split_cumulative,
)

_NOISE: Final[float] = 0.6  # c above: day-to-day variation
_YEAR: Final[float] = 365.2425
_SUMMER_PEAK: Final[int] = date(2000, 7, 15).toordinal()
_WINTER_PEAK: Final[int] = date(2000, 1, 15).toordinal()


class LoadKind(StrEnum):
    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    INDUSTRIAL = "industrial"
    IRRIGATION = "irrigation"


@dataclass(frozen=True)
class _KindShape:
    weekday: tuple[float, ...]  # Monday..Sunday, mean 1
    seasonal: float  # amplitude of the yearly sinusoid (< min(weekday))
    peak_ordinal: int
    hourly: tuple[float, ...]  # 24 relative weights of the hours of a day
    daily_kwh: tuple[float, float]  # range of the mean daily energy for one meter


_KINDS: Final[dict[LoadKind, _KindShape]] = {
    LoadKind.RESIDENTIAL: _KindShape(
        (0.96,) * 5 + (1.1, 1.1),
        0.3,
        _SUMMER_PEAK,
        (3, 2, 2, 2, 2, 3, 5, 8, 7, 5, 4, 4, 5, 4, 4, 4, 5, 7, 10, 12, 12, 10, 8, 5),
        (5.0, 15.0),
    ),
    LoadKind.COMMERCIAL: _KindShape(
        (1.2,) * 5 + (0.5, 0.5),
        0.2,
        _SUMMER_PEAK,
        (2, 2, 2, 2, 2, 2, 3, 6, 10, 12, 12, 12, 11, 12, 12, 12, 11, 10, 8, 6, 4, 3, 2, 2),
        (30.0, 150.0),
    ),
    LoadKind.INDUSTRIAL: _KindShape(
        (1.1,) * 5 + (0.75, 0.75),
        0.1,
        _WINTER_PEAK,
        (7, 7, 7, 7, 7, 7, 8, 10, 11, 11, 11, 11, 10, 11, 11, 11, 11, 10, 9, 8, 8, 8, 7, 7),
        (200.0, 800.0),
    ),
    LoadKind.IRRIGATION: _KindShape(
        (1.0,) * 7,
        0.9,
        _SUMMER_PEAK,
        (10, 10, 10, 10, 10, 9, 6, 3, 2, 2, 2, 2, 3, 3, 3, 3, 2, 2, 2, 3, 5, 8, 10, 10),
        (40.0, 200.0),
    ),
}


def stable_unit(*parts: object) -> float:
    """A number in [0, 1) fixed by ``parts`` (stable across runs and Python versions)."""
    digest = hashlib.blake2b(repr(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


@dataclass(frozen=True)
class DayPlan:
    """One local day of one load: energy per tariff and its spread over the 96 slots."""

    day: int  # local date ordinal
    start_total: int  # cumulative hundredths at the start of the day
    start_tariffs: tuple[int, int, int, int]
    tariff_energy: tuple[int, int, int, int]  # hundredths per tariff during the day
    slot_weight: tuple[float, ...]  # 96 weights, normalised within each tariff
    cum_before: tuple[tuple[float, ...], ...]  # per tariff: its weight in slots before s


class LoadModel:
    """The consumption of one meter: built from (seed, key, kind), or summed from others.

    ``scale`` multiplies the whole energy (1 - theft fraction for a tampered customer,
    1 + loss for an area master meter); with ``scale_from`` (a local date) only the energy
    from that date's midnight on (a bypass fitted that day), the days before it unscaled.
    ``commissioned`` is the local date the register started from zero.
    """

    def __init__(
        self,
        *,
        seed: int,
        key: str,
        kind: LoadKind,
        commissioned: date,
        daily_kwh: float | None = None,
        scale: float = 1.0,
        scale_from: date | None = None,
        schedule: TariffSchedule = DEFAULT_SCHEDULE,
        parts: tuple[LoadModel, ...] = (),
    ) -> None:
        self.seed, self.key, self.kind = seed, key, LoadKind(kind)
        self.shape = _KINDS[self.kind]
        if daily_kwh is None:
            lo, hi = self.shape.daily_kwh
            daily_kwh = lo + (hi - lo) * stable_unit(seed, key, "daily")
        if daily_kwh <= 0 or scale <= 0:
            raise ValueError(f"load {key}: daily energy and scale must be > 0")
        self.daily_kwh = daily_kwh
        self.scale = scale
        self.scale_from = None if scale_from is None else scale_from.toordinal()
        self.schedule = schedule
        self.parts = parts  # non-empty: F is the sum of the parts' true energy
        self.commissioned = commissioned.toordinal()
        mix = [0.85 * h + 0.15 * (sum(self.shape.hourly) / 24) for h in self.shape.hourly]
        slot_shape = [mix[(s * SLOT_MINUTES) // 60] for s in range(SLOTS_PER_DAY)]
        total = sum(slot_shape)
        self._slot_shape = tuple(w / total for w in slot_shape)
        shares = [0.0] * 4
        for s, w in enumerate(self._slot_shape):
            shares[schedule.slot_tariffs[s] - 1] += w
        self.tariff_shares = tuple(shares)
        self._prefix = (shares[0], shares[0] + shares[1], shares[0] + shares[1] + shares[2])
        self._base = self._f_raw(self.commissioned)
        self._days: dict[int, DayPlan] = {}

    # --- day boundaries (closed form) ---------------------------------------------------

    def _m(self, day: int) -> float:
        sh = self.shape
        weeks, rest = divmod(day, 7)
        # date ordinal 1 is a Monday, so ordinal k has weekday (k - 1) % 7
        wk = weeks * 7.0 + sum(sh.weekday[(weeks * 7 + i - 1) % 7] for i in range(rest))
        season = sh.seasonal * _YEAR / (2 * math.pi)
        season *= math.sin(2 * math.pi * (day - sh.peak_ordinal) / _YEAR)
        return self.daily_kwh * (wk + season)

    def _true_f(self, day: int) -> float:
        """Unscaled cumulative kWh at the start of local day ``day`` (arbitrary origin)."""
        if self.parts:
            return sum(p._true_f(day) for p in self.parts)
        m0, m1 = self._m(day), self._m(day + 1)
        return m0 + _NOISE * (m1 - m0) * stable_unit(self.seed, self.key, day)

    def _f_raw(self, day: int) -> float:
        since = self.scale_from
        if since is None:
            return self.scale * self._true_f(day)
        if day <= since:
            return self._true_f(day)
        before = self._true_f(since)
        return before + self.scale * (self._true_f(day) - before)

    def total_at_day(self, day: int) -> int:
        """Cumulative hundredths of a kWh at local midnight starting ``day`` (ordinal)."""
        if day <= self.commissioned:
            return 0
        return int(100 * (self._f_raw(day) - self._base))

    def day_plan(self, day: int) -> DayPlan:
        plan = self._days.get(day)
        if plan is None:
            if len(self._days) > 8:
                self._days.clear()
            plan = self._build_day(day)
            self._days[day] = plan
        return plan

    def _build_day(self, day: int) -> DayPlan:
        x0, x1 = self.total_at_day(day), self.total_at_day(day + 1)
        t0 = split_cumulative(x0, self._prefix)
        t1 = split_cumulative(x1, self._prefix)
        energy = tuple(b - a for a, b in zip(t0, t1, strict=True))
        if min(energy) < 0:  # cannot happen with the profile bounds; guard the invariant
            raise AssertionError(f"load {self.key}: negative tariff energy on day {day}")
        noise = hashlib.shake_128(repr((self.seed, self.key, "slots", day)).encode()).digest(
            SLOTS_PER_DAY
        )
        raw = [w * (0.6 + 0.8 * noise[s] / 255) for s, w in enumerate(self._slot_shape)]
        per_tariff = [0.0] * 4
        tariffs = self.schedule.slot_tariffs
        for s, w in enumerate(raw):
            per_tariff[tariffs[s] - 1] += w
        weights = tuple(w / per_tariff[tariffs[s] - 1] for s, w in enumerate(raw))
        cum: list[list[float]] = [[], [], [], []]
        running = [0.0] * 4
        for s, w in enumerate(weights):
            for j in range(4):
                cum[j].append(running[j])
            running[tariffs[s] - 1] += w
        return DayPlan(
            day,
            x0,
            (t0[0], t0[1], t0[2], t0[3]),
            (energy[0], energy[1], energy[2], energy[3]),
            weights,
            tuple(tuple(c) for c in cum),
        )

    # --- any instant ------------------------------------------------------------------

    def at(self, local: datetime) -> tuple[tuple[int, int, int, int], float]:
        """Tariff registers (hundredths) and average power (kW) at local wall time."""
        day = local.date().toordinal()
        if day < self.commissioned:
            return (0, 0, 0, 0), 0.0
        plan = self.day_plan(day)
        minute = local.hour * 60 + local.minute + (local.second + local.microsecond / 1e6) / 60
        slot = min(int(minute // SLOT_MINUTES), SLOTS_PER_DAY - 1)
        frac = (minute - slot * SLOT_MINUTES) / SLOT_MINUTES
        tariff = self.schedule.slot_tariffs[slot] - 1
        regs = list(plan.start_tariffs)
        for j in range(4):
            # share of tariff j's day energy elapsed before this slot
            done = plan.cum_before[j][slot]
            if j == tariff:
                done += frac * plan.slot_weight[slot]
            regs[j] += int(plan.tariff_energy[j] * min(done, 1.0))
        slot_kwh = plan.tariff_energy[tariff] / 100 * plan.slot_weight[slot]
        return (regs[0], regs[1], regs[2], regs[3]), slot_kwh * 60 / SLOT_MINUTES


def local_day(ts: datetime, tz: tzinfo) -> date:
    """The local calendar date of an aware instant."""
    return ts.astimezone(tz).date()
