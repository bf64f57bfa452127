"""CRC-16/X.25 (FCS16 of RFC 1662), the HCS and FCS of every DL/T 698.45 frame.

Parameters: poly 0x1021 reflected (0x8408), init 0xFFFF, refin/refout, xorout 0xFFFF;
check value ``crc16(b"123456789") == 0x906E``. On the wire it travels low byte first.

Speed: the reflected CRC equals the plain CRC-CCITT of the bit-reversed bytes, reversed
(init 0xFFFF is its own reflection), so :func:`crc16` runs ``binascii.crc_hqx`` (C) over
``data.translate(REVERSED)``; :func:`crc16_reference` is the byte-table loop it was
checked against.
"""

from __future__ import annotations

from binascii import crc_hqx
from typing import Final


def _reverse_byte(b: int) -> int:
    return int(f"{b:08b}"[::-1], 2)


REVERSED: Final[bytes] = bytes(_reverse_byte(b) for b in range(256))


def _table() -> tuple[int, ...]:
    out = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        out.append(crc)
    return tuple(out)


_TABLE: Final[tuple[int, ...]] = _table()


def crc16(data: bytes | bytearray | memoryview) -> int:
    """CRC-16/X.25 of ``data`` as an integer (send ``crc & 0xFF`` first)."""
    plain = crc_hqx(bytes(data).translate(REVERSED), 0xFFFF)
    return (REVERSED[plain & 0xFF] << 8 | REVERSED[plain >> 8]) ^ 0xFFFF


def crc16_reference(data: bytes | bytearray | memoryview) -> int:
    """The same CRC by the reflected byte table (slow; for tests)."""
    crc = 0xFFFF
    for byte in bytes(data):
        crc = (crc >> 8) ^ _TABLE[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """The two CRC bytes as they travel (low byte first)."""
    return crc16(data).to_bytes(2, "little")
