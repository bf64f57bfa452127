"""CRC-16/X.25 (FCS16 of RFC 1662), the HCS and FCS of every DL/T 698.45 frame.

Parameters: poly 0x1021 reflected (0x8408), init 0xFFFF, refin/refout, xorout 0xFFFF;
check value ``crc16(b"123456789") == 0x906E``. On the wire it travels low byte first.
"""

from __future__ import annotations

from typing import Final


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
    crc = 0xFFFF
    table = _TABLE
    for byte in bytes(data):
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc ^ 0xFFFF


def crc_bytes(data: bytes | bytearray | memoryview) -> bytes:
    """The two CRC bytes as they travel (low byte first)."""
    return crc16(data).to_bytes(2, "little")
