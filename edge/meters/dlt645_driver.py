"""DL/T 645 meters: quantities in, canonical readings out, over one bus transport.

- Versions: a meter configured ``auto`` is tried as 2007 and then 1997; the answer is kept.
- Block reads (``0001FF00``, ``0201FF00``...) when two or more members are wanted; a meter
  that answers "no such data" to a block is remembered and read item by item from then on.
- Long replies: ``B1`` (more follows) is completed with read-subsequent (``12``) frames.
- Error replies become :class:`ReadError` with the named bits; a reply from another address
  is ``wrong_address``; garbage and timeouts are ``timeout`` (the decoder drops bad frames).
- Daily freezes: the n-th last freeze that closes a data date is found from its freeze time
  (the meter's clock may be off by minutes, so the freeze time is checked, not assumed).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from protocols import dlt645 as d
from protocols.dlt645 import DataItem, Frame, Version
from protocols.vocabulary import FREEZE_HISTORY_DAYS

from ..config import MeterConfig
from ..transports import ReadTimeout, Transport, transact
from .errors import FailureKind, ReadError

log = logging.getLogger(__name__)

MAX_SUBSEQUENT = 16
#: event counter -> the DL/T 645-2007 record of its last event (its first field the start)
EVENT_RECORDS: dict[str, int] = {"cover_open_count": 0x03300D01}
#: How a meter left ``auto`` is asked which version it speaks: the total import energy.
VERSION_PROBES: tuple[tuple[Version, str], ...] = (("2007", "00010000"), ("1997", "9010"))


class Dlt645Driver:
    def __init__(self, transport: Transport, *, timeout_s: float, tz: ZoneInfo) -> None:
        self.transport = transport
        self.timeout_s = timeout_s
        self.tz = tz
        self._versions: dict[str, Version] = {}
        self._no_blocks: set[tuple[str, int]] = set()
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ transactions

    def _ask(self, meter: MeterConfig, wire: bytes, di: int | None, version: Version) -> d.Reply:
        try:
            frame = transact(self.transport, wire, self.timeout_s)
        except ReadTimeout:
            raise ReadError(
                meter.id, FailureKind.TIMEOUT, f"no reply within {self.timeout_s:.1f} s"
            ) from None
        assert frame is not None
        return self._check(meter, frame, di, version)

    def _check(self, meter: MeterConfig, frame: Frame, di: int | None, version: Version) -> d.Reply:
        if frame.address != meter.address:
            raise ReadError(meter.id, FailureKind.WRONG_ADDRESS, f"reply from {frame.address}")
        try:
            reply = d.parse_reply(frame, version)
        except d.FrameError as exc:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, str(exc)) from exc
        if reply.error is not None:
            raise ReadError(
                meter.id,
                FailureKind.ERROR_REPLY,
                "" if di is None else d.format_di(di, version),
                bits=reply.error,
            )
        if di is not None and reply.di != di:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, f"reply for DI {reply.di_text}")
        return reply

    def read_item(self, meter: MeterConfig, entry: DataItem) -> tuple[d.Value | None, ...]:
        version = entry.version
        reply = self._ask(meter, d.build_read(meter.address, entry.di, version), entry.di, version)
        raw, seq = reply.raw, 0
        while reply.more_follows:
            seq += 1
            if seq > MAX_SUBSEQUENT:
                raise ReadError(meter.id, FailureKind.BAD_REPLY, "too many subsequent frames")
            reply = self._ask(
                meter,
                d.build_read_subsequent(meter.address, entry.di, seq, version),
                entry.di,
                version,
            )
            raw += reply.raw
        if raw == reply.raw and reply.values:
            return reply.values
        try:
            return entry.decode(raw)
        except d.FrameError as exc:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, str(exc)) from exc

    # ------------------------------------------------------------------ versions

    def probe(self, meter: MeterConfig, version: Version, di: str) -> bool:
        """Does ``meter`` answer ``version``'s read of ``di``? An error reply is an answer
        (it speaks the version); the version is then remembered. Silence is False; any
        other failure (a reply from another address, garbage) raises."""
        try:
            self.read_item(meter, d.item(di, version))
        except ReadError as exc:
            if exc.kind is FailureKind.TIMEOUT:
                return False
            if exc.kind is not FailureKind.ERROR_REPLY:
                raise
        with self._lock:
            self._versions[meter.id] = version
        return True

    def version(self, meter: MeterConfig) -> Version:
        if meter.protocol == "2007":
            return "2007"
        if meter.protocol == "1997":
            return "1997"
        with self._lock:
            known = self._versions.get(meter.id)
        if known:
            return known
        last: ReadError | None = None
        for ver, di in VERSION_PROBES:
            try:
                self.read_item(meter, d.item(di, ver))
            except ReadError as exc:
                last = exc
                if exc.kind is FailureKind.ERROR_REPLY:  # it speaks this version
                    self._versions[meter.id] = ver
                    return ver
                continue
            with self._lock:
                self._versions[meter.id] = ver
            log.info("meter %s speaks DL/T 645-%s", meter.id, ver)
            return ver
        assert last is not None
        raise last

    # ------------------------------------------------------------------ quantities

    def plan(
        self, meter: MeterConfig, version: Version, quantities: Sequence[str]
    ) -> list[DataItem]:
        """The reads covering ``quantities``: blocks where two or more members are wanted
        and the meter has not refused the block, single items otherwise."""
        wanted = []
        for q in quantities:
            try:
                wanted.append(d.by_quantity(q, version))
            except d.RequestError:
                continue  # this version has no such item
        reads: list[DataItem] = []
        covered: set[int] = set()
        for block in (e for e in d.items(version) if e.is_block and e.history == 0):
            members = [w for w in wanted if w.di in block.members]
            if len(members) >= 2 and (meter.id, block.di) not in self._no_blocks:
                reads.append(block)
                covered.update(w.di for w in members)
        reads.extend(w for w in wanted if w.di not in covered)
        return reads

    def read(
        self, meter: MeterConfig, quantities: Sequence[str]
    ) -> tuple[dict[str, float], list[ReadError]]:
        """Values by quantity; items the meter refuses are returned as errors, a meter that
        does not answer at all raises :class:`ReadError`."""
        version = self.version(meter)
        values: dict[str, float] = {}
        refused: list[ReadError] = []
        want = set(quantities)
        for entry in self.plan(meter, version, quantities):
            try:
                got = self.read_item(meter, entry)
            except ReadError as exc:
                if exc.bits == ("no_such_data",) and entry.is_block:
                    self._no_blocks.add((meter.id, entry.di))
                    log.info("meter %s refuses block %s; reading items", meter.id, entry.di_text)
                    sub = self.read(meter, [q for q in entry.quantities if q in want])
                    values.update(sub[0])
                    refused.extend(sub[1])
                    continue
                if exc.communication:
                    raise
                refused.append(exc)
                continue
            for q, v in zip(entry.quantities, got, strict=True):
                if q in want and isinstance(v, (int, float)):
                    values[q] = float(v)
        return values, refused

    def last_event_time(self, meter: MeterConfig, counter: str) -> datetime | None:
        """When the last event ``counter`` counts began, on the meter's clock (aware, the
        configured zone): the start time of the meter's last event record. Only the
        cover-open record (DL/T 645-2007 03300D01) is known; None for other counters, for
        1997 meters, for a meter that refuses the record or has none (all-zero start)."""
        record = EVENT_RECORDS.get(counter)
        if record is None or self.version(meter) != "2007":
            return None
        try:
            start = self.read_item(meter, d.item(record, "2007"))[0]
        except ReadError as exc:
            if exc.communication:
                raise
            log.info("meter %s: no %s record (%s)", meter.id, counter, exc)
            return None
        if not isinstance(start, datetime):
            return None
        return start.replace(tzinfo=self.tz)

    def meter_clock(self, meter: MeterConfig) -> datetime:
        """The meter's clock as an aware datetime in the configured zone."""
        version = self.version(meter)
        date_di, time_di = ("04000101", "04000102") if version == "2007" else ("C010", "C011")
        day = self.read_item(meter, d.item(date_di, version))[0]
        clock = self.read_item(meter, d.item(time_di, version))[0]
        assert isinstance(day, date) and not isinstance(day, datetime)
        assert isinstance(clock, time)
        return datetime.combine(day, clock, self.tz)

    def freeze(self, meter: MeterConfig, data_date: date, today: date) -> dict[str, float]:
        """The daily-freeze registers that close ``data_date`` (meter-local calendar)."""
        version = self.version(meter)
        if version != "2007":
            raise ReadError(
                meter.id,
                FailureKind.UNSUPPORTED,
                "DL/T 645-1997 meters keep no daily freeze history",
            )
        n0 = (today - data_date).days
        for n in (n0, n0 - 1, n0 + 1):
            if not 1 <= n <= FREEZE_HISTORY_DAYS:
                continue
            when_item, energy_item, export_item = d.freeze_items(n)
            shown = self.read_item(meter, when_item)[0]
            if not isinstance(shown, datetime):
                raise ReadError(meter.id, FailureKind.BAD_REPLY, f"freeze time {shown!r}")
            closes = (shown - timedelta(minutes=1)).date()
            if closes != data_date:
                continue
            out = _numbers(energy_item, self.read_item(meter, energy_item))
            try:
                out.update(_numbers(export_item, self.read_item(meter, export_item)))
            except ReadError as exc:
                if exc.communication:
                    raise
            return out
        raise ReadError(
            meter.id,
            FailureKind.UNSUPPORTED,
            f"no daily freeze for {data_date} in the meter's {FREEZE_HISTORY_DAYS}-day history",
        )

    def broadcast_time(self, local_now: datetime) -> None:
        transact(
            self.transport,
            d.build_broadcast_time(local_now.replace(tzinfo=None)),
            self.timeout_s,
            expect_reply=False,
        )


def _numbers(entry: DataItem, values: tuple[d.Value | None, ...]) -> dict[str, float]:
    return {
        q: float(v)
        for q, v in zip(entry.quantities, values, strict=True)
        if isinstance(v, (int, float))
    }
