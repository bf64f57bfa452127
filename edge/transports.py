"""Byte channels to a bus: a serial device, a TCP serial server (``socket://``), or a fake.

One :class:`SerialTransport` per physical port; only its bus worker uses it, so there is
never more than one transaction on a line. ``transact`` writes a request and collects the
reply through a :class:`~protocols.dlt645.StreamDecoder`, dropping line noise and the echo
of our own request.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import serial

from protocols.dlt645 import Frame, StreamDecoder


class TransportError(OSError):
    """The port cannot be opened or the line failed (not a meter's fault)."""


class ReadTimeout(TimeoutError):
    """No valid reply within the timeout."""


@dataclass
class LineStats:
    transactions: int = 0
    timeouts: int = 0
    checksum_errors: int = 0
    noise_bytes: int = 0


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
        """Send ``request``; return the first valid reply frame, or raise :class:`ReadTimeout`.

        A broadcast (``expect_reply=False``) returns None after the write. Frames that are
        not replies (our own echo) and garbage are dropped and counted.
        """
        self.stats.transactions += 1
        self.write(request)
        if not expect_reply:
            return None
        decoder = StreamDecoder(accept="replies")
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                chunk = self.read()
                if not chunk:
                    continue
                frames = decoder.feed(chunk)
                if frames:
                    return frames[0]
            self.stats.timeouts += 1
            raise ReadTimeout(f"no reply within {timeout_s:.2f} s")
        finally:
            for discard in decoder.take_discards():
                if discard.reason == "bad_checksum":
                    self.stats.checksum_errors += 1
                elif discard.reason != "wrong_direction":
                    self.stats.noise_bytes += discard.nbytes
