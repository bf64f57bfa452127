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
``on_clean_reply`` hook with a :class:`ModbusRequest`: a test's ground truth of what a
gateway can have received, measured rather than assumed.

pymodbus serves from an asyncio loop; each server owns one loop in one thread, and
:meth:`ModbusServer.stop` shuts the server, stops the loop and joins the thread.
A pty endpoint is a byte bridge from a pseudo-terminal to a private RTU-over-TCP
server (pymodbus opens serial devices by path, and a pty's master side has none).
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import select
import socket
import threading
import tty
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymodbus.constants import ExcCodes
from pymodbus.exceptions import NoSuchIdException
from pymodbus.framer import FramerType
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from protocols.modbus import encode_registers, plan_reads
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


#: ``hook(meter, request, now)`` for every read a meter answered cleanly
CleanReplyHook = Callable[[SimMeter, ModbusRequest, datetime], None]


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
        hook = server.on_clean_reply
        if hook is not None and not slow:
            hook(meter, ModbusRequest(function_code, address, count), now)
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
        #: called with (meter, request, now) for every read answered as the meter made it
        #: (not dead, not dropped, not delayed): a test's delivery log
        self.on_clean_reply: CleanReplyHook | None = None

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
            server = ModbusTcpServer(
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


class PtyBridge:
    """A pty whose bytes are relayed to and from a TCP server (RTU on a pty)."""

    def __init__(self, target: tuple[str, int], name: str = "pty") -> None:
        self.target, self.name = target, name
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
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

    def _run(self) -> None:
        sock, master = self._sock, self._master
        while not self._stop.is_set():
            ready, _, _ = select.select([sock, master], [], [], 0.05)  # type: ignore[type-var]
            try:
                if master in ready:
                    data = os.read(master, 4096)
                    if data:
                        sock.sendall(data)
                if sock in ready:
                    data = sock.recv(4096)
                    if not data:
                        return
                    os.write(master, data)
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
