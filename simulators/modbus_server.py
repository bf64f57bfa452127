"""Modbus meters served with pymodbus: Modbus TCP, RTU over TCP, and RTU on a pty.

Each simulated meter is a pymodbus ``SimDevice`` (unit id = the meter's ``unit_id``)
whose register blocks cover the profile's registers (``protocols.modbus``). The values
are not stored: pymodbus calls our ``action`` hook on every access (pymodbus 3.16
``SimDevice.action``, which may rewrite the registers in place before they are
returned), and we fill the requested words from :meth:`SimMeter.registers_at` at the
virtual clock's "now". Writes are refused with ILLEGAL_FUNCTION (the profiles are
read-only). Faults: ``dead`` never answers within any sane timeout, ``slow`` delays,
``intermittent`` drops a share; metering faults come through the meter model.

Like the DL/T 645 bus (:attr:`simulators.bus.Bus.on_clean_reply`), a server reports every
read it answers as the meter made it (not dead, not dropped, not delayed) to its
``on_clean_reply`` hook with a :class:`ModbusRequest` and a
:class:`~simulators.bus.ReplyTiming`, once the reply's bytes have left: written to the
client's socket (the transport's buffer empty), or, for RTU on a pty, relayed onto the pty
by the bridge. The timing runs from the request's first bytes read (by the server, or by
the bridge from the pty) to that write: a test's ground truth of what a gateway waiting its
reply timeout can have received, measured rather than assumed.

pymodbus serves from an asyncio loop; each server owns one loop in one thread, and
:meth:`ModbusServer.stop` shuts the server, stops the loop and joins the thread.
A pty endpoint is a byte bridge from a pseudo-terminal to a private RTU-over-TCP
server (pymodbus opens serial devices by path, and a pty's master side has none).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import os
import random
import select
import socket
import threading
import time
import tty
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.server.requesthandler import ServerRequestHandler
from pymodbus.simulator import DataType, SimData, SimDevice

from protocols.modbus import encode_registers, plan_reads
from simulators.bus import ReplyTiming
from simulators.clock import VirtualClock
from simulators.meter import SimMeter

log = logging.getLogger(__name__)

FRAMERS = {"tcp": FramerType.SOCKET, "rtu-over-tcp": FramerType.RTU}
_DEAD_S = 30.0


class ModbusServerError(RuntimeError):
    """A Modbus server that cannot start or stop, or a meter set that cannot be served."""


@dataclass(frozen=True)
class ModbusRequest:
    """A register read a meter answered: function code, first register, register count."""

    function: int
    address: int
    count: int

    def covers(self, address: int, count: int = 1) -> bool:
        return self.address <= address and address + count <= self.address + self.count


#: ``hook(meter, request, now, timing)`` for every read a meter answered cleanly, once sent
CleanReplyHook = Callable[[SimMeter, ModbusRequest, datetime, ReplyTiming], None]

#: (meter, request, now) of the clean answers made while one request is handled: the
#: connection's handler collects them and reports them once the reply is written
_ANSWERED: contextvars.ContextVar[list[tuple[SimMeter, ModbusRequest, datetime]] | None] = (
    contextvars.ContextVar("meterlink_modbus_answered", default=None)
)


def _device(
    meter: SimMeter, clock: VirtualClock, rng: random.Random, server: ModbusServer
) -> SimDevice:
    profile = meter.modbus_profile
    blocks = [
        SimData(address=req.address, count=req.count, values=0, datatype=DataType.REGISTERS)
        for req in plan_reads(profile, None, max_gap=profile.max_registers_per_read)
    ]

    async def action(
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        set_values: Any,
    ) -> ExcCodes | None:
        if set_values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        now = clock.now()
        if meter.active_fault("dead", now):
            await asyncio.sleep(_DEAD_S)
            return ExcCodes.DEVICE_BUSY
        drop = meter.active_fault("intermittent", now)
        if drop and rng.random() < drop.params["drop_rate"]:
            await asyncio.sleep(_DEAD_S)
            return ExcCodes.DEVICE_BUSY
        slow = meter.active_fault("slow", now)
        if slow:
            await asyncio.sleep(float(slow.params["delay_s"]))
        words = encode_registers(profile, meter.registers_at(now), function_code)
        for addr in range(address, address + count):
            registers[addr - start_address] = words.get(addr, 0)
        answered = _ANSWERED.get()
        if answered is not None and not slow:
            answered.append((meter, ModbusRequest(function_code, address, count), now))
        return None

    return SimDevice(id=meter.spec.unit_id, simdata=blocks, action=action)


class ModbusServer:
    """One pymodbus server for a set of Modbus meters (distinct unit ids)."""

    def __init__(
        self,
        meters: Sequence[SimMeter],
        clock: VirtualClock,
        *,
        framing: str = "tcp",
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 0,
        name: str = "modbus",
    ) -> None:
        if framing not in FRAMERS:
            raise ModbusServerError(f"framing must be one of {sorted(FRAMERS)}, got {framing!r}")
        ids = [m.spec.unit_id for m in meters]
        if not meters or len(set(ids)) != len(ids):
            raise ModbusServerError(f"bus {name}: needs meters with distinct unit ids, got {ids}")
        for m in meters:
            if m.spec.protocol != "modbus":
                raise ModbusServerError(f"meter {m.archive_id} is not a Modbus meter")
        self.meters, self.clock, self.name = list(meters), clock, name
        self.framing, self.host, self.port = framing, host, port
        self._rng = random.Random(f"{seed}/{name}")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: ModbusTcpServer | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        #: called with (meter, request, now, :class:`ReplyTiming`) for every read answered as
        #: the meter made it (not dead, not dropped, not delayed), once the reply was written
        #: (relayed onto the pty, with a :attr:`relay`): a test's delivery log
        self.on_clean_reply: CleanReplyHook | None = None
        #: the pty bridge that carries this server's replies to the gateway, if any
        self.relay: PtyBridge | None = None

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def describe(self) -> dict[str, Any]:
        return {"type": self.framing, "host": self.host, "port": self.port}

    def start(self, timeout: float = 10.0) -> ModbusServer:
        self._thread = threading.Thread(
            target=self._run, name=f"sim-modbus-{self.name}", daemon=True
        )
        self._thread.start()
        if not self._ready.wait(timeout):
            raise ModbusServerError(f"Modbus server {self.name} did not start in {timeout} s")
        if self._error is not None:
            self._thread.join(timeout)
            raise ModbusServerError(
                f"Modbus server {self.name} failed to start on {self.host}:{self.port}: "
                f"{self._error}"
            ) from self._error
        return self

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        finally:
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()
            if pending:
                loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.close()

    async def _serve(self) -> None:
        try:
            devices = [_device(m, self.clock, self._rng, self) for m in self.meters]
            # a unit id nobody has stays silent, as on a real RS-485 line
            server = _TimedServer(
                self,
                devices,
                framer=FRAMERS[self.framing],
                address=(self.host, self.port),
                ignore_missing_devices=True,
            )
            server.context = _OnlyUnits(  # type: ignore[assignment]
                server.context, {m.spec.unit_id for m in self.meters}
            )
            await server.serve_forever(background=True)
            sockets = getattr(server.transport, "sockets", None)
            if sockets:
                self.port = sockets[0].getsockname()[1]
            self._server = server
        except BaseException as exc:  # reported to start() in the caller's thread
            self._error = exc
            self._ready.set()
            return
        self._ready.set()
        await server.serving

    def _report(
        self,
        answered: list[tuple[SimMeter, ModbusRequest, datetime]],
        received_at: float,
        written_at: float,
        bytes_out: int,
    ) -> None:
        """A handler wrote the reply to the answers ``answered``: report them, now or (RTU
        on a pty) once the bridge relayed the reply's last byte, ``bytes_out`` bytes into
        the connection."""
        hook = self.on_clean_reply
        if hook is None or not answered:
            return

        def report(received: float, written: float) -> None:
            for meter, req, now in answered:
                hook(meter, req, now, ReplyTiming(received, written))

        if self.relay is not None:
            self.relay.after_relayed(bytes_out, received_at, report)
        else:
            report(received_at, written_at)

    def stop(self, timeout: float = 5.0) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None and not loop.is_closed():
            fut = asyncio.run_coroutine_threadsafe(server.shutdown(), loop)  # type: ignore[no-untyped-call]
            try:
                fut.result(timeout)
            except Exception as exc:  # noqa: BLE001 - loop already gone is fine
                log.debug("modbus %s shutdown: %s", self.name, exc)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise ModbusServerError(f"Modbus server {self.name} did not stop")


class _TimedServer(ModbusTcpServer):
    """pymodbus's TCP server whose connections report clean answers once written."""

    def __init__(self, owner: ModbusServer, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner

    def callback_new_connection(self) -> ServerRequestHandler:
        return _TimedHandler(self, self.trace_packet, self.trace_pdu, self.trace_connect)


class _TimedHandler(ServerRequestHandler):
    """One connection: stamps a request's first bytes, collects the clean answers made
    while handling it, and reports them once the reply has left the socket."""

    server: _TimedServer

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)  # type: ignore[no-untyped-call]
        self._started_at: float | None = None  # first bytes of the request being received
        self._request_at: float | None = None  # first bytes of the last complete request
        self.bytes_out = 0

    def callback_data(self, data: bytes, addr: tuple[Any, ...] | None = None) -> int:
        if self._started_at is None:
            self._started_at = time.monotonic()
        used: int = super().callback_data(data, addr)
        if self.last_pdu:
            self._request_at, self._started_at = self._started_at, None
        elif used:
            self._started_at = None  # garbage dropped: the next bytes start anew
        return used

    def send(self, data: bytes, addr: tuple[Any, ...] | None = None) -> None:
        super().send(data, addr)
        self.bytes_out += len(data)

    async def handle_request(self) -> None:
        received_at = self._request_at if self._request_at is not None else time.monotonic()
        answered: list[tuple[SimMeter, ModbusRequest, datetime]] = []
        token = _ANSWERED.set(answered)
        sent_before = self.bytes_out
        try:
            await super().handle_request()  # type: ignore[no-untyped-call]
        finally:
            _ANSWERED.reset(token)
        if not answered or self.bytes_out == sent_before:
            return  # nothing clean, or nothing sent
        transport: Any = self.transport
        while transport is not None and transport.get_write_buffer_size():
            await asyncio.sleep(0.001)  # the loop's buffer: not yet the socket's
        if transport is None or transport.is_closing():
            return
        self.server.owner._report(answered, received_at, time.monotonic(), self.bytes_out)


class PtyBridge:
    """A pty whose bytes are relayed to and from a TCP server (RTU on a pty).

    It keeps when requests started coming from the pty and when replies went onto it, so
    its server can report a clean answer once its last byte is on the pty
    (:meth:`after_relayed`)."""

    def __init__(self, target: tuple[str, int], name: str = "pty") -> None:
        self.target, self.name = target, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._relayed = 0  # bytes relayed from the server onto the pty
        self._relay_log: deque[tuple[int, float]] = deque(maxlen=256)  # (relayed, when)
        self._request_starts: deque[float] = deque(maxlen=256)  # pty reads opening a request
        self._idle = True  # no request bytes read since the last reply relayed
        self._waiting: list[tuple[int, float, Callable[[float, float], None]]] = []
        master, slave = os.openpty()
        tty.setraw(master)
        tty.setraw(slave)
        self._master, self._slave = master, slave
        self.path = os.ttyname(slave)

    def describe(self) -> dict[str, Any]:
        return {"type": "pty", "path": self.path}

    def start(self) -> PtyBridge:
        self._sock = socket.create_connection(self.target, timeout=5)
        self._thread = threading.Thread(
            target=self._run, name=f"sim-ptybridge-{self.name}", daemon=True
        )
        self._thread.start()
        return self

    def after_relayed(
        self, nbytes: int, received_at: float, report: Callable[[float, float], None]
    ) -> None:
        """Call ``report(request read from the pty, reply's last byte on the pty)`` once the
        first ``nbytes`` bytes the server sent are on the pty (at once if they are). The
        request's start is the bridge's last pty read opening a request no later than the
        server's ``received_at``."""
        with self._lock:
            starts = [t for t in self._request_starts if t <= received_at]
            start = max(starts) if starts else received_at
            if self._relayed < nbytes:
                self._waiting.append((nbytes, start, report))
                return
            written = next((t for n, t in self._relay_log if n >= nbytes), time.monotonic())
        report(start, written)

    def _relay_done(self, n: int) -> None:
        now = time.monotonic()
        with self._lock:
            self._relayed += n
            self._relay_log.append((self._relayed, now))
            due = [w for w in self._waiting if w[0] <= self._relayed]
            self._waiting = [w for w in self._waiting if w[0] > self._relayed]
        for _, start, report in due:
            report(start, now)

    def _run(self) -> None:
        sock, master = self._sock, self._master
        while not self._stop.is_set():
            ready, _, _ = select.select([sock, master], [], [], 0.05)  # type: ignore[type-var]
            try:
                if master in ready:
                    data = os.read(master, 4096)
                    if data:
                        if self._idle:
                            with self._lock:
                                self._request_starts.append(time.monotonic())
                            self._idle = False
                        sock.sendall(data)
                if sock in ready:
                    data = sock.recv(4096)
                    if not data:
                        return
                    view = memoryview(data)
                    while view:
                        view = view[os.write(master, view) :]
                    self._idle = True
                    self._relay_done(len(data))
            except OSError as exc:
                if self._stop.is_set():
                    return
                log.info("pty bridge %s: %s", self.name, exc)

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._sock.close()
        for fd in (self._master, self._slave):
            try:
                os.close(fd)
            except OSError:
                pass


class _OnlyUnits:
    """The server's datastore, refusing unit ids no meter has, so the server stays silent for
    them (pymodbus answers "device failure" otherwise; a real RS-485 line is silent)."""

    def __init__(self, inner: Any, units: set[int]) -> None:
        self._inner, self._units = inner, units

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _check(self, device_id: int) -> None:
        if device_id not in self._units:
            raise NoSuchIdException(f"no meter with unit id {device_id} on this bus")

    async def async_getValues(self, device_id: int, *args: Any) -> Any:  # noqa: N802
        self._check(device_id)
        return await self._inner.async_getValues(device_id, *args)

    async def async_setValues(self, device_id: int, *args: Any) -> Any:  # noqa: N802
        self._check(device_id)
        return await self._inner.async_setValues(device_id, *args)
