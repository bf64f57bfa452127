"""The object catalogue, as data: which OI/attribute holds what, its type, scaler-unit
and the canonical quantity names of :mod:`protocols.model`.

Each :class:`ObjectDef` describes one attribute of one object (OAD with index 0). Its
``kind`` says how the datum is laid out:

* ``value``  — one datum (``4000`` clock: date_time_s; ``200F`` frequency);
* ``array``  — an array whose elements are the ``quantities`` in order (``00100200``:
  total, T1..T4 energy; ``20000200``: voltage A, B, C); index n of the OAD selects
  element n (``00100201`` = total);
* ``demand`` — an array of structure {value, date_time_s} (``10100200`` max demand);
* ``record`` — a record table read with GET-Record (freezes 5002/5004/5006, event
  records 30xx): its rows are made of the columns the request's RCSD names, each column
  decoded with its own catalogue entry.

Numbers travel as integers and are scaled by ``10 ** scaler`` into ``unit`` (the
object's own unit, e.g. W for ``2004``); :meth:`ObjectDef.to_model` converts to the unit
of the canonical quantity (``power_active_total`` is kW, as for DL/T 645), so a DL/T
698.45 reading has the same shape as a DL/T 645 one.

Unit codes (the scaler-unit enum of DL/T 698.45, checked against the independent PyPI
``dlt698`` peer's ``unit_symbol``): 27 W, 28 kW, 29 VA, 30 kVA, 31 var, 32 kvar, 33 kWh,
34 kVAh, 35 kvarh, 36 A, 38 V, 47 Hz, 51 %, 6 min, 7 s, 9 degC, 255 none.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from .axdr import Data, T, format_oad, parse_oad
from .errors import UnknownObjectError

Kind = Literal["value", "array", "demand", "record"]

UNITS: Final[dict[int, str]] = {
    1: "a",
    2: "mo",
    3: "wk",
    4: "d",
    5: "h",
    6: "min",
    7: "s",
    9: "°C",
    27: "W",
    28: "kW",
    29: "VA",
    30: "kVA",
    31: "var",
    32: "kvar",
    33: "kWh",
    34: "kVAh",
    35: "kvarh",
    36: "A",
    38: "V",
    47: "Hz",
    51: "%",
}
UNIT_CODES: Final[dict[str, int]] = {v: k for k, v in UNITS.items()}
NO_UNIT: Final[int] = 255

#: Factor from an object's unit to the canonical quantity's unit.
_TO_MODEL: Final[dict[tuple[str, str], float]] = {
    ("W", "kW"): 0.001,
    ("var", "kvar"): 0.001,
    ("VA", "kVA"): 0.001,
}

#: Quantity names used here that :mod:`protocols.model` does not (yet) define; the
#: DL/T 645 catalogue has the same kind of list.
EXTRA_QUANTITIES: Final[tuple[str, ...]] = (
    "energy_combined_t1",
    "energy_combined_t2",
    "energy_combined_t3",
    "energy_combined_t4",
    "energy_import_a",
    "energy_import_b",
    "energy_import_c",
    "energy_export_a",
    "energy_export_b",
    "energy_export_c",
    "energy_reactive_1_t1",
    "energy_reactive_1_t2",
    "energy_reactive_1_t3",
    "energy_reactive_1_t4",
    "energy_reactive_2_t1",
    "energy_reactive_2_t2",
    "energy_reactive_2_t3",
    "energy_reactive_2_t4",
    "max_demand_import_t1",
    "max_demand_import_t2",
    "max_demand_import_t3",
    "max_demand_import_t4",
    "max_demand_export",
    "power_reactive_a",
    "power_reactive_b",
    "power_reactive_c",
    "power_apparent_a",
    "power_apparent_b",
    "power_apparent_c",
    "current_neutral",
    "meter_time",
    "meter_address",
    "meter_number",
    "freeze_time",
    "freeze_sequence",
    "event_sequence",
    "event_start",
    "event_end",
    "event_source",
    "event_report_status",
    "freeze_instant",
    "freeze_minute",
    "freeze_hour",
    "freeze_daily",
    "freeze_settlement",
    "freeze_monthly",
    "event_voltage_loss",
    "event_voltage_under",
    "event_voltage_over",
    "event_phase_break",
    "event_over_current",
    "event_power_down",
    "event_clear",
    "event_cover_open",
    "event_terminal_cover_open",
)


@dataclass(frozen=True, slots=True)
class ObjectDef:
    """One attribute of one object (see the module docstring)."""

    oi: int
    attribute: int
    name: str
    kind: Kind
    type: int  # A-XDR tag of the value (of each element for arrays)
    scaler: int
    unit: str | None
    quantities: tuple[str, ...]
    quantity_unit: str | None = None  # the canonical quantity's unit when it differs

    @property
    def oad(self) -> int:
        return self.oi << 16 | self.attribute << 8

    @property
    def oad_text(self) -> str:
        return format_oad(self.oad)

    @property
    def quantity(self) -> str:
        return self.quantities[0]

    @property
    def scaler_unit(self) -> tuple[int, int]:
        """(scaler, unit code) as attribute 3 of the object carries it."""
        return self.scaler, UNIT_CODES.get(self.unit or "", NO_UNIT)

    @property
    def model_factor(self) -> float:
        if self.unit is None or self.quantity_unit is None:
            return 1.0
        return _TO_MODEL.get((self.unit, self.quantity_unit), 1.0)

    def scale(self, raw: int | float) -> float | int:
        """A wire integer -> the object's unit (``12345`` with scaler -2 -> 123.45)."""
        if self.scaler == 0:
            return raw
        if self.scaler > 0:
            return raw * 10**self.scaler  # type: ignore[no-any-return]
        return round(raw * 10.0**self.scaler, -self.scaler)

    def unscale(self, value: float | int) -> int:
        """The object's unit -> the wire integer (the meter role's direction)."""
        return round(value / 10.0**self.scaler) if self.scaler else int(value)

    def to_model(self, value: float | int) -> float:
        """A scaled value -> the canonical quantity's unit (W -> kW for power)."""
        factor = self.model_factor
        return value if factor == 1.0 else round(value * factor, 6 - self.scaler)

    def element(self, index: int) -> str | None:
        """Quantity of element ``index`` (1-based) of an array, None beyond the table."""
        if self.kind in ("array", "demand") and 1 <= index <= len(self.quantities):
            return self.quantities[index - 1]
        return None


def _tariffs(base: str) -> tuple[str, ...]:
    return (f"{base}_total", f"{base}_t1", f"{base}_t2", f"{base}_t3", f"{base}_t4")


def _obj(
    oi: int,
    name: str,
    kind: Kind,
    tag: int,
    scaler: int,
    unit: str | None,
    quantities: Iterable[str],
    attribute: int = 2,
    quantity_unit: str | None = None,
) -> ObjectDef:
    return ObjectDef(oi, attribute, name, kind, tag, scaler, unit, tuple(quantities), quantity_unit)


_DLU: Final[int] = T.DOUBLE_LONG_UNSIGNED

CATALOGUE: Final[tuple[ObjectDef, ...]] = (
    _obj(
        0x0000,
        "combined active energy",
        "array",
        T.DOUBLE_LONG,
        -2,
        "kWh",
        _tariffs("energy_combined"),
    ),
    _obj(0x0010, "forward active energy", "array", _DLU, -2, "kWh", _tariffs("energy_import")),
    _obj(
        0x0010,
        "forward active energy (high precision)",
        "array",
        T.LONG64_UNSIGNED,
        -4,
        "kWh",
        _tariffs("energy_import"),
        attribute=4,
    ),
    _obj(0x0011, "phase A forward active energy", "array", _DLU, -2, "kWh", ("energy_import_a",)),
    _obj(0x0012, "phase B forward active energy", "array", _DLU, -2, "kWh", ("energy_import_b",)),
    _obj(0x0013, "phase C forward active energy", "array", _DLU, -2, "kWh", ("energy_import_c",)),
    _obj(0x0020, "reverse active energy", "array", _DLU, -2, "kWh", _tariffs("energy_export")),
    _obj(
        0x0020,
        "reverse active energy (high precision)",
        "array",
        T.LONG64_UNSIGNED,
        -4,
        "kWh",
        _tariffs("energy_export"),
        attribute=4,
    ),
    _obj(0x0021, "phase A reverse active energy", "array", _DLU, -2, "kWh", ("energy_export_a",)),
    _obj(0x0022, "phase B reverse active energy", "array", _DLU, -2, "kWh", ("energy_export_b",)),
    _obj(0x0023, "phase C reverse active energy", "array", _DLU, -2, "kWh", ("energy_export_c",)),
    _obj(
        0x0030,
        "combined reactive energy 1",
        "array",
        T.DOUBLE_LONG,
        -2,
        "kvarh",
        _tariffs("energy_reactive_1"),
    ),
    _obj(
        0x0040,
        "combined reactive energy 2",
        "array",
        T.DOUBLE_LONG,
        -2,
        "kvarh",
        _tariffs("energy_reactive_2"),
    ),
    _obj(
        0x1010,
        "forward active maximum demand",
        "demand",
        _DLU,
        -4,
        "kW",
        ("max_demand_import",)
        + (
            "max_demand_import_t1",
            "max_demand_import_t2",
            "max_demand_import_t3",
            "max_demand_import_t4",
        ),
    ),
    _obj(0x1020, "reverse active maximum demand", "demand", _DLU, -4, "kW", ("max_demand_export",)),
    _obj(
        0x2000,
        "voltage",
        "array",
        T.LONG_UNSIGNED,
        -1,
        "V",
        ("voltage_a", "voltage_b", "voltage_c"),
    ),
    _obj(
        0x2001, "current", "array", T.DOUBLE_LONG, -3, "A", ("current_a", "current_b", "current_c")
    ),
    _obj(
        0x2001,
        "neutral current",
        "value",
        T.DOUBLE_LONG,
        -3,
        "A",
        ("current_neutral",),
        attribute=4,
    ),
    _obj(
        0x2004,
        "active power",
        "array",
        T.DOUBLE_LONG,
        -1,
        "W",
        ("power_active_total", "power_active_a", "power_active_b", "power_active_c"),
        quantity_unit="kW",
    ),
    _obj(
        0x2005,
        "reactive power",
        "array",
        T.DOUBLE_LONG,
        -1,
        "var",
        ("power_reactive_total", "power_reactive_a", "power_reactive_b", "power_reactive_c"),
        quantity_unit="kvar",
    ),
    _obj(
        0x2006,
        "apparent power",
        "array",
        T.DOUBLE_LONG,
        -1,
        "VA",
        ("power_apparent_total", "power_apparent_a", "power_apparent_b", "power_apparent_c"),
        quantity_unit="kVA",
    ),
    _obj(0x200A, "power factor", "array", T.LONG, -3, None, ("pf_total", "pf_a", "pf_b", "pf_c")),
    _obj(0x200F, "grid frequency", "value", T.LONG_UNSIGNED, -2, "Hz", ("frequency",)),
    _obj(0x201E, "event start time", "value", T.DATE_TIME_S, 0, None, ("event_start",)),
    _obj(0x2020, "event end time", "value", T.DATE_TIME_S, 0, None, ("event_end",)),
    _obj(0x2021, "data freeze time", "value", T.DATE_TIME_S, 0, None, ("freeze_time",)),
    _obj(0x2022, "event record sequence", "value", _DLU, 0, None, ("event_sequence",)),
    _obj(0x2023, "freeze record sequence", "value", _DLU, 0, None, ("freeze_sequence",)),
    _obj(0x2024, "event source", "value", T.NULL, 0, None, ("event_source",)),
    _obj(0x3300, "event report status", "value", T.ARRAY, 0, None, ("event_report_status",)),
    _obj(0x4000, "date-time", "value", T.DATE_TIME_S, 0, None, ("meter_time",)),
    _obj(0x4001, "communication address", "value", T.OCTET_STRING, 0, None, ("meter_address",)),
    _obj(0x4002, "meter number", "value", T.OCTET_STRING, 0, None, ("meter_number",)),
    _obj(0x5000, "instant freeze", "record", T.ARRAY, 0, None, ("freeze_instant",)),
    _obj(0x5002, "minute freeze", "record", T.ARRAY, 0, None, ("freeze_minute",)),
    _obj(0x5003, "hour freeze", "record", T.ARRAY, 0, None, ("freeze_hour",)),
    _obj(0x5004, "daily freeze", "record", T.ARRAY, 0, None, ("freeze_daily",)),
    _obj(0x5005, "settlement-day freeze", "record", T.ARRAY, 0, None, ("freeze_settlement",)),
    _obj(0x5006, "monthly freeze", "record", T.ARRAY, 0, None, ("freeze_monthly",)),
    # Events. Per-phase event objects (interface class 24: 3000 voltage loss, 3003 phase
    # break) keep phase A/B/C records in attributes 7/8/9 (event record tables 2-4; table 1,
    # attribute 6, is not per phase). Checked against public concentrator firmware, which
    # maps 30030700/30030800 to the DL/T 645-2007 phase A/B break records 13010001/13020001
    # and 30020900 to phase C over-voltage 12030001; class 7 objects (3011
    # power-down, 301B cover open) keep theirs in attribute 2. Record columns are the
    # event's associated OADs: 2022 sequence, 201E start, 2020 end, 2024 source, ...
    _obj(
        0x3000,
        "voltage loss event, phase A",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_voltage_loss",),
        attribute=7,
    ),
    _obj(
        0x3000,
        "voltage loss event, phase B",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_voltage_loss",),
        attribute=8,
    ),
    _obj(
        0x3000,
        "voltage loss event, phase C",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_voltage_loss",),
        attribute=9,
    ),
    _obj(
        0x3003,
        "phase break event, phase A",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_phase_break",),
        attribute=7,
    ),
    _obj(
        0x3003,
        "phase break event, phase B",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_phase_break",),
        attribute=8,
    ),
    _obj(
        0x3003,
        "phase break event, phase C",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_phase_break",),
        attribute=9,
    ),
    _obj(0x3011, "power-down event", "record", T.ARRAY, 0, None, ("event_power_down",)),
    _obj(0x3013, "meter clear event", "record", T.ARRAY, 0, None, ("event_clear",)),
    _obj(0x301B, "cover open event", "record", T.ARRAY, 0, None, ("event_cover_open",)),
    _obj(
        0x301C,
        "terminal cover open event",
        "record",
        T.ARRAY,
        0,
        None,
        ("event_terminal_cover_open",),
    ),
)

_BY_OAD: Final[dict[int, ObjectDef]] = {o.oad: o for o in CATALOGUE}
_BY_QUANTITY: Final[dict[str, tuple[ObjectDef, int]]] = {}
for _o in CATALOGUE:
    for _i, _q in enumerate(_o.quantities, start=1):
        _BY_QUANTITY.setdefault(_q, (_o, _i if _o.kind in ("array", "demand") else 0))


def find_object(oad: int | str) -> ObjectDef | None:
    """The catalogue entry of an OAD (its element index and attribute feature bits are
    ignored), or None."""
    value = parse_oad(oad)
    return _BY_OAD.get(value & 0xFFFF1F00)


def object_def(oad: int | str) -> ObjectDef:
    """Like :func:`find_object` but raises :class:`UnknownObjectError`."""
    found = find_object(oad)
    if found is None:
        raise UnknownObjectError(f"OAD {format_oad(parse_oad(oad))} is not in the catalogue")
    return found


def oad_of_quantity(quantity: str) -> int:
    """The OAD (with element index) a quantity is read from: ``"voltage_b"`` ->
    0x20000202; :class:`UnknownObjectError` if no object holds it."""
    try:
        obj, index = _BY_QUANTITY[quantity]
    except KeyError:
        raise UnknownObjectError(f"no DL/T 698.45 object holds quantity {quantity!r}") from None
    return obj.oad | index


def _number(d: Data) -> bool:
    return (
        isinstance(d.value, (int, float))
        and not isinstance(d.value, bool)
        and d.tag
        not in (
            T.OAD,
            T.OMD,
            T.OI,
            T.ENUM,
        )
    )


def scaled(obj: ObjectDef | None, d: Data) -> Any:
    """One datum as plain Python, numbers scaled by ``obj`` (unscaled when obj is None):
    arrays and structures become lists, dates ISO strings, octet-strings hex digits."""
    if d.tag in (T.ARRAY, T.STRUCTURE):
        return [scaled(obj, x) for x in d.value]
    if obj is not None and _number(d):
        return obj.scale(d.value)
    return d.py()


def values_of(oad: int, d: Data, columns: tuple[Any, ...] = ()) -> list[Any]:
    """The ``values`` list of one item: array elements (scaled) for a whole array; one
    value for a single element or a plain datum. For a record object with ``columns``
    (its RCSD), use :func:`row_values` per row instead."""
    obj = find_object(oad)
    index = oad & 0xFF
    if d.tag == T.ARRAY and index == 0 and (obj is None or obj.kind in ("array", "demand")):
        return [scaled(obj, x) for x in d.value]
    return [scaled(obj, d)]


def column_oad(csd: Any) -> int:
    """The OAD a CSD column stands for (a ROAD column: its main OAD)."""
    return csd if isinstance(csd, int) else csd.oad


def row_values(columns: tuple[Any, ...], row: tuple[Data, ...]) -> list[Any]:
    """One record row -> one value per column, each scaled by the column's own entry
    (a column ``00100200`` gives the list of its tariff energies)."""
    out = []
    for csd, d in zip(columns, row, strict=True):
        if isinstance(csd, int):
            vals = values_of(csd, d)
            out.append(vals if (d.tag == T.ARRAY and (csd & 0xFF) == 0) else vals[0])
        else:
            out.append(scaled(None, d))
    return out


def model_values(oad: int, d: Data) -> list[tuple[str, Any]]:
    """A datum of a catalogue object -> (canonical quantity, value in the quantity's
    unit) pairs: numbers converted to the model unit (power in kW), dates as datetime,
    addresses as digit strings. Elements beyond the table (tariff 5 and up) and nulls
    are left out. Unknown OADs give an empty list."""
    obj = find_object(oad)
    if obj is None:
        return []
    index = oad & 0xFF
    out: list[tuple[str, Any]] = []
    if obj.kind in ("array", "demand") and d.tag == T.ARRAY and index == 0:
        pairs = [(obj.element(i), x) for i, x in enumerate(d.value, start=1)]
    elif obj.kind in ("array", "demand"):
        pairs = [(obj.element(index or 1), d)]
    else:
        pairs = [(obj.quantity, d)]
    for quantity, item in pairs:
        if quantity is None or item.tag == T.NULL:
            continue
        if item.tag == T.STRUCTURE and item.value:  # demand: (value, time)
            item = item.value[0]
        if _number(item):
            out.append((quantity, obj.to_model(obj.scale(item.value))))
        elif item.tag == T.DATE_TIME_S and isinstance(item.value, datetime):
            out.append((quantity, item.value))
        elif item.tag == T.OCTET_STRING:
            out.append((quantity, bytes(item.value).hex().upper()))
        else:
            out.append((quantity, item.py()))
    return out


def unit_of(oad: int) -> str | None:
    obj = find_object(oad)
    return obj.unit if obj else None


def name_of(oad: int) -> str | None:
    obj = find_object(oad)
    if obj is None:
        return None
    index = oad & 0xFF
    element = obj.element(index) if index else None
    return f"{obj.name} ({element})" if element else obj.name
