"""What a bus worker asks of the meters on its line, whatever protocol they speak.

:class:`MeterReader` is the shape: read quantities, read a daily freeze, read the meter's
clock, broadcast the time, count the line's transactions, close. One implementation per
protocol wraps its driver — :class:`Dlt645Reader` (a DL/T 645 codec over a
:class:`~edge.transports.Transport`) and :class:`ModbusReader` (pymodbus) — and
:func:`build_reader` picks the one a bus needs, so the worker never builds I/O itself and a
test hands it a reader over an in-memory line.

A reader raises :class:`~edge.meters.errors.ReadError` with a typed kind; it does not keep
meter health, pace or back off (the bus worker does).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from ..config import BusConfig, MeterConfig
from ..transports import LineStats, SerialTransport, Transport
from .dlt645_driver import Dlt645Driver
from .errors import FailureKind, ReadError
from .modbus_driver import ModbusDriver


class MeterReader(Protocol):
    """One bus's meters, read through one line (one transaction at a time)."""

    def read(self, meter: MeterConfig, quantities: Sequence[str]) -> dict[str, float]:
        """Values by quantity; raises :class:`ReadError` when none could be read."""
        ...

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        """The daily-freeze registers closing ``data_date`` (``today`` in the meter's zone)."""
        ...

    def keeps_freezes(self, meter: MeterConfig) -> bool:
        """Whether the meter keeps its own daily-freeze history (a DL/T 645-2007 meter); the
        others get a terminal-side freeze from the gateway (:mod:`edge.bus`)."""
        ...

    def meter_clock(self, meter: MeterConfig) -> datetime | None:
        """The meter's clock (aware), or None for meters whose clock is not read."""
        ...

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        """When the last event the counter ``counter`` counts began (aware), from the
        meter's own event record (DL/T 645-2007: the cover-open record 03300D01 for
        ``cover_open_count``); None when the meter keeps no such record or has none."""
        ...

    def broadcast_time(self, local_now: datetime) -> None:
        """Set every meter's clock on the line (no reply); a no-op where unsupported."""
        ...

    @property
    def stats(self) -> LineStats:
        """Transactions, timeouts and checksum errors on the line so far."""
        ...

    def close(self) -> None: ...


class Dlt645Reader:
    """DL/T 645-2007 and -1997 meters over a byte transport."""

    def __init__(self, transport: Transport, *, timeout_s: float, tz: ZoneInfo) -> None:
        self.transport = transport
        self.driver = Dlt645Driver(transport, timeout_s=timeout_s, tz=tz)

    def read(self, meter: MeterConfig, quantities: Sequence[str]) -> dict[str, float]:
        values, refused = self.driver.read(meter, quantities)
        if not values and refused:
            raise refused[0]
        return values

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        return self.driver.freeze(meter, data_date, today)

    def keeps_freezes(self, meter: MeterConfig) -> bool:
        return self.driver.version(meter) == "2007"

    def meter_clock(self, meter: MeterConfig) -> datetime | None:
        return self.driver.meter_clock(meter)

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        return self.driver.last_event_time(meter, counter)

    def broadcast_time(self, local_now: datetime) -> None:
        self.driver.broadcast_time(local_now)

    @property
    def stats(self) -> LineStats:
        return self.transport.stats

    def close(self) -> None:
        self.transport.close()


class ModbusReader:
    """Modbus meters (RTU or TCP) through pymodbus: no freeze history, no clock to read or
    set."""

    def __init__(self, driver: ModbusDriver) -> None:
        self.driver = driver

    def read(self, meter: MeterConfig, quantities: Sequence[str]) -> dict[str, float]:
        values, _ = self.driver.read(meter, quantities)
        return values

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        raise ReadError(meter.id, FailureKind.UNSUPPORTED, "Modbus meters keep no freeze history")

    def keeps_freezes(self, meter: MeterConfig) -> bool:
        return False

    def meter_clock(self, meter: MeterConfig) -> datetime | None:
        return None

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        return None  # our Modbus profiles have no event records

    def broadcast_time(self, local_now: datetime) -> None:
        return None

    @property
    def stats(self) -> LineStats:
        return LineStats(self.driver.transactions, self.driver.timeouts, 0)

    def close(self) -> None:
        self.driver.close()


def is_modbus_bus(bus: BusConfig) -> bool:
    """A bus carries one protocol family (the configuration checks it): its first meter's."""
    return bool(bus.meters) and bus.meters[0].protocol == "modbus"


def build_reader(
    bus: BusConfig, *, tz: ZoneInfo, transport: Transport | None = None
) -> MeterReader:
    """The reader for ``bus``: Modbus through pymodbus, DL/T 645 over ``transport`` (by
    default the bus's serial port or TCP serial server, opened on first use)."""
    if is_modbus_bus(bus):
        return ModbusReader(ModbusDriver(bus))
    line = transport or SerialTransport(
        bus.port, baud=bus.baud, parity=bus.parity, bytesize=bus.bytesize, stopbits=bus.stopbits
    )
    return Dlt645Reader(line, timeout_s=bus.timeout_ms / 1000, tz=tz)
