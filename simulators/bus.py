"""One simulated RS-485 line: many meters, one request at a time, the wire's rules.

Rules applied here (the DL/T 645 and 698.45 reference notes and ordinary RS-485 behaviour):

* DL/T 645 and DL/T 698.45 meters share the line: a request frame of either family is
  offered to the meters whose address it matches (``A`` nibbles are wildcards; the
  responder decides whether the meter speaks that family, and stays silent if not);
* a broadcast (645 ``999999999999``, 698.45 address type 3) is acted on by every meter and
  answered by none;
* when several meters answer, their replies go out at the same time and collide: the
  line carries the XOR of the frames (longest length), which no decoder accepts;
* communication faults (dead, intermittent, slow, bad checksum, wrong address) act
  here, between the meter's responder and the wire.

The bus is sans-IO like the codec: endpoints (``simulators.endpoints``) feed it decoded
request frames and put the returned bytes on their transport after the delay it says, then
tell it when the last byte left (:meth:`Bus.sent`): only then is a clean reply reported to
:attr:`Bus.on_clean_reply`, with the time the request came in and the time the reply was
out, so a test's ground truth can judge whether a gateway waiting a given time got it.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from protocols import dlt698
from protocols.dlt645.address import address_matches
from protocols.dlt645.frame import Frame, decode_frame, encode_frame
from protocols.line import LineFrame, is_dlt698
from simulators.clock import VirtualClock
from simulators.meter import SimMeter

#: (meter, request frame of either family, simulated now) -> reply bytes or None
Responder = Callable[[SimMeter, LineFrame, datetime], bytes | None]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReplyTiming:
    """When a reply crossed the simulator's transport (``time.monotonic()`` seconds): the
    request's first byte read (``received_at``) and the reply's last byte handed to the
    transport (``written_at``: the pty or socket has it, the gateway can read it). Both are
    taken once the read or write call returned, so they err late: ``took_s`` may be short
    by the time the request waited before the simulator read it (the gateway's own wait
    starts at its write), and long by the moment after the write returned."""

    received_at: float
    written_at: float

    @property
    def took_s(self) -> float:
        """What the simulator spent between the request and its reply's last byte."""
        return self.written_at - self.received_at


@dataclass(frozen=True)
class CleanReply:
    """A reply as its meter made it (alone, no slow or wire fault), to the request ``frame``
    at the simulated ``now``: what :attr:`Bus.on_clean_reply` reports once it is sent."""

    meter: SimMeter
    frame: LineFrame
    now: datetime


#: ``hook(meter, request frame, simulated now, timing)`` of a clean reply once it is sent
CleanReplyHook = Callable[[SimMeter, LineFrame, datetime, ReplyTiming], None]


@dataclass(frozen=True)
class BusReply:
    """What goes on the wire after a request: ``data`` (may be empty) after ``delay_s``."""

    data: bytes
    delay_s: float  # extra delay on top of the bus turnaround (a "slow" meter)
    answered_by: tuple[str, ...]  # archive ids whose replies are in ``data``
    collided: bool = False
    clean: CleanReply | None = None  # set when ``data`` is one meter's reply as it made it


class Bus:
    """Meters sharing one line. Thread-safe: one request is handled at a time."""

    def __init__(
        self,
        name: str,
        meters: Sequence[SimMeter],
        clock: VirtualClock,
        responder: Responder,
        *,
        seed: int = 0,
    ) -> None:
        self.name = name
        self.meters = list(meters)
        self.clock = clock
        self._responder = responder
        self._rng = random.Random(f"{seed}/{name}")
        self._lock = threading.Lock()
        self.requests = 0
        self.replies = 0
        self.collisions = 0
        #: called with (meter, request, now, :class:`ReplyTiming`) for every reply that went
        #: on the line as the meter made it (alone, no slow meter, no wire fault), once its
        #: endpoint wrote its last byte (:meth:`sent`); the timing says whether a gateway
        #: waiting its reply timeout can have got it (a test's delivery log)
        self.on_clean_reply: CleanReplyHook | None = None

    def wait_handled(self, requests: int, timeout_s: float) -> bool:
        """Wait until this bus has handled ``requests`` request frames in all (the last one
        finished, its effects on the meters made); False if ``timeout_s`` passed first.
        A test that moves the simulated clock calls it with the number of frames the
        gateway wrote, so a broadcast the gateway sent (no reply to wait for) is acted on
        at the time it was sent, not after the clock jumped."""
        deadline = time.monotonic() + timeout_s
        while self.requests < requests:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.001)
        with self._lock:  # a frame being handled finishes first
            return True

    def matching(self, address: str | dlt698.ServerAddress, now: datetime) -> list[SimMeter]:
        if isinstance(address, dlt698.ServerAddress):
            return [m for m in self.meters if address.matches(m.address_at(now))]
        return [m for m in self.meters if address_matches(address, m.address_at(now))]

    def handle(self, frame: LineFrame) -> BusReply:
        """Dispatch one decoded request frame; returns what the line carries back."""
        with self._lock:
            self.requests += 1
            now = self.clock.now()
            if is_dlt698(frame):
                targets = self.matching(frame.server, now)
                broadcast = frame.server.type == dlt698.BROADCAST
            else:
                assert isinstance(frame, Frame)
                targets = self.matching(frame.address, now)
                broadcast = frame.is_broadcast
            replies: list[tuple[SimMeter, bytes, bool]] = []  # (meter, reply, clean)
            delay = 0.0
            for meter in targets:
                if meter.active_fault("dead", now):
                    continue
                drop = meter.active_fault("intermittent", now)
                if drop and self._rng.random() < drop.params["drop_rate"]:
                    continue
                try:
                    reply = self._responder(meter, frame, now)
                except Exception:  # one meter's bug must not take the whole bus down
                    log.exception("meter %s failed to answer %s", meter.archive_id, frame)
                    continue
                if reply is None or broadcast:
                    continue  # broadcasts are acted on, never answered
                faulty = _apply_wire_faults(meter, reply, now)
                slow = meter.active_fault("slow", now)
                if slow:
                    delay = max(delay, float(slow.params["delay_s"]))
                replies.append((meter, faulty, faulty == reply))
            if not replies:
                return BusReply(b"", 0.0, ())
            self.replies += 1
            ids = tuple(m.archive_id for m, _, _ in replies)
            if len(replies) == 1:
                meter, data, clean = replies[0]
                record = CleanReply(meter, frame, now) if clean and delay == 0 else None
                return BusReply(data, delay, ids, clean=record)
            self.collisions += 1
            return BusReply(collide([r for _, r, _ in replies]), delay, ids, collided=True)

    def sent(self, reply: BusReply, received_at: float, written_at: float) -> None:
        """An endpoint wrote ``reply`` (from :meth:`handle`) completely: the request's first
        byte was read at ``received_at``, the reply's last byte written at ``written_at``
        (``time.monotonic()``). Reports a clean reply to :attr:`on_clean_reply`."""
        if written_at < received_at:
            raise ValueError(
                f"bus {self.name}: reply written at {written_at} before its request "
                f"arrived at {received_at}"
            )
        hook = self.on_clean_reply
        if reply.clean is not None and hook is not None:
            c = reply.clean
            hook(c.meter, c.frame, c.now, ReplyTiming(received_at, written_at))


def collide(frames: Sequence[bytes]) -> bytes:
    """Several transmitters on one pair at once: the receiver sees garbage.

    Modelled as the bytewise XOR of the frames aligned at their first byte, over the
    longest length. Same-position bytes that agree (the 68 start bytes) cancel, so the
    result never carries a valid envelope.
    """
    size = max(len(f) for f in frames)
    out = bytearray(size)
    for f in frames:
        for i, b in enumerate(f):
            out[i] ^= b
    return bytes(out)


def _apply_wire_faults(meter: SimMeter, reply: bytes, now: datetime) -> bytes:
    wrong = meter.active_fault("wrong_address", now)
    if wrong:
        preamble = len(reply) - len(reply.lstrip(b"\xfe"))
        other = str(wrong.params["reply_address"])
        if meter.spec.protocol == "dlt698":
            f698 = dlt698.decode_frame(reply)
            reply = dlt698.encode_frame(
                dlt698.Frame(f698.control, dlt698.ServerAddress(other), f698.client, f698.apdu),
                preamble,
            )
        else:
            frame = decode_frame(reply)
            reply = encode_frame(Frame(other, frame.control, frame.data), preamble)
    if meter.active_fault("bad_checksum", now):
        reply = reply[:-2] + bytes(((reply[-2] + 1) & 0xFF,)) + reply[-1:]
    return reply
