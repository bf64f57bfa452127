"""Modbus meters through pymodbus: the profile's registers, merged into as few reads as the
profile allows (``protocols.modbus.plan_reads``), decoded into canonical values.

Port forms: ``modbus-tcp://host:port`` (Modbus TCP), ``socket://host:port`` (RTU framing
over a TCP serial server), a device path (RTU on RS-485).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from urllib.parse import urlsplit

from pymodbus import FramerType
from pymodbus.client import ModbusSerialClient, ModbusTcpClient
from pymodbus.exceptions import ModbusException

from protocols.modbus import ModbusCodecError, get_profile, plan_reads

from ..config import BusConfig, MeterConfig
from .errors import FailureKind, ReadError

log = logging.getLogger(__name__)


class ModbusDriver:
    def __init__(self, bus: BusConfig) -> None:
        timeout = bus.timeout_ms / 1000
        if bus.port.startswith(("modbus-tcp://", "socket://")):
            parts = urlsplit(bus.port)
            framer = FramerType.SOCKET if parts.scheme == "modbus-tcp" else FramerType.RTU
            self.client: ModbusTcpClient | ModbusSerialClient = ModbusTcpClient(
                parts.hostname or "127.0.0.1",
                port=parts.port or 502,
                framer=framer,
                timeout=timeout,
                retries=0,
            )
        else:
            self.client = ModbusSerialClient(
                bus.port,
                framer=FramerType.RTU,
                baudrate=bus.baud,
                parity=bus.parity,
                bytesize=bus.bytesize,
                stopbits=bus.stopbits,
                timeout=timeout,
                retries=0,
            )
        self.transactions = 0
        self.timeouts = 0

    def close(self) -> None:
        self.client.close()  # type: ignore[no-untyped-call]

    def read(
        self, meter: MeterConfig, quantities: Sequence[str]
    ) -> tuple[dict[str, float], list[ReadError]]:
        assert meter.profile is not None
        profile = get_profile(meter.profile)
        wanted = [q for q in quantities if q in profile.quantities]
        if not self.client.connected and not self.client.connect():
            raise ReadError(meter.id, FailureKind.LINE, "cannot connect to the Modbus port")
        values: dict[str, float] = {}
        for plan in plan_reads(profile, wanted):
            read = (
                self.client.read_input_registers
                if plan.function == 4
                else self.client.read_holding_registers
            )
            self.transactions += 1
            try:
                rr = read(plan.address, count=plan.count, device_id=meter.unit)
            except ModbusException as exc:
                self.timeouts += 1
                self.client.close()  # type: ignore[no-untyped-call]
                raise ReadError(meter.id, FailureKind.TIMEOUT, str(exc)) from exc
            if rr.isError():
                code = getattr(rr, "exception_code", "?")
                raise ReadError(
                    meter.id,
                    FailureKind.ERROR_REPLY,
                    f"registers {plan.address:#06x}+{plan.count}",
                    bits=(f"exception {code}",),
                )
            try:
                values.update(plan.decode(rr.registers))
            except ModbusCodecError as exc:
                raise ReadError(meter.id, FailureKind.BAD_REPLY, str(exc)) from exc
        return values, []
