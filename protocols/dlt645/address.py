"""Meter addresses: the printed form people use and the wire form frames carry.

A printed address is 12 characters, high digit first, as on the meter's nameplate:
``000102030425``. On the wire it is 6 bytes of packed BCD, **low byte first**:
``25 04 03 02 01 00``. Two special forms:

* ``A`` nibbles are wildcards (``AAAAAAAAAAAA`` reaches the only meter on a bus; a bus
  search narrows ``AAAAAAAAAA25``-style patterns digit by digit);
* ``999999999999`` is the broadcast address (broadcast time / freeze, no reply).
"""

from __future__ import annotations

from typing import Final

from .errors import FrameError, RequestError

BROADCAST: Final[str] = "999999999999"
WILDCARD: Final[str] = "AAAAAAAAAAAA"
_ALLOWED: Final[frozenset[str]] = frozenset("0123456789A")


def normalize_address(address: str) -> str:
    """Return the canonical 12-character printed address.

    Accepts upper or lower case and short addresses (zero-padded on the high side, as
    meters do); raises :class:`RequestError` for anything else.
    """
    if not isinstance(address, str):
        raise RequestError(f"address must be a string, got {type(address).__name__}")
    text = address.strip().upper()
    if not text or len(text) > 12 or not set(text) <= _ALLOWED:
        raise RequestError(f"bad meter address {address!r}: want up to 12 digits or 'A'")
    return text.rjust(12, "0")


def address_to_wire(address: str) -> bytes:
    """Printed address -> the 6 wire bytes (low byte first)."""
    return bytes.fromhex(normalize_address(address))[::-1]


def address_from_wire(wire: bytes | bytearray | memoryview) -> str:
    """6 wire bytes (low byte first) -> printed address; :class:`FrameError` if not BCD/A."""
    raw = bytes(wire)
    if len(raw) != 6:
        raise FrameError(f"address must be 6 bytes, got {len(raw)}")
    text = raw[::-1].hex().upper()
    if not set(text) <= _ALLOWED:
        raise FrameError(f"bad address bytes {raw.hex(' ').upper()} (not BCD or AA wildcard)")
    return text


def is_broadcast(address: str) -> bool:
    """True for the broadcast address ``999999999999``."""
    return normalize_address(address) == BROADCAST


def is_wildcard(address: str) -> bool:
    """True when the address contains at least one ``A`` wildcard nibble."""
    return "A" in normalize_address(address)


def address_matches(requested: str, own: str) -> bool:
    """Does a frame sent to ``requested`` reach the meter whose address is ``own``?

    ``A`` nibbles match any digit. The broadcast address matches too; the caller decides
    which functions may be broadcast (time, freeze) — a meter never answers a broadcast.
    """
    req = normalize_address(requested)
    mine = normalize_address(own)
    if req == BROADCAST:
        return True
    return all(r == "A" or r == m for r, m in zip(req, mine, strict=True))
