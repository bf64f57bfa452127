"""Server addresses (SA) and the TSA data type: flag byte + BCD address, low byte first.

Wire layout of an SA (the TSA datum is the same bytes behind an A-XDR length)::

    AF            A0 A1 ... A(n-1)
    |             address bytes, low byte first: printed 000000000001 -> 01 00 00 00 00 00
    bits 7-6  address type: 0 single, 1 wildcard, 2 group, 3 broadcast
    bits 5-4  logical address (0..3)
    bits 3-0  address length n - 1 (1..16 bytes)

Examples: ``05 01 00 00 00 00 00`` = single 000000000001; ``45 AA AA AA AA AA AA`` =
wildcard AAAAAAAAAAAA (every nibble ``A`` matches any digit); ``C0 AA`` = broadcast AA.
Addresses print high byte first, two hex digits a byte (``A`` for a wildcard nibble),
exactly as the standard prints them. The 2017 edition also defines an *extended*
logical address (bit 5 set, one more byte); like the issue, this codec reads bits 5-4
as the logical address and keeps every address byte in ``address``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .errors import FrameError, RequestError

SINGLE: Final[int] = 0
WILDCARD: Final[int] = 1
GROUP: Final[int] = 2
BROADCAST: Final[int] = 3
TYPE_NAMES: Final[dict[int, str]] = {0: "single", 1: "wildcard", 2: "group", 3: "broadcast"}

_HEX: Final[frozenset[str]] = frozenset("0123456789ABCDEF")


@dataclass(frozen=True, slots=True)
class ServerAddress:
    """A server address: printed digits (high byte first), type 0..3, logical 0..3."""

    address: str
    type: int = SINGLE
    logical: int = 0

    def __post_init__(self) -> None:
        text = "".join(str(self.address).split()).upper()
        if not text or len(text) % 2 or len(text) > 32 or not set(text) <= _HEX:
            raise RequestError(
                f"server address {self.address!r} must be 2..32 hex digits, an even number"
            )
        if self.type not in TYPE_NAMES:
            raise RequestError(f"address type {self.type!r} must be 0..3")
        if not isinstance(self.logical, int) or not 0 <= self.logical <= 3:
            raise RequestError(f"logical address {self.logical!r} must be 0..3")
        object.__setattr__(self, "address", text)

    @classmethod
    def single(cls, address: str, logical: int = 0) -> ServerAddress:
        return cls(address, SINGLE, logical)

    @classmethod
    def wildcard(cls, address: str = "AAAAAAAAAAAA", logical: int = 0) -> ServerAddress:
        return cls(address, WILDCARD, logical)

    @classmethod
    def broadcast(cls, address: str = "AA", logical: int = 0) -> ServerAddress:
        return cls(address, BROADCAST, logical)

    @classmethod
    def group(cls, address: str, logical: int = 0) -> ServerAddress:
        return cls(address, GROUP, logical)

    @property
    def type_name(self) -> str:
        return TYPE_NAMES[self.type]

    @property
    def nbytes(self) -> int:
        return len(self.address) // 2

    def to_wire(self) -> bytes:
        """Flag byte + address bytes, low byte first."""
        flag = (self.type << 6) | (self.logical << 4) | (self.nbytes - 1)
        return bytes((flag,)) + bytes.fromhex(self.address)[::-1]

    def matches(self, own: str) -> bool:
        """Whether a frame to this address is for a meter whose address is ``own``.

        Single: equal digits; wildcard: equal where this address is not ``A``; broadcast:
        always; group: never (group membership is configuration, not address digits).
        """
        own = own.upper()
        if self.type == BROADCAST:
            return True
        if self.type == GROUP:
            return False
        if len(own) != len(self.address):
            return False
        if self.type == SINGLE:
            return own == self.address
        return all(a in ("A", b) for a, b in zip(self.address, own, strict=True))

    def as_json(self) -> dict[str, object]:
        return {"type": self.type, "logical": self.logical, "address": self.address}


def address_from_wire(
    raw: bytes | bytearray | memoryview, pos: int = 0
) -> tuple[ServerAddress, int]:
    """Decode an SA starting at ``raw[pos]`` (the flag byte) -> (address, next offset)."""
    if pos >= len(raw):
        raise FrameError(f"server address flag missing at offset {pos}")
    flag = raw[pos]
    n = (flag & 0x0F) + 1
    if pos + 1 + n > len(raw):
        raise FrameError(
            f"server address at offset {pos} says {n} bytes, only {len(raw) - pos - 1} follow"
        )
    digits = bytes(raw[pos + 1 : pos + 1 + n])[::-1].hex().upper()
    sa = object.__new__(ServerAddress)
    object.__setattr__(sa, "address", digits)
    object.__setattr__(sa, "type", flag >> 6)
    object.__setattr__(sa, "logical", (flag >> 4) & 0x03)
    return sa, pos + 1 + n


def as_address(value: ServerAddress | str) -> ServerAddress:
    """A printed address (single, or wildcard when it holds ``A`` nibbles) or an SA."""
    if isinstance(value, ServerAddress):
        return value
    text = "".join(str(value).split()).upper()
    if set(text) == {"A"} and len(text) == 2:
        return ServerAddress(text, BROADCAST)
    return ServerAddress(text, WILDCARD if "A" in text else SINGLE)
