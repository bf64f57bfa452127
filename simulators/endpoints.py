"""Where a simulated DL/T 645 / 698.45 bus meets the outside: TCP serial server, pty, real
serial.

Every endpoint runs one thread that reads bytes, decodes request frames of both families
with the shared streaming decoders (:class:`protocols.line.LineDecoder`), asks the
:class:`~simulators.bus.Bus` for the answer and writes it back paced like the wire:

* the request occupies the line for ``len * 11 / baud`` seconds (8E1: start, 8 data,
  parity, stop) from its first byte, so the meter starts only after its last byte;
* the meter waits its turnaround (default 50 ms; the standard allows 20-500 ms);
* the reply leaves at ``baud / 11`` bytes per second;
* once its last byte is written, the bus hears of it (:meth:`~simulators.bus.Bus.sent`)
  with the time the request's first byte was read and the time the write completed.

``fast=True`` drops all of that (tests). A TCP endpoint behaves like a serial device
server: raw bytes, one client at a time; a second client is accepted and closed at once.
Stopping is deterministic: :meth:`Endpoint.stop` closes the sockets / fds and joins the
thread.
"""

from __future__ import annotations

import logging
import os
import select
import socket
import threading
import time
import tty
from dataclasses import dataclass
from typing import Any

import serial

from protocols.line import LineDecoder
from simulators.bus import Bus

log = logging.getLogger(__name__)

_POLL_S = 0.05


class EndpointError(RuntimeError):
    """An endpoint that cannot start (port taken, device missing) or stop."""


@dataclass(frozen=True)
class Pacing:
    """Line timing of a bus. ``fast`` disables every delay."""

    baud: int = 2400
    bits_per_byte: int = 11  # 8E1
    turnaround_s: float = 0.05
    fast: bool = False

    def __post_init__(self) -> None:
        if self.baud <= 0 or self.bits_per_byte <= 0:
            raise EndpointError("baud and bits_per_byte must be > 0")
        if not 0 <= self.turnaround_s <= 10:
            raise EndpointError("turnaround_s must be within 0..10 s")

    @property
    def bytes_per_second(self) -> float:
        return self.baud / self.bits_per_byte

    def wire_time(self, nbytes: int) -> float:
        return 0.0 if self.fast else nbytes / self.bytes_per_second


class Endpoint:
    """Base: a thread serving one bus over a byte channel provided by a subclass."""

    kind = "endpoint"

    def __init__(self, bus: Bus, pacing: Pacing) -> None:
        self.bus = bus
        self.pacing = pacing
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.bytes_in = 0
        self.bytes_out = 0
        self.frames_in = 0

    # subclasses: _open() before the thread starts, _run() in the thread, _close() after
    def start(self) -> Endpoint:
        self._open()
        self._thread = threading.Thread(
            target=self._run_guarded, name=f"sim-{self.kind}-{self.bus.name}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise EndpointError(f"{self.kind} endpoint of bus {self.bus.name} did not stop")
        self._close()

    def _run_guarded(self) -> None:
        try:
            self._run()
        except Exception:  # a crash must be visible, not a silent dead bus
            log.exception("endpoint of bus %s crashed", self.bus.name)
            raise

    def _open(self) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        raise NotImplementedError

    def _close(self) -> None:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    # shared serving logic: read with timeout, decode, answer paced
    def _serve_stream(self, read: Any, write: Any) -> None:
        """Serve one connection until it closes or stop() is called.

        ``read(timeout)`` returns bytes, b"" on timeout, or None when the peer closed.
        """
        decoder = LineDecoder(accept="requests")
        first_byte_at: float | None = None
        pending = 0
        while not self._stop.is_set():
            chunk = read(_POLL_S)
            if chunk is None:
                return
            if not chunk:
                continue
            if decoder.pending == 0 and first_byte_at is None:
                first_byte_at = time.monotonic()
            self.bytes_in += len(chunk)
            pending += len(chunk)
            frames = decoder.feed(chunk)
            for frame in frames:
                self.frames_in += 1
                received_at = first_byte_at if first_byte_at is not None else time.monotonic()
                reply = self.bus.handle(frame)
                if not self.pacing.fast:
                    # the request's last byte reaches the meter only after its wire time
                    start = first_byte_at if first_byte_at is not None else time.monotonic()
                    due = start + self.pacing.wire_time(pending)
                    due += self.pacing.turnaround_s + reply.delay_s
                    self._sleep_until(due)
                elif reply.delay_s:
                    self._sleep_until(time.monotonic() + reply.delay_s)
                if reply.data and self._write_paced(write, reply.data):
                    # the last byte is the transport's: now a gateway can have it
                    self.bus.sent(reply, received_at, time.monotonic())
                pending = 0
                first_byte_at = None
            if decoder.pending == 0:
                first_byte_at = None
                pending = 0

    def _sleep_until(self, due: float) -> None:
        while not self._stop.is_set():
            left = due - time.monotonic()
            if left <= 0:
                return
            self._stop.wait(min(left, _POLL_S))

    def _write_paced(self, write: Any, data: bytes) -> bool:
        """Write ``data`` at the line's pace; False if stop() cut it short."""
        if self.pacing.fast:
            write(data)
            self.bytes_out += len(data)
            return True
        rate = self.pacing.bytes_per_second
        chunk = max(1, int(rate * 0.005))  # about 5 ms of line time per write
        start = time.monotonic()
        for off in range(0, len(data), chunk):
            # byte k may leave only when k bytes' wire time has passed
            self._sleep_until(start + off / rate)
            if self._stop.is_set():
                return False
            write(data[off : off + chunk])
            self.bytes_out += len(data[off : off + chunk])
        self._sleep_until(start + len(data) / rate)  # line busy until the last stop bit
        return not self._stop.is_set()


class TcpSerialEndpoint(Endpoint):
    """A TCP port behaving like a serial device server: raw bytes, one client at a time."""

    kind = "tcp"

    def __init__(self, bus: Bus, pacing: Pacing, host: str = "127.0.0.1", port: int = 0):
        super().__init__(bus, pacing)
        self.host, self.port = host, port
        self._listener: socket.socket | None = None
        self._client: socket.socket | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def describe(self) -> dict[str, Any]:
        return {"type": "tcp", "host": self.host, "port": self.port}

    def _open(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            raise EndpointError(
                f"bus {self.bus.name}: cannot listen on {self.host}:{self.port}: {exc}"
            ) from exc
        sock.listen(4)
        sock.setblocking(False)
        self._listener = sock
        self.port = sock.getsockname()[1]

    def _run(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self._listener], [], [], _POLL_S)
            if not ready:
                continue
            try:
                client, _ = self._listener.accept()
            except OSError:
                continue
            client.setblocking(True)
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._client = client
            try:
                self._serve_stream(self._reader(client), client.sendall)
            except OSError as exc:
                log.info("bus %s: client connection ended: %s", self.bus.name, exc)
            finally:
                self._client = None
                client.close()

    def _reader(self, client: socket.socket) -> Any:
        listener = self._listener
        assert listener is not None

        def read(timeout: float) -> bytes | None:
            ready, _, _ = select.select([client, listener], [], [], timeout)
            if listener in ready:
                # a device server serves one client: a second one is turned away at once
                try:
                    extra, _ = listener.accept()
                    extra.close()
                except OSError:
                    pass
            if client not in ready:
                return b""
            data = client.recv(4096)
            return data if data else None

        return read

    def _close(self) -> None:
        for s in (self._client, self._listener):
            if s is not None:
                try:
                    s.close()
                except OSError:
                    pass
        self._listener = None


class PtyEndpoint(Endpoint):
    """A pseudo-terminal pair; point the gateway at :attr:`path` (the slave device).

    A pty does not emulate baud rate or parity, so pacing is done here in software.
    We keep the slave side open ourselves so the master never sees EIO while the
    gateway reconnects.
    """

    kind = "pty"

    def __init__(self, bus: Bus, pacing: Pacing) -> None:
        super().__init__(bus, pacing)
        self._master: int | None = None
        self._slave: int | None = None
        self.path = ""

    def describe(self) -> dict[str, Any]:
        return {"type": "pty", "path": self.path}

    def _open(self) -> None:
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)

    def _run(self) -> None:
        master = self._master
        assert master is not None

        def read(timeout: float) -> bytes | None:
            ready, _, _ = select.select([master], [], [], timeout)
            if not ready:
                return b""
            try:
                return os.read(master, 4096)
            except OSError:
                return b""  # EIO while no one holds the slave: wait for the next open

        def write(data: bytes) -> None:
            view = memoryview(data)
            while view:
                n = os.write(master, view)
                view = view[n:]

        while not self._stop.is_set():
            self._serve_stream(read, write)

    def _close(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._master = self._slave = None


class SerialEndpoint(Endpoint):
    """A real serial port (USB-RS-485 adapter) for physical concentrators (pyserial)."""

    kind = "serial"

    def __init__(self, bus: Bus, pacing: Pacing, device: str, parity: str = "E") -> None:
        super().__init__(bus, pacing)
        self.device, self.parity = device, parity
        self._port: Any = None

    def describe(self) -> dict[str, Any]:
        return {
            "type": "serial",
            "device": self.device,
            "baud": self.pacing.baud,
            "parity": self.parity,
        }

    def _open(self) -> None:
        try:
            self._port = serial.Serial(
                self.device,
                self.pacing.baud,
                bytesize=8,
                parity=self.parity,
                stopbits=1,
                timeout=_POLL_S,
            )
        except (serial.SerialException, ValueError) as exc:
            raise EndpointError(f"bus {self.bus.name}: cannot open {self.device}: {exc}") from exc

    def _run(self) -> None:
        port = self._port

        def read(timeout: float) -> bytes | None:
            data: bytes = port.read(max(1, port.in_waiting))
            return data

        def write(data: bytes) -> None:
            port.write(data)

        # the UART itself paces the bytes; we only add the request time and turnaround
        while not self._stop.is_set():
            self._serve_stream(read, write)

    def _write_paced(self, write: Any, data: bytes) -> bool:
        write(data)
        port = self._port
        if port is not None:
            port.flush()  # out of the driver's buffer: on the wire
        self.bytes_out += len(data)
        return True

    def _close(self) -> None:
        if self._port is not None:
            self._port.close()
            self._port = None
