"""Meter fault kinds as data, their validation, and the ground-truth record writer.

A fault changes what one meter reports from its ``start`` instant on (until cleared).
Communication faults act in the bus/responder (the meter still consumes); metering
faults change the registers or instantaneous values the meter reports.

Ground-truth file format (JSON Lines, UTF-8, one object per line, appended in order)::

    {"action": "inject", "meter": "M000123", "address": "000000000123",
     "kind": "flying_register", "params": {"factor": 3.0},
     "start": "2026-11-20T16:00:00+00:00", "area": "A01", "recorded_at": "..."}
    {"action": "clear", "meter": "M000123", "address": "000000000123",
     "kind": "flying_register", "params": {}, "start": "...", "end": "...",
     "area": "A01", "recorded_at": "..."}

* ``action``: ``inject`` (fault active from ``start``) or ``clear`` (ended at ``end``).
* ``meter``: archive id; ``address``: the meter's bus address when the fault started
  (for ``meter_replaced`` the *old* address; ``params.new_address`` is the new one).
* ``kind``: one of :data:`FAULT_KINDS`; ``params``: that kind's parameters, defaults filled.
* ``start`` / ``end``: simulated UTC instants, ISO 8601 with offset.
* ``area``: transformer area id, or null for a meter outside any area.
* ``recorded_at``: simulated instant the record was written.

A meter whose readings differ from the line's energy by design, not by a fault, has one
``meter`` record written when the simulation starts (before any fault record)::

    {"action": "meter", "meter": "C000007", "address": "000000000007", "area": "A01",
     "role": "customer", "theft_fraction": 0.35, "theft_since": null, "ct": 1, "pt": 1,
     "recorded_at": "..."}

* ``theft_fraction``: share of the customer's true consumption its meter does not see;
  ``theft_since``: the local date (ISO) the theft began, null when it has been there since
  the meter was commissioned;
* ``ct`` / ``pt``: the transformer ratios the meter sits behind (it registers the
  secondary side: energy / (ct x pt)); ``role``: ``customer`` or ``master``.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any, Final


class FaultError(ValueError):
    """A fault request that cannot be applied (unknown kind, bad parameter)."""


@dataclass(frozen=True)
class FaultKind:
    name: str
    description: str
    params: Mapping[str, tuple[type, Any]]  # name -> (type, default; None = required)
    communication: bool = False
    three_phase_only: bool = False


def _k(
    name: str,
    description: str,
    communication: bool = False,
    three_phase_only: bool = False,
    **params: tuple[type, Any],
) -> FaultKind:
    return FaultKind(name, description, params, communication, three_phase_only)


FAULT_KINDS: Final[dict[str, FaultKind]] = {
    k.name: k
    for k in (
        _k("dead", "meter never answers", True),
        _k("intermittent", "meter drops a share of requests", True, drop_rate=(float, 0.5)),
        _k(
            "slow",
            "meter answers after a delay beyond the usual timeout",
            True,
            delay_s=(float, 3.0),
        ),
        _k("bad_checksum", "replies carry a wrong checksum", True),
        _k(
            "wrong_address",
            "replies carry another meter's address",
            True,
            reply_address=(str, "999999999998"),
        ),
        _k(
            "register_decrease", "energy registers drop once by an amount", amount_kwh=(float, 50.0)
        ),
        _k("stopped_register", "registers stop while the meter shows load"),
        _k("flying_register", "registers run faster than the load", factor=(float, 5.0)),
        _k(
            "tariff_mismatch",
            "tariff registers do not add up to the total",
            offset_kwh=(float, 10.0),
        ),
        _k(
            "reverse_energy",
            "reverse active energy grows on a customer without generation",
            kwh_per_day=(float, 5.0),
        ),
        _k("zero_consumption", "no consumption from the start (registers and load stop)"),
        _k("clock_drift", "meter clock drifts by a rate", seconds_per_day=(float, 120.0)),
        _k(
            "voltage_loss",
            "a phase voltage falls below 78 % of nominal while it carries current",
            phase=(str, "a"),
        ),
        _k(
            "phase_break",
            "a phase voltage below 60 % of nominal and its current zero",
            phase=(str, "a"),
        ),
        _k(
            "current_imbalance",
            "phase currents unbalanced beyond 30 %",
            False,
            True,
            ratio=(float, 0.6),
        ),
        _k(
            "load_surge",
            "the customer's load rises by a factor: registers, power and maximum demand alike",
            factor=(float, 4.0),
        ),
        _k("cover_open", "meter cover opened: the cover-open counter increases", count=(int, 1)),
        _k(
            "meter_replaced",
            "meter replaced: new address, registers from zero",
            new_address=(str, None),
        ),
    )
}


@dataclass(frozen=True)
class Fault:
    """One fault on one meter from ``start`` (simulated UTC)."""

    kind: str
    start: datetime
    params: Mapping[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> FaultKind:
        return FAULT_KINDS[self.kind]

    def param(self, name: str) -> Any:
        return self.params[name]


def make_fault(
    kind: str,
    start: datetime,
    params: Mapping[str, Any] | None = None,
    *,
    phases: int = 3,
    where: str = "fault",
) -> Fault:
    """A validated :class:`Fault`; errors name ``where`` (e.g. ``areas[0].meters[3]``)."""
    if kind not in FAULT_KINDS:
        known = ", ".join(FAULT_KINDS)
        raise FaultError(f"{where}.kind: unknown fault kind {kind!r} (known: {known})")
    if start.tzinfo is None or start.utcoffset() is None:
        raise FaultError(f"{where}.start: {start.isoformat()} has no time zone")
    spec = FAULT_KINDS[kind]
    if spec.three_phase_only and phases != 3:
        raise FaultError(f"{where}: fault {kind} needs a three-phase meter")
    given = dict(params or {})
    out: dict[str, Any] = {}
    for name, (typ, default) in spec.params.items():
        if name in given:
            value = given.pop(name)
            if typ is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if not isinstance(value, typ) or isinstance(value, bool):
                raise FaultError(f"{where}.params.{name}: expected {typ.__name__}, got {value!r}")
        elif default is None:
            raise FaultError(f"{where}.params.{name}: required for fault {kind}")
        else:
            value = default
        out[name] = value
    if given:
        raise FaultError(f"{where}.params: unknown parameter(s) {sorted(given)} for {kind}")
    _check_values(kind, out, phases, where)
    return Fault(kind, start, out)


def _check_values(kind: str, p: dict[str, Any], phases: int, where: str) -> None:
    def bad(name: str, why: str) -> FaultError:
        return FaultError(f"{where}.params.{name}: {why}")

    if "drop_rate" in p and not 0.0 < p["drop_rate"] <= 1.0:
        raise bad("drop_rate", "must be in (0, 1]")
    if "delay_s" in p and not 0.0 < p["delay_s"] <= 60.0:
        raise bad("delay_s", "must be in (0, 60] seconds")
    if "factor" in p and not p["factor"] > 1.0:
        raise bad("factor", "must be > 1 (the registers or the load run faster)")
    for name in ("amount_kwh", "offset_kwh", "kwh_per_day"):
        if name in p and not p[name] > 0:
            raise bad(name, "must be > 0")
    if "ratio" in p and not 0.3 < p["ratio"] < 1.0:
        raise bad("ratio", "share of the largest phase must be in (0.3, 1)")
    if "count" in p and p["count"] < 1:
        raise bad("count", "must be >= 1")
    if "phase" in p:
        allowed = ("a", "b", "c") if phases == 3 else ("a",)
        if p["phase"] not in allowed:
            raise bad("phase", f"must be one of {allowed} on a {phases}-phase meter")
    for name in ("new_address", "reply_address"):
        if name in p and not (len(p[name]) == 12 and p[name].isdigit()):
            raise bad(name, "must be 12 decimal digits")


class GroundTruthWriter:
    """Appends fault records (format in the module docstring) to a JSON Lines file.

    Each record is written and the file closed before :meth:`write` returns, so a reader of the
    file after an injection sees it. Thread-safe.
    """

    def __init__(self, path: Path | str | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self.records: list[dict[str, Any]] = []  # also kept in memory for in-process users
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def write(self, record: dict[str, Any]) -> None:
        line = json.dumps(record, sort_keys=True, ensure_ascii=False)
        with self._lock:
            self.records.append(record)
            if self.path is None:
                return
            with self.path.open("a", encoding="utf-8") as fh:
                fh.write(line + "\n")
                fh.flush()


def truth_record(
    action: str,
    *,
    meter: str,
    address: str,
    fault: Fault,
    area: str | None,
    recorded_at: datetime,
    end: datetime | None = None,
) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "action": action,
        "meter": meter,
        "address": address,
        "kind": fault.kind,
        "params": dict(fault.params),
        "start": fault.start.isoformat(),
        "area": area,
        "recorded_at": recorded_at.isoformat(),
    }
    if end is not None:
        rec["end"] = end.isoformat()
    return rec


def meter_record(
    *,
    meter: str,
    address: str,
    area: str | None,
    role: str,
    theft_fraction: float,
    ct: int,
    pt: int,
    recorded_at: datetime,
    theft_since: date | None = None,
) -> dict[str, Any]:
    """The ``meter`` record of a meter with theft or CT/PT (format in the module docstring)."""
    return {
        "action": "meter",
        "meter": meter,
        "address": address,
        "area": area,
        "role": role,
        "theft_fraction": theft_fraction,
        "theft_since": None if theft_since is None else theft_since.isoformat(),
        "ct": ct,
        "pt": pt,
        "recorded_at": recorded_at.isoformat(),
    }


def read_ground_truth(path: Path | str) -> list[dict[str, Any]]:
    """Parse a ground-truth file; a bad line raises ``FaultError`` naming its number."""
    out = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FaultError(f"{path}:{n}: not JSON: {exc}") from exc
        if not isinstance(rec, dict):
            raise FaultError(f"{path}:{n}: not a record")
        if rec.get("action") == "meter":
            if not isinstance(rec.get("meter"), str):
                raise FaultError(f"{path}:{n}: a meter record without its meter")
        elif rec.get("kind") not in FAULT_KINDS:
            raise FaultError(f"{path}:{n}: not a fault record")
        out.append(rec)
    return out
