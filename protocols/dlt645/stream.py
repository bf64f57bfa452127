"""Streaming frame decoder: bytes in, valid frames out, never raises, never blocks.

Feed it whatever the transport delivered — frames split anywhere, several frames in
one chunk, FE preambles, line noise, the echo of our own request (half-duplex RS-485
adapters hear themselves), truncated or corrupted frames. It returns only frames whose
envelope, address and checksum are valid, and keeps a record of what it threw away and
why (:class:`Discard`).

Resynchronisation: a candidate starts at a ``68``; when it proves bad (no second ``68``
at +7, wrong end byte, wrong checksum, bad address) only the bytes up to the *next*
``68`` are dropped and scanning resumes there, so a real frame hiding behind a false
start or inside a truncated frame is still found. The frame end is always taken from
``L``; 0x16 bytes inside DATA or as CS do not matter.

The buffer is bounded: at most one incomplete candidate (<= 12 + 255 bytes) is kept
between calls, and ``max_buffer`` caps it (a candidate longer than that is dropped as
``too_long``). A pending incomplete candidate is only resolved by more bytes; call
:meth:`StreamDecoder.flush` on a response timeout to drop it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Final, Literal

from .address import address_from_wire
from .bcd import UNSCRAMBLE
from .errors import FrameError
from .frame import END, HEADER_LEN, OVERHEAD, START, Frame

Accept = Literal["any", "replies", "requests"]

# Discard reasons.
NOISE: Final[str] = "noise"  # bytes before a start byte that are not FE preamble
BAD_HEADER: Final[str] = "bad_header"  # a 68 without a second 68 seven bytes later
BAD_END: Final[str] = "bad_end"  # the byte found from L is not 16
BAD_CHECKSUM: Final[str] = "bad_checksum"
BAD_ADDRESS: Final[str] = "bad_address"  # address bytes neither BCD nor AA wildcard
TOO_LONG: Final[str] = "too_long"  # candidate would not fit in max_buffer
WRONG_DIRECTION: Final[str] = "wrong_direction"  # valid frame filtered out by ``accept``
FLUSHED: Final[str] = "flushed"  # incomplete bytes dropped by flush()

_SAMPLE: Final[int] = 32
_ADDRESS_CACHE_MAX: Final[int] = 4096
_MIN_BUFFER: Final[int] = 64


@dataclass(frozen=True, slots=True)
class Discard:
    """Bytes the decoder dropped: why, how many, and the first few of them."""

    reason: str
    nbytes: int
    sample: bytes = b""


class StreamDecoder:
    """Incremental DL/T 645 frame decoder (sans-IO).

    ``max_buffer`` bounds the bytes held between calls (default 4096, minimum 64);
    ``max_discards`` bounds the kept :class:`Discard` records (oldest dropped first;
    the totals in :attr:`discarded_bytes` keep counting). ``accept`` filters frames
    by direction: ``"replies"`` for a master (drops the echo of its own request),
    ``"requests"`` for a simulated meter.
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
        self._addresses: dict[bytes, str] = {}
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
            # Noise arriving in small chunks is one run, not one record per chunk.
            sample = (last.sample + bytes(data[:_SAMPLE]))[:_SAMPLE]
            self._discards[-1] = Discard(NOISE, last.nbytes + len(data), sample)
        else:
            self._discards.append(Discard(reason, len(data), bytes(data[:_SAMPLE])))
            self.discard_count += 1
        self._noise_open = reason == NOISE
        self.discarded_bytes += len(data)

    def _address(self, wire: bytes) -> str:
        cached = self._addresses.get(wire)
        if cached is None:
            cached = address_from_wire(wire)  # may raise FrameError
            if len(self._addresses) >= _ADDRESS_CACHE_MAX:
                self._addresses.clear()
            self._addresses[wire] = cached
        return cached

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
            reason: str | None = None
            if avail > 7 and buf[i + 7] != START:
                reason = BAD_HEADER
            elif avail < HEADER_LEN:
                break  # wait for the header
            else:
                total = OVERHEAD + buf[i + 9]
                if total > self.max_buffer:
                    reason = TOO_LONG
                elif avail < total:
                    break  # wait for the rest
                elif buf[i + total - 1] != END:
                    reason = BAD_END
                elif sum(buf[i : i + total - 2]) & 0xFF != buf[i + total - 2]:
                    reason = BAD_CHECKSUM
                else:
                    try:
                        address = self._address(bytes(buf[i + 1 : i + 7]))
                    except FrameError:
                        reason = BAD_ADDRESS
                    else:
                        control = buf[i + 8]
                        frame = Frame._trusted(
                            address,
                            control,
                            bytes(buf[i + HEADER_LEN : i + total - 2]).translate(UNSCRAMBLE),
                        )
                        pos = i + total
                        self._noise_open = False
                        if self._wanted(control):
                            out.append(frame)
                            self.frames_decoded += 1
                        else:
                            self._discard(WRONG_DIRECTION, buf[i:pos])
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
        is_reply = bool(control & 0x80)
        return is_reply if self.accept == "replies" else not is_reply

    def _drop_noise(self, chunk: bytearray) -> None:
        # FE bytes right before a start byte are preamble, not noise.
        noise = chunk.rstrip(b"\xfe")
        if noise:
            self._discard(NOISE, noise)
