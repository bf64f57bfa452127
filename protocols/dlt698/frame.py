"""One DL/T 698.45 link frame and its byte codec.

Wire layout::

    [FE]*  68  L0 L1  C  AF A0..A(n-1)  CA  HCS0 HCS1  APDU ...  FCS0 FCS1  16
    wake-  |   |      |  |              |   CRC-16/X.25 over     CRC-16/X.25 over
    up     |   |      |  server address |   L0 .. CA             L0 .. end of APDU
           |   |      |  (address.py)   client address (1 byte)  (low byte first)
           |   |      control byte (control.py): DIR PRM FRAG . SC FUNC
           |   L: bits 0-13 = bytes from L0 to FCS1 (all but 68 and 16), bit 14 = unit
           start (kilobytes; not supported here), bit 15 reserved

:class:`Frame` holds the APDU as the application layer sees it (the 0x33 scrambling of
SC=1 frames already removed). The end of a frame is always found from ``L``, never by
looking for ``16``. HCS and FCS are judged separately so that a tool can show both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .address import ServerAddress, address_from_wire, as_address
from .control import DIR_SERVER, FRAGMENT, FUNCTION_MASK, PRM, SCRAMBLED
from .crc import crc16
from .errors import FrameError, RequestError

START: Final[int] = 0x68
END: Final[int] = 0x16
PREAMBLE_BYTE: Final[int] = 0xFE
MAX_PREAMBLE: Final[int] = 4
LENGTH_MASK: Final[int] = 0x3FFF
LENGTH_KILOBYTES: Final[int] = 0x4000
MIN_FRAME: Final[int] = 12  # 68 L L C AF A CA HCS HCS FCS FCS 16, empty APDU
MAX_FRAME: Final[int] = LENGTH_MASK + 2

_ADD33: Final[bytes] = bytes((i + 0x33) & 0xFF for i in range(256))
_SUB33: Final[bytes] = bytes((i - 0x33) & 0xFF for i in range(256))


@dataclass(frozen=True, slots=True)
class Frame:
    """A link frame: control byte, server address, client address, APDU bytes."""

    control: int
    server: ServerAddress
    client: int
    apdu: bytes = b""

    def __post_init__(self) -> None:
        if not isinstance(self.control, int) or not 0 <= self.control <= 0xFF:
            raise RequestError(f"control byte {self.control!r} out of range 0..255")
        object.__setattr__(self, "server", as_address(self.server))
        if not isinstance(self.client, int) or not 0 <= self.client <= 0xFF:
            raise RequestError(f"client address {self.client!r} out of range 0..255")
        object.__setattr__(self, "apdu", bytes(self.apdu))
        if 8 + self.server.nbytes + len(self.apdu) + 2 > LENGTH_MASK:
            raise RequestError(f"APDU of {len(self.apdu)} bytes does not fit one frame")

    @classmethod
    def _trusted(cls, control: int, server: ServerAddress, client: int, apdu: bytes) -> Frame:
        frame = object.__new__(cls)
        object.__setattr__(frame, "control", control)
        object.__setattr__(frame, "server", server)
        object.__setattr__(frame, "client", client)
        object.__setattr__(frame, "apdu", apdu)
        return frame

    @property
    def from_server(self) -> bool:
        """DIR (bit 7): True for server -> client."""
        return bool(self.control & DIR_SERVER)

    @property
    def prm(self) -> bool:
        """PRM (bit 6): True when the exchange was started by the client."""
        return bool(self.control & PRM)

    @property
    def fragmented(self) -> bool:
        return bool(self.control & FRAGMENT)

    @property
    def scrambled(self) -> bool:
        return bool(self.control & SCRAMBLED)

    @property
    def function(self) -> int:
        """Function code (bits 0-2): 1 link management, 3 user data."""
        return self.control & FUNCTION_MASK

    @property
    def direction(self) -> str:
        return "server->client" if self.from_server else "client->server"


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """What :func:`inspect_frame` learnt about one frame, CRC verdicts included."""

    frame: Frame
    preamble: int
    hcs_ok: bool
    fcs_ok: bool

    @property
    def crc_ok(self) -> bool:
        return self.hcs_ok and self.fcs_ok


def encode_frame(frame: Frame, preamble: int = 0) -> bytes:
    """Frame -> wire bytes, with ``preamble`` (0..4) FE wake-up bytes in front."""
    if not 0 <= preamble <= MAX_PREAMBLE:
        raise RequestError(f"preamble must be 0..{MAX_PREAMBLE} FE bytes, got {preamble}")
    sa = frame.server.to_wire()
    apdu = frame.apdu.translate(_ADD33) if frame.scrambled else frame.apdu
    length = 2 + 1 + len(sa) + 1 + 2 + len(apdu) + 2
    head = length.to_bytes(2, "little") + bytes((frame.control,)) + sa + bytes((frame.client,))
    head += crc16(head).to_bytes(2, "little")
    body = head + apdu
    return b"\xfe" * preamble + b"\x68" + body + crc16(body).to_bytes(2, "little") + b"\x16"


def header_length(raw: bytes | bytearray | memoryview, pos: int) -> int:
    """Bytes from the 68 at ``pos`` through HCS (needs raw[pos + 4], the SA flag)."""
    return 8 + (raw[pos + 4] & 0x0F) + 1


def inspect_frame(wire: bytes | bytearray | memoryview) -> FrameInfo:
    """Parse exactly one frame (leading FE allowed) without judging HCS/FCS.

    Raises :class:`FrameError` saying what is wrong and at which byte offset; bad CRCs
    are *not* raised here but reported in :attr:`FrameInfo.hcs_ok` / ``fcs_ok``.
    """
    raw = bytes(wire)
    pos = 0
    while pos < len(raw) and raw[pos] == PREAMBLE_BYTE:
        pos += 1
    if pos == len(raw):
        raise FrameError("no frame: empty input or only FE preamble bytes")
    if raw[pos] != START:
        raise FrameError(f"expected start byte 68 at offset {pos}, got {raw[pos]:02X}")
    if len(raw) - pos < MIN_FRAME:
        raise FrameError(
            f"frame too short: {len(raw) - pos} bytes from offset {pos}, need at least {MIN_FRAME}"
        )
    lfield = raw[pos + 1] | raw[pos + 2] << 8
    if lfield & LENGTH_KILOBYTES:
        raise FrameError(f"length unit bit (kilobytes) set in L={lfield:04X} at offset {pos + 1}")
    length = lfield & LENGTH_MASK
    total = length + 2
    hlen = header_length(raw, pos)
    if total < hlen + 3:
        raise FrameError(
            f"L={length} at offset {pos + 1} is shorter than the header of {hlen - 1} bytes "
            "plus FCS"
        )
    if len(raw) - pos < total:
        raise FrameError(
            f"truncated frame: L={length} at offset {pos + 1} needs {total} bytes from "
            f"offset {pos}, got {len(raw) - pos}"
        )
    end = pos + total - 1
    if raw[end] != END:
        raise FrameError(f"expected end byte 16 at offset {end}, got {raw[end]:02X}")
    if len(raw) > end + 1:
        raise FrameError(
            f"{len(raw) - end - 1} unexpected bytes after the end byte at offset {end}"
        )
    control = raw[pos + 3]
    server, ca_pos = address_from_wire(raw, pos + 4)
    client = raw[ca_pos]
    hcs_pos = ca_pos + 1
    hcs_ok = crc16(raw[pos + 1 : hcs_pos]) == int.from_bytes(raw[hcs_pos : hcs_pos + 2], "little")
    fcs_ok = crc16(raw[pos + 1 : end - 2]) == int.from_bytes(raw[end - 2 : end], "little")
    apdu = raw[hcs_pos + 2 : end - 2]
    if control & SCRAMBLED:
        apdu = apdu.translate(_SUB33)
    return FrameInfo(Frame._trusted(control, server, client, apdu), pos, hcs_ok, fcs_ok)


def decode_frame(wire: bytes | bytearray | memoryview) -> Frame:
    """Wire bytes of exactly one frame -> :class:`Frame`; :class:`FrameError` if invalid."""
    info = inspect_frame(wire)
    if not info.hcs_ok:
        raise FrameError("bad header check sequence (HCS)")
    if not info.fcs_ok:
        raise FrameError("bad frame check sequence (FCS)")
    return info.frame


def apdu_offset(frame: Frame) -> int:
    """Offset of the APDU's first byte in the frame's wire bytes (no preamble): 68, L L,
    C, the SA flag and its bytes, CA, HCS HCS."""
    return 8 + frame.server.nbytes


def build_frame(
    control: int,
    server: ServerAddress | str,
    client: int,
    apdu: bytes,
    preamble: int = 0,
) -> bytes:
    """Control byte + addresses + APDU bytes -> wire bytes (the roles' one helper)."""
    return encode_frame(Frame(control, as_address(server), client, apdu), preamble)
