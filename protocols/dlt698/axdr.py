"""A-XDR data of DL/T 698.45: the typed ``Data`` codec and the reader/writer primitives.

Every datum on the wire is a type tag followed by its content (big-endian numbers)::

    tag  type                   content
    00   null                   -
    01   array                  n (variable length) + n Data
    02   structure              n (variable length) + n Data
    03   bool                   1 byte (0 false, else true)
    04   bit-string             bits (variable length) + ceil(bits / 8) bytes
    05   double-long            4 bytes signed      06  double-long-unsigned  4 unsigned
    09   octet-string           n + n bytes         0A  visible-string        n + n ASCII
    0C   UTF8-string            n + n bytes         0F  integer               1 signed
    10   long                   2 signed            11  unsigned              1 unsigned
    12   long-unsigned          2 unsigned          14  long64                8 signed
    15   long64-unsigned        8 unsigned          16  enum                  1 unsigned
    17   float32                4 (IEEE 754)        18  float64               8
    19   date_time              year(2) month day weekday hour minute second ms(2)
    1A   date                   year(2) month day weekday
    1B   time                   hour minute second
    1C   date_time_s            year(2) month day hour minute second
    50   OI 2   51 OAD 4   52 ROAD (OAD + n OADs)   53 OMD 4   54 TI (unit enum + long-unsigned)
    55   TSA (n + SA bytes, see address.py)   56 MAC (octet-string)   57 RN (octet-string)
    58   Region (unit enum + Data + Data)     59 Scaler_Unit (integer + enum)
    5A   RSD   5B CSD (00 OAD | 01 ROAD)   5C MS   5D SID (4 bytes + octet-string)
    5E   SID_MAC (SID + MAC)   5F COMDCB (5 enums)   60 RCSD (n CSD)

The variable length form is one byte below 0x80, or ``0x8N`` followed by N big-endian
length bytes. Real firmware sometimes sends a non-minimal form (``81 05``): it is
accepted on decode; this codec always encodes the minimal form.

A decoded datum is a :class:`Data` (tag + Python value) so it re-encodes byte for byte;
:meth:`Data.py` turns it into plain Python for callers that do not care about tags.
Dates whose fields are all valid decode to :class:`datetime.datetime` / ``date`` /
``time``; a date with ``FF`` fields (a meter's "not set") keeps its raw field tuple.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import date, datetime, time
from enum import IntEnum
from typing import Any, Final

from .address import ServerAddress, address_from_wire
from .errors import FrameError, RequestError


class T(IntEnum):
    """A-XDR type tags."""

    NULL = 0x00
    ARRAY = 0x01
    STRUCTURE = 0x02
    BOOL = 0x03
    BIT_STRING = 0x04
    DOUBLE_LONG = 0x05
    DOUBLE_LONG_UNSIGNED = 0x06
    OCTET_STRING = 0x09
    VISIBLE_STRING = 0x0A
    UTF8_STRING = 0x0C
    INTEGER = 0x0F
    LONG = 0x10
    UNSIGNED = 0x11
    LONG_UNSIGNED = 0x12
    LONG64 = 0x14
    LONG64_UNSIGNED = 0x15
    ENUM = 0x16
    FLOAT32 = 0x17
    FLOAT64 = 0x18
    DATE_TIME = 0x19
    DATE = 0x1A
    TIME = 0x1B
    DATE_TIME_S = 0x1C
    OI = 0x50
    OAD = 0x51
    ROAD = 0x52
    OMD = 0x53
    TI = 0x54
    TSA = 0x55
    MAC = 0x56
    RN = 0x57
    REGION = 0x58
    SCALER_UNIT = 0x59
    RSD = 0x5A
    CSD = 0x5B
    MS = 0x5C
    SID = 0x5D
    SID_MAC = 0x5E
    COMDCB = 0x5F
    RCSD = 0x60


TYPE_NAMES: Final[dict[int, str]] = {t.value: t.name.lower().replace("_", "-") for t in T}
TYPE_NAMES[T.DATE_TIME_S] = "date_time_s"
TYPE_NAMES[T.DATE_TIME] = "date_time"
TYPE_NAMES[T.SCALER_UNIT] = "scaler-unit"

#: (struct format, size) of the fixed-size numeric types.
_NUMBERS: Final[dict[int, tuple[str, int]]] = {
    T.DOUBLE_LONG: (">i", 4),
    T.DOUBLE_LONG_UNSIGNED: (">I", 4),
    T.INTEGER: (">b", 1),
    T.LONG: (">h", 2),
    T.UNSIGNED: (">B", 1),
    T.LONG_UNSIGNED: (">H", 2),
    T.LONG64: (">q", 8),
    T.LONG64_UNSIGNED: (">Q", 8),
    T.ENUM: (">B", 1),
    T.FLOAT32: (">f", 4),
    T.FLOAT64: (">d", 8),
    T.OI: (">H", 2),
    T.OAD: (">I", 4),
    T.OMD: (">I", 4),
}
_STRUCTS: Final[dict[int, struct.Struct]] = {k: struct.Struct(v[0]) for k, v in _NUMBERS.items()}

# -- value types of the structured A-XDR types ---------------------------------------


@dataclass(frozen=True, slots=True)
class BitString:
    """``nbits`` bits, first bit = most significant bit of the first byte."""

    nbits: int
    data: bytes

    def __post_init__(self) -> None:
        if len(self.data) != (self.nbits + 7) // 8:
            raise RequestError(
                f"bit-string of {self.nbits} bits needs {(self.nbits + 7) // 8} bytes"
            )

    def bits(self) -> str:
        return "".join(f"{b:08b}" for b in self.data)[: self.nbits]


@dataclass(frozen=True, slots=True)
class Road:
    """ROAD: a record-type object's OAD and the associated OADs (columns)."""

    oad: int
    oads: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Ti:
    """TI time interval: unit (0 s, 1 min, 2 h, 3 day, 4 month, 5 year) and value."""

    unit: int
    value: int


@dataclass(frozen=True, slots=True)
class ScalerUnit:
    """Scaler (power of ten) and unit code of an object (see catalogue.UNITS)."""

    scaler: int
    unit: int


@dataclass(frozen=True, slots=True)
class Region:
    """Region: kind (0 [s,e), 1 (s,e], 2 [s,e], 3 (s,e)) and two bounds."""

    kind: int
    start: Data
    end: Data


@dataclass(frozen=True, slots=True)
class Ms:
    """MS meter set: choice 0 none, 1 all, 2 user types (unsigned), 3 addresses (TSA),
    4 configuration numbers (long-unsigned), 5..7 regions of those."""

    choice: int
    items: tuple[Any, ...] = ()

    @classmethod
    def all(cls) -> Ms:
        return cls(1)


@dataclass(frozen=True, slots=True)
class Rsd:
    """RSD row selector. ``selector`` 0..10 and its parameters in wire order::

    0 -                               1 OAD, value Data
    2 OAD, start, end, interval Data  3 (Selector2 tuple, ...)
    4/5 date_time_s, MS               6/7/8 start, end date_time_s, TI, MS
    9 n (last n-th record)            10 n (last n records), MS
    """

    selector: int
    params: tuple[Any, ...] = ()

    @classmethod
    def by_value(cls, oad: int, value: Data) -> Rsd:
        return cls(1, (oad, value))

    @classmethod
    def interval(cls, oad: int, start: Data, end: Data, step: Data | None = None) -> Rsd:
        return cls(2, (oad, start, end, step if step is not None else Data(T.NULL, None)))

    @classmethod
    def last(cls, n: int) -> Rsd:
        """Selector 9: the n-th last record (1 = the latest)."""
        return cls(9, (n,))

    @classmethod
    def last_n(cls, n: int, ms: Ms | None = None) -> Rsd:
        """Selector 10: the last n records of the meters ``ms`` (default: all)."""
        return cls(10, (n, ms or Ms.all()))


@dataclass(frozen=True, slots=True)
class Sid:
    """SID security identifier: 4-byte tag + additional data."""

    ident: int
    extra: bytes = b""


@dataclass(frozen=True, slots=True)
class Comdcb:
    """COMDCB serial settings: baud enum (6 = 9600), parity (0 none, 1 odd, 2 even),
    data bits (8), stop bits (1), flow control (0 none)."""

    baud: int = 6
    parity: int = 2
    data_bits: int = 8
    stop_bits: int = 1
    flow: int = 0


Csd = int | Road  # CSD: an OAD (choice 0) or a ROAD (choice 1)


@dataclass(frozen=True, slots=True)
class Data:
    """One typed A-XDR datum: ``tag`` (a :class:`T`) and its Python value.

    Values: None (null); tuple of Data (array, structure); bool; int (numbers, enum, OI,
    OAD, OMD); float; bytes (octet-string, MAC, RN); str (visible/UTF8 string);
    :class:`BitString`; datetime/date/time or a raw field tuple (dates); :class:`Road`,
    :class:`Ti`, :class:`ServerAddress` (TSA), :class:`Region`, :class:`ScalerUnit`,
    :class:`Rsd`, Csd, tuple of Csd (RCSD), :class:`Ms`, :class:`Sid`, (Sid, bytes)
    (SID_MAC), :class:`Comdcb`.
    """

    tag: int
    value: Any = None

    def encode(self) -> bytes:
        w = bytearray()
        write_data(w, self)
        return bytes(w)

    def py(self) -> Any:
        """Plain Python: lists for arrays/structures, ISO strings for valid dates, hex
        strings for octet-strings, OADs as 8 hex digits; numbers unscaled."""
        return to_python(self)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.tag, f"type_{self.tag:02X}")


# -- constructors ----------------------------------------------------------------------


def null() -> Data:
    return Data(T.NULL, None)


def array(*items: Data) -> Data:
    return Data(T.ARRAY, tuple(items))


def structure(*items: Data) -> Data:
    return Data(T.STRUCTURE, tuple(items))


def dlu(v: int) -> Data:
    return Data(T.DOUBLE_LONG_UNSIGNED, v)


def dl(v: int) -> Data:
    return Data(T.DOUBLE_LONG, v)


def lu(v: int) -> Data:
    return Data(T.LONG_UNSIGNED, v)


def long(v: int) -> Data:
    return Data(T.LONG, v)


def u8(v: int) -> Data:
    return Data(T.UNSIGNED, v)


def octets(v: bytes | str) -> Data:
    return Data(T.OCTET_STRING, bytes.fromhex(v) if isinstance(v, str) else bytes(v))


def visible(v: str) -> Data:
    return Data(T.VISIBLE_STRING, v)


def enum(v: int) -> Data:
    return Data(T.ENUM, v)


def oad(v: int | str) -> Data:
    return Data(T.OAD, parse_oad(v))


def dts(v: datetime | tuple[int, ...]) -> Data:
    return Data(T.DATE_TIME_S, v)


def parse_oad(value: int | str) -> int:
    """``"40010200"``, ``"4001 02 00"`` or 0x40010200 -> int; RequestError otherwise."""
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value <= 0xFFFFFFFF:
            return value
        raise RequestError(f"OAD {value!r} out of range")
    text = "".join(str(value).split())
    if len(text) != 8:
        raise RequestError(f"OAD {value!r} must be 8 hex digits")
    try:
        return int(text, 16)
    except ValueError as exc:
        raise RequestError(f"OAD {value!r} is not hex") from exc


def format_oad(value: int) -> str:
    return f"{value:08X}"


# -- variable length ---------------------------------------------------------------------


def write_length(w: bytearray, n: int) -> None:
    if n < 0:
        raise RequestError(f"negative length {n}")
    if n < 0x80:
        w.append(n)
        return
    raw = n.to_bytes((n.bit_length() + 7) // 8, "big")
    if len(raw) > 4:
        raise RequestError(f"length {n} too large")
    w.append(0x80 | len(raw))
    w += raw


class Reader:
    """A cursor over received bytes; every failure names the offset (``base`` + pos)."""

    __slots__ = ("buf", "pos", "base")

    def __init__(self, buf: bytes, pos: int = 0, base: int = 0) -> None:
        self.buf = buf
        self.pos = pos
        self.base = base

    def fail(self, what: str, at: int | None = None) -> FrameError:
        return FrameError(f"{what} at offset {self.base + (self.pos if at is None else at)}")

    def take(self, n: int, what: str = "bytes") -> bytes:
        end = self.pos + n
        if end > len(self.buf):
            raise self.fail(f"{what}: need {n} byte(s), {len(self.buf) - self.pos} left")
        out = self.buf[self.pos : end]
        self.pos = end
        return out

    def u8(self, what: str = "byte") -> int:
        if self.pos >= len(self.buf):
            raise self.fail(f"{what}: data ends")
        v = self.buf[self.pos]
        self.pos += 1
        return v

    def u16(self, what: str = "long-unsigned") -> int:
        return int.from_bytes(self.take(2, what), "big")

    def u32(self, what: str = "double-long-unsigned") -> int:
        return int.from_bytes(self.take(4, what), "big")

    def length(self, what: str = "length") -> int:
        first = self.u8(what)
        if first < 0x80:
            return first
        n = first & 0x7F
        if not 1 <= n <= 4:
            raise self.fail(f"{what}: bad length form {first:02X}", self.pos - 1)
        return int.from_bytes(self.take(n, what), "big")

    def count(self, what: str = "count") -> int:
        """A SEQUENCE OF count, refused when it cannot fit in what is left."""
        at = self.pos
        n = self.length(what)
        if n > len(self.buf) - self.pos:
            raise self.fail(f"{what} {n} exceeds the {len(self.buf) - self.pos} bytes left", at)
        return n

    def octets(self, what: str = "octet-string") -> bytes:
        return self.take(self.length(what), what)

    def optional(self, what: str) -> bool:
        flag = self.u8(what)
        if flag > 1:
            raise self.fail(f"{what}: OPTIONAL flag {flag:02X} is neither 00 nor 01", self.pos - 1)
        return flag == 1

    @property
    def left(self) -> int:
        return len(self.buf) - self.pos

    def done(self, what: str) -> None:
        if self.pos != len(self.buf):
            raise self.fail(f"{len(self.buf) - self.pos} unexpected byte(s) after {what}")


# -- decoding ------------------------------------------------------------------------


def _valid_dt(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime | None:
    try:
        return datetime(year, month, day, hour, minute, second)
    except ValueError:
        return None


def read_date_time_s(r: Reader) -> datetime | tuple[int, ...]:
    raw = r.take(7, "date_time_s")
    year = raw[0] << 8 | raw[1]
    fields = (year, raw[2], raw[3], raw[4], raw[5], raw[6])
    return _valid_dt(*fields) or fields


def read_tsa(r: Reader) -> ServerAddress:
    at = r.pos
    n = r.length("TSA length")
    raw = r.take(n, "TSA")
    if n < 2:
        raise r.fail(f"TSA of {n} bytes has no address", at)
    sa, end = address_from_wire(raw, 0)
    if end != n:
        raise r.fail(f"TSA length {n} does not match its flag byte {raw[0]:02X}", at)
    return sa


def read_road(r: Reader) -> Road:
    main = r.u32("ROAD")
    return Road(main, tuple(r.u32("ROAD column") for _ in range(r.count("ROAD count"))))


def read_csd(r: Reader) -> Csd:
    at = r.pos
    choice = r.u8("CSD choice")
    if choice == 0:
        return r.u32("CSD OAD")
    if choice == 1:
        return read_road(r)
    raise r.fail(f"CSD choice {choice:02X} is neither 00 (OAD) nor 01 (ROAD)", at)


def read_rcsd(r: Reader) -> tuple[Csd, ...]:
    return tuple(read_csd(r) for _ in range(r.count("RCSD count")))


def read_region(r: Reader) -> Region:
    return Region(r.u8("Region unit"), read_data(r), read_data(r))


def read_ms(r: Reader) -> Ms:
    at = r.pos
    choice = r.u8("MS choice")
    if choice in (0, 1):
        return Ms(choice)
    n = r.count("MS count")
    if choice == 2:
        return Ms(2, tuple(r.u8("MS user type") for _ in range(n)))
    if choice == 3:
        return Ms(3, tuple(read_tsa(r) for _ in range(n)))
    if choice == 4:
        return Ms(4, tuple(r.u16("MS number") for _ in range(n)))
    if choice in (5, 6, 7):
        return Ms(choice, tuple(read_region(r) for _ in range(n)))
    raise r.fail(f"MS choice {choice} is not 0..7", at)


def read_ti(r: Reader) -> Ti:
    return Ti(r.u8("TI unit"), r.u16("TI value"))


def _selector2(r: Reader) -> tuple[Any, ...]:
    return (r.u32("selector OAD"), read_data(r), read_data(r), read_data(r))


def read_rsd(r: Reader) -> Rsd:
    at = r.pos
    sel = r.u8("RSD selector")
    if sel == 0:
        return Rsd(0)
    if sel == 1:
        return Rsd(1, (r.u32("selector OAD"), read_data(r)))
    if sel == 2:
        return Rsd(2, _selector2(r))
    if sel == 3:
        return Rsd(3, tuple(_selector2(r) for _ in range(r.count("selector3 count"))))
    if sel in (4, 5):
        return Rsd(sel, (read_date_time_s(r), read_ms(r)))
    if sel in (6, 7, 8):
        return Rsd(sel, (read_date_time_s(r), read_date_time_s(r), read_ti(r), read_ms(r)))
    if sel == 9:
        return Rsd(9, (r.u8("selector9 n"),))
    if sel == 10:
        return Rsd(10, (r.u8("selector10 n"), read_ms(r)))
    raise r.fail(f"RSD selector {sel} is not 0..10", at)


def read_sid(r: Reader) -> Sid:
    return Sid(r.u32("SID"), r.octets("SID data"))


def read_data(r: Reader) -> Data:
    """One tagged datum at the reader's position."""
    at = r.pos
    tag = r.u8("data type")
    num = _STRUCTS.get(tag)
    if num is not None:
        return Data(tag, num.unpack(r.take(num.size, TYPE_NAMES[tag]))[0])
    if tag == T.NULL:
        return Data(T.NULL, None)
    if tag in (T.ARRAY, T.STRUCTURE):
        n = r.count(TYPE_NAMES[tag] + " count")
        return Data(tag, tuple(read_data(r) for _ in range(n)))
    if tag in (T.OCTET_STRING, T.MAC, T.RN):
        return Data(tag, r.octets(TYPE_NAMES[tag]))
    if tag in (T.VISIBLE_STRING, T.UTF8_STRING):
        raw = r.octets(TYPE_NAMES[tag])
        try:
            text = raw.decode("utf-8" if tag == T.UTF8_STRING else "ascii")
        except UnicodeDecodeError as exc:
            raise r.fail(
                f"{TYPE_NAMES[tag]} is not {'UTF-8' if tag == T.UTF8_STRING else 'ASCII'}", at
            ) from exc
        return Data(tag, text)
    if tag == T.BOOL:
        return Data(tag, r.u8("bool") != 0)
    if tag == T.BIT_STRING:
        nbits = r.length("bit-string length")
        return Data(tag, BitString(nbits, r.take((nbits + 7) // 8, "bit-string")))
    if tag == T.DATE_TIME_S:
        return Data(tag, read_date_time_s(r))
    if tag == T.DATE_TIME:
        raw = r.take(10, "date_time")
        return Data(tag, (raw[0] << 8 | raw[1], *raw[2:8], raw[8] << 8 | raw[9]))
    if tag == T.DATE:
        raw = r.take(5, "date")
        return Data(tag, (raw[0] << 8 | raw[1], raw[2], raw[3], raw[4]))
    if tag == T.TIME:
        raw = r.take(3, "time")
        try:
            return Data(tag, time(raw[0], raw[1], raw[2]))
        except ValueError:
            return Data(tag, (raw[0], raw[1], raw[2]))
    if tag == T.ROAD:
        return Data(tag, read_road(r))
    if tag == T.TI:
        return Data(tag, read_ti(r))
    if tag == T.TSA:
        return Data(tag, read_tsa(r))
    if tag == T.REGION:
        return Data(tag, read_region(r))
    if tag == T.SCALER_UNIT:
        raw = r.take(2, "scaler-unit")
        return Data(tag, ScalerUnit(raw[0] - 256 if raw[0] > 127 else raw[0], raw[1]))
    if tag == T.RSD:
        return Data(tag, read_rsd(r))
    if tag == T.CSD:
        return Data(tag, read_csd(r))
    if tag == T.MS:
        return Data(tag, read_ms(r))
    if tag == T.SID:
        return Data(tag, read_sid(r))
    if tag == T.SID_MAC:
        return Data(tag, (read_sid(r), r.octets("MAC")))
    if tag == T.COMDCB:
        raw = r.take(5, "COMDCB")
        return Data(tag, Comdcb(*raw))
    if tag == T.RCSD:
        return Data(tag, read_rcsd(r))
    raise r.fail(f"unknown data type {tag:02X}", at)


def decode_data(raw: bytes, base: int = 0) -> Data:
    """Exactly one datum -> :class:`Data`; :class:`FrameError` if invalid or if bytes
    are left over."""
    r = Reader(bytes(raw), 0, base)
    out = read_data(r)
    r.done("the datum")
    return out


# -- encoding ------------------------------------------------------------------------


def write_octets(w: bytearray, raw: bytes) -> None:
    write_length(w, len(raw))
    w += raw


def write_date_time_s(w: bytearray, v: Any) -> None:
    if isinstance(v, datetime):
        fields: tuple[int, ...] = (v.year, v.month, v.day, v.hour, v.minute, v.second)
    elif isinstance(v, date):
        fields = (v.year, v.month, v.day, 0, 0, 0)
    else:
        fields = tuple(v)
        if len(fields) != 6:
            raise RequestError(f"date_time_s needs 6 fields, got {v!r}")
    try:
        w += fields[0].to_bytes(2, "big") + bytes(fields[1:])
    except (ValueError, OverflowError) as exc:
        raise RequestError(f"date_time_s {v!r} does not fit") from exc


def write_tsa(w: bytearray, sa: ServerAddress | str) -> None:
    if isinstance(sa, str):
        from .address import as_address

        sa = as_address(sa)
    write_octets(w, sa.to_wire())


def write_road(w: bytearray, road: Road) -> None:
    w += road.oad.to_bytes(4, "big")
    write_length(w, len(road.oads))
    for o in road.oads:
        w += o.to_bytes(4, "big")


def write_csd(w: bytearray, csd: Csd) -> None:
    if isinstance(csd, Road):
        w.append(1)
        write_road(w, csd)
    else:
        w.append(0)
        w += parse_oad(csd).to_bytes(4, "big")


def write_rcsd(w: bytearray, rcsd: tuple[Csd, ...] | list[Csd]) -> None:
    write_length(w, len(rcsd))
    for c in rcsd:
        write_csd(w, c)


def write_region(w: bytearray, region: Region) -> None:
    w.append(region.kind)
    write_data(w, region.start)
    write_data(w, region.end)


def write_ms(w: bytearray, ms: Ms) -> None:
    w.append(ms.choice)
    if ms.choice in (0, 1):
        return
    write_length(w, len(ms.items))
    for item in ms.items:
        if ms.choice == 2:
            w.append(item)
        elif ms.choice == 3:
            write_tsa(w, item)
        elif ms.choice == 4:
            w += int(item).to_bytes(2, "big")
        elif ms.choice in (5, 6, 7):
            write_region(w, item)
        else:
            raise RequestError(f"MS choice {ms.choice} is not 0..7")


def write_ti(w: bytearray, ti: Ti) -> None:
    w.append(ti.unit)
    w += ti.value.to_bytes(2, "big")


def write_rsd(w: bytearray, rsd: Rsd) -> None:
    sel, p = rsd.selector, rsd.params
    w.append(sel)
    try:
        if sel == 0:
            return
        if sel == 1:
            w += parse_oad(p[0]).to_bytes(4, "big")
            write_data(w, p[1])
        elif sel == 2:
            _write_selector2(w, p)
        elif sel == 3:
            write_length(w, len(p))
            for s2 in p:
                _write_selector2(w, s2)
        elif sel in (4, 5):
            write_date_time_s(w, p[0])
            write_ms(w, p[1])
        elif sel in (6, 7, 8):
            write_date_time_s(w, p[0])
            write_date_time_s(w, p[1])
            write_ti(w, p[2])
            write_ms(w, p[3])
        elif sel == 9:
            w.append(p[0])
        elif sel == 10:
            w.append(p[0])
            write_ms(w, p[1])
        else:
            raise RequestError(f"RSD selector {sel} is not 0..10")
    except (IndexError, TypeError, ValueError, AttributeError) as exc:
        if isinstance(exc, RequestError):
            raise
        raise RequestError(f"RSD selector {sel} parameters {p!r} do not fit: {exc}") from exc


def _write_selector2(w: bytearray, p: tuple[Any, ...]) -> None:
    w += parse_oad(p[0]).to_bytes(4, "big")
    for d in p[1:4]:
        write_data(w, d)


def write_sid(w: bytearray, sid: Sid) -> None:
    w += sid.ident.to_bytes(4, "big")
    write_octets(w, sid.extra)


def write_data(w: bytearray, d: Data) -> None:
    """Append one tagged datum; :class:`RequestError` when the value does not fit."""
    tag, v = d.tag, d.value
    num = _STRUCTS.get(tag)
    try:
        if num is not None:
            w.append(tag)
            w += num.pack(v)
            return
        if tag == T.NULL:
            w.append(tag)
            return
        if tag in (T.ARRAY, T.STRUCTURE):
            w.append(tag)
            write_length(w, len(v))
            for item in v:
                write_data(w, item)
            return
        w.append(tag)
        if tag in (T.OCTET_STRING, T.MAC, T.RN):
            write_octets(w, bytes(v))
        elif tag in (T.VISIBLE_STRING, T.UTF8_STRING):
            write_octets(w, v.encode("utf-8" if tag == T.UTF8_STRING else "ascii"))
        elif tag == T.BOOL:
            w.append(1 if v else 0)
        elif tag == T.BIT_STRING:
            write_length(w, v.nbits)
            w += v.data
        elif tag == T.DATE_TIME_S:
            write_date_time_s(w, v)
        elif tag == T.DATE_TIME:
            if isinstance(v, datetime):
                v = (
                    v.year,
                    v.month,
                    v.day,
                    v.isoweekday() % 7,
                    v.hour,
                    v.minute,
                    v.second,
                    v.microsecond // 1000,
                )
            w += v[0].to_bytes(2, "big") + bytes(v[1:7]) + v[7].to_bytes(2, "big")
        elif tag == T.DATE:
            if isinstance(v, date):
                v = (v.year, v.month, v.day, v.isoweekday() % 7)
            w += v[0].to_bytes(2, "big") + bytes(v[1:4])
        elif tag == T.TIME:
            if isinstance(v, time):
                v = (v.hour, v.minute, v.second)
            w += bytes(v)
        elif tag == T.ROAD:
            write_road(w, v)
        elif tag == T.TI:
            write_ti(w, v)
        elif tag == T.TSA:
            write_tsa(w, v)
        elif tag == T.REGION:
            write_region(w, v)
        elif tag == T.SCALER_UNIT:
            w += v.scaler.to_bytes(1, "big", signed=True) + bytes((v.unit,))
        elif tag == T.RSD:
            write_rsd(w, v)
        elif tag == T.CSD:
            write_csd(w, v)
        elif tag == T.MS:
            write_ms(w, v)
        elif tag == T.SID:
            write_sid(w, v)
        elif tag == T.SID_MAC:
            write_sid(w, v[0])
            write_octets(w, v[1])
        elif tag == T.COMDCB:
            w += bytes((v.baud, v.parity, v.data_bits, v.stop_bits, v.flow))
        elif tag == T.RCSD:
            write_rcsd(w, v)
        else:
            raise RequestError(f"unknown data type {tag!r}")
    except RequestError:
        raise
    except (struct.error, TypeError, ValueError, AttributeError, OverflowError, IndexError) as exc:
        raise RequestError(
            f"{TYPE_NAMES.get(tag, hex(tag))} value {v!r} cannot be encoded: {exc}"
        ) from exc


def encode_data(d: Data) -> bytes:
    return d.encode()


# -- plain Python ------------------------------------------------------------------------


def csd_text(csd: Csd) -> Any:
    if isinstance(csd, Road):
        return {"oad": format_oad(csd.oad), "oads": [format_oad(o) for o in csd.oads]}
    return format_oad(csd)


def to_python(d: Data) -> Any:
    """See :meth:`Data.py`."""
    tag, v = d.tag, d.value
    if tag in (T.ARRAY, T.STRUCTURE):
        return [to_python(x) for x in v]
    if tag in (T.OAD, T.OMD):
        return format_oad(v)
    if tag == T.OI:
        return f"{v:04X}"
    if tag in (T.OCTET_STRING, T.MAC, T.RN):
        return bytes(v).hex().upper()
    if tag == T.BIT_STRING:
        return v.bits()
    if tag == T.DATE_TIME_S:
        return v.isoformat() if isinstance(v, datetime) else list(v)
    if tag == T.DATE_TIME:
        dt = _valid_dt(v[0], v[1], v[2], v[4], v[5], v[6]) if len(v) == 8 else None
        if dt is not None and v[7] < 1000:
            return dt.replace(microsecond=v[7] * 1000).isoformat()
        return list(v)
    if tag == T.DATE:
        day = _valid_dt(v[0], v[1], v[2])
        return day.date().isoformat() if day else list(v)
    if tag == T.TIME:
        return v.isoformat() if isinstance(v, time) else list(v)
    if tag == T.TSA:
        return v.address
    if tag == T.SCALER_UNIT:
        return [v.scaler, v.unit]
    if tag == T.TI:
        return [v.unit, v.value]
    if tag in (T.ROAD, T.CSD):
        return csd_text(v)
    if tag == T.RCSD:
        return [csd_text(c) for c in v]
    if tag == T.COMDCB:
        return [v.baud, v.parity, v.data_bits, v.stop_bits, v.flow]
    if tag in (T.REGION, T.RSD, T.MS, T.SID, T.SID_MAC):
        return repr(v)
    return v
