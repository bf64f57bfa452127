"""A simulated meter: identity, line parameters, clock, counters, faults, and its registers.

:meth:`SimMeter.registers_at` is the ground truth: the values (by quantity name from
``protocols.model``) the meter reports at a simulated instant, faults included. The
protocol responders only encode what it returns, so a test asks the same method for
the value it expects to read.

Simplifications (documented so nobody mistakes them for the standard):
* ``max_demand_import`` is the largest 15-minute average power since local midnight
  (real meters keep it per billing month).
* Voltage-loss, phase-break and imbalance faults change the instantaneous values only;
  energy keeps following the load profile.
* ``combined`` active energy = import + export.

A meter behind current or voltage transformers (``ct``/``pt`` above 1) measures the
secondary side, as a real one does: its energy, power and demand registers read the
primary quantity divided by ``ct x pt``, its currents the primary ones divided by ``ct``,
and its voltages are the secondary ones (``rated_voltage`` is the meter's own rating, the
line is at ``rated_voltage x pt``); the server multiplies by the archive's ratios.
:meth:`SimMeter.primary_energy_at` is the line's energy, for ground truth.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import cached_property
from typing import Any
from zoneinfo import ZoneInfo

from protocols.modbus import get_profile
from protocols.vocabulary import FREEZE_HISTORY_DAYS, MeterProtocol
from simulators.faults import Fault, FaultError
from simulators.profiles import LoadKind, LoadModel, stable_unit

PROTOCOLS: tuple[str, ...] = tuple(MeterProtocol)
FREEZE_DAYS = FREEZE_HISTORY_DAYS


#: How long a simulated cover opening lasts (its record's end time comes this much later).
COVER_OPEN_MINUTES = 10


class MeterError(ValueError):
    """A meter definition or request that cannot be right."""


@dataclass(frozen=True)
class MeterSpec:
    """What a fleet file says about one meter (validated by ``simulators.fleet``)."""

    archive_id: str
    address: str  # 12 printed digits (DL/T 645); for Modbus meters a label
    protocol: str = "dlt645-2007"
    modbus_profile: str | None = None  # e.g. "dtsu666" when protocol == "modbus"
    unit_id: int = 1
    phases: int = 1
    load: LoadKind = LoadKind.RESIDENTIAL
    daily_kwh: float | None = None  # None: drawn from the seed within the kind's range
    rated_voltage: float = 220.0
    rated_current: float = 60.0
    ct: int = 1
    pt: int = 1
    timezone: str = "Asia/Shanghai"
    clock_offset_s: float = 0.0
    clock_drift_s_per_day: float = 0.0
    commissioned: date = date(2025, 1, 1)
    theft_fraction: float = 0.0  # share of the true consumption this meter does not see
    theft_since: date | None = None  # local day the theft began (None: since commissioning)
    area: str | None = None
    role: str = "customer"  # or "master" (area master meter, 台区总表)
    faults: tuple[Fault, ...] = ()
    esam: bool = False  # DL/T 698.45: frozen data only through SECURITY (plaintext + MAC)
    #: DL/T 698.45: the largest frame the meter sends; a longer answer goes in link-layer
    #: fragments (None: never fragments)
    frame_size: int | None = None

    def __post_init__(self) -> None:
        if not (len(self.address) == 12 and self.address.isdigit()):
            raise MeterError(f"meter {self.archive_id}: address must be 12 decimal digits")
        if self.protocol not in PROTOCOLS:
            raise MeterError(f"meter {self.archive_id}: protocol must be one of {PROTOCOLS}")
        if self.phases not in (1, 3):
            raise MeterError(f"meter {self.archive_id}: phases must be 1 or 3")
        if self.esam and self.protocol != "dlt698":
            raise MeterError(f"meter {self.archive_id}: only a dlt698 meter has an ESAM")
        if self.frame_size is not None and self.protocol != "dlt698":
            raise MeterError(
                f"meter {self.archive_id}: frame_size is a DL/T 698.45 setting "
                f"(link-layer fragments), not one of {self.protocol}"
            )


@dataclass
class _State:
    clock_offset_s: float
    address: str
    faults: list[Fault] = field(default_factory=list)


class SimMeter:
    """A meter with a load model and mutable run-time state (clock setting, faults)."""

    def __init__(self, spec: MeterSpec, load: LoadModel) -> None:
        self.spec = spec
        self.load = load
        self.tz: tzinfo = ZoneInfo(spec.timezone)
        self._lock = threading.RLock()
        self._state = _State(spec.clock_offset_s, spec.address, list(spec.faults))
        self._drift_ref = datetime.combine(spec.commissioned, datetime.min.time(), UTC)
        self._q_ratio = 0.3 + 0.25 * stable_unit(load.seed, spec.archive_id, "q")
        self._pd_period = 20 + 100 * stable_unit(load.seed, spec.archive_id, "pd")
        self._phase_split = self._split()

    def _split(self) -> tuple[float, float, float]:
        if self.spec.phases == 1:
            return (1.0, 0.0, 0.0)
        raw = [
            1 + 0.1 * (stable_unit(self.load.seed, self.spec.archive_id, p) - 0.5) for p in "abc"
        ]
        s = sum(raw)
        return (raw[0] / s, raw[1] / s, raw[2] / s)

    # --- identity and faults -----------------------------------------------------------

    @property
    def archive_id(self) -> str:
        return self.spec.archive_id

    def address_at(self, t: datetime) -> str:
        """The bus address at ``t`` (a replaced meter answers with its new one)."""
        f = self.active_fault("meter_replaced", t)
        return str(f.params["new_address"]) if f else self._state.address

    @property
    def faults(self) -> tuple[Fault, ...]:
        with self._lock:
            return tuple(self._state.faults)

    def add_fault(self, fault: Fault) -> None:
        if fault.spec.three_phase_only and self.spec.phases != 3:
            raise FaultError(f"meter {self.archive_id}: {fault.kind} needs three phases")
        with self._lock:
            self._state.faults.append(fault)

    def clear_faults(self, kind: str | None = None) -> list[Fault]:
        """Remove faults (all, or of one kind); returns the removed ones."""
        with self._lock:
            gone = [f for f in self._state.faults if kind is None or f.kind == kind]
            self._state.faults = [f for f in self._state.faults if f not in gone]
            return gone

    def active_fault(self, kind: str, t: datetime) -> Fault | None:
        """The latest-starting fault of ``kind`` active at ``t``, if any."""
        best = None
        for f in self._state.faults:
            if f.kind == kind and f.start <= t and (best is None or f.start > best.start):
                best = f
        return best

    # --- clock -------------------------------------------------------------------------

    def clock_error_s(self, t: datetime) -> float:
        """Meter clock minus true time, seconds, at ``t``."""
        with self._lock:
            err = self._state.clock_offset_s
            err += self.spec.clock_drift_s_per_day * (t - self._drift_ref).total_seconds() / 86400
            f = self.active_fault("clock_drift", t)
            if f:
                err += f.params["seconds_per_day"] * (t - f.start).total_seconds() / 86400
            return err

    def meter_clock(self, t: datetime) -> datetime:
        """What the meter's clock shows at true instant ``t`` (aware, meter local zone)."""
        return (t + timedelta(seconds=self.clock_error_s(t))).astimezone(self.tz)

    def set_clock(self, shown: datetime, t: datetime) -> None:
        """Broadcast time / clock write: from ``t`` on the meter shows ``shown``.

        A naive ``shown`` is meter-local wall time (what DL/T 645 carries)."""
        if shown.tzinfo is None:
            shown = shown.replace(tzinfo=self.tz)
        with self._lock:
            error_now = self.clock_error_s(t)
            wanted = (shown - t).total_seconds()
            self._state.clock_offset_s += wanted - error_now

    # --- registers ---------------------------------------------------------------------

    def _energy(self, t: datetime) -> list[int]:
        now, _ = self.load.at(t.astimezone(self.tz))
        regs = list(now)
        f = self.active_fault("load_surge", t)
        if f:
            at_start, _ = self.load.at(f.start.astimezone(self.tz))
            regs = [
                s + int(f.params["factor"] * (r - s)) if r >= s else r
                for r, s in zip(regs, at_start, strict=True)
            ]
        return regs

    def _power(self, t: datetime) -> float:
        f = self.active_fault("load_surge", t)
        return self.load.at(t.astimezone(self.tz))[1] * (f.params["factor"] if f else 1.0)

    def energy_at(self, t: datetime) -> tuple[list[int], int, int]:
        """(import T1..T4, import total, export total) in hundredths of kWh on the primary
        side (before CT x PT), faults applied."""
        regs = self._energy(t)
        f = self.active_fault("meter_replaced", t)
        if f:
            base = self._energy(f.start)
            regs = [a - b for a, b in zip(regs, base, strict=True)]
            replaced_at = f.start
        else:
            replaced_at = None
        for kind in ("zero_consumption", "stopped_register"):
            f = self.active_fault(kind, t)
            if f:
                regs = self._energy(f.start)
                if replaced_at and f.start >= replaced_at:
                    base = self._energy(replaced_at)
                    regs = [a - b for a, b in zip(regs, base, strict=True)]
        f = self.active_fault("flying_register", t)
        if f:
            at_start = self._energy(f.start)
            regs = [
                s + int(f.params["factor"] * (r - s)) if r >= s else r
                for r, s in zip(regs, at_start, strict=True)
            ]
        f = self.active_fault("register_decrease", t)
        if f:
            regs = _take(regs, round(f.params["amount_kwh"] * 100))
        total = sum(regs)
        f = self.active_fault("tariff_mismatch", t)
        if f:
            regs[0] += round(f.params["offset_kwh"] * 100)
        export = 0
        f = self.active_fault("reverse_energy", t)
        if f:
            days = (t - f.start).total_seconds() / 86400
            export = int(f.params["kwh_per_day"] * 100 * days)
        return regs, total, export

    @property
    def ratio(self) -> int:
        """CT x PT: primary quantity per registered (secondary) unit of energy or power."""
        return self.spec.ct * self.spec.pt

    def primary_energy_at(self, t: datetime) -> float:
        """The import energy the line delivered through this meter up to ``t`` (kWh,
        primary side, faults applied): what the registers show times CT x PT."""
        with self._lock:
            return self.energy_at(t)[1] / 100

    def registers_at(self, t: datetime) -> dict[str, float]:
        """Every quantity this meter reports at true instant ``t`` (aware)."""
        if t.tzinfo is None:
            raise MeterError("registers_at needs an aware instant")
        with self._lock:
            return self._registers(t)

    def _registers(self, t: datetime) -> dict[str, float]:
        spec = self.spec
        tariffs, total, export = self._secondary(*self.energy_at(t))
        out: dict[str, float] = {
            "energy_import_total": total / 100,
            "energy_export_total": export / 100,
            "energy_combined_total": (total + export) / 100,
            "energy_reactive_1_total": int(total * self._q_ratio) / 100,
            "energy_reactive_2_total": 0.0,
        }
        for j in range(4):
            out[f"energy_import_t{j + 1}"] = tariffs[j] / 100
            out[f"energy_export_t{j + 1}"] = 0.0
        if export:
            out["energy_export_t3"] = export / 100  # reverse flow books as flat tariff
        power = self._power(t)
        if self.active_fault("zero_consumption", t):
            power = 0.0
        slot = int(t.timestamp() // 900)
        u_noise = stable_unit(self.load.seed, spec.archive_id, "u", slot)
        pf = round(0.86 + 0.12 * stable_unit(self.load.seed, spec.archive_id, "pf", slot), 3)
        split = list(self._phase_split)
        imb = self.active_fault("current_imbalance", t)
        if imb:
            r = imb.params["ratio"]
            split = [r, (1 - r) * 0.7, (1 - r) * 0.3]
        phases = "abc"[: spec.phases]
        total_p = 0.0
        for i, ph in enumerate(phases):
            u = spec.rated_voltage * (1 + 0.04 * (u_noise - 0.5) + 0.004 * i)
            p = power * split[i] / self.ratio
            cur = p * 1000 / (u * pf) if u > 0 else 0.0
            lost = self.active_fault("voltage_loss", t)
            broken = self.active_fault("phase_break", t)
            if lost and lost.params["phase"] == ph:
                u = spec.rated_voltage * 0.70
            if broken and broken.params["phase"] == ph:
                u, cur, p = spec.rated_voltage * 0.2, 0.0, 0.0
            out[f"voltage_{ph}"] = round(u, 1)
            out[f"current_{ph}"] = round(cur, 3)
            out[f"power_active_{ph}"] = round(p, 4)
            out[f"pf_{ph}"] = pf
            total_p += p
        out["power_active_total"] = round(total_p, 4)
        q = total_p * math.tan(math.acos(pf))
        out["power_reactive_total"] = round(q, 4)
        out["power_apparent_total"] = round(math.hypot(total_p, q), 4)
        out["pf_total"] = pf
        out["frequency"] = round(49.95 + 0.1 * u_noise, 2)
        out["max_demand_import"] = round(self._demand_today(t), 4)
        out["power_down_count"] = float(self._power_downs(t))
        out["cover_open_count"] = float(self._cover_opens(t))
        out["clock_offset"] = round(self.clock_error_s(t), 3)
        return out

    def _secondary(self, tariffs: list[int], total: int, export: int) -> tuple[list[int], int, int]:
        """Registers in hundredths as a meter behind CT x PT counts them (whole hundredths,
        so every register keeps moving forward only)."""
        k = self.ratio
        if k == 1:
            return tariffs, total, export
        return [r // k for r in tariffs], total // k, export // k

    def _demand_today(self, t: datetime) -> float:
        return self.demand_at(t)[0]

    def demand_at(self, t: datetime) -> tuple[float, datetime]:
        """Largest 15-minute average power since local midnight (kW, secondary side) and
        the local (naive) start of that 15 minutes, as the meter's max-demand register
        holds it."""
        local = t.astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
        day = local.date().toordinal()
        if self.active_fault("zero_consumption", t) or day < self.load.commissioned:
            return 0.0, midnight
        plan = self.load.day_plan(day)
        slot = (local.hour * 60 + local.minute) // 15
        tariffs = self.load.schedule.slot_tariffs
        best, best_slot = 0.0, 0
        surge = self.active_fault("load_surge", t)
        for s in range(slot + 1):
            kw = plan.tariff_energy[tariffs[s] - 1] / 100 * plan.slot_weight[s] * 4
            if (
                surge
                and (midnight + timedelta(minutes=15 * s)).replace(tzinfo=self.tz) >= surge.start
            ):
                kw *= surge.params["factor"]
            if kw > best:
                best, best_slot = kw, s
        return best / self.ratio, midnight + timedelta(minutes=15 * best_slot)

    def _power_downs(self, t: datetime) -> int:
        days = (t - self._drift_ref).total_seconds() / 86400
        return max(0, int(days / self._pd_period))

    def _cover_opens(self, t: datetime) -> int:
        return sum(
            int(f.params["count"])
            for f in self._state.faults
            if f.kind == "cover_open" and f.start <= t
        )

    def cover_open_record(self, t: datetime) -> dict[str, Any]:
        """The last cover-open record (DL/T 645-2007 03300D01) as the meter holds it at
        ``t``: ``cover_open_start`` / ``cover_open_end`` on the meter's clock (naive local;
        None when the cover was never opened, the end None while it is still open: a
        simulated opening lasts :data:`COVER_OPEN_MINUTES`), and the energy totals at both
        (``cover_open_before_*`` / ``cover_open_after_*``, zero when there is no record).
        The simulated meter has no quadrant registers: Q1 is its reactive register 1."""
        with self._lock:
            opened = [f for f in self._state.faults if f.kind == "cover_open" and f.start <= t]
        out: dict[str, Any] = {"cover_open_start": None, "cover_open_end": None}
        last = max(opened, key=lambda f: f.start) if opened else None
        closed = last.start + timedelta(minutes=COVER_OPEN_MINUTES) if last else None
        for when, at in (("before", last.start if last else None), ("after", closed)):
            regs = self.registers_at(at) if at is not None and at <= t else {}
            out[f"cover_open_{when}_energy_import_total"] = regs.get("energy_import_total", 0.0)
            out[f"cover_open_{when}_energy_export_total"] = regs.get("energy_export_total", 0.0)
            q1 = regs.get("energy_reactive_1_total", 0.0)
            for k in range(1, 5):
                out[f"cover_open_{when}_energy_reactive_q{k}_total"] = q1 if k == 1 else 0.0
        if last is not None:
            out["cover_open_start"] = self.meter_clock(last.start).replace(tzinfo=None)
            if closed is not None and closed <= t:
                out["cover_open_end"] = self.meter_clock(closed).replace(tzinfo=None)
        return out

    # --- daily freeze history ---------------------------------------------------------

    def freeze(self, n: int, t: datetime) -> tuple[datetime, dict[str, float]]:
        """The n-th last daily freeze (1 = the latest) as the meter holds it at ``t``.

        Returns the freeze time on the meter's clock (local midnight) and the frozen
        registers, taken at the true instant the meter's clock showed that midnight."""
        if not 1 <= n <= FREEZE_DAYS:
            raise MeterError(f"freeze number {n} outside 1..{FREEZE_DAYS}")
        shown_now = self.meter_clock(t)
        day = shown_now.date() - timedelta(days=n - 1)
        shown = datetime(day.year, day.month, day.day, tzinfo=self.tz)
        true_instant = shown.astimezone(UTC) - timedelta(seconds=self.clock_error_s(t))
        with self._lock:
            return shown, self._registers(true_instant)

    def with_spec(self, **changes: Any) -> MeterSpec:
        return replace(self.spec, **changes)

    @cached_property
    def modbus_profile(self) -> Any:
        if self.spec.modbus_profile is None:
            raise MeterError(f"meter {self.archive_id} has no Modbus profile")
        return get_profile(self.spec.modbus_profile)


def _take(regs: list[int], amount: int) -> list[int]:
    """Remove ``amount`` hundredths from the tariff registers, largest first, none < 0."""
    out = list(regs)
    total = sum(out)
    amount = min(amount, total)
    if total == 0:
        return out
    shares = [amount * r // total for r in out]
    rest = amount - sum(shares)
    for i in sorted(range(4), key=lambda i: -out[i]):
        if rest == 0:
            break
        if out[i] - shares[i] > 0:
            shares[i] += 1
            rest -= 1
    return [r - s for r, s in zip(out, shares, strict=True)]
