"""What a bus worker asks of the meters on its line, whatever protocol they speak.

:class:`MeterReader` is the shape: read quantities, read a daily freeze, read the meter's
clock, broadcast the time, count the line's transactions, close. One implementation per
kind of line wraps its drivers — :class:`Dlt645Reader` (the DL/T 645 and DL/T 698.45 codecs
over one :class:`~edge.transports.Transport`: both families share an RS-485 pair, and a
meter left ``auto`` is found to speak 645-2007, 698.45 or 645-1997) and
:class:`ModbusReader` (pymodbus) — and
:func:`build_reader` picks the one a bus needs, so the worker never builds I/O itself and a
test hands it a reader over an in-memory line.

A reader raises :class:`~edge.meters.errors.ReadError` with a typed kind; it does not keep
meter health, pace or back off (the bus worker does). Values that must carry a quality flag
into every reading made from them (a DL/T 698.45 freeze read through an ESAM: ``unverified``,
with the answer's MAC and the request's RN) come back as :class:`Flagged`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

from protocols.model import Quality
from protocols.vocabulary import CURVE_REREADABLE_PROTOCOLS, REREADABLE_PROTOCOLS, MeterProtocol

from ..config import BusConfig, MeterConfig
from ..transports import LineStats, SerialTransport, Transport
from .dlt645_driver import VERSION_PROBES, Dlt645Driver
from .dlt698_driver import EVENT_TABLES, Dlt698Driver, FrozenRow, Seal
from .errors import FailureKind, ReadError
from .modbus_driver import ModbusDriver

log = logging.getLogger(__name__)

#: The error bits of a curve re-read asked of a meter that keeps no curve of its own.
NO_CURVE_HISTORY = "no_curve_history"


def no_curve(meter: MeterConfig, protocol: str) -> ReadError:
    """The refusal of a curve re-read for a meter whose protocol keeps no curve."""
    return ReadError(
        meter.id,
        FailureKind.UNSUPPORTED,
        f"{protocol} meters keep no 15-minute curve: only DL/T 698.45 meters' minute "
        "freeze (5002) can be re-read",
        bits=(NO_CURVE_HISTORY,),
    )


class Flagged(dict[str, float]):
    """Values by quantity plus the quality flags every reading made from them carries, and
    the MAC + RN of the secured answer they came in (an ESAM meter's), if any."""

    def __init__(
        self,
        values: Mapping[str, float],
        quality: Iterable[Quality] = frozenset(),
        seal: Seal | None = None,
    ) -> None:
        super().__init__(values)
        self.quality = frozenset(quality)
        self.seal = seal


def flags_of(values: Mapping[str, float]) -> frozenset[Quality]:
    """The flags a reader attached to ``values`` (none for a plain dict)."""
    return values.quality if isinstance(values, Flagged) else frozenset()


def seal_of(values: Mapping[str, float]) -> Seal | None:
    """The MAC + RN a reader attached to ``values`` (None for a plain dict)."""
    return values.seal if isinstance(values, Flagged) else None


class MeterReader(Protocol):
    """One bus's meters, read through one line (one transaction at a time)."""

    def read(self, meter: MeterConfig, quantities: Sequence[str]) -> dict[str, float]:
        """Values by quantity; raises :class:`ReadError` when none could be read."""
        ...

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        """The daily-freeze registers closing ``data_date`` (``today`` in the meter's zone)."""
        ...

    def keeps_freezes(self, meter: MeterConfig) -> bool:
        """Whether the meter keeps its own daily-freeze history (its protocol is one of
        :data:`~protocols.vocabulary.REREADABLE_PROTOCOLS`: DL/T 645-2007, 698.45); the
        others get a terminal-side freeze from the gateway (:mod:`edge.bus`)."""
        ...

    def curve(
        self,
        meter: MeterConfig,
        start: datetime,
        end: datetime,
        every_min: int,
        quantities: Sequence[str],
    ) -> tuple[list[FrozenRow], frozenset[Quality]]:
        """The meter's own curve rows frozen in [start, end) every ``every_min`` minutes
        and the flags their values carry; raises :class:`ReadError` (``unsupported``,
        :data:`NO_CURVE_HISTORY`) for a meter that keeps none (its protocol is not one of
        :data:`~protocols.vocabulary.CURVE_REREADABLE_PROTOCOLS`: DL/T 698.45's 5002)."""
        ...

    def meter_clock(self, meter: MeterConfig) -> datetime | None:
        """The meter's clock (aware), or None for meters whose clock is not read."""
        ...

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        """When the last event the counter ``counter`` counts began (aware), from the
        meter's own event record (DL/T 645-2007: the cover-open record 03300D01 for
        ``cover_open_count``; DL/T 698.45: the event start 201E of the last record of
        301B / 3011); None when the meter keeps no such record or has none."""
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
    """DL/T 645-2007, 645-1997 and DL/T 698.45 meters over one byte transport.

    A meter configured ``dlt698`` goes to the 698.45 driver, ``2007``/``1997`` to the 645
    driver; an ``auto`` meter is probed once (645-2007 energy, then a 698.45 read of its
    address, then 645-1997 energy: the newest installed base first, 1997 last) and the
    answer kept. Broadcast time goes out in each family the line's meters speak (an ``auto``
    meter not yet probed counts as DL/T 645).
    """

    def __init__(
        self,
        transport: Transport,
        *,
        timeout_s: float,
        tz: ZoneInfo,
        meters: Sequence[MeterConfig] = (),
    ) -> None:
        self.transport = transport
        self.driver = Dlt645Driver(transport, timeout_s=timeout_s, tz=tz)
        self.dlt698 = Dlt698Driver(transport, timeout_s=timeout_s, tz=tz)
        self.meters = tuple(meters)
        self._families: dict[str, str] = {}  # meter id -> "dlt645" | "dlt698" (auto meters)
        self._lock = threading.Lock()

    def family(self, meter: MeterConfig) -> str:
        """``"dlt698"`` or ``"dlt645"``: which codec reads ``meter``."""
        if meter.protocol == "dlt698":
            return "dlt698"
        if meter.protocol != "auto":
            return "dlt645"
        with self._lock:
            known = self._families.get(meter.id)
        if known:
            return known
        found = self._detect(meter)
        with self._lock:
            self._families[meter.id] = found
        return found

    def _detect(self, meter: MeterConfig) -> str:
        last: ReadError | None = None
        for version, di in VERSION_PROBES:
            if version == "1997" and self.dlt698.probe(meter):
                log.info("meter %s speaks DL/T 698.45", meter.id)
                return "dlt698"
            try:
                if self.driver.probe(meter, version, di):
                    log.info("meter %s speaks DL/T 645-%s", meter.id, version)
                    return "dlt645"
            except ReadError as exc:
                last = exc
        if last is not None:
            raise last
        raise ReadError(meter.id, FailureKind.TIMEOUT, "no answer in DL/T 645 or 698.45")

    def read(self, meter: MeterConfig, quantities: Sequence[str]) -> dict[str, float]:
        if self.family(meter) == "dlt698":
            values, refused = self.dlt698.read(meter, quantities)
        else:
            values, refused = self.driver.read(meter, quantities)
        if not values and refused:
            raise refused[0]
        return values

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        if self.family(meter) == "dlt698":
            values, flags, seal = self.dlt698.freeze(meter, data_date, today)
            return Flagged(values, flags, seal)
        return self.driver.freeze(meter, data_date, today)

    def keeps_freezes(self, meter: MeterConfig) -> bool:
        return self.protocol_of(meter) in REREADABLE_PROTOCOLS

    def curve(
        self,
        meter: MeterConfig,
        start: datetime,
        end: datetime,
        every_min: int,
        quantities: Sequence[str],
    ) -> tuple[list[FrozenRow], frozenset[Quality]]:
        protocol = self.protocol_of(meter)
        if protocol not in CURVE_REREADABLE_PROTOCOLS:
            raise no_curve(meter, protocol.value)
        return self.dlt698.curve(meter, start, end, every_min, quantities)

    def protocol_of(self, meter: MeterConfig) -> MeterProtocol:
        """The archive's name of the protocol ``meter`` speaks (probed for ``auto``)."""
        if self.family(meter) == "dlt698":
            return MeterProtocol.DLT698  # daily (5004) and minute (5002) freeze tables
        if self.driver.version(meter) == "2007":
            return MeterProtocol.DLT645_2007
        return MeterProtocol.DLT645_1997

    def meter_clock(self, meter: MeterConfig) -> datetime | None:
        if self.family(meter) == "dlt698":
            return self.dlt698.meter_clock(meter)
        return self.driver.meter_clock(meter)

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        if self.family(meter) == "dlt698":
            if counter not in EVENT_TABLES:
                return None
            try:
                return self.dlt698.event_count(meter, counter)[1]
            except ReadError as exc:
                if exc.communication:
                    raise
                return None  # the meter keeps no such record
        return self.driver.last_event_time(meter, counter)

    def broadcast_time(self, local_now: datetime) -> None:
        with self._lock:
            detected = dict(self._families)
        families = {
            "dlt698" if m.protocol == "dlt698" else detected.get(m.id, "dlt645")
            for m in self.meters
        } or {"dlt645"}
        if "dlt645" in families:
            self.driver.broadcast_time(local_now)
        if "dlt698" in families:
            self.dlt698.broadcast_time(local_now)

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
        return MeterProtocol.MODBUS in REREADABLE_PROTOCOLS  # no: no freeze history

    def curve(
        self,
        meter: MeterConfig,
        start: datetime,
        end: datetime,
        every_min: int,
        quantities: Sequence[str],
    ) -> tuple[list[FrozenRow], frozenset[Quality]]:
        raise no_curve(meter, MeterProtocol.MODBUS.value)

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
    """The reader for ``bus``: Modbus through pymodbus, DL/T 645 / 698.45 over
    ``transport`` (by default the bus's serial port or TCP serial server, opened on first
    use)."""
    if is_modbus_bus(bus):
        return ModbusReader(ModbusDriver(bus))
    line = transport or SerialTransport(
        bus.port, baud=bus.baud, parity=bus.parity, bytesize=bus.bytesize, stopbits=bus.stopbits
    )
    return Dlt645Reader(line, timeout_s=bus.timeout_ms / 1000, tz=tz, meters=bus.meters)
