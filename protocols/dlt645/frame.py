"""One DL/T 645 frame (2007 and 1997 share the envelope) and its byte codec.

Wire layout::

    [FE]*0..4  68  A0 A1 A2 A3 A4 A5  68  C  L  D0 .. D(L-1)  CS  16
    preamble   |   address, low byte  |   |  |  DATA, each    |   end
    (not in    |   first (printed     |   |  |  byte + 0x33   |
     the CS)   |   000102030425 ->    |   |  length of DATA   sum of 68 .. D(L-1) mod 256
               |   25 04 03 02 01 00) |   control byte (see control.py)
               start                  second start

:class:`Frame` holds the *unscrambled* data (0x33 already removed) and the printed
address. The end of a frame is always found from ``L``, never by looking for ``16``:
a CS or DATA byte may itself be 0x16.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .address import BROADCAST, address_from_wire, address_to_wire, normalize_address
from .bcd import SCRAMBLE, UNSCRAMBLE
from .control import ABNORMAL, DIR_REPLY, FUNCTION_MASK, MORE_FOLLOWS
from .errors import FrameError, RequestError

START: Final[int] = 0x68
END: Final[int] = 0x16
PREAMBLE_BYTE: Final[int] = 0xFE
MAX_PREAMBLE: Final[int] = 4
HEADER_LEN: Final[int] = 10  # 68 A*6 68 C L
OVERHEAD: Final[int] = 12  # header + CS + 16
MAX_DATA: Final[int] = 255


@dataclass(frozen=True, slots=True)
class Frame:
    """A decoded frame: printed address, control byte, unscrambled data.

    ``address`` is 12 printed characters, high digit first, ``A`` for wildcard nibbles.
    """

    address: str
    control: int
    data: bytes = b""

    def __post_init__(self) -> None:
        object.__setattr__(self, "address", normalize_address(self.address))
        if not isinstance(self.control, int) or not 0 <= self.control <= 0xFF:
            raise RequestError(f"control byte {self.control!r} out of range 0..255")
        data = bytes(self.data)
        if len(data) > MAX_DATA:
            raise RequestError(f"frame data is {len(data)} bytes, at most {MAX_DATA} fit")
        object.__setattr__(self, "data", data)

    @classmethod
    def _trusted(cls, address: str, control: int, data: bytes) -> Frame:
        """Build without validation: for fields already checked by the wire decoder."""
        frame = object.__new__(cls)
        object.__setattr__(frame, "address", address)
        object.__setattr__(frame, "control", control)
        object.__setattr__(frame, "data", data)
        return frame

    @property
    def function(self) -> int:
        """Function code, D4..D0 of the control byte."""
        return self.control & FUNCTION_MASK

    @property
    def is_reply(self) -> bool:
        """D7: True for meter -> master."""
        return bool(self.control & DIR_REPLY)

    @property
    def is_error(self) -> bool:
        """D6: True for an abnormal (error) reply."""
        return bool(self.control & ABNORMAL)

    @property
    def more_follows(self) -> bool:
        """D5: True when subsequent frames follow."""
        return bool(self.control & MORE_FOLLOWS)

    @property
    def is_broadcast(self) -> bool:
        """Sent to ``999999999999``."""
        return self.address == BROADCAST

    @property
    def is_wildcard(self) -> bool:
        """The address holds at least one ``A`` wildcard nibble."""
        return "A" in self.address


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What :func:`inspect_frame` learnt about one frame, checksum verdict included."""

    frame: Frame
    preamble: int
    checksum: int  # as received
    expected_checksum: int  # as computed

    @property
    def checksum_ok(self) -> bool:
        return self.checksum == self.expected_checksum


def encode_frame(frame: Frame, preamble: int = 0) -> bytes:
    """Frame -> wire bytes, with ``preamble`` (0..4) FE wake-up bytes in front."""
    if not 0 <= preamble <= MAX_PREAMBLE:
        raise RequestError(f"preamble must be 0..{MAX_PREAMBLE} FE bytes, got {preamble}")
    body = (
        bytes((START,))
        + address_to_wire(frame.address)
        + bytes((START, frame.control, len(frame.data)))
        + frame.data.translate(SCRAMBLE)
    )
    return b"\xfe" * preamble + body + bytes((sum(body) & 0xFF, END))


def inspect_frame(wire: bytes | bytearray | memoryview) -> FrameInfo:
    """Parse exactly one frame (any number of leading FE allowed) without judging the CS.

    Raises :class:`FrameError` saying what is wrong and at which byte offset; a bad
    checksum is *not* raised here but reported in :attr:`FrameInfo.checksum_ok`.
    """
    raw = bytes(wire)
    pos = 0
    while pos < len(raw) and raw[pos] == PREAMBLE_BYTE:
        pos += 1
    if pos == len(raw):
        raise FrameError("no frame: empty input or only FE preamble bytes")
    if raw[pos] != START:
        raise FrameError(f"expected start byte 68 at offset {pos}, got {raw[pos]:02X}")
    if len(raw) - pos < OVERHEAD:
        raise FrameError(
            f"frame too short: {len(raw) - pos} bytes from offset {pos}, need at least 12"
        )
    if raw[pos + 7] != START:
        raise FrameError(
            f"expected second start byte 68 at offset {pos + 7}, got {raw[pos + 7]:02X}"
        )
    length = raw[pos + 9]
    end = pos + HEADER_LEN + length  # offset of CS
    if len(raw) < end + 2:
        raise FrameError(
            f"truncated frame: L={length} at offset {pos + 9} needs {OVERHEAD + length} "
            f"bytes from offset {pos}, got {len(raw) - pos}"
        )
    if raw[end + 1] != END:
        raise FrameError(f"expected end byte 16 at offset {end + 1}, got {raw[end + 1]:02X}")
    if len(raw) > end + 2:
        raise FrameError(
            f"{len(raw) - end - 2} unexpected bytes after the end byte at offset {end + 1}"
        )
    try:
        address = address_from_wire(raw[pos + 1 : pos + 7])
    except FrameError as exc:
        raise FrameError(f"{exc} at offset {pos + 1}") from exc
    frame = Frame._trusted(address, raw[pos + 8], raw[pos + HEADER_LEN : end].translate(UNSCRAMBLE))
    return FrameInfo(frame, pos, raw[end], sum(raw[pos:end]) & 0xFF)


def decode_frame(wire: bytes | bytearray | memoryview) -> Frame:
    """Wire bytes of exactly one frame -> :class:`Frame`; :class:`FrameError` if invalid."""
    info = inspect_frame(wire)
    if not info.checksum_ok:
        raise FrameError(
            f"bad checksum: got {info.checksum:02X}, computed {info.expected_checksum:02X}"
        )
    return info.frame
