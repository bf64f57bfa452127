"""One RS-485 pair, two protocol families: DL/T 645 and DL/T 698.45 frames on one line.

Both families begin a frame with ``68`` and may be preceded by ``FE`` bytes, and a
district's bus carries old 645 meters next to new 698.45 ones, so whoever listens to the
whole line (a simulated bus, an in-memory test line) runs both streaming decoders over
the same bytes. Each decoder takes the other family's frames for noise and resynchronises
at the next ``68`` (the 698.45 decoder checks its header CRC as soon as the header is in,
so a 645 frame never makes it wait for a phantom frame).

:class:`LineDecoder` returns the frames of both, as ``dlt645.Frame`` or ``dlt698.Frame``
objects; :func:`is_dlt698` tells them apart. Sans-IO, stdlib only.
"""

from __future__ import annotations

from typing import Literal, TypeGuard

from protocols import dlt645, dlt698

LineFrame = dlt645.Frame | dlt698.Frame
Accept = Literal["any", "replies", "requests"]


def is_dlt698(frame: LineFrame) -> TypeGuard[dlt698.Frame]:
    return isinstance(frame, dlt698.Frame)


def _ends(chunk: bytes, frame: bytes) -> bool:
    """Whether ``frame`` ends exactly where ``chunk`` ends (the chunk may hold only its
    tail, or more before it)."""
    return chunk.endswith(frame) or frame.endswith(chunk)


class LineDecoder:
    """Both families' streaming decoders over one byte stream (same ``accept`` filter)."""

    def __init__(self, *, accept: Accept = "any", max_buffer: int = 4096) -> None:
        self.dlt645 = dlt645.StreamDecoder(accept=accept)
        self.dlt698 = dlt698.StreamDecoder(max_buffer, accept=accept)

    def feed(self, chunk: bytes) -> list[LineFrame]:
        """Every frame completed by ``chunk``, 645 ones first (one request is on the line
        at a time, so the order within a chunk does not arise on a working bus)."""
        out: list[LineFrame] = []
        f645 = self.dlt645.feed(chunk)
        f698 = self.dlt698.feed(chunk)
        # a frame of one family that ends the bytes so far: whatever the other decoder still
        # holds began inside it (a 68 within it), so it is no frame of the other family
        # (one frame is on the line at a time); dropping it keeps ``pending`` honest
        if f645 and _ends(bytes(chunk), dlt645.encode_frame(f645[-1])):
            self.dlt698.flush()
        if f698 and _ends(bytes(chunk), dlt698.encode_frame(f698[-1])):
            self.dlt645.flush()
        out.extend(f645)
        out.extend(f698)
        return out

    @property
    def pending(self) -> int:
        """Bytes either decoder holds waiting for the rest of a frame."""
        return max(self.dlt645.pending, self.dlt698.pending)

    def flush(self) -> None:
        self.dlt645.flush()
        self.dlt698.flush()
