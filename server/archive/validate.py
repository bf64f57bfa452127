"""What the archive accepts, one rule per column, for every way in: the REST models
(:mod:`server.api.routes.archive`, through the pydantic types below), the CSV/XLSX import
(:mod:`server.archive.importer`, through :func:`cell`), and the database itself (migration
``0500_archive_checks.sql`` repeats the id grammar and the ranges as CHECKs).

- ids (of meters, gateways, areas, org units, and every reference to one) follow the wire's
  grammar (:data:`protocols.wire.ID_RULE`): an id the archive takes can be addressed in a URL,
  named in an MQTT topic and in a command, so no job trips over it later;
- numbers are finite and inside a sane range (no NaN, no Infinity, no 1e308: a NaN CT ratio
  passes ``CHECK (ct_ratio > 0)`` and silently switches off a whole area's line loss);
- text is bounded and storable (no NUL, no lone surrogate).

Every check raises :class:`ValueError` with a reason a person can act on.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Final

from pydantic import AfterValidator

from protocols.wire import ID_RULE, is_id
from protocols.wire.codec import text_fault

#: column -> (lowest, highest, lowest allowed itself); every range excludes NaN and infinity
NUMBER_RANGES: Final[dict[str, tuple[float, float, bool]]] = {
    "ct_ratio": (0.0, 100_000.0, False),  # 25000/5 A is 5000; > 0
    "pt_ratio": (0.0, 100_000.0, False),  # 500 kV/100 V is 5000; > 0
    "rated_voltage": (0.0, 1_000_000.0, False),  # volts
    "rated_current": (0.0, 100_000.0, False),  # amperes
    "contracted_kw": (0.0, 10_000_000.0, True),  # 0 allowed: no contract
    "capacity_kva": (0.0, 10_000_000.0, False),
}
#: column -> longest text
TEXT_LIMITS: Final[dict[str, int]] = {
    "name": 200,
    "bus": 64,
    "customer_name": 200,
    "customer_phone": 64,
    "customer_account": 64,
    "customer_address": 500,
    "modbus_profile": 64,
}
ID_COLUMNS: Final[tuple[str, ...]] = (
    "id",
    "gateway_id",
    "area_id",
    "org_unit_id",
    "parent_id",
    "master_meter_id",
    "replaces_meter_id",
)


def archive_id(value: Any, column: str = "id") -> str:
    if not is_id(value):
        shown = repr(value) if len(str(value)) <= 40 else f"{str(value)[:40]!r}... "
        raise ValueError(f"{column} {shown} is not a valid id: use {ID_RULE}")
    text: str = value
    return text


def number(value: Any, column: str) -> float:
    """A finite number inside the column's range (:data:`NUMBER_RANGES`)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"not a number: {value!r}") from None
    if not math.isfinite(x):
        raise ValueError(f"{value!r} is not a finite number")
    low, high, low_ok = NUMBER_RANGES[column]
    if x > high or x < low or (x == low and not low_ok):
        above = "at least" if low_ok else "above"
        raise ValueError(f"{x:g} is out of range: {above} {low:g} and at most {high:g}")
    return x


def text(value: Any, column: str) -> str:
    """Text that fits the column (:data:`TEXT_LIMITS`) and can be stored."""
    out = value if isinstance(value, str) else str(value)
    fault = text_fault(out)
    if fault:
        raise ValueError(f"text {fault}")
    limit = TEXT_LIMITS[column]
    if len(out) > limit:
        raise ValueError(f"{len(out)} characters: at most {limit}")
    return out


def cell(column: str, value: Any) -> Any:
    """One value of ``column`` checked by the column's rule (ids, numbers, text); values of
    other columns come back as they are (the importer checks those itself)."""
    if column in ID_COLUMNS:
        return archive_id(str(value).strip(), column)
    if column in NUMBER_RANGES:
        return number(value.strip() if isinstance(value, str) else value, column)
    if column in TEXT_LIMITS:
        return text(str(value).strip(), column)
    return value


def _checker(column: str) -> AfterValidator:
    return AfterValidator(lambda value: None if value is None else cell(column, value))


# pydantic types for the REST models: the same rules, answered as 422
IdField = Annotated[str, _checker("id")]
CtRatio = Annotated[float, _checker("ct_ratio")]
PtRatio = Annotated[float, _checker("pt_ratio")]
RatedVoltage = Annotated[float, _checker("rated_voltage")]
RatedCurrent = Annotated[float, _checker("rated_current")]
ContractedKw = Annotated[float, _checker("contracted_kw")]
CapacityKva = Annotated[float, _checker("capacity_kva")]
Name = Annotated[str, _checker("name")]
Bus = Annotated[str, _checker("bus")]
CustomerName = Annotated[str, _checker("customer_name")]
CustomerPhone = Annotated[str, _checker("customer_phone")]
CustomerAccount = Annotated[str, _checker("customer_account")]
CustomerAddress = Annotated[str, _checker("customer_address")]
ModbusProfile = Annotated[str, _checker("modbus_profile")]
