"""The canonical reading shared by every part of meterlink: quantity names, units, kinds.

A reading is one value of one quantity of one meter at one instant (UTC). The edge builds
readings from DL/T 645 and Modbus replies; the server stores them; the simulators know the
same names. Protocol catalogues map their identifiers onto the names defined here. The
shared vocabulary (meter protocols, meter states, read-failure kinds, customer classes, the
62-day freeze depth) is defined in :mod:`protocols.vocabulary` and re-exported here.

Daily freezes: a meter freezes its registers at 00:00 local time. The freeze taken at
00:00 on day D+1 closes day D, so its *data date* is D (see :func:`data_date_of_freeze`),
and the consumption of day D is ``freeze(D) - freeze(D-1)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from enum import StrEnum
from typing import Final

# The shared vocabulary lives in protocols.vocabulary; it is re-exported here so that
# "the model" names every shared word.
from protocols.vocabulary import EDGE_PROTOCOL_OF as EDGE_PROTOCOL_OF
from protocols.vocabulary import FREEZE_HISTORY_DAYS as FREEZE_HISTORY_DAYS
from protocols.vocabulary import CustomerClass as CustomerClass
from protocols.vocabulary import EdgeProtocol as EdgeProtocol
from protocols.vocabulary import MeterProtocol as MeterProtocol
from protocols.vocabulary import MeterState as MeterState
from protocols.vocabulary import ReadFailureKind as ReadFailureKind
from protocols.vocabulary import read_failure_kind as read_failure_kind


class ReadingKind(StrEnum):
    """What a reading is, which decides where the server keeps it."""

    INTERVAL = "interval"  # a register or instantaneous value read on the interval plan (curves)
    FREEZE = "freeze"  # a daily-freeze register; ts = the freeze instant (local 00:00, in UTC)
    EVENT = "event"  # an event counter (power-down, cover-open) read by the daily plan
    CLOCK = "clock"  # a clock check: value = meter clock minus reference, seconds


class Source(StrEnum):
    """Why a reading was taken."""

    SCHEDULED = "scheduled"
    BACKFILL = "backfill"  # re-read from the meter's freeze history (补抄)
    ON_DEMAND = "on_demand"  # read now on request (召测)
    #: 终端日冻结: a gateway-side daily freeze of a meter that keeps none itself (DL/T
    #: 645-1997, Modbus): its registers read just after the day's close; never re-readable.
    TERMINAL = "terminal"


class Quality(StrEnum):
    """Flags a reading may carry; an empty set means a normal, on-time reading."""

    LATE = "late"  # read after its slot's window (the edge's: bus cycle + 60 s, <= slot end)
    CLOCK_SUSPECT = "clock_suspect"  # the meter's clock was off past the threshold
    DEGRADED = "degraded"  # read item by item after a block read was refused
    # answered through SECURITY plaintext with a MAC (a DL/T 698.45 meter with an ESAM):
    # only the utility's security module can check the MAC, so the value is not verified
    UNVERIFIED = "unverified"


@dataclass(frozen=True)
class Quantity:
    """A canonical quantity: its name, unit and whether it is a cumulative register."""

    name: str
    unit: str | None
    cumulative: bool = False
    description: str = ""


def _q(name: str, unit: str | None, cumulative: bool = False, description: str = "") -> Quantity:
    return Quantity(name, unit, cumulative, description)


QUANTITIES: Final[tuple[Quantity, ...]] = (
    _q("energy_combined_total", "kWh", True, "combined active energy, total"),
    _q("energy_import_total", "kWh", True, "forward (import) active energy, total"),
    _q("energy_import_t1", "kWh", True, "forward active energy, tariff 1 (sharp)"),
    _q("energy_import_t2", "kWh", True, "forward active energy, tariff 2 (peak)"),
    _q("energy_import_t3", "kWh", True, "forward active energy, tariff 3 (flat)"),
    _q("energy_import_t4", "kWh", True, "forward active energy, tariff 4 (valley)"),
    _q("energy_export_total", "kWh", True, "reverse (export) active energy, total"),
    _q("energy_export_t1", "kWh", True, "reverse active energy, tariff 1"),
    _q("energy_export_t2", "kWh", True, "reverse active energy, tariff 2"),
    _q("energy_export_t3", "kWh", True, "reverse active energy, tariff 3"),
    _q("energy_export_t4", "kWh", True, "reverse active energy, tariff 4"),
    _q("energy_reactive_1_total", "kvarh", True, "combined reactive energy 1, total"),
    _q("energy_reactive_2_total", "kvarh", True, "combined reactive energy 2, total"),
    _q("max_demand_import", "kW", False, "forward active maximum demand"),
    _q("voltage_a", "V"),
    _q("voltage_b", "V"),
    _q("voltage_c", "V"),
    _q("current_a", "A"),
    _q("current_b", "A"),
    _q("current_c", "A"),
    _q("power_active_total", "kW"),
    _q("power_active_a", "kW"),
    _q("power_active_b", "kW"),
    _q("power_active_c", "kW"),
    _q("power_reactive_total", "kvar"),
    _q("power_apparent_total", "kVA"),
    _q("pf_total", None),
    _q("pf_a", None),
    _q("pf_b", None),
    _q("pf_c", None),
    _q("frequency", "Hz"),
    _q("power_down_count", None, True, "number of power-downs"),
    _q("cover_open_count", None, True, "number of meter-cover openings"),
    _q("clock_offset", "s", False, "meter clock minus reference clock"),
)

QUANTITY_BY_NAME: Final[dict[str, Quantity]] = {q.name: q for q in QUANTITIES}

ENERGY_IMPORT_TARIFFS: Final[tuple[str, ...]] = tuple(f"energy_import_t{i}" for i in range(1, 5))

#: The local time zone meters keep their clocks in unless configured otherwise.
DEFAULT_METER_TIMEZONE: Final[str] = "Asia/Shanghai"

#: Curve resolution: 96 points a day.
INTERVAL_MINUTES: Final[int] = 15
POINTS_PER_DAY: Final[int] = 24 * 60 // INTERVAL_MINUTES


class ReadingError(ValueError):
    """A reading that breaks the model (unknown quantity, naive time, NaN value...)."""


#: The longest MAC or RN a reading may carry (bytes). DL/T 698.45 MACs are 4 bytes and the
#: readers' RNs 16; the bound leaves room for other security modules and stops abuse.
MAX_SECURITY_BYTES: Final[int] = 64


@dataclass(frozen=True)
class Reading:
    """One value of one quantity of one meter at one instant.

    ``meter`` is the archive id the gateway configuration gives the meter (not its bus
    address: a replaced meter keeps its archive id). ``ts`` is timezone-aware UTC.
    """

    meter: str
    quantity: str
    ts: datetime
    value: float
    unit: str | None = None
    kind: ReadingKind = ReadingKind.INTERVAL
    source: Source = Source.SCHEDULED
    quality: frozenset[Quality] = field(default_factory=frozenset)
    #: the MAC an ESAM meter returned with the value (SECURITY-Response plaintext + MAC),
    #: as received: only the utility's security module can verify it, never checked here
    mac: bytes | None = None
    #: the random number the reader sent with the request that MAC answers (SECURITY
    #: plaintext + RN): the module needs the pair; only with a MAC
    rn: bytes | None = None

    def __post_init__(self) -> None:
        if not self.meter:
            raise ReadingError("reading has an empty meter id")
        if self.quantity not in QUANTITY_BY_NAME:
            raise ReadingError(f"unknown quantity {self.quantity!r}")
        if self.ts.tzinfo is None or self.ts.utcoffset() is None:
            raise ReadingError(f"reading time {self.ts.isoformat()} has no time zone")
        if isinstance(self.value, bool) or not isinstance(self.value, (int, float)):
            raise ReadingError(f"reading value {self.value!r} is not a number")
        if not math.isfinite(self.value):
            raise ReadingError(f"reading value {self.value!r} is not finite")
        expected = QUANTITY_BY_NAME[self.quantity].unit
        if self.unit is not None and self.unit != expected:
            raise ReadingError(
                f"unit {self.unit!r} does not match {self.quantity} (expected {expected!r})"
            )
        for name, raw in (("mac", self.mac), ("rn", self.rn)):
            if raw is not None and (
                not isinstance(raw, bytes) or not 1 <= len(raw) <= MAX_SECURITY_BYTES
            ):
                raise ReadingError(
                    f"reading {name} must be 1-{MAX_SECURITY_BYTES} bytes, got {raw!r}"
                )
        if self.rn is not None and self.mac is None:
            raise ReadingError("reading has an rn without a mac (the rn only pairs a mac)")


def to_utc(ts: datetime) -> datetime:
    """Normalise an aware datetime to UTC; a naive one is refused."""
    if ts.tzinfo is None or ts.utcoffset() is None:
        raise ReadingError(f"time {ts.isoformat()} has no time zone")
    return ts.astimezone(UTC)


def slot_start(ts: datetime, minutes: int = INTERVAL_MINUTES) -> datetime:
    """The start of the curve slot ``ts`` falls in (slots are aligned in UTC and local
    time alike for zones with whole-quarter-hour offsets)."""
    ts = to_utc(ts)
    floored = ts.replace(second=0, microsecond=0)
    return floored - timedelta(minutes=floored.minute % minutes)


def data_date_of_freeze(freeze_ts: datetime, tz: tzinfo) -> date:
    """The data date a daily freeze closes: a freeze at local 00:00 on D+1 closes day D."""
    local = to_utc(freeze_ts).astimezone(tz)
    return (local - timedelta(minutes=1)).date()


def freeze_instant(data_date: date, tz: tzinfo) -> datetime:
    """The UTC instant of the daily freeze that closes ``data_date`` (local 00:00 next day)."""
    nxt = data_date + timedelta(days=1)
    return datetime(nxt.year, nxt.month, nxt.day, tzinfo=tz).astimezone(UTC)
