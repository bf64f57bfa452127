"""Modbus energy-meter register maps, as data shared by the edge and the simulators.

A :class:`MeterProfile` lists the registers of one meter model as :class:`RegisterSpec`
rows: which canonical quantity (``protocols.model``) a register holds, where, how it is
encoded and how it scales into the canonical unit. The edge plans its reads from these
rows; the simulators serve the same rows, so a profile is corrected in one place.

Sources (see the project reference notes on Modbus meters, compiled from vendor manuals
and public register tables): Eastron SDM120 / SDM630 input registers, float32 high word
first; CHINT DDSU666 input registers, float32; CHINT DTSU666 holding registers, float32
holding raw counts (U x 0.1 V, I x 0.001 A, P x 0.1 W, PF x 0.001, f x 0.01 Hz).
Where sources disagree (DTSU666 energy addresses) the choice is noted on the row.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from protocols.model import QUANTITY_BY_NAME


class DataType(StrEnum):
    """How a value is laid out in 16-bit registers."""

    FLOAT32 = "float32"
    INT16 = "int16"
    UINT16 = "uint16"
    INT32 = "int32"
    UINT32 = "uint32"

    @property
    def words(self) -> int:
        return 1 if self in (DataType.INT16, DataType.UINT16) else 2


class WordOrder(StrEnum):
    """Order of the 16-bit words of a 32-bit value (bytes in a word are always big-endian)."""

    HIGH_FIRST = "high_first"  # "big": Eastron, CHINT
    LOW_FIRST = "low_first"  # "little": some Acrel and mbpoll's default


class ProfileError(ValueError):
    """A profile definition that cannot be right (unknown quantity, overlapping registers)."""


@dataclass(frozen=True)
class RegisterSpec:
    """One register (or register pair) of a meter: canonical value = raw x ``scale``."""

    quantity: str
    address: int  # 0-based protocol address (what travels in the PDU)
    function: int  # 3 = holding registers, 4 = input registers
    data_type: DataType = DataType.FLOAT32
    word_order: WordOrder = WordOrder.HIGH_FIRST
    scale: float = 1.0
    unit: str | None = None  # the canonical unit after scaling (from protocols.model)

    def __post_init__(self) -> None:
        if self.quantity not in QUANTITY_BY_NAME:
            raise ProfileError(f"register {self.address:#06x}: unknown quantity {self.quantity!r}")
        if self.function not in (3, 4):
            raise ProfileError(f"register {self.quantity}: function {self.function} is not 3 or 4")
        if not 0 <= self.address <= 0xFFFF - self.data_type.words + 1:
            raise ProfileError(f"register {self.quantity}: address {self.address} out of range")
        if self.scale == 0:
            raise ProfileError(f"register {self.quantity}: scale must not be 0")
        if self.unit is None:
            object.__setattr__(self, "unit", QUANTITY_BY_NAME[self.quantity].unit)

    @property
    def count(self) -> int:
        """Number of 16-bit registers this value occupies."""
        return self.data_type.words

    @property
    def end(self) -> int:
        """One past the last register address."""
        return self.address + self.count


@dataclass(frozen=True)
class MeterProfile:
    """A Modbus meter model: its registers and line defaults."""

    name: str
    description: str
    phases: int  # 1 or 3
    registers: tuple[RegisterSpec, ...]
    max_registers_per_read: int = 80
    default_baud: int = 9600
    default_parity: str = "N"
    default_unit_id: int = 1

    def __post_init__(self) -> None:
        if self.phases not in (1, 3):
            raise ProfileError(f"profile {self.name}: phases must be 1 or 3")
        seen: set[str] = set()
        taken: dict[tuple[int, int], str] = {}
        for spec in self.registers:
            if spec.quantity in seen:
                raise ProfileError(f"profile {self.name}: {spec.quantity} defined twice")
            seen.add(spec.quantity)
            for reg in range(spec.address, spec.end):
                key = (spec.function, reg)
                if key in taken:
                    raise ProfileError(
                        f"profile {self.name}: {spec.quantity} overlaps {taken[key]} "
                        f"at register {reg:#06x}"
                    )
                taken[key] = spec.quantity
        if not 1 <= self.max_registers_per_read <= 125:
            raise ProfileError(f"profile {self.name}: max_registers_per_read must be 1..125")

    @property
    def quantities(self) -> tuple[str, ...]:
        return tuple(spec.quantity for spec in self.registers)

    def spec(self, quantity: str) -> RegisterSpec:
        """The register holding ``quantity``; ``KeyError`` names the profile if absent."""
        for spec in self.registers:
            if spec.quantity == quantity:
                return spec
        raise KeyError(f"profile {self.name} has no register for {quantity!r}")


def _f(quantity: str, address: int, function: int, scale: float = 1.0) -> RegisterSpec:
    return RegisterSpec(quantity, address, function, DataType.FLOAT32, WordOrder.HIGH_FIRST, scale)


# Eastron SDM120: input registers (04), float32 high word first, 2400 baud default.
# Power registers are in W; canonical power is kW, hence scale 0.001.
SDM120: Final = MeterProfile(
    name="sdm120",
    description="Eastron SDM120 single-phase meter (input registers, float32)",
    phases=1,
    default_baud=2400,
    registers=(
        _f("voltage_a", 0x0000, 4),
        _f("current_a", 0x0006, 4),
        _f("power_active_total", 0x000C, 4, 0.001),
        _f("pf_total", 0x001E, 4),
        _f("frequency", 0x0046, 4),
        _f("energy_import_total", 0x0048, 4),
        _f("energy_export_total", 0x004A, 4),
        _f("energy_combined_total", 0x0156, 4),
    ),
)

# Eastron SDM630: the three-phase sibling with the same layout, 9600 baud default.
SDM630: Final = MeterProfile(
    name="sdm630",
    description="Eastron SDM630 three-phase meter (input registers, float32)",
    phases=3,
    registers=(
        _f("voltage_a", 0x0000, 4),
        _f("voltage_b", 0x0002, 4),
        _f("voltage_c", 0x0004, 4),
        _f("current_a", 0x0006, 4),
        _f("current_b", 0x0008, 4),
        _f("current_c", 0x000A, 4),
        _f("power_active_a", 0x000C, 4, 0.001),
        _f("power_active_b", 0x000E, 4, 0.001),
        _f("power_active_c", 0x0010, 4, 0.001),
        _f("pf_a", 0x001E, 4),
        _f("pf_b", 0x0020, 4),
        _f("pf_c", 0x0022, 4),
        _f("power_active_total", 0x0034, 4, 0.001),
        _f("frequency", 0x0046, 4),
        _f("energy_import_total", 0x0048, 4),
        _f("energy_export_total", 0x004A, 4),
        _f("energy_combined_total", 0x0156, 4),
    ),
)

# CHINT DDSU666: input registers (04), float32 in engineering units (kW, kvar, kWh).
DDSU666: Final = MeterProfile(
    name="ddsu666",
    description="CHINT DDSU666 single-phase meter (input registers, float32)",
    phases=1,
    registers=(
        _f("voltage_a", 0x2000, 4),
        _f("current_a", 0x2002, 4),
        _f("power_active_total", 0x2004, 4),
        _f("power_reactive_total", 0x2006, 4),
        _f("pf_total", 0x200A, 4),
        _f("frequency", 0x200E, 4),
        _f("energy_import_total", 0x4000, 4),
        _f("energy_export_total", 0x400A, 4),
    ),
)

# CHINT DTSU666: holding registers (03), float32 holding raw counts. P is in 0.1 W, so the
# canonical kW is raw x 0.0001. Energy addresses disagree between sources (101E/1028,
# 1020/1022, or 401E/4028 on the -H variant with function 04); we use 101E / 1028.
DTSU666: Final = MeterProfile(
    name="dtsu666",
    description="CHINT DTSU666 three-phase meter (holding registers, float32 raw counts)",
    phases=3,
    registers=(
        _f("energy_import_total", 0x101E, 3),
        _f("energy_export_total", 0x1028, 3),
        _f("voltage_a", 0x2006, 3, 0.1),
        _f("voltage_b", 0x2008, 3, 0.1),
        _f("voltage_c", 0x200A, 3, 0.1),
        _f("current_a", 0x200C, 3, 0.001),
        _f("current_b", 0x200E, 3, 0.001),
        _f("current_c", 0x2010, 3, 0.001),
        _f("power_active_total", 0x2012, 3, 0.0001),
        _f("power_active_a", 0x2014, 3, 0.0001),
        _f("power_active_b", 0x2016, 3, 0.0001),
        _f("power_active_c", 0x2018, 3, 0.0001),
        _f("pf_total", 0x202A, 3, 0.001),
        _f("frequency", 0x2044, 3, 0.01),
    ),
)

PROFILES: Final[dict[str, MeterProfile]] = {p.name: p for p in (DTSU666, DDSU666, SDM120, SDM630)}


def get_profile(name: str) -> MeterProfile:
    """The profile called ``name``; :class:`ProfileError` lists the known names."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise ProfileError(f"unknown Modbus meter profile {name!r} (known: {known})") from None
