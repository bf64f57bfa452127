"""Values <-> Modbus register words, and read planning, as pure functions.

Layout: a 32-bit value occupies two 16-bit registers; each register travels big-endian
(Modbus), and the profile's :class:`WordOrder` says which word comes first. float32 is
IEEE-754 single precision. ``canonical value = raw x scale`` (see ``profiles``).

:func:`plan_reads` merges registers that sit close together into the fewest requests
a meter accepts (``max_registers_per_read``), so the edge pays one round trip per block
instead of one per quantity.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from protocols.modbus.profiles import DataType, MeterProfile, RegisterSpec, WordOrder


class ModbusCodecError(ValueError):
    """A value that cannot be encoded, or registers that cannot be decoded."""


_INT_RANGES = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}


def encode_value(spec: RegisterSpec, value: float) -> tuple[int, ...]:
    """The register words carrying canonical ``value`` for ``spec``."""
    if not math.isfinite(value):
        raise ModbusCodecError(f"{spec.quantity}: value {value!r} is not finite")
    raw = value / spec.scale
    if spec.data_type is DataType.FLOAT32:
        try:
            packed = struct.pack(">f", raw)
        except OverflowError as exc:
            raise ModbusCodecError(f"{spec.quantity}: {value!r} does not fit float32") from exc
    else:
        lo, hi = _INT_RANGES[spec.data_type]
        as_int = round(raw)
        if not lo <= as_int <= hi:
            raise ModbusCodecError(
                f"{spec.quantity}: raw value {as_int} outside {spec.data_type.value} range"
            )
        fmt = {
            DataType.INT16: ">h",
            DataType.UINT16: ">H",
            DataType.INT32: ">i",
            DataType.UINT32: ">I",
        }[spec.data_type]
        packed = struct.pack(fmt, as_int)
    words = tuple(int.from_bytes(packed[i : i + 2], "big") for i in range(0, len(packed), 2))
    if spec.word_order is WordOrder.LOW_FIRST:
        words = words[::-1]
    return words


def decode_value(spec: RegisterSpec, words: Sequence[int]) -> float:
    """The canonical value carried by ``words`` (exactly ``spec.count`` registers)."""
    if len(words) != spec.count:
        raise ModbusCodecError(
            f"{spec.quantity}: expected {spec.count} registers, got {len(words)}"
        )
    for w in words:
        if not 0 <= w <= 0xFFFF:
            raise ModbusCodecError(f"{spec.quantity}: register value {w} is not 16-bit")
    ordered = list(words)
    if spec.word_order is WordOrder.LOW_FIRST:
        ordered.reverse()
    data = b"".join(w.to_bytes(2, "big") for w in ordered)
    fmt = {
        DataType.FLOAT32: ">f",
        DataType.INT16: ">h",
        DataType.UINT16: ">H",
        DataType.INT32: ">i",
        DataType.UINT32: ">I",
    }[spec.data_type]
    raw: float = struct.unpack(fmt, data)[0]
    if not math.isfinite(raw):
        raise ModbusCodecError(f"{spec.quantity}: registers hold a non-finite float")
    return raw * spec.scale


@dataclass(frozen=True)
class ReadRequest:
    """One Modbus read: ``count`` registers from ``address`` with ``function``."""

    function: int
    address: int
    count: int
    specs: tuple[RegisterSpec, ...]

    def decode(self, words: Sequence[int]) -> dict[str, float]:
        """Canonical values by quantity name from the words this request returned."""
        if len(words) != self.count:
            raise ModbusCodecError(
                f"read of {self.count} registers at {self.address:#06x} returned {len(words)}"
            )
        out: dict[str, float] = {}
        for spec in self.specs:
            off = spec.address - self.address
            out[spec.quantity] = decode_value(spec, words[off : off + spec.count])
        return out


def plan_reads(
    profile: MeterProfile, quantities: Iterable[str] | None = None, max_gap: int = 8
) -> tuple[ReadRequest, ...]:
    """The fewest reads covering ``quantities`` (all of the profile when None).

    Registers of the same function are merged when the gap between them is at most
    ``max_gap`` registers and the merged read stays within the profile's
    ``max_registers_per_read``. Unknown quantities raise ``ProfileError``/``KeyError``
    naming the profile.
    """
    if max_gap < 0:
        raise ValueError("max_gap must be >= 0")
    wanted = profile.quantities if quantities is None else tuple(dict.fromkeys(quantities))
    specs = sorted((profile.spec(q) for q in wanted), key=lambda s: (s.function, s.address))
    plans: list[ReadRequest] = []
    group: list[RegisterSpec] = []
    for spec in specs:
        if group:
            first, end = group[0], max(s.end for s in group)
            same_fn = spec.function == first.function
            near = spec.address - end <= max_gap
            fits = max(end, spec.end) - first.address <= profile.max_registers_per_read
            if same_fn and near and fits:
                group.append(spec)
                continue
            plans.append(_request(group))
        group = [spec]
    if group:
        plans.append(_request(group))
    return tuple(plans)


def _request(group: list[RegisterSpec]) -> ReadRequest:
    start = group[0].address
    end = max(s.end for s in group)
    return ReadRequest(group[0].function, start, end - start, tuple(group))


def encode_registers(
    profile: MeterProfile, values: Mapping[str, float], function: int
) -> dict[int, int]:
    """Register address -> word for every quantity of ``profile`` read with ``function``
    that ``values`` holds (quantities absent from ``values`` are left out)."""
    out: dict[int, int] = {}
    for spec in profile.registers:
        if spec.function != function or spec.quantity not in values:
            continue
        for i, word in enumerate(encode_value(spec, values[spec.quantity])):
            out[spec.address + i] = word
    return out
