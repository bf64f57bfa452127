"""Time-of-use tariff periods T1..T4 by local time of day, and exact tariff accounting.

Registers are kept in integer hundredths of a kWh (the DL/T 645 register resolution),
so the tariff registers add up EXACTLY to the total: the total is defined as their sum.

The default schedule follows the usual Chinese pattern (T1 sharp, T2 peak, T3 flat,
T4 valley); a utility configures its own, so a schedule is data. Boundaries fall on
15-minute slots because the load profiles are piecewise constant per slot.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

SLOT_MINUTES: Final[int] = 15
SLOTS_PER_DAY: Final[int] = 24 * 60 // SLOT_MINUTES
TARIFFS: Final[tuple[int, ...]] = (1, 2, 3, 4)


class TariffError(ValueError):
    """A tariff schedule that does not cover the day or uses an unknown tariff."""


@dataclass(frozen=True)
class TariffSchedule:
    """Switch points ``(minute of local day, tariff 1..4)``; the first must be at minute 0."""

    switches: tuple[tuple[int, int], ...]

    def __post_init__(self) -> None:
        if not self.switches or self.switches[0][0] != 0:
            raise TariffError("tariff schedule must start at minute 0 (local midnight)")
        last = -1
        for minute, tariff in self.switches:
            if minute <= last or minute >= 24 * 60:
                raise TariffError(f"tariff switch at minute {minute} is out of order or range")
            if minute % SLOT_MINUTES:
                raise TariffError(f"tariff switch at minute {minute} is not on a 15-min slot")
            if tariff not in TARIFFS:
                raise TariffError(f"tariff {tariff} is not one of T1..T4")
            last = minute
        used = {t for _, t in self.switches}
        if used != set(TARIFFS):
            raise TariffError(f"tariff schedule must use all of T1..T4, uses {sorted(used)}")
        table: list[int] = []
        for slot in range(SLOTS_PER_DAY):
            minute = slot * SLOT_MINUTES
            table.append([t for m, t in self.switches if m <= minute][-1])
        object.__setattr__(self, "_slots", tuple(table))

    @property
    def slot_tariffs(self) -> tuple[int, ...]:
        """Tariff (1..4) of each 15-minute slot of the local day."""
        slots: tuple[int, ...] = self.__dict__["_slots"]
        return slots

    def tariff_at_minute(self, minute_of_day: int) -> int:
        return self.slot_tariffs[minute_of_day // SLOT_MINUTES]


#: 00-07 valley, 07-08 flat, 08-10 peak, 10-11 sharp, 11-12 peak, 12-17 flat, 17-19 peak,
#: 19-21 sharp, 21-22 peak, 22-23 flat, 23-24 valley.
DEFAULT_SCHEDULE: Final = TariffSchedule(
    (
        (0, 4),
        (7 * 60, 3),
        (8 * 60, 2),
        (10 * 60, 1),
        (11 * 60, 2),
        (12 * 60, 3),
        (17 * 60, 2),
        (19 * 60, 1),
        (21 * 60, 2),
        (22 * 60, 3),
        (23 * 60, 4),
    )
)


def split_cumulative(total_hundredths: int, prefix_fractions: tuple[float, ...]) -> tuple[int, ...]:
    """Split a cumulative total into four cumulative tariff registers that sum to it exactly.

    ``prefix_fractions`` are the running sums (Phi_1, Phi_2, Phi_3) of the tariff shares.
    Register j = floor(Phi_j X) - floor(Phi_{j-1} X): the parts telescope to X, and each
    part grows with X whenever its share of the growth is at least one hundredth (the
    load profiles guarantee that for a day's growth).
    """
    bounds = (0, *(int(p * total_hundredths) for p in prefix_fractions), total_hundredths)
    return tuple(bounds[i + 1] - bounds[i] for i in range(4))
