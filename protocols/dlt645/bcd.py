"""Byte-level helpers: packed BCD (low byte first), the +0x33 data scrambling, checksum.

Everything here is pure and table driven so the frame codec and the streaming decoder
stay fast (``bytes.translate`` instead of per-byte Python loops).
"""

from __future__ import annotations

from typing import Final

from .errors import FrameError, RequestError

#: Table adding 0x33 to every byte (mod 256): what a sender applies to DATA.
SCRAMBLE: Final[bytes] = bytes((i + 0x33) & 0xFF for i in range(256))
#: Table subtracting 0x33 from every byte (mod 256): what a receiver applies to DATA.
UNSCRAMBLE: Final[bytes] = bytes((i - 0x33) & 0xFF for i in range(256))


def checksum(data: bytes | bytearray | memoryview) -> int:
    """Sum of the bytes modulo 256 (the frame CS over 68 .. last DATA byte)."""
    return sum(data) & 0xFF


def int_to_bcd(value: int, nbytes: int) -> bytes:
    """Pack a non-negative integer into ``nbytes`` of BCD, low byte first.

    Raises :class:`RequestError` if it does not fit.
    """
    if value < 0:
        raise RequestError(f"cannot pack negative {value} as BCD")
    digits = f"{value:0{2 * nbytes}d}"
    if len(digits) > 2 * nbytes:
        raise RequestError(f"{value} does not fit in {nbytes} BCD bytes")
    return bytes.fromhex(digits)[::-1]


def bcd_to_int(data: bytes, what: str = "value") -> int:
    """Unpack BCD bytes (low byte first) into an integer.

    Raises :class:`FrameError` on a non-decimal nibble: BCD on the wire comes from the peer.
    """
    text = data[::-1].hex()
    if not text.isdigit():
        raise FrameError(f"bad BCD in {what}: {data.hex(' ').upper()}")
    return int(text)


def bcd_to_digits(data: bytes, what: str = "value") -> str:
    """Unpack BCD bytes (low byte first) into the printed digit string (high first)."""
    text = data[::-1].hex()
    if not text.isdigit():
        raise FrameError(f"bad BCD in {what}: {data.hex(' ').upper()}")
    return text
