"""The control byte, the function codes of both versions and the error bits, as data.

Control byte ``C``::

    bit   7      6          5            4 3 2 1 0
        +------+----------+------------+-----------+
        | DIR  | ABNORMAL | MORE       | FUNCTION  |
        +------+----------+------------+-----------+
        DIR       0 master -> meter, 1 meter -> master
        ABNORMAL  1 error reply (data = one ERR byte)
        MORE      1 subsequent frames follow
        FUNCTION  D4..D0, see FUNCTIONS

A normal reply is ``C | 0x80`` (``91``), an error reply ``C | 0xC0`` (``D1``), a normal
reply with more frames to fetch ``C | 0xA0`` (``B1``).

The two versions share the envelope but not the function codes: 2007 uses ``08`` and
``11``..``1C``, 1997 uses ``01``..``10``; only ``08`` (broadcast time) is common.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from .errors import FrameError, RequestError

Version = Literal["2007", "1997"]
VERSIONS: Final[tuple[Version, ...]] = ("2007", "1997")

DIR_REPLY: Final[int] = 0x80
ABNORMAL: Final[int] = 0x40
MORE_FOLLOWS: Final[int] = 0x20
FUNCTION_MASK: Final[int] = 0x1F


@dataclass(frozen=True)
class Function:
    """One function code of one protocol version."""

    code: int
    version: Version
    name: str
    description: str


FUNCTIONS: Final[tuple[Function, ...]] = (
    Function(0x08, "2007", "broadcast_time", "broadcast time sync, no reply"),
    Function(0x11, "2007", "read_data", "read data"),
    Function(0x12, "2007", "read_subsequent", "read subsequent data (DI + seq)"),
    Function(0x13, "2007", "read_address", "read communication address"),
    Function(0x14, "2007", "write_data", "write data (password + operator code)"),
    Function(0x15, "2007", "write_address", "write communication address"),
    Function(0x16, "2007", "freeze", "freeze command (mmhhDDMM)"),
    Function(0x17, "2007", "change_baud", "change communication rate"),
    Function(0x18, "2007", "change_password", "change password"),
    Function(0x19, "2007", "max_demand_reset", "clear maximum demand"),
    Function(0x1A, "2007", "meter_clear", "clear meter"),
    Function(0x1B, "2007", "event_clear", "clear events"),
    Function(0x1C, "2007", "relay_control", "relay control (later utility amendments)"),
    Function(0x01, "1997", "read_data", "read data"),
    Function(0x02, "1997", "read_subsequent", "read subsequent data"),
    Function(0x03, "1997", "reread", "re-read data"),
    Function(0x04, "1997", "write_data", "write data (password)"),
    Function(0x08, "1997", "broadcast_time", "broadcast time sync, no reply"),
    Function(0x0A, "1997", "write_address", "write device address"),
    Function(0x0C, "1997", "change_baud", "change communication rate"),
    Function(0x0F, "1997", "change_password", "change password"),
    Function(0x10, "1997", "max_demand_reset", "clear maximum demand"),
)

_BY_CODE: Final[dict[tuple[Version, int], Function]] = {(f.version, f.code): f for f in FUNCTIONS}
_BY_NAME: Final[dict[tuple[Version, str], Function]] = {(f.version, f.name): f for f in FUNCTIONS}


def function_info(code: int, version: Version) -> Function | None:
    """The function a D4..D0 code means in ``version`` (None when undefined)."""
    return _BY_CODE.get((version, code & FUNCTION_MASK))


def function_name(code: int, version: Version) -> str:
    """A readable name for a function code; ``unknown_XX`` when undefined."""
    info = function_info(code, version)
    return info.name if info else f"unknown_{code & FUNCTION_MASK:02X}"


def function_code(name: str, version: Version) -> int | None:
    """The code of a function name in ``version`` (None when undefined)."""
    info = _BY_NAME.get((version, name))
    return info.code if info else None


def version_of_function(code: int) -> Version | None:
    """The version a function code belongs to; None when ambiguous (08) or unknown."""
    code &= FUNCTION_MASK
    versions = [v for v in VERSIONS if (v, code) in _BY_CODE]
    return versions[0] if len(versions) == 1 else None


@dataclass(frozen=True)
class ErrorBit:
    """One bit of the ERR byte of an abnormal reply."""

    bit: int
    version: Version
    name: str
    description: str


ERROR_BITS: Final[tuple[ErrorBit, ...]] = (
    ErrorBit(0, "2007", "other", "other error"),
    ErrorBit(1, "2007", "no_such_data", "no requested data (unknown DI)"),
    ErrorBit(2, "2007", "unauthorised", "wrong password / not authorised"),
    ErrorBit(3, "2007", "baud_unchangeable", "communication rate cannot be changed"),
    ErrorBit(4, "2007", "too_many_year_zones", "too many year time zones"),
    ErrorBit(5, "2007", "too_many_day_periods", "too many day periods"),
    ErrorBit(6, "2007", "too_many_tariffs", "too many tariffs"),
    ErrorBit(0, "1997", "illegal_data", "illegal data"),
    ErrorBit(1, "1997", "no_such_data", "data identifier error"),
    ErrorBit(2, "1997", "unauthorised", "wrong password"),
    ErrorBit(4, "1997", "too_many_year_zones", "too many year time zones"),
    ErrorBit(5, "1997", "too_many_day_periods", "too many day periods"),
    ErrorBit(6, "1997", "too_many_tariffs", "too many tariffs"),
)

_ERR_BY_BIT: Final[dict[tuple[Version, int], ErrorBit]] = {
    (e.version, e.bit): e for e in ERROR_BITS
}
_ERR_BY_NAME: Final[dict[tuple[Version, str], ErrorBit]] = {
    (e.version, e.name): e for e in ERROR_BITS
}


def error_names(code: int, version: Version = "2007") -> tuple[str, ...]:
    """Named bits set in an ERR byte, lowest bit first (undefined bits: ``reserved_N``)."""
    names = []
    for bit in range(8):
        if code & (1 << bit):
            info = _ERR_BY_BIT.get((version, bit))
            names.append(info.name if info else f"reserved_{bit}")
    return tuple(names)


def error_code(
    bits: int | str | tuple[str, ...] | list[str] | frozenset[str] | set[str],
    version: Version = "2007",
) -> int:
    """ERR byte from bit names (or an int passed through); RequestError for unknown names."""
    if isinstance(bits, int):
        if not 0 <= bits <= 0xFF:
            raise RequestError(f"ERR byte {bits} out of range 0..255")
        return bits
    names = (bits,) if isinstance(bits, str) else tuple(bits)
    code = 0
    for name in names:
        if name.startswith("reserved_") and name[9:].isdigit() and int(name[9:]) < 8:
            code |= 1 << int(name[9:])
            continue
        info = _ERR_BY_NAME.get((version, name))
        if info is None:
            raise RequestError(f"unknown {version} error bit {name!r}")
        code |= 1 << info.bit
    return code


#: Change-baud Z byte: one bit per rate (``17`` request data, ``97`` reply data).
BAUD_BITS: Final[dict[int, int]] = {
    600: 0x02,
    1200: 0x04,
    2400: 0x08,
    4800: 0x10,
    9600: 0x20,
    19200: 0x40,
}
_BAUD_BY_BIT: Final[dict[int, int]] = {bit: baud for baud, bit in BAUD_BITS.items()}


def baud_to_z(baud: int) -> int:
    """Baud rate -> Z byte; RequestError for a rate the protocol cannot express."""
    z = BAUD_BITS.get(baud)
    if z is None:
        raise RequestError(f"baud rate {baud} not expressible, want one of {sorted(BAUD_BITS)}")
    return z


def z_to_baud(z: int) -> int:
    """Z byte -> baud rate; FrameError unless exactly one known bit is set."""
    baud = _BAUD_BY_BIT.get(z)
    if baud is None:
        raise FrameError(f"bad baud-rate byte Z={z:02X}")
    return baud
