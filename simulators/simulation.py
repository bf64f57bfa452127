"""A running simulation: meters built from a fleet, buses served, faults injected.

:class:`Simulation` is the in-process API (see ``simulators/__init__.py`` for a usage
sketch): build from a :class:`~simulators.fleet.Fleet`, start buses (DL/T 645 on TCP,
pty or a real serial port; Modbus TCP / RTU over TCP / RTU on a pty), ask a meter's
expected registers at an instant, inject and clear faults (each one recorded in the
ground-truth file), and stop everything: every endpoint thread joined, every socket
and fd closed.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

from protocols.line import LineFrame, is_dlt698
from simulators.bus import Bus
from simulators.clock import VirtualClock
from simulators.dlt645_responder import Dlt645Responder
from simulators.dlt698_responder import Dlt698Responder
from simulators.endpoints import Endpoint, Pacing, PtyEndpoint, SerialEndpoint, TcpSerialEndpoint
from simulators.faults import Fault, GroundTruthWriter, make_fault, meter_record, truth_record
from simulators.fleet import BusSpec, Fleet
from simulators.meter import SimMeter
from simulators.modbus_server import ModbusServer, PtyBridge
from simulators.profiles import LoadModel

log = logging.getLogger(__name__)


class SimulationError(RuntimeError):
    """A request the running simulation cannot honour (unknown meter or bus...)."""


def build_meters(fleet: Fleet) -> dict[str, SimMeter]:
    """SimMeters for every meter of ``fleet``; area masters sum their customers' loads."""
    loads: dict[str, LoadModel] = {}
    specs = {m.archive_id: m for m, _ in fleet.meters}
    for spec in specs.values():
        if spec.role == "master":
            continue
        loads[spec.archive_id] = LoadModel(
            seed=fleet.seed,
            key=spec.archive_id,
            kind=spec.load,
            commissioned=spec.commissioned,
            daily_kwh=spec.daily_kwh,
            scale=1.0 - spec.theft_fraction,
            scale_from=spec.theft_since,
        )
    for area in fleet.areas:
        master = specs[area.master]
        loads[master.archive_id] = LoadModel(
            seed=fleet.seed,
            key=master.archive_id,
            kind=master.load,
            commissioned=master.commissioned,
            scale=1.0 + area.loss,
            parts=tuple(loads[c] for c in area.customers),
        )
    return {aid: SimMeter(specs[aid], loads[aid]) for aid in specs}


class Simulation:
    """Meters of a fleet on a virtual clock, and the endpoints serving them."""

    def __init__(
        self,
        fleet: Fleet,
        *,
        clock: VirtualClock | None = None,
        ground_truth: Path | str | None = None,
        fast: bool | None = None,
    ) -> None:
        self.fleet = fleet
        self.clock = clock or VirtualClock(fleet.start, fleet.speed)
        self.meters = build_meters(fleet)
        self.fast_override = fast
        self.truth = GroundTruthWriter(
            ground_truth if ground_truth is not None else fleet.ground_truth
        )
        self._bus_of = {m.archive_id: b for m, b in fleet.meters}
        self._lock = threading.Lock()
        self.buses: dict[str, Bus] = {}
        self.endpoints: dict[str, Any] = {}
        self._bridges: list[PtyBridge] = []
        self.responder = Dlt645Responder()
        self.responder698 = Dlt698Responder()
        self._reply_hook: Any = None
        self.modbus: dict[str, ModbusServer] = {}
        self._modbus_hook: Any = None
        for spec, _ in fleet.meters:  # theft and CT/PT: the meter is not the line's energy
            if spec.theft_fraction or spec.ct * spec.pt != 1:
                self.truth.write(
                    meter_record(
                        meter=spec.archive_id,
                        address=spec.address,
                        area=spec.area,
                        role=spec.role,
                        theft_fraction=spec.theft_fraction,
                        theft_since=spec.theft_since,
                        ct=spec.ct,
                        pt=spec.pt,
                        recorded_at=self.clock.now(),
                    )
                )
        for spec, _ in fleet.meters:  # faults from the fleet file are ground truth too
            for fault in spec.faults:
                self._record("inject", self.meters[spec.archive_id], fault)

    # --- meters and faults ----------------------------------------------------------------

    def meter(self, archive_id: str) -> SimMeter:
        try:
            return self.meters[archive_id]
        except KeyError:
            raise SimulationError(f"no meter {archive_id!r} in this simulation") from None

    def expected(self, archive_id: str, at: datetime | None = None) -> dict[str, float]:
        """What the meter reports at ``at`` (default: the clock's now), faults included."""
        return self.meter(archive_id).registers_at(at or self.clock.now())

    def inject(
        self,
        archive_id: str,
        kind: str,
        params: Mapping[str, Any] | None = None,
        start: datetime | None = None,
    ) -> Fault:
        """Add a fault from ``start`` (default now); it is written to the ground truth."""
        meter = self.meter(archive_id)
        fault = make_fault(
            kind,
            start or self.clock.now(),
            params,
            phases=meter.spec.phases,
            where=f"meter {archive_id}",
        )
        meter.add_fault(fault)
        self._record("inject", meter, fault)
        return fault

    def clear(self, archive_id: str, kind: str | None = None) -> list[Fault]:
        """Remove faults of a meter (all, or one kind); each removal is recorded."""
        meter = self.meter(archive_id)
        gone = meter.clear_faults(kind)
        now = self.clock.now()
        for fault in gone:
            self._record("clear", meter, fault, end=now)
        return gone

    def _record(
        self, action: str, meter: SimMeter, fault: Fault, end: datetime | None = None
    ) -> None:
        address = meter.spec.address
        self.truth.write(
            truth_record(
                action,
                meter=meter.archive_id,
                address=address,
                fault=fault,
                area=meter.spec.area,
                recorded_at=self.clock.now(),
                end=end,
            )
        )

    # --- buses ------------------------------------------------------------------------

    def bus_spec(self, name: str) -> BusSpec:
        for b in self.fleet.buses:
            if b.name == name:
                return b
        raise SimulationError(f"no bus {name!r} in the fleet")

    def meters_on(self, bus: str) -> list[SimMeter]:
        return [self.meters[m.archive_id] for m in self.fleet.meters_on(bus)]

    def start_bus(self, name: str, **overrides: Any) -> Any:
        """Start serving bus ``name`` as the fleet describes it (fields overridable:
        endpoint, host, port, device, fast, turnaround_ms, baud). Returns the endpoint."""
        spec = replace(self.bus_spec(name), **overrides)
        with self._lock:
            if name in self.endpoints:
                raise SimulationError(f"bus {name} is already being served")
        meters = self.meters_on(name)
        fast = (
            spec.fast if self.fast_override is None or "fast" in overrides else self.fast_override
        )
        if spec.protocol == "dlt645":
            bus = Bus(
                name,
                meters,
                self.clock,
                self.line_responder(spec.preamble),
                seed=self.fleet.seed,
            )
            pacing = Pacing(
                spec.baud, 11 if spec.parity != "N" else 10, spec.turnaround_ms / 1000, fast
            )
            ep: Endpoint
            if spec.endpoint == "tcp":
                ep = TcpSerialEndpoint(bus, pacing, spec.host, spec.port)
            elif spec.endpoint == "pty":
                ep = PtyEndpoint(bus, pacing)
            else:
                ep = SerialEndpoint(bus, pacing, spec.device or "", spec.parity)
            bus.on_clean_reply = self._reply_hook
            ep.start()
            self.buses[name] = bus
            handle: Any = ep
        else:
            framing = "tcp" if spec.endpoint == "modbus-tcp" else "rtu-over-tcp"
            server = ModbusServer(
                meters,
                self.clock,
                framing=framing,
                host=spec.host if spec.endpoint != "pty" else "127.0.0.1",
                port=spec.port if spec.endpoint != "pty" else 0,
                seed=self.fleet.seed,
                name=name,
            )
            server.on_clean_reply = self._modbus_hook
            server.start()
            self.modbus[name] = server
            handle = server
            if spec.endpoint == "pty":
                bridge = PtyBridge(server.address, name)
                server.relay = bridge
                bridge.start()
                self._bridges.append(bridge)
                handle = _ModbusPty(server, bridge)
        with self._lock:
            self.endpoints[name] = handle
        return handle

    def line_responder(self, preamble: int = 0) -> Any:
        """The answers of a DL/T line's meters: 645 frames to 645 meters (through
        :attr:`responder`, replaceable by a test), 698.45 frames to 698.45 meters."""

        def respond(meter: SimMeter, frame: LineFrame, now: datetime) -> bytes | None:
            if is_dlt698(frame):
                if meter.spec.protocol != "dlt698":
                    return None
                return self.responder698.respond(meter, frame, now, preamble)
            reply: bytes | None = self.responder.respond(meter, frame, now, preamble)
            return reply

        return respond

    def on_clean_reply(self, hook: Any, modbus: Any = None) -> None:
        """Call ``hook(meter, request_frame, now, timing)`` for every DL/T 645 or 698.45
        reply (the frame is a ``dlt645.Frame`` or a ``dlt698.Frame``) a meter puts on its
        line cleanly (alone, no slow meter, no wire fault), and ``modbus(meter,
        ModbusRequest, now, timing)`` for every Modbus read a meter answers cleanly (not
        dead, dropped or delayed), each once the reply's last byte has left the simulator's
        transport (pty, socket, serial port; for RTU on a pty, the bridge's pty write).
        ``timing`` (:class:`simulators.bus.ReplyTiming`) holds the monotonic time the
        request's first bytes were read and the time that write completed: a gateway that
        gave up earlier never got the reply. Tests use them, with the gateway's reply
        timeout, as the ground truth of collection."""
        self._reply_hook = hook
        self._modbus_hook = modbus
        for bus in self.buses.values():
            bus.on_clean_reply = hook
        for server in self.modbus.values():
            server.on_clean_reply = modbus

    def start_all(self) -> dict[str, dict[str, Any]]:
        """Start every bus of the fleet; returns {bus: where to connect}."""
        for b in self.fleet.buses:
            if b.name not in self.endpoints and self.fleet.meters_on(b.name):
                self.start_bus(b.name)
        return {name: ep.describe() for name, ep in self.endpoints.items()}

    def serve_dlt645_tcp(
        self, bus: str, *, fast: bool = True, port: int = 0, turnaround_ms: float | None = None
    ) -> tuple[str, int]:
        """Serve a DL/T 645 bus on a loopback TCP port; returns (host, port)."""
        over: dict[str, Any] = {"endpoint": "tcp", "fast": fast, "port": port, "host": "127.0.0.1"}
        if turnaround_ms is not None:
            over["turnaround_ms"] = turnaround_ms
        ep = self.start_bus(bus, **over)
        return ep.address  # type: ignore[no-any-return]

    def serve_modbus_tcp(self, bus: str, *, framing: str = "tcp", port: int = 0) -> tuple[str, int]:
        """Serve a Modbus bus as Modbus TCP (``framing="tcp"``) or RTU over TCP
        (``"rtu-over-tcp"``) on loopback; returns (host, port)."""
        endpoint = {"tcp": "modbus-tcp", "rtu-over-tcp": "rtu-over-tcp"}.get(framing)
        if endpoint is None:
            raise SimulationError(f"framing must be 'tcp' or 'rtu-over-tcp', got {framing!r}")
        server = self.start_bus(bus, endpoint=endpoint, port=port, host="127.0.0.1")
        return server.address  # type: ignore[no-any-return]

    def stop(self) -> None:
        """Stop every endpoint (threads joined, sockets and fds closed). Idempotent."""
        with self._lock:
            endpoints = list(self.endpoints.items())
            self.endpoints.clear()
        errors = []
        for name, ep in endpoints:
            try:
                ep.stop()
            except Exception as exc:  # noqa: BLE001 - stop the others, then report
                errors.append(f"{name}: {exc}")
        if errors:
            raise SimulationError("some endpoints did not stop: " + "; ".join(errors))

    def __enter__(self) -> Simulation:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _ModbusPty:
    def __init__(self, server: ModbusServer, bridge: PtyBridge) -> None:
        self.server, self.bridge = server, bridge
        self.path = bridge.path

    def describe(self) -> dict[str, Any]:
        return {"type": "pty", "path": self.path, "framing": "rtu"}

    def stop(self) -> None:
        self.bridge.stop()
        self.server.stop()
