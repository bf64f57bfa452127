"""DL/T 698.45 meters: quantities in, canonical readings out, over one bus transport.

- Reads: every wanted quantity maps to an OAD of the codec's catalogue
  (:func:`protocols.dlt698.oad_of_quantity`); two or more elements of one array object
  (voltage A/B/C, the tariff energies) are read as the whole array, and all OADs go in
  one GET-Request-NormalList, so a meter's interval read is one exchange. An OAD the
  meter refuses (a DAR) is returned as a refusal, the others are kept.
- Event counts (``power_down_count``, ``cover_open_count``) come from the event record
  tables (3011 power-down, 301B cover open): the last record's sequence number (2022)
  counts from 0, so the count is sequence + 1; no record means 0.
- Daily freezes: GET-Request-Record of the daily freeze 5004 with selector 2 (freeze
  time in a day-wide window around the close), the row whose freeze time closes the data
  date is taken (the meter's clock may be off by minutes, as for DL/T 645). Curves: the
  minute freeze 5002 with selector 2 and the interval as its step.
- ESAM meters (``esam = true`` in the meter's configuration, or a meter that refuses a
  plain record read with a security DAR: it is remembered) are asked for frozen data as
  SECURITY plaintext + RN (16 random bytes drawn here, per request). They answer plaintext
  + MAC; the MAC can only be checked by the utility's security module, so the pair it needs
  (the MAC as received, the RN sent) comes back with the values (:class:`Seal`) and goes
  into every reading made from them, which carries
  :attr:`~protocols.model.Quality.UNVERIFIED`. Never verified here.
- Errors: no reply / garbage -> ``timeout``; a reply from another address ->
  ``wrong_address``; a frame that does not answer the request -> ``bad_reply``; a DAR ->
  ``error_reply`` with the DAR's name as its bits.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Final
from zoneinfo import ZoneInfo

from protocols import dlt698 as d
from protocols.dlt698.catalogue import column_oad
from protocols.model import Quality

from ..config import MeterConfig
from ..transports import ReadTimeout, Transport, transact_698
from .errors import FailureKind, ReadError

log = logging.getLogger(__name__)

FREEZE_TIME: Final[int] = 0x20210200
FREEZE_SEQUENCE: Final[int] = 0x20230200
EVENT_SEQUENCE: Final[int] = 0x20220200
EVENT_START: Final[int] = 0x201E0200
DAILY_FREEZE: Final[int] = 0x50040200
MINUTE_FREEZE: Final[int] = 0x50020200
CLOCK: Final[int] = 0x40000200
ADDRESS: Final[int] = 0x40010200
#: What a daily-freeze row carries besides its time and sequence.
DAILY_COLUMNS: Final[tuple[int, ...]] = (0x00100200, 0x00200200)
#: The event record tables the events plan's counters come from.
EVENT_TABLES: Final[dict[str, int]] = {
    "power_down_count": 0x30110200,
    "cover_open_count": 0x301B0200,
}
#: DARs with which a meter says "ask me secured" (unauthorised, ESAM / security failures).
SECURITY_DARS: Final[frozenset[int]] = frozenset({15, 20, 22, 23})
MAX_NEXT_BLOCKS: Final[int] = 16


@dataclass(frozen=True)
class Seal:
    """What a secured answer lets the utility's security module verify later: the MAC the
    meter returned (as received) and the random number (RN) the request carried."""

    mac: bytes
    rn: bytes


@dataclass(frozen=True)
class FrozenRow:
    """One row of a freeze table: when it was frozen (meter-local, aware) and its values."""

    frozen_at: datetime
    values: dict[str, float]


def plan_oads(quantities: Sequence[str]) -> tuple[list[int], list[str]]:
    """The OADs covering ``quantities`` (whole arrays where two or more elements are
    wanted) and the quantities no plain object holds (event counts, unknown ones)."""
    by_base: dict[int, list[int]] = {}
    other: list[str] = []
    for q in quantities:
        try:
            oad = d.oad_of_quantity(q)
        except d.UnknownObjectError:
            other.append(q)
            continue
        obj = d.object_def(oad)
        if obj.kind == "record":
            other.append(q)
            continue
        by_base.setdefault(oad & 0xFFFFFF00, []).append(oad)
    oads = []
    for base, members in by_base.items():
        unique = sorted(set(members))
        oads.extend([base] if len(unique) >= 2 else unique)
    return oads, other


class Dlt698Driver:
    def __init__(self, transport: Transport, *, timeout_s: float, tz: ZoneInfo) -> None:
        self.transport = transport
        self.timeout_s = timeout_s
        self.tz = tz
        self._piid = 0
        self._secured: set[str] = set()  # meters found to want SECURITY for frozen data
        #: the last MAC each ESAM meter returned (meter id -> (when, MAC)): kept for the
        #: utility's security module, never checked here
        self.macs: dict[str, tuple[datetime, bytes]] = {}
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ transactions

    def _next_piid(self) -> int:
        with self._lock:
            self._piid = (self._piid + 1) % 64
            return self._piid

    def ask(self, meter: MeterConfig, wire: bytes) -> d.Reply:
        """One exchange with ``meter``; the reply checked to answer ``wire``."""
        try:
            frame = transact_698(self.transport, wire, self.timeout_s)
        except ReadTimeout:
            raise ReadError(
                meter.id, FailureKind.TIMEOUT, f"no reply within {self.timeout_s:.1f} s"
            ) from None
        assert frame is not None
        if frame.server.address != meter.address:
            raise ReadError(
                meter.id, FailureKind.WRONG_ADDRESS, f"reply from {frame.server.address}"
            )
        if frame.fragmented:
            frame = self._reassemble(meter, frame)
        try:
            reply = d.parse_reply(frame, expect=wire)
        except d.Dlt698Error as exc:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, str(exc)) from exc
        if reply.security == "cipher":
            raise ReadError(
                meter.id, FailureKind.BAD_REPLY, "ciphertext reply: no key to decrypt it"
            )
        if reply.mac is not None:
            self.macs[meter.id] = (datetime.now(self.tz), reply.mac)
        return reply

    def _reassemble(self, meter: MeterConfig, frame: d.Frame) -> d.Frame:
        """A reply that arrives in link-layer fragments (a meter whose frame size is
        smaller than its answer): confirm each fragment, which asks for the next, and
        return the whole reply once the last is in (confirmed too)."""
        assembler = d.Reassembler()
        while True:
            try:
                whole = assembler.feed(frame)
                confirm = d.encode_frame(d.confirm_frame(frame))
            except d.Dlt698Error as exc:
                raise ReadError(
                    meter.id, FailureKind.BAD_REPLY, f"fragmented reply: {exc}"
                ) from exc
            if whole is not None:
                transact_698(self.transport, confirm, self.timeout_s, expect_reply=False)
                return d.whole_frame(frame, whole)
            try:
                got = transact_698(self.transport, confirm, self.timeout_s)
            except ReadTimeout:
                raise ReadError(
                    meter.id,
                    FailureKind.TIMEOUT,
                    f"fragment {assembler.pending + 1} of the reply not sent within "
                    f"{self.timeout_s:.1f} s",
                ) from None
            assert got is not None
            if got.server.address != meter.address:
                raise ReadError(
                    meter.id, FailureKind.WRONG_ADDRESS, f"fragment from {got.server.address}"
                )
            frame = got

    def _checked(self, meter: MeterConfig, reply: d.Reply, what: str) -> d.Reply:
        try:
            return reply.raise_for_error()
        except d.DarError as exc:
            raise ReadError(meter.id, FailureKind.ERROR_REPLY, what, bits=(exc.name,)) from exc
        except d.FrameError as exc:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, str(exc)) from exc

    def probe(self, meter: MeterConfig) -> bool:
        """Does ``meter`` answer DL/T 698.45 (a read of its communication address)?
        A refusal is an answer too; silence or another protocol's bytes are not."""
        try:
            self.ask(meter, d.build_get(meter.address, ADDRESS, piid=self._next_piid()))
        except ReadError as exc:
            if exc.kind in (FailureKind.TIMEOUT, FailureKind.WRONG_ADDRESS):
                return False
        return True

    # ------------------------------------------------------------------ quantities

    def read(
        self, meter: MeterConfig, quantities: Sequence[str]
    ) -> tuple[dict[str, float], list[ReadError]]:
        """Values by quantity (one NormalList exchange, plus one per event table); items
        the meter refuses are returned as errors, a meter that does not answer raises."""
        want = set(quantities)
        oads, other = plan_oads(quantities)
        values: dict[str, float] = {}
        refused: list[ReadError] = []
        if oads:
            piid = self._next_piid()
            wire = (
                d.build_get(meter.address, oads[0], piid=piid)
                if len(oads) == 1
                else d.build_get_list(meter.address, oads, piid=piid)
            )
            reply = self.ask(meter, wire)
            if not reply.results:
                self._checked(meter, reply, "GET")  # an ERROR-Response or a whole refusal
            for res in reply.results:
                if res.data is None:
                    refused.append(
                        ReadError(
                            meter.id,
                            FailureKind.ERROR_REPLY,
                            d.format_oad(res.oad),
                            bits=(d.dar_name(res.dar or 0),),
                        )
                    )
                    continue
                for q, v in d.model_values(res.oad, res.data):
                    if q in want and isinstance(v, (int, float)) and not isinstance(v, bool):
                        values[q] = float(v)
        for q in other:
            if q not in EVENT_TABLES:
                continue
            try:
                values[q] = float(self.event_count(meter, q)[0])
            except ReadError as exc:
                if exc.communication:
                    raise
                refused.append(exc)
        return values, refused

    def event_count(self, meter: MeterConfig, quantity: str) -> tuple[int, datetime | None]:
        """(how many events the table holds, when the last one started) for
        ``power_down_count`` / ``cover_open_count``."""
        table = EVENT_TABLES[quantity]
        wire = d.build_get_record(
            meter.address,
            table,
            d.Rsd.last(1),
            [d.format_oad(EVENT_SEQUENCE), d.format_oad(EVENT_START)],
            piid=self._next_piid(),
        )
        reply = self.ask(meter, wire)
        rec = self._checked(meter, reply, d.format_oad(table)).record()
        if not rec.rows:
            return 0, None
        row = dict(zip((column_oad(c) for c in rec.rcsd), rec.rows[0], strict=True))
        seq = row.get(EVENT_SEQUENCE)
        start = row.get(EVENT_START)
        if seq is None or not isinstance(seq.value, int):
            raise ReadError(meter.id, FailureKind.BAD_REPLY, "event record without a sequence")
        started = (
            start.value.replace(tzinfo=self.tz)
            if start is not None and isinstance(start.value, datetime)
            else None
        )
        return seq.value + 1, started

    def meter_clock(self, meter: MeterConfig) -> datetime:
        """The meter's clock (4000) as an aware datetime in the configured zone."""
        reply = self.ask(meter, d.build_get(meter.address, CLOCK, piid=self._next_piid()))
        shown = self._checked(meter, reply, "40000200").data(CLOCK).value
        if not isinstance(shown, datetime):
            raise ReadError(meter.id, FailureKind.BAD_REPLY, f"clock {shown!r}")
        return shown.replace(tzinfo=self.tz)

    # ------------------------------------------------------------------ freezes

    def _record(
        self, meter: MeterConfig, table: int, rsd: d.Rsd, columns: Sequence[int]
    ) -> tuple[d.Reply, bool, Seal | None]:
        """A record read, secured when the meter wants it: (reply, secured, the MAC it
        returned with the RN sent, if any)."""
        rcsd = [d.format_oad(c) for c in columns]
        secure = meter.esam or meter.id in self._secured
        rn = secrets.token_bytes(d.RN_BYTES) if secure else None
        reply = self.ask(
            meter,
            d.build_get_record(
                meter.address, table, rsd, rcsd, piid=self._next_piid(), secure=secure, rn=rn
            ),
        )
        if not secure:
            rec = reply.records[0] if reply.records else None
            if rec is not None and rec.dar in SECURITY_DARS:
                log.info(
                    "meter %s refuses frozen data in the clear (%s): asking with SECURITY",
                    meter.id,
                    d.dar_name(rec.dar),
                )
                with self._lock:
                    self._secured.add(meter.id)
                return self._record(meter, table, rsd, columns)
        self._checked(meter, reply, d.format_oad(table))
        seal = Seal(reply.mac, rn) if reply.mac is not None and rn is not None else None
        return reply, secure or reply.security is not None, seal

    def _rows(self, meter: MeterConfig, reply: d.Reply) -> list[FrozenRow]:
        out = []
        for row in reply.row_quantities():
            when = row.pop("freeze_time", None)
            if not isinstance(when, datetime):
                raise ReadError(meter.id, FailureKind.BAD_REPLY, f"freeze time {when!r}")
            values = {
                q: float(v)
                for q, v in row.items()
                if q != "freeze_sequence" and isinstance(v, (int, float))
            }
            out.append(FrozenRow(when.replace(tzinfo=self.tz), values))
        return out

    def freeze(
        self, meter: MeterConfig, data_date: date, today: date
    ) -> tuple[dict[str, float], frozenset[Quality], Seal | None]:
        """The daily freeze (5004) that closes ``data_date`` (meter-local calendar), the
        flags its values carry (UNVERIFIED when read through SECURITY) and the MAC + RN of
        a secured answer."""
        close = datetime.combine(data_date + timedelta(days=1), time(0, 0))
        rsd = d.Rsd.interval(
            FREEZE_TIME, d.dts(close - timedelta(hours=12)), d.dts(close + timedelta(hours=12))
        )
        reply, secured, seal = self._record(
            meter, DAILY_FREEZE, rsd, (FREEZE_TIME, FREEZE_SEQUENCE, *DAILY_COLUMNS)
        )
        rows = [
            r
            for r in self._rows(meter, reply)
            if (r.frozen_at.replace(tzinfo=None) - timedelta(minutes=1)).date() == data_date
        ]
        if not rows:
            raise ReadError(
                meter.id,
                FailureKind.UNSUPPORTED,
                f"no daily freeze for {data_date} in the meter's freeze history",
            )
        best = min(rows, key=lambda r: abs(r.frozen_at.replace(tzinfo=None) - close))
        flags = frozenset({Quality.UNVERIFIED}) if secured else frozenset()
        return best.values, flags, seal

    def curve(
        self,
        meter: MeterConfig,
        start: datetime,
        end: datetime,
        every_min: int,
        quantities: Sequence[str],
    ) -> tuple[list[FrozenRow], frozenset[Quality]]:
        """The minute-freeze (5002) rows frozen in [start, end) every ``every_min``
        minutes (meter-local naive or aware times), with the wanted quantities."""
        oads, _ = plan_oads(quantities)
        rsd = d.Rsd.interval(
            FREEZE_TIME,
            d.dts(_naive(start, self.tz)),
            d.dts(_naive(end, self.tz)),
            d.Data(d.T.TI, d.Ti(1, every_min)),
        )
        reply, secured, _seal = self._record(meter, MINUTE_FREEZE, rsd, (FREEZE_TIME, *oads))
        want = set(quantities)
        rows = [
            FrozenRow(r.frozen_at, {q: v for q, v in r.values.items() if q in want})
            for r in self._rows(meter, reply)
        ]
        return rows, frozenset({Quality.UNVERIFIED}) if secured else frozenset()

    def broadcast_time(self, local_now: datetime) -> None:
        transact_698(
            self.transport,
            d.build_broadcast_time(local_now.replace(tzinfo=None, microsecond=0)),
            self.timeout_s,
            expect_reply=False,
        )


def _naive(t: datetime, tz: ZoneInfo) -> datetime:
    return t.astimezone(tz).replace(tzinfo=None) if t.tzinfo is not None else t


__all__ = ["Dlt698Driver", "FrozenRow", "Seal", "plan_oads"]
