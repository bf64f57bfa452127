"""A simulated DL/T 698.45 meter's answers: request frame in, reply bytes (or silence) out.

Uses only the server role of ``protocols.dlt698`` (``parse_request`` and the response
builders) and its object catalogue, so the simulator speaks exactly the codec the edge
reads. What a simulated meter does with each service:

* GET-Request-Normal / NormalList: every catalogue object the meter model has (energies
  with their tariffs, voltages, currents, powers, power factors, frequency, maximum
  demand, 4000 clock, 4001 communication address, 4002 meter number), a whole array or one
  element; an object the meter does not have (phase B on a single-phase meter) is refused
  with DAR 6 ``object_unavailable``, the rest of the list is still answered.
* GET-Request-Record on the freeze tables, with selectors 1 (freeze time = value), 2
  (freeze time in [start, end), with a step), 9 (the n-th last) and 10 (the last n):
  daily freeze 5004 (the last :data:`FREEZE_DAYS` days, frozen at the meter's local
  midnights) and minute freeze 5002 (every :data:`CURVE_STEP_MIN` minutes over the last
  :data:`CURVE_DAYS` days, on the meter's clock); columns as asked (freeze time 2021,
  sequence 2023, any catalogue object), every column when the RCSD is empty. Event tables
  3011 (power-down) and 301B (cover open): selector 9/10, columns 2022 sequence (from 0),
  201E start, 2020 end.
* A meter with an ESAM (``esam = true`` in the fleet) refuses frozen data asked in the
  clear (DAR 15 ``password_error_or_unauthorized``) and answers a SECURITY plaintext + RN
  request as SECURITY plaintext + MAC (a digest of the RN and the answer: it stands for
  the ESAM's MAC, which only the utility's security module could check).
* ACTION 40007F00 (broadcast time): sets the meter clock; to the broadcast address it is
  never answered, to the meter's own address it is acknowledged.
* SET and other ACTIONs: refused (DAR 3 ``read_write_denied``: no password is accepted);
  GET-Next: DAR 11 (the meter never splits a reply at the application level). Other
  services: ERROR-Response 2.
* A meter with ``frame_size`` in the fleet sends an answer longer than that in link-layer
  fragments (``protocols.dlt698.fragment``): the first fragment at once, each next one when
  the client confirms the previous; a confirmation of anything else gets no answer.
* Frames it cannot parse get no answer (a real meter stays silent).
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, Final

from protocols import dlt698 as d
from protocols.dlt698.catalogue import ObjectDef, column_oad
from protocols.dlt698.fragment import CONFIRM
from protocols.vocabulary import CURVE_HISTORY_DAYS, FREEZE_HISTORY_DAYS
from simulators.meter import SimMeter

log = logging.getLogger(__name__)

FREEZE_DAYS: Final[int] = FREEZE_HISTORY_DAYS
CURVE_STEP_MIN: Final[int] = 15
CURVE_DAYS: Final[int] = CURVE_HISTORY_DAYS
MAX_ROWS: Final[int] = 96  # rows answered to one record read (a longer window is cut)

FREEZE_TIME: Final[int] = 0x20210200
FREEZE_SEQUENCE: Final[int] = 0x20230200
EVENT_SEQUENCE: Final[int] = 0x20220200
EVENT_START: Final[int] = 0x201E0200
EVENT_END: Final[int] = 0x20200200
DAILY: Final[int] = 0x50040200
MINUTE: Final[int] = 0x50020200
EVENTS: Final[dict[int, str]] = {0x30110200: "power_down_count", 0x301B0200: "cover_open_count"}
DAILY_COLUMNS: Final[tuple[int, ...]] = (FREEZE_TIME, FREEZE_SEQUENCE, 0x00100200, 0x00200200)
MINUTE_COLUMNS: Final[tuple[int, ...]] = (
    FREEZE_TIME,
    FREEZE_SEQUENCE,
    0x00100200,
    0x00200200,
    0x20000200,
    0x20010200,
    0x20040200,
)
EVENT_COLUMNS: Final[tuple[int, ...]] = (EVENT_SEQUENCE, EVENT_START, EVENT_END)
SECURED_TABLES: Final[frozenset[int]] = frozenset({DAILY, MINUTE})

DAR_UNAVAILABLE: Final[int] = 6
DAR_DENIED: Final[int] = 3
DAR_UNAUTHORISED: Final[int] = 15
DAR_NO_LONG_GET: Final[int] = 11


def mac_of(rn: bytes | None, answer: bytes) -> bytes:
    """The simulated ESAM's 4-byte MAC over the client's RN and the plain answer."""
    return hashlib.sha256((rn or b"") + answer).digest()[:4]


class Dlt698Responder:
    """Answers for DL/T 698.45 meters: every reply is computed from the meter model at
    the simulated instant; the only state is the fragments of a long answer not yet sent
    (per meter)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        #: meter -> (sequence of the fragment sent last, the fragments still to send)
        self._fragments: dict[str, tuple[int, list[d.Frame]]] = {}

    def respond(
        self, meter: SimMeter, frame: d.Frame, now: datetime, preamble: int = 0
    ) -> bytes | None:
        if frame.fragmented or d.is_confirmation(frame):
            return self._next_fragment(meter, frame, preamble)
        wire = self._answer(meter, frame, now, preamble)
        size = meter.spec.frame_size
        with self._lock:
            self._fragments.pop(meter.archive_id, None)  # a new request drops an old answer
        if wire is None or size is None or len(wire) - preamble <= size:
            return wire
        whole = d.inspect_frame(wire).frame
        overhead = len(wire) - preamble - len(whole.apdu) + 2  # + the fragment field
        frames = d.split_apdu(whole, whole.apdu, size - overhead)
        with self._lock:
            self._fragments[meter.archive_id] = (d.fragment_of(frames[0]).seq, frames[1:])
        return d.encode_frame(frames[0], preamble)

    def _next_fragment(self, meter: SimMeter, frame: d.Frame, preamble: int) -> bytes | None:
        """The fragment after the one the client confirms; silence for anything else."""
        try:
            frag = d.fragment_of(frame)
        except d.Dlt698Error as exc:
            log.info("meter %s: unusable 698.45 fragment: %s", meter.archive_id, exc)
            return None
        with self._lock:
            sent, rest = self._fragments.get(meter.archive_id, (-1, []))
            if frag.kind != CONFIRM or frag.seq != sent or not rest:
                self._fragments.pop(meter.archive_id, None)
                return None  # a fragmented request, a stray confirmation, or the last one's
            nxt = rest.pop(0)
            self._fragments[meter.archive_id] = (d.fragment_of(nxt).seq, rest)
        return d.encode_frame(nxt, preamble)

    def _answer(
        self, meter: SimMeter, frame: d.Frame, now: datetime, preamble: int
    ) -> bytes | None:
        try:
            req = d.parse_request(frame)
        except d.Dlt698Error as exc:
            log.info("meter %s: unusable 698.45 request: %s", meter.archive_id, exc)
            return None
        own = meter.address_at(now)
        inner = req.inner
        if isinstance(inner, d.ActionRequest):
            return self._action(meter, req, inner, now, own, preamble)
        if req.address.type == d.BROADCAST:
            return None
        if req.security == "cipher":
            return d.build_error_response(frame, 2, own_address=own)
        if isinstance(inner, d.GetRequest):
            return self._get(meter, req, inner, now, own, preamble)
        if isinstance(inner, d.SetRequest):
            results = [(o, DAR_DENIED) for o, _ in inner.items]
            return d.build_set_response(req, results, own_address=own, preamble=preamble)
        return d.build_error_response(frame, 2, piid=req.piid or 0, own_address=own)

    # ------------------------------------------------------------------ services

    def _action(
        self,
        meter: SimMeter,
        req: d.Request,
        inner: d.ActionRequest,
        now: datetime,
        own: str,
        preamble: int,
    ) -> bytes | None:
        results = []
        for omd, value in inner.items:
            if omd == d.BROADCAST_TIME_OMD and isinstance(value.value, datetime):
                meter.set_clock(value.value.replace(tzinfo=meter.tz), now)
                results.append(d.ActionResult(omd, 0))
            else:
                results.append(d.ActionResult(omd, DAR_DENIED))
        if req.address.type == d.BROADCAST:
            return None
        return d.build_action_response(req, results, own_address=own, preamble=preamble)

    def _get(
        self,
        meter: SimMeter,
        req: d.Request,
        inner: d.GetRequest,
        now: datetime,
        own: str,
        preamble: int,
    ) -> bytes:
        kw: dict[str, Any] = {"own_address": own, "preamble": preamble}
        if inner.choice in (1, 2):
            regs = meter.registers_at(now)
            results = [self._normal(meter, oad, regs, now) for oad in inner.oads]
            body = d.build_get_response(req, results, **kw)
            return self._secured(
                req, body, lambda mac: d.build_get_response(req, results, mac=mac, **kw)
            )
        if inner.choice == 3:
            rec = inner.records[0]
            if rec.oad in SECURED_TABLES and meter.spec.esam and req.security != "plain":
                return d.build_get_refusal(req, DAR_UNAUTHORISED, **kw)
            try:
                columns, rows = self.record(meter, rec.oad, rec.rsd, rec.rcsd, now)
            except LookupError:
                return d.build_get_refusal(req, DAR_UNAVAILABLE, **kw)
            body = d.build_get_record_response(req, rec.oad, columns, rows, **kw)
            return self._secured(
                req,
                body,
                lambda mac: d.build_get_record_response(req, rec.oad, columns, rows, mac=mac, **kw),
            )
        if inner.choice == 5:
            return d.build_get_refusal(req, DAR_NO_LONG_GET, **kw)
        return d.build_get_refusal(req, DAR_UNAVAILABLE, **kw)

    @staticmethod
    def _secured(req: d.Request, plain_reply: bytes, rebuild: Any) -> bytes:
        """A secured request is answered with the MAC of the answer (built twice: the MAC
        covers the plain answer)."""
        if req.security != "plain":
            return plain_reply
        reply: bytes = rebuild(mac_of(req.rn, plain_reply))
        return reply

    # ------------------------------------------------------------------ values

    def _normal(
        self, meter: SimMeter, oad: int, regs: dict[str, float], now: datetime
    ) -> d.ResultNormal:
        try:
            return d.ResultNormal(oad, self.datum(meter, oad, regs, now))
        except LookupError:
            return d.ResultNormal(oad, dar=DAR_UNAVAILABLE)

    def datum(self, meter: SimMeter, oad: int, regs: dict[str, float], now: datetime) -> d.Data:
        """The value of ``oad`` (a whole object or one element) from registers ``regs``;
        LookupError when the meter has no such object."""
        obj = d.find_object(oad)
        if obj is None or obj.kind == "record":
            raise LookupError(oad)
        index = oad & 0xFF
        if obj.oi == 0x4000:
            return d.dts(meter.meter_clock(now).replace(tzinfo=None, microsecond=0))
        if obj.oi == 0x4001:
            return d.octets(meter.address_at(now))
        if obj.oi == 0x4002:
            return d.octets("0000" + meter.address_at(now))
        if obj.kind == "demand":
            value, when = meter.demand_at(now)
            item = d.structure(
                self._number(obj, value), d.dts(when.replace(tzinfo=None, microsecond=0))
            )
            elements = [item] + [d.null()] * 4
            return elements[index - 1] if index else d.array(*elements)
        if obj.kind == "array":
            values = [regs.get(q) for q in obj.quantities]
            if index:
                one = values[index - 1] if index <= len(values) else None
                if one is None:
                    raise LookupError(oad)
                return self._number(obj, one)
            if values[0] is None:
                raise LookupError(oad)
            return d.array(*(d.null() if v is None else self._number(obj, v) for v in values))
        plain = regs.get(obj.quantity)
        if plain is None:
            raise LookupError(oad)
        return self._number(obj, plain)

    @staticmethod
    def _number(obj: ObjectDef, model_value: float) -> d.Data:
        raw = model_value / obj.model_factor
        return d.Data(d.T(obj.type), obj.unscale(raw))

    # ------------------------------------------------------------------ records

    def record(
        self,
        meter: SimMeter,
        table: int,
        rsd: d.Rsd,
        rcsd: Sequence[Any],
        now: datetime,
    ) -> tuple[list[Any], list[list[d.Data]]]:
        """(columns, rows) of a record read; LookupError for a table the meter lacks."""
        if table in EVENTS:
            return self._events(meter, table, rsd, rcsd, now)
        if table == DAILY:
            default = DAILY_COLUMNS
            candidates = self.daily_times(meter, now)
        elif table == MINUTE:
            default = MINUTE_COLUMNS
            candidates = self.curve_times(meter, now)
        else:
            raise LookupError(table)
        columns = list(rcsd) or list(default)
        chosen = select(candidates, rsd)
        rows = []
        for seq, shown in chosen[-MAX_ROWS:]:
            true_instant = shown.replace(tzinfo=meter.tz) - timedelta(
                seconds=meter.clock_error_s(now)
            )
            regs = meter.registers_at(true_instant)
            rows.append(
                [self._column(meter, column_oad(c), shown, seq, regs, now) for c in columns]
            )
        return columns, rows

    def _column(
        self,
        meter: SimMeter,
        oad: int,
        shown: datetime,
        seq: int,
        regs: dict[str, float],
        now: datetime,
    ) -> d.Data:
        if oad == FREEZE_TIME:
            return d.dts(shown)
        if oad == FREEZE_SEQUENCE:
            return d.dlu(seq)
        try:
            return self.datum(meter, oad, regs, now)
        except LookupError:
            return d.null()

    def daily_times(self, meter: SimMeter, now: datetime) -> list[tuple[int, datetime]]:
        """(sequence, freeze time on the meter's clock, naive) of the daily freezes the
        meter holds at ``now``, oldest first."""
        today = meter.meter_clock(now).date()
        commissioned = meter.spec.commissioned
        out = []
        for n in range(FREEZE_DAYS, 0, -1):
            day = today - timedelta(days=n - 1)
            if day <= commissioned:
                continue
            out.append(((day - commissioned).days, datetime(day.year, day.month, day.day)))
        return out

    def curve_times(self, meter: SimMeter, now: datetime) -> list[tuple[int, datetime]]:
        shown = meter.meter_clock(now).replace(tzinfo=None, second=0, microsecond=0)
        last = shown - timedelta(minutes=shown.minute % CURVE_STEP_MIN)
        first = last - timedelta(days=CURVE_DAYS)
        epoch = datetime.combine(meter.spec.commissioned, datetime.min.time())
        out = []
        t = max(first, epoch)
        while t <= last:
            out.append((int((t - epoch).total_seconds() // (CURVE_STEP_MIN * 60)), t))
            t += timedelta(minutes=CURVE_STEP_MIN)
        return out

    def _events(
        self, meter: SimMeter, table: int, rsd: d.Rsd, rcsd: Sequence[Any], now: datetime
    ) -> tuple[list[Any], list[list[d.Data]]]:
        columns = list(rcsd) or list(EVENT_COLUMNS)
        count = int(meter.registers_at(now)[EVENTS[table]])
        started = self._event_start(meter, table, now)
        rows = []
        if count and rsd.selector in (9, 10):
            n = int(rsd.params[0]) if rsd.params else 1
            wanted = [count - n] if rsd.selector == 9 else list(range(max(0, count - n), count))
            for seq in wanted:
                if not 0 <= seq < count:
                    continue
                row = []
                for c in columns:
                    oad = column_oad(c)
                    if oad == EVENT_SEQUENCE:
                        row.append(d.dlu(seq))
                    elif oad == EVENT_START and seq == count - 1 and started is not None:
                        row.append(d.dts(started))
                    else:
                        row.append(d.null())
                rows.append(row)
        return columns, rows

    @staticmethod
    def _event_start(meter: SimMeter, table: int, now: datetime) -> datetime | None:
        if EVENTS[table] != "cover_open_count":
            return None
        opened = [f.start for f in meter.faults if f.kind == "cover_open" and f.start <= now]
        if not opened:
            return None
        shown = meter.meter_clock(max(opened))
        return shown.replace(tzinfo=None, microsecond=0)

    # ------------------------------------------------------------------ ground truth

    def freeze_answered(
        self, meter: SimMeter, frame: d.Frame, now: datetime
    ) -> list[tuple[date, float]]:
        """(data date, forward active total) of each daily freeze a clean reply to
        ``frame`` (a record read of 5004 with the forward energy column) delivered: what a
        test's ground truth counts. None for an ESAM meter asked in the clear (it refused)."""
        try:
            req = d.parse_request(frame)
        except d.Dlt698Error:
            return []
        inner = req.inner
        if not isinstance(inner, d.GetRequest) or inner.choice != 3:
            return []
        rec = inner.records[0]
        if rec.oad != DAILY:
            return []
        if rec.rcsd and 0x00100200 not in {column_oad(c) for c in rec.rcsd}:
            return []
        if meter.spec.esam and req.security != "plain":
            return []
        out = []
        for _, shown in select(self.daily_times(meter, now), rec.rsd)[-MAX_ROWS:]:
            true_instant = shown.replace(tzinfo=meter.tz) - timedelta(
                seconds=meter.clock_error_s(now)
            )
            energy = meter.registers_at(true_instant)["energy_import_total"]
            out.append(((shown - timedelta(minutes=1)).date(), energy))
        return out

    def freeze_days_answered(self, meter: SimMeter, frame: d.Frame, now: datetime) -> list[date]:
        """The data dates of :meth:`freeze_answered`."""
        return [day for day, _ in self.freeze_answered(meter, frame, now)]


def select(candidates: list[tuple[int, datetime]], rsd: d.Rsd) -> list[tuple[int, datetime]]:
    """The rows of ``candidates`` (oldest first) an RSD selects by their freeze time."""
    if rsd.selector == 1:
        value = rsd.params[1].value
        return [c for c in candidates if c[1] == value]
    if rsd.selector == 2:
        _, start, end, step = rsd.params
        lo, hi = start.value, end.value
        rows = [c for c in candidates if lo <= c[1] < hi]
        ti = step.value if step is not None else None
        minutes = _ti_minutes(ti)
        if minutes:
            rows = [c for c in rows if int((c[1] - lo).total_seconds() // 60) % minutes == 0]
        return rows
    if rsd.selector == 9:
        n = int(rsd.params[0])
        return [candidates[-n]] if 1 <= n <= len(candidates) else []
    if rsd.selector == 10:
        n = int(rsd.params[0])
        return candidates[-n:] if n > 0 else []
    return []


def _ti_minutes(ti: Any) -> int:
    """A TI (unit 0 s, 1 min, 2 h, 3 day) as whole minutes; 0 for none or seconds."""
    if ti is None or not hasattr(ti, "unit"):
        return 0
    factor = {1: 1, 2: 60, 3: 1440}.get(int(ti.unit), 0)
    return factor * int(ti.value)
