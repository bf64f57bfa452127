"""Streaming frame decoder: bytes in, valid frames out, never raises, never blocks.

Feed it whatever the transport delivered — frames split anywhere, several frames in one
chunk, FE preambles, line noise, the echo of our own request (half-duplex RS-485
adapters hear themselves), truncated or corrupted frames. It returns only frames whose
envelope, HCS and FCS are valid, and keeps a record of what it threw away and why
(:class:`Discard`), with the same guarantees as :mod:`protocols.dlt645.stream`.

Resynchronisation: a candidate starts at a ``68``. Its header (68 L L C AF SA CA HCS,
at most 24 bytes) is checked as soon as it is in: an impossible L or a wrong HCS drops
the candidate at once, so a false start in noise never makes the decoder wait for a
phantom frame of up to 16 KiB. When a candidate proves bad (bad L, HCS, end byte or
FCS) only the bytes up to the *next* ``68`` are dropped and scanning resumes there, so
a real frame behind a false start or inside a truncated frame is still found.

The buffer is bounded: at most one incomplete candidate is kept between calls, and
``max_buffer`` caps it (a candidate whose L says it is longer is dropped as
``too_long``). A pending incomplete candidate is only resolved by more bytes; call
:meth:`StreamDecoder.flush` on a response timeout to drop it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from .address import address_from_wire
from .control import DIR_SERVER, SCRAMBLED
from .crc import crc16
from .frame import _SUB33, END, LENGTH_KILOBYTES, LENGTH_MASK, START, Frame

Accept = Literal["any", "replies", "requests"]

# Discard reasons.
NOISE: Final[str] = "noise"  # bytes before a start byte that are not FE preamble
BAD_LENGTH: Final[str] = "bad_length"  # L with the unit bit set, or shorter than the header
BAD_HCS: Final[str] = "bad_hcs"
BAD_END: Final[str] = "bad_end"  # the byte found from L is not 16
BAD_FCS: Final[str] = "bad_fcs"
TOO_LONG: Final[str] = "too_long"  # candidate would not fit in max_buffer
WRONG_DIRECTION: Final[str] = "wrong_direction"  # valid frame filtered out by ``accept``
FLUSHED: Final[str] = "flushed"  # incomplete bytes dropped by flush()

_SAMPLE: Final[int] = 32
_MIN_BUFFER: Final[int] = 64


@dataclass(frozen=True, slots=True)
class Discard:
    """Bytes the decoder dropped: why, how many, and the first few of them."""

    reason: str
    nbytes: int
    sample: bytes = b""


class StreamDecoder:
    """Incremental DL/T 698.45 frame decoder (sans-IO).

    ``max_buffer`` bounds the bytes held between calls (default 4096, minimum 64);
    ``max_discards`` bounds the kept :class:`Discard` records (oldest dropped first; the
    totals keep counting). ``accept`` filters frames by DIR: ``"replies"`` keeps frames
    sent by a server (DIR=1: responses, reports, link requests — what a client wants; the
    echo of its own request is dropped), ``"requests"`` frames sent by a client.
    """

    def __init__(
        self,
        max_buffer: int = 4096,
        *,
        max_discards: int = 256,
        accept: Accept = "any",
    ) -> None:
        if max_buffer < _MIN_BUFFER:
            raise ValueError(f"max_buffer must be at least {_MIN_BUFFER}, got {max_buffer}")
        self.max_buffer = max_buffer
        self.accept: Accept = accept
        self._buf = bytearray()
        self._discards: deque[Discard] = deque(maxlen=max_discards)
        self.discarded_bytes = 0
        self.discard_count = 0
        self.frames_decoded = 0
        self._noise_open = False

    # -- public API -------------------------------------------------------------------

    def feed(self, chunk: bytes | bytearray | memoryview) -> list[Frame]:
        """Add bytes; return every frame completed by them (possibly none)."""
        frames: list[Frame] = []
        data = memoryview(chunk).cast("B") if not isinstance(chunk, bytes) else chunk
        step = self.max_buffer
        for start in range(0, len(data), step):
            self._buf += data[start : start + step]
            self._process(frames)
        return frames

    @property
    def discards(self) -> tuple[Discard, ...]:
        """The kept discard records, oldest first (see :meth:`take_discards`)."""
        return tuple(self._discards)

    def take_discards(self) -> list[Discard]:
        """Return and forget the kept discard records."""
        out = list(self._discards)
        self._discards.clear()
        return out

    @property
    def pending(self) -> int:
        """Bytes held waiting for the rest of a frame."""
        return len(self._buf)

    def flush(self) -> None:
        """Drop any incomplete frame held (e.g. after a response timeout)."""
        if self._buf:
            self._discard(FLUSHED, bytes(self._buf))
            self._buf.clear()

    def reset(self) -> None:
        """Forget buffered bytes and discard records (counters are kept)."""
        self._buf.clear()
        self._discards.clear()

    # -- internals --------------------------------------------------------------------

    def _discard(self, reason: str, data: bytes | bytearray) -> None:
        last = self._discards[-1] if self._discards else None
        if reason == NOISE and self._noise_open and last is not None and last.reason == NOISE:
            sample = (last.sample + bytes(data[:_SAMPLE]))[:_SAMPLE]
            self._discards[-1] = Discard(NOISE, last.nbytes + len(data), sample)
        else:
            self._discards.append(Discard(reason, len(data), bytes(data[:_SAMPLE])))
            self.discard_count += 1
        self._noise_open = reason == NOISE
        self.discarded_bytes += len(data)

    def _process(self, out: list[Frame]) -> None:
        buf = self._buf
        n = len(buf)
        pos = 0
        while pos < n:
            i = buf.find(START, pos)
            if i < 0:
                self._drop_noise(buf[pos:n])
                pos = n
                break
            if i > pos:
                self._drop_noise(buf[pos:i])
                pos = i
                self._noise_open = False
            avail = n - i
            if avail < 5:
                break  # wait for L and the SA flag
            lfield = buf[i + 1] | buf[i + 2] << 8
            hlen = 9 + (buf[i + 4] & 0x0F)  # 68 .. HCS
            total = (lfield & LENGTH_MASK) + 2
            reason: str | None = None
            if lfield & LENGTH_KILOBYTES or total < hlen + 3:
                reason = BAD_LENGTH
            elif total > self.max_buffer:
                reason = TOO_LONG
            elif avail < hlen:
                break  # wait for the header
            elif crc16(buf[i + 1 : i + hlen - 2]) != buf[i + hlen - 2] | buf[i + hlen - 1] << 8:
                reason = BAD_HCS
            elif avail < total:
                break  # wait for the rest
            elif buf[i + total - 1] != END:
                reason = BAD_END
            elif crc16(buf[i + 1 : i + total - 3]) != buf[i + total - 3] | buf[i + total - 2] << 8:
                reason = BAD_FCS
            else:
                control = buf[i + 3]
                server, ca = address_from_wire(buf, i + 4)
                apdu = bytes(buf[i + hlen : i + total - 3])
                if control & SCRAMBLED:
                    apdu = apdu.translate(_SUB33)
                frame = Frame._trusted(control, server, buf[ca], apdu)
                end = i + total
                self._noise_open = False
                if self._wanted(control):
                    out.append(frame)
                    self.frames_decoded += 1
                else:
                    self._discard(WRONG_DIRECTION, buf[i:end])
                pos = end
                continue
            # A bad candidate: drop up to the next start byte and rescan from there.
            nxt = buf.find(START, i + 1)
            if nxt < 0:
                nxt = n
            self._discard(reason, buf[i:nxt])
            pos = nxt
        if pos:
            del buf[:pos]

    def _wanted(self, control: int) -> bool:
        if self.accept == "any":
            return True
        from_server = bool(control & DIR_SERVER)
        return from_server if self.accept == "replies" else not from_server

    def _drop_noise(self, chunk: bytearray) -> None:
        noise = chunk.rstrip(b"\xfe")
        if noise:
            self._discard(NOISE, noise)
