"""Byte channels to a bus: a serial device, a TCP serial server (``socket://``), or an
in-memory line for tests.

:class:`Transport` is the shape a DL/T 645 reader and discovery need: write bytes, read what
has arrived, count what happened on the line. :func:`transact` is the one request/reply
exchange over any transport: it writes a request and collects the reply through a
:class:`~protocols.dlt645.StreamDecoder`, dropping line noise and the echo of our own request;
:func:`transact_698` is the same exchange for a DL/T 698.45 request (its decoder).

- :class:`SerialTransport`: pyserial, one per physical port; only its bus worker uses it, so
  there is never more than one transaction on a line.
- :class:`MemoryTransport`: a line without a port (as pymodbus's NullModem): every request
  frame written (DL/T 645 or 698.45: :class:`protocols.line.LineDecoder`) is handed to an
  ``answer`` function (in tests, the simulators' bus with its responders) and its bytes are
  what the next reads return. No pty, no socket.

This module does not know what a meter is: codes and addresses are the readers' business.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import serial

from protocols import dlt698
from protocols.dlt645 import Frame, StreamDecoder
from protocols.line import LineDecoder, LineFrame


class TransportError(OSError):
    """The port cannot be opened or the line failed (not a meter's fault)."""


class ReadTimeout(TimeoutError):
    """No valid reply within the timeout."""


@dataclass
class LineStats:
    transactions: int = 0
    timeouts: int = 0
    checksum_errors: int = 0


class Transport(Protocol):
    """A byte channel to one bus."""

    stats: LineStats

    def write(self, data: bytes) -> None:
        """Send ``data``, dropping whatever unread bytes the line holds."""
        ...

    def read(self, size: int = 512) -> bytes:
        """What has arrived (up to ``size`` bytes), after a short wait; b"" if nothing."""
        ...

    def close(self) -> None: ...


def transact(
    line: Transport, request: bytes, timeout_s: float, *, expect_reply: bool = True
) -> Frame | None:
    """Send ``request``; return the first valid reply frame, or raise :class:`ReadTimeout`.

    A broadcast (``expect_reply=False``) returns None after the write. Frames that are not
    replies (our own echo) and garbage are dropped; bad checksums are counted.
    """
    frame: Frame | None = _exchange(
        line,
        request,
        timeout_s,
        expect_reply,
        StreamDecoder(accept="replies"),
        frozenset({"bad_checksum"}),
    )
    return frame


def transact_698(
    line: Transport, request: bytes, timeout_s: float, *, expect_reply: bool = True
) -> dlt698.Frame | None:
    """:func:`transact` for a DL/T 698.45 request: the reply through its own decoder (a
    bad HCS or FCS counts as a checksum error)."""
    frame: dlt698.Frame | None = _exchange(
        line,
        request,
        timeout_s,
        expect_reply,
        dlt698.StreamDecoder(accept="replies"),
        frozenset({"bad_hcs", "bad_fcs"}),
    )
    return frame


def _exchange(
    line: Transport,
    request: bytes,
    timeout_s: float,
    expect_reply: bool,
    decoder: Any,
    checksum_reasons: frozenset[str],
) -> Any:
    line.stats.transactions += 1
    line.write(request)
    if not expect_reply:
        return None
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            chunk = line.read()
            if not chunk:
                continue
            frames = decoder.feed(chunk)
            if frames:
                return frames[0]
        line.stats.timeouts += 1
        raise ReadTimeout(f"no reply within {timeout_s:.2f} s")
    finally:
        for discard in decoder.take_discards():
            if discard.reason in checksum_reasons:
                line.stats.checksum_errors += 1


class SerialTransport:
    """pyserial on a device path or a ``socket://host:port`` URL, opened lazily."""

    def __init__(
        self, url: str, *, baud: int = 2400, parity: str = "E", bytesize: int = 8, stopbits: int = 1
    ) -> None:
        self.url, self.baud, self.parity = url, baud, parity
        self.bytesize, self.stopbits = bytesize, stopbits
        self._port: serial.SerialBase | None = None
        self.stats = LineStats()

    def open(self) -> None:
        if self._port is not None:
            return
        try:
            self._port = serial.serial_for_url(
                self.url,
                baudrate=self.baud,
                parity=self.parity,
                bytesize=self.bytesize,
                stopbits=self.stopbits,
                timeout=0.02,
                write_timeout=5,
            )
        except (serial.SerialException, OSError, ValueError) as exc:
            raise TransportError(f"cannot open {self.url}: {exc}") from exc

    def close(self) -> None:
        if self._port is not None:
            try:
                self._port.close()
            finally:
                self._port = None

    def write(self, data: bytes) -> None:
        self.open()
        assert self._port is not None
        try:
            self._port.reset_input_buffer()
            self._port.write(data)
            self._port.flush()
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise TransportError(f"write to {self.url} failed: {exc}") from exc

    def read(self, size: int = 512) -> bytes:
        self.open()
        assert self._port is not None
        try:
            # block for the first byte (up to the port timeout), then take what has arrived
            first = self._port.read(1)
            if not first:
                return b""
            waiting = self._port.in_waiting
            return bytes(first) + (bytes(self._port.read(min(waiting, size))) if waiting else b"")
        except (serial.SerialException, OSError) as exc:
            self.close()
            raise TransportError(f"read from {self.url} failed: {exc}") from exc

    def transact(
        self, request: bytes, timeout_s: float, *, expect_reply: bool = True
    ) -> Frame | None:
        """:func:`transact` on this port."""
        return transact(self, request, timeout_s, expect_reply=expect_reply)


#: A line's answer to one request frame (DL/T 645 or 698.45): the bytes the meters put on
#: the wire (b"" for silence). ``simulators.bus.Bus.handle`` gives one:
#: ``lambda f: bus.handle(f).data``.
Answer = Callable[[LineFrame], bytes]


class MemoryTransport:
    """An in-memory line: requests go to ``answer``, its bytes come back on the next reads.

    ``echo`` puts each request back on the line first, as a half-duplex RS-485 adapter
    does. A read with nothing to return waits ``poll_s`` (a port's read timeout), so a
    silent meter costs its bus the reader's timeout, as on a wire.
    """

    def __init__(self, answer: Answer, *, echo: bool = False, poll_s: float = 0.001) -> None:
        self.answer, self.echo, self.poll_s = answer, echo, poll_s
        self.stats = LineStats()
        self.requests: list[LineFrame] = []  # every request frame written, in order
        self.closed = False
        self._decoder = LineDecoder(accept="requests")
        self._incoming = bytearray()
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        if self.closed:
            raise TransportError("write to a closed memory line")
        with self._lock:
            self._incoming.clear()
            if self.echo:
                self._incoming += data
            for frame in self._decoder.feed(data):
                self.requests.append(frame)
                self._incoming += self.answer(frame)

    def read(self, size: int = 512) -> bytes:
        with self._lock:
            chunk = bytes(self._incoming[:size])
            del self._incoming[:size]
        if not chunk:
            time.sleep(self.poll_s)
        return chunk

    def close(self) -> None:
        self.closed = True
