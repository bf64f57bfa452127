"""Link-layer fragmentation (分帧) of DL/T 698.45: cutting an APDU that does not fit the
peer's frame size into fragments, confirming them, and putting them back together.

A fragment travels in a frame with FRAG (control bit 5) set; its link user data begins
with the two-byte fragment format field, low byte first::

    bits 0-11   fragment sequence number (0..4095, the next one is +1, wrapping)
    bits 12-13  reserved, 0
    bits 14-15  type: 00 first, 01 last, 11 middle, 10 confirmation

followed by the fragment's APDU bytes. The receiver answers every fragment (the last one
too) with a confirmation: a frame of its own direction, FRAG set, whose user data is only
the fragment format field with type 10 and the sequence number it confirms; the sender
sends the next fragment when the confirmation of the previous one arrives. Scrambling
(SC), when set, covers the whole user data, fragment field included.

Source: DL/T 698.45-2017, link layer (分帧传输); the field layout and type codes are
cross-checked with public concentrator firmware (sequence = b0 | (b1 & 0x0F) << 8, type
= b1 >> 6 with 0 start, 1 end, 2 confirm, 3 middle), which also accepts a confirmation
whose FRAG bit is clear; :func:`fragment_of` does the same.

Everything here is sans-IO: :func:`split_apdu` (sender) gives the frames to send in
order, :func:`confirm_frame` the answer to one received fragment, and
:class:`Reassembler` (receiver) takes fragment frames and gives the whole APDU back, with
bounds on size and count so a hostile peer cannot make it hold unbounded memory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from .control import DIR_SERVER, FRAGMENT, PRM
from .errors import FrameError, RequestError
from .frame import Frame

FIRST: Final[int] = 0
LAST: Final[int] = 1
CONFIRM: Final[int] = 2
MIDDLE: Final[int] = 3
KIND_NAMES: Final[dict[int, str]] = {
    FIRST: "first",
    LAST: "last",
    CONFIRM: "confirmation",
    MIDDLE: "middle",
}
SEQ_MASK: Final[int] = 0x0FFF
RESERVED_MASK: Final[int] = 0x3000
#: default bounds of one reassembled APDU (a meter's record reply is a few kB)
MAX_APDU_BYTES: Final[int] = 64 * 1024
MAX_FRAGMENTS: Final[int] = 512


@dataclass(frozen=True, slots=True)
class Fragment:
    """One fragment's format field and bytes (``data`` is empty for a confirmation)."""

    seq: int
    kind: int
    data: bytes = b""

    @property
    def kind_name(self) -> str:
        return KIND_NAMES[self.kind]

    def field(self) -> bytes:
        """The two-byte fragment format field as it travels."""
        return (self.seq & SEQ_MASK | self.kind << 14).to_bytes(2, "little")


def is_confirmation(frame: Frame) -> bool:
    """True for a fragment confirmation (FRAG set or, as some firmware sends it, clear:
    then the user data is exactly a two-byte field of type 10)."""
    data = frame.apdu
    if len(data) != 2 or data[1] >> 6 != CONFIRM:
        return False
    return frame.fragmented or not (data[1] & (RESERVED_MASK >> 8))


def fragment_of(frame: Frame) -> Fragment:
    """The fragment a frame carries; :class:`FrameError` if it carries none or its
    fragment field is malformed."""
    if not frame.fragmented and not is_confirmation(frame):
        raise FrameError(f"control {frame.control:02X}: FRAG bit clear, not a fragment")
    data = frame.apdu
    if len(data) < 2:
        raise FrameError(
            f"fragment frame with {len(data)} bytes of user data: the 2-byte fragment "
            "format field is missing"
        )
    word = int.from_bytes(data[:2], "little")
    if word & RESERVED_MASK:
        raise FrameError(f"fragment format field {data[:2].hex(' ').upper()}: reserved bits set")
    kind = word >> 14
    rest = bytes(data[2:])
    if kind == CONFIRM and rest:
        raise FrameError(f"fragment confirmation carries {len(rest)} bytes of data")
    if kind != CONFIRM and not rest:
        raise FrameError(f"{KIND_NAMES[kind]} fragment {word & SEQ_MASK} carries no data")
    return Fragment(word & SEQ_MASK, kind, rest)


def split_apdu(template: Frame, apdu: bytes, part: int, first_seq: int = 0) -> list[Frame]:
    """The frames that carry ``apdu`` in pieces of at most ``part`` bytes, in sending
    order, each a copy of ``template`` (control, addresses) with FRAG set. An APDU that
    fits one piece gives one unfragmented frame."""
    if not isinstance(part, int) or part < 1:
        raise RequestError(f"fragment size must be a positive number of bytes, got {part!r}")
    if not 0 <= first_seq <= SEQ_MASK:
        raise RequestError(f"first fragment sequence {first_seq} out of range 0..{SEQ_MASK}")
    if len(apdu) <= part:
        return [Frame(template.control & ~FRAGMENT, template.server, template.client, apdu)]
    pieces = [apdu[i : i + part] for i in range(0, len(apdu), part)]
    if len(pieces) > MAX_FRAGMENTS:
        raise RequestError(
            f"APDU of {len(apdu)} bytes needs {len(pieces)} fragments of {part} bytes, "
            f"more than {MAX_FRAGMENTS}"
        )
    out = []
    for i, piece in enumerate(pieces):
        kind = FIRST if i == 0 else LAST if i == len(pieces) - 1 else MIDDLE
        frag = Fragment((first_seq + i) & SEQ_MASK, kind, piece)
        out.append(
            Frame(
                template.control | FRAGMENT,
                template.server,
                template.client,
                frag.field() + piece,
            )
        )
    return out


def confirm_frame(received: Frame) -> Frame:
    """The confirmation the receiver of fragment frame ``received`` sends back: the
    opposite direction, PRM as the exchange has it, FRAG set, type 10, same sequence."""
    frag = fragment_of(received)
    if frag.kind == CONFIRM:
        raise FrameError(f"fragment {frag.seq} is itself a confirmation: nothing to confirm")
    control = (received.control ^ DIR_SERVER) & (DIR_SERVER | PRM | 0x07) | FRAGMENT
    return Frame(control, received.server, received.client, Fragment(frag.seq, CONFIRM).field())


class Reassembler:
    """The receiving side: feed fragment frames in order; :meth:`feed` returns the whole
    APDU when the last fragment arrives, None before. A first fragment starts afresh; a
    middle or last one without a first, a sequence gap or repeat, a confirmation, a
    frame from another address or direction, or more than ``max_bytes`` / ``max_fragments``
    raise :class:`FrameError` (and the assembler is empty again)."""

    def __init__(self, max_bytes: int = MAX_APDU_BYTES, max_fragments: int = MAX_FRAGMENTS) -> None:
        if max_bytes < 1 or max_fragments < 2:
            raise RequestError("a reassembler needs room for at least two fragments")
        self.max_bytes = max_bytes
        self.max_fragments = max_fragments
        self._parts: list[bytes] = []
        self._size = 0
        self._next = 0
        self._origin: tuple[int, str, int] | None = None

    @property
    def pending(self) -> int:
        """Fragments held, waiting for the last one."""
        return len(self._parts)

    def reset(self) -> None:
        self._parts, self._size, self._origin = [], 0, None

    def feed(self, frame: Frame) -> bytes | None:
        frag = fragment_of(frame)
        origin = (frame.control & (DIR_SERVER | 0x07), frame.server.address, frame.client)
        try:
            if frag.kind == CONFIRM:
                raise FrameError(f"a confirmation (seq {frag.seq}) where a fragment was due")
            if frag.kind == FIRST:
                self.reset()
                self._origin = origin
            elif self._origin is None:
                raise FrameError(f"{frag.kind_name} fragment {frag.seq} without a first one")
            elif origin != self._origin:
                raise FrameError(
                    f"fragment {frag.seq} from {frame.server.address} (control "
                    f"{frame.control:02X}) interleaved with another sender's fragments"
                )
            elif frag.seq != self._next:
                raise FrameError(
                    f"fragment sequence {frag.seq} where {self._next} was due "
                    "(a fragment lost or repeated)"
                )
            if len(self._parts) + 1 > self.max_fragments:
                raise FrameError(f"more than {self.max_fragments} fragments in one APDU")
            if self._size + len(frag.data) > self.max_bytes:
                raise FrameError(f"reassembled APDU would exceed {self.max_bytes} bytes")
        except FrameError:
            self.reset()
            raise
        self._parts.append(frag.data)
        self._size += len(frag.data)
        self._next = (frag.seq + 1) & SEQ_MASK
        if frag.kind != LAST:
            return None
        whole = b"".join(self._parts)
        self.reset()
        return whole


def whole_frame(last: Frame, apdu: bytes) -> Frame:
    """The unfragmented frame a reassembled APDU stands for (the last fragment's header,
    FRAG cleared), so the ordinary reply and request parsers take it."""
    return Frame(last.control & ~FRAGMENT, last.server, last.client, apdu)
