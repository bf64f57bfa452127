"""Value formats: how one item's value becomes BCD bytes and back, for both roles.

A format is named by its printed pattern, high digit first, as the standard writes it;
on the wire the bytes travel **low byte first** (``XXXXXX.XX`` 123456.78 -> ``78 56 34 12``,
``YYMMDDWW`` 2017-06-05 Monday -> ``01 05 06 17``).

Kinds and Python types:

* ``number``   ``XXXXXX.XX`` ... -> ``float`` (``int`` when there are no decimals). Signed
  formats carry the sign in bit 7 of the most significant byte (so the top digit is 0..7).
  Encoding rounds half-up to the format's decimals; a value that does not fit, a
  negative value for an unsigned format, NaN/inf or a non-number raise RequestError.
* ``date``     ``YYMMDDWW`` -> ``datetime.date`` (WW 0 = Sunday is written on encode and
  range-checked, not compared, on decode: meters with a wrong weekday still read).
* ``time``     ``hhmmss`` -> ``datetime.time``.
* ``datetime`` ``YYMMDDhhmm`` / ``YYMMDDhhmmss`` -> naive ``datetime`` (meter local time;
  years 2000-2099).
* ``digits``   ``NNNNNNNNNNNN`` -> ``str`` of decimal digits (addresses, meter numbers).

Decoding raises FrameError (the bytes came from the peer); encoding raises RequestError.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Final, Literal

from .bcd import bcd_to_digits, bcd_to_int, int_to_bcd
from .errors import FrameError, RequestError

Kind = Literal["number", "date", "time", "datetime", "digits"]
Value = float | int | str | date | time | datetime


@dataclass(frozen=True, slots=True)
class Format:
    """One value format: printed pattern, byte length, kind, decimals, sign rule."""

    pattern: str
    nbytes: int
    kind: Kind
    decimals: int = 0
    signed: bool = False

    @property
    def digits(self) -> int:
        """Decimal digits the pattern holds (the sign bit, if any, takes none)."""
        if self.kind == "number":
            return sum(1 for c in self.pattern if c == "X")
        return 2 * self.nbytes

    def encode(self, value: object) -> bytes:
        """Value -> item bytes as they travel (low byte first, before +0x33)."""
        if self.kind == "number":
            return _encode_number(self, value)
        if self.kind == "digits":
            return _encode_digits(self, value)
        return _encode_calendar(self, value)

    def decode(self, raw: bytes) -> Value:
        """Item bytes (low byte first, 0x33 removed) -> value."""
        if len(raw) != self.nbytes:
            raise FrameError(f"{self.pattern} needs {self.nbytes} bytes, got {len(raw)}")
        if self.kind == "number":
            return _decode_number(self, raw)
        if self.kind == "digits":
            return bcd_to_digits(raw, self.pattern)
        return _decode_calendar(self, raw)


def number(pattern: str, signed: bool = False) -> Format:
    """A numeric format from its pattern, e.g. ``number("XXX.XXX", signed=True)``.

    An odd digit count (1997 ``XXX`` V in 2 bytes) leaves the top nibble zero.
    """
    digits = pattern.replace(".", "")
    if set(digits) != {"X"}:
        raise ValueError(f"bad number pattern {pattern!r}")
    decimals = len(pattern) - pattern.index(".") - 1 if "." in pattern else 0
    return Format(pattern, (len(digits) + 1) // 2, "number", decimals, signed)


def _encode_number(fmt: Format, value: object) -> bytes:
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise RequestError(f"{fmt.pattern} needs a number, got {value!r}")
    if isinstance(value, float) and not math.isfinite(value):
        raise RequestError(f"{fmt.pattern} cannot hold {value!r}")
    try:
        exact = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        scaled = int(exact.scaleb(fmt.decimals).to_integral_value(rounding=ROUND_HALF_UP))
    except (InvalidOperation, ValueError, OverflowError) as exc:
        raise RequestError(f"{fmt.pattern} cannot hold {value!r}") from exc
    negative = scaled < 0
    if negative and not fmt.signed:
        raise RequestError(f"{fmt.pattern} is unsigned, cannot hold {value!r}")
    magnitude = -scaled if negative else scaled
    # The sign takes bit 7 of the top byte, so a full-width signed top digit stops at 7.
    full = fmt.digits == 2 * fmt.nbytes
    limit = 8 * 10 ** (fmt.digits - 1) if fmt.signed and full else 10**fmt.digits
    if magnitude >= limit:
        top = (limit - 1) / 10**fmt.decimals
        raise RequestError(f"{value!r} overflows {fmt.pattern} (max +/-{top})")
    raw = int_to_bcd(magnitude, fmt.nbytes)  # fits: magnitude < limit
    if negative:
        raw = raw[:-1] + bytes((raw[-1] | 0x80,))
    return raw


def _decode_number(fmt: Format, raw: bytes) -> float | int:
    negative = False
    if fmt.signed and raw[-1] & 0x80:
        negative = True
        raw = raw[:-1] + bytes((raw[-1] & 0x7F,))
    magnitude = bcd_to_int(raw, fmt.pattern)
    if negative:
        magnitude = -magnitude
    if fmt.decimals == 0:
        return magnitude
    scale: int = 10**fmt.decimals
    return magnitude / scale


def _encode_digits(fmt: Format, value: object) -> bytes:
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        value = str(value)
    if not isinstance(value, str) or not value.isdigit() or not value.isascii():
        raise RequestError(f"{fmt.pattern} needs a string of digits, got {value!r}")
    if len(value) > fmt.digits:
        raise RequestError(f"{value!r} is longer than {fmt.digits} digits")
    return bytes.fromhex(value.rjust(fmt.digits, "0"))[::-1]


# Calendar patterns: the fields, high first as printed; wire order is reversed.
_CALENDAR_FIELDS: Final[dict[str, tuple[str, ...]]] = {
    "YYMMDDWW": ("YY", "MM", "DD", "WW"),
    "YYMMDD": ("YY", "MM", "DD"),
    "hhmmss": ("hh", "mm", "ss"),
    "YYMMDDhhmm": ("YY", "MM", "DD", "hh", "mm"),
    "YYMMDDhhmmss": ("YY", "MM", "DD", "hh", "mm", "ss"),
}


def calendar(pattern: str) -> Format:
    """A date/time format from its pattern (see the module docstring)."""
    fields = _CALENDAR_FIELDS[pattern]
    kind: Kind
    if pattern == "hhmmss":
        kind = "time"
    elif "hh" in fields:
        kind = "datetime"
    else:
        kind = "date"
    return Format(pattern, len(fields), kind)


def digits(count: int) -> Format:
    """A digit-string format of ``count`` digits (even)."""
    return Format("N" * count, count // 2, "digits")


def _encode_calendar(fmt: Format, value: object) -> bytes:
    fields = _CALENDAR_FIELDS[fmt.pattern]
    parts: dict[str, int] = {}
    if fmt.kind == "time":
        if isinstance(value, datetime):
            value = value.time()
        if not isinstance(value, time):
            raise RequestError(f"{fmt.pattern} needs a time, got {value!r}")
        parts = {"hh": value.hour, "mm": value.minute, "ss": value.second}
    else:
        if fmt.kind == "date" and isinstance(value, datetime):
            value = value.date()
        wanted = datetime if fmt.kind == "datetime" else date
        if not isinstance(value, wanted) or (wanted is date and isinstance(value, datetime)):
            raise RequestError(f"{fmt.pattern} needs a {wanted.__name__}, got {value!r}")
        if not 2000 <= value.year <= 2099:
            raise RequestError(f"{fmt.pattern} holds years 2000-2099, got {value.year}")
        parts = {
            "YY": value.year - 2000,
            "MM": value.month,
            "DD": value.day,
            "WW": value.isoweekday() % 7,
        }
        if isinstance(value, datetime):
            parts.update(hh=value.hour, mm=value.minute, ss=value.second)
    return bytes.fromhex("".join(f"{parts[f]:02d}" for f in fields))[::-1]


def _decode_calendar(fmt: Format, raw: bytes) -> Value:
    text = bcd_to_digits(raw, fmt.pattern)
    fields = _CALENDAR_FIELDS[fmt.pattern]
    parts = {f: int(text[2 * k : 2 * k + 2]) for k, f in enumerate(fields)}
    try:
        if fmt.kind == "time":
            return time(parts["hh"], parts["mm"], parts["ss"])
        if "WW" in parts and parts["WW"] > 6:
            raise ValueError(f"weekday {parts['WW']} out of range 0..6")
        day = date(2000 + parts["YY"], parts["MM"], parts["DD"])
        if fmt.kind == "date":
            return day
        return datetime(day.year, day.month, day.day, parts["hh"], parts["mm"], parts.get("ss", 0))
    except ValueError as exc:
        raise FrameError(f"bad {fmt.pattern} value {text}: {exc}") from exc
