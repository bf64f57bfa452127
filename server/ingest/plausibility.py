"""Which values a meter can physically report (the V of VEE: validation), as a table.

A reading outside its quantity's range is not a measurement but a fault or a forgery: the
ingest screening (:mod:`server.ingest.screening`) quarantines it with the reason this
module writes, so it is neither stored as valid nor dropped. The ranges are deliberately
wide: they refuse what no meter can show, and leave what is merely unusual (a stopped
register, a phase that lost its voltage, a surge) to the anomaly rules.

Per quantity family (``protocols.model`` names):

=================  ===========================================================================
energy registers   ``0 … register maximum`` of the meter's protocol. DL/T 645 registers are
                   ``XXXXXX.XX`` BCD: at most 999 999.99 kWh. Combined active energy and the
                   combined reactive registers may be negative (their definition subtracts
                   one direction from the other; DL/T 645 signs them in the top bit):
                   ``± register maximum``. Modbus meters keep float32 registers with no
                   documented end; above 10^9 kWh a float32 no longer resolves 100 kWh, which
                   no real meter shows.
voltages           ``0 … 2 × rated × PT ratio`` (1 000 V × PT without a rated voltage; the
                   ratio allows for meters that report primary values)
currents           ``± 20 × rated × CT ratio`` (1 000 A × CT without a rated current: DL/T 645
                   currents are ``XXX.XXX`` with a sign)
powers, demand     ``± phases × highest voltage × highest current`` (apparent power and
                   maximum demand from 0)
power factor       ``-1 … 1`` (plus 0.001 for a float register's rounding)
frequency          ``45 … 65 Hz``
event counters     ``0 … 999 999`` (DL/T 645 ``XXXXXX``)
clock offset       ``± 100 years`` in seconds (DL/T 645 dates span one century)
=================  ===========================================================================

A reading's ``kind`` must fit its quantity too: only energy registers are frozen daily,
and a clock check carries nothing but ``clock_offset`` (which nothing else carries).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from protocols.model import QUANTITIES

#: The largest value an energy register of each meter protocol can show, kWh (or kvarh).
REGISTER_MAX: Final[dict[str, float]] = {
    "dlt645-2007": 999_999.99,
    "dlt645-1997": 999_999.99,
    "modbus": 1e9,
    "dlt698": 42_949_672.95,  # double-long-unsigned, scaler -2 (0010/0020 attribute 2)
}
_UNKNOWN_PROTOCOL_REGISTER_MAX: Final[float] = 1e9

DEFAULT_VOLTAGE_MAX: Final[float] = 1_000.0  # V, without a rated voltage
DEFAULT_CURRENT_MAX: Final[float] = 1_000.0  # A, without a rated current
VOLTAGE_FACTOR: Final[float] = 2.0  # x rated voltage
CURRENT_FACTOR: Final[float] = 20.0  # x rated (basic) current: Imax is at most ~12 Ib
PF_SLACK: Final[float] = 0.001
FREQUENCY_HZ: Final[tuple[float, float]] = (45.0, 65.0)
COUNTER_MAX: Final[float] = 999_999.0
CLOCK_OFFSET_MAX_S: Final[float] = 100 * 366 * 86_400.0

#: Energy quantities whose definition allows a negative value.
SIGNED_ENERGY: Final[frozenset[str]] = frozenset(
    {"energy_combined_total", "energy_reactive_1_total", "energy_reactive_2_total"}
)
ENERGY: Final[frozenset[str]] = frozenset(
    q.name for q in QUANTITIES if q.cumulative and q.unit in ("kWh", "kvarh")
)
VOLTAGES: Final[frozenset[str]] = frozenset({"voltage_a", "voltage_b", "voltage_c"})
CURRENTS: Final[frozenset[str]] = frozenset({"current_a", "current_b", "current_c"})
SIGNED_POWERS: Final[frozenset[str]] = frozenset(
    {"power_active_total", "power_active_a", "power_active_b", "power_active_c"}
    | {"power_reactive_total"}
)
UNSIGNED_POWERS: Final[frozenset[str]] = frozenset({"power_apparent_total", "max_demand_import"})
POWER_FACTORS: Final[frozenset[str]] = frozenset({"pf_total", "pf_a", "pf_b", "pf_c"})
COUNTERS: Final[frozenset[str]] = frozenset({"power_down_count", "cover_open_count"})

ALL_KINDS: Final[frozenset[str]] = frozenset({"interval", "freeze", "event", "clock"})
#: The kinds each quantity may arrive as.
KINDS_OF: Final[dict[str, frozenset[str]]] = {
    q.name: (
        frozenset({"clock"})
        if q.name == "clock_offset"
        else frozenset({"interval", "event", "freeze"})
        if q.name in ENERGY
        else frozenset({"interval", "event"})
    )
    for q in QUANTITIES
}


@dataclass(frozen=True)
class MeterRatings:
    """What the archive says about a meter that bounds its values."""

    protocol: str
    rated_voltage: float | None = None
    rated_current: float | None = None
    ct_ratio: float = 1.0
    pt_ratio: float = 1.0
    phases: int = 1


#: Per quantity: (lowest, highest, kinds allowed, unit and why, for the reason text).
Limits = dict[str, tuple[float, float, frozenset[str], str]]


def _num(x: float | Decimal | None) -> float | None:
    return None if x is None else float(x)


def limits_for(r: MeterRatings) -> Limits:
    """The range of every quantity for a meter with ratings ``r``."""
    reg = REGISTER_MAX.get(r.protocol, _UNKNOWN_PROTOCOL_REGISTER_MAX)
    rated_v, rated_i = _num(r.rated_voltage), _num(r.rated_current)
    ct, pt = float(r.ct_ratio), float(r.pt_ratio)
    if rated_v and rated_v > 0:
        vmax, vwhy = VOLTAGE_FACTOR * rated_v * pt, f"{VOLTAGE_FACTOR:g} x rated {rated_v:g} V"
    else:
        vmax, vwhy = DEFAULT_VOLTAGE_MAX * pt, "no rated voltage in the archive"
    if pt != 1:
        vwhy += f" x PT {pt:g}"
    if rated_i and rated_i > 0:
        imax, iwhy = CURRENT_FACTOR * rated_i * ct, f"{CURRENT_FACTOR:g} x rated {rated_i:g} A"
    else:
        imax, iwhy = DEFAULT_CURRENT_MAX * ct, "no rated current in the archive"
    if ct != 1:
        iwhy += f" x CT {ct:g}"
    phases = r.phases if r.phases in (1, 3) else 3
    pmax = phases * vmax * imax / 1000
    pwhy = f"{phases} phase(s) x {vmax:g} V x {imax:g} A"
    out: Limits = {}
    for q in QUANTITIES:
        name, unit = q.name, q.unit or ""
        kinds = KINDS_OF[name]
        if name in ENERGY:
            lo = -reg if name in SIGNED_ENERGY else 0.0
            out[name] = (lo, reg, kinds, f"{unit}: register of a {r.protocol} meter")
        elif name in VOLTAGES:
            out[name] = (0.0, vmax, kinds, f"V: {vwhy}")
        elif name in CURRENTS:
            out[name] = (-imax, imax, kinds, f"A: {iwhy}")
        elif name in SIGNED_POWERS:
            out[name] = (-pmax, pmax, kinds, f"{unit}: {pwhy}")
        elif name in UNSIGNED_POWERS:
            out[name] = (0.0, pmax, kinds, f"{unit}: {pwhy}")
        elif name in POWER_FACTORS:
            out[name] = (-1 - PF_SLACK, 1 + PF_SLACK, kinds, "power factor")
        elif name == "frequency":
            out[name] = (*FREQUENCY_HZ, kinds, "Hz: grid frequency")
        elif name in COUNTERS:
            out[name] = (0.0, COUNTER_MAX, kinds, "event counter")
        elif name == "clock_offset":
            out[name] = (-CLOCK_OFFSET_MAX_S, CLOCK_OFFSET_MAX_S, kinds, "s: meter clock")
        else:  # pragma: no cover - a new quantity must be placed in a family above
            raise ValueError(f"no plausible range for quantity {name!r}")
    return out


def implausible(limits: Limits, quantity: str, value: float, kind: str) -> str | None:
    """Why ``value`` of ``quantity`` as ``kind`` cannot be a real reading, or None."""
    lo, hi, kinds, why = limits[quantity]
    if kind not in kinds:
        return (
            f"implausible: {quantity} cannot arrive as kind {kind!r} "
            f"(only {', '.join(sorted(kinds))})"
        )
    if not lo <= value <= hi:
        return f"implausible: {quantity} = {value:g} outside {lo:g} ... {hi:g} ({why})"
    return None
