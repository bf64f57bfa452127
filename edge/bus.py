"""One worker thread per physical port: the coordinator of its bus. It orders the work
(on-demand jobs before scheduled ones, a read-now before the items of a backfill, but no
scheduled job waits longer than :data:`SCHEDULED_MAX_WAIT_S` behind them; one transaction at
a time), paces the line
(``gap_ms`` between meters), backs off dead meters and reports (readings to the sink, a
:class:`~edge.jobs.JobResult` per job, meter and line health).

It builds no I/O itself: a :class:`~edge.meters.reader.MeterReader` does the talking (the
bus's own from :func:`~edge.meters.reader.build_reader` unless a test hands one in).

Dead meters never slow the others: a meter that fails three reads in a row is ``dead`` and
scheduled reads skip it until its backoff (15 min, doubling up to 6 h of clock time) has
passed; on-demand reads always try. Its state is visible in :meth:`BusWorker.health`.

Scheduled reads stay on time during long on-demand work (a 10,000-item backfill is hours
of line time at 2400 baud): on-demand jobs go first only while the oldest scheduled job has
waited less than :data:`SCHEDULED_MAX_WAIT_S`; after that the scheduled jobs run. A reading
taken after its job's ``on_time_until`` carries the ``late`` quality flag, never silently the
slot's time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from protocols.model import (
    ENERGY_IMPORT_TARIFFS,
    QUANTITY_BY_NAME,
    Quality,
    Reading,
    ReadingKind,
    Source,
    freeze_instant,
)
from protocols.vocabulary import MeterState as MeterStateName
from protocols.wire import BusHealth, MeterHealth

from .clock import Clock
from .config import BusConfig, MeterConfig
from .jobs import Job, JobKind, JobResult, ReadFailure
from .meters.dlt645_driver import EVENT_RECORDS
from .meters.dlt698_driver import FrozenRow
from .meters.errors import FailureKind, ReadError
from .meters.reader import MeterReader, build_reader, flags_of, seal_of
from .metrics import EdgeMetrics
from .transports import TransportError

__all__ = [
    "BACKOFF_MAX",
    "CURVE_STEP_MIN",
    "NOT_REREADABLE",
    "SCHEDULED_MAX_WAIT_S",
    "BusWorker",
    "Job",
    "JobKind",
    "JobResult",
    "MeterState",
    "Sink",
    "TERMINAL_FREEZE_WINDOW",
]

log = logging.getLogger(__name__)

Sink = Callable[[list[Reading]], None]
DEAD_AFTER = 3
BACKOFF_START = timedelta(minutes=15)
BACKOFF_MAX = timedelta(hours=6)
NO_SYNC_WINDOW = ((23, 55), (0, 5))  # local times between which no clock is set
#: The longest a scheduled job waits behind on-demand work (line time, seconds): past it,
#: the scheduled jobs run before any further on-demand job. A job already on the line is
#: never interrupted, so the wait can exceed this by one on-demand job (a backfill item or
#: a read-now is one meter: about a second at 2400 baud; a rediscovery holds the line for
#: its whole scan).
SCHEDULED_MAX_WAIT_S = 30.0
#: A terminal-side daily freeze (终端日冻结, a meter without its own freeze history) is the
#: register read by the daily-freeze plan at most this long after the day's close (00:00
#: local); later, or asked again, the day is reported with :data:`NOT_REREADABLE`.
TERMINAL_FREEZE_WINDOW = timedelta(minutes=60)
TERMINAL_FREEZE_QUANTITIES = (
    "energy_import_total",
    *ENERGY_IMPORT_TARIFFS,
    "energy_export_total",
)
NOT_REREADABLE = "unsupported: no_freeze_history"  # the failure's reason (ReadError bits)
#: The step of a curve re-read's points (the 15-minute load curve: 96 points a day).
CURVE_STEP_MIN = 15
#: Points asked in one record read of a curve re-read (6 hours: four reads a day). A whole
#: day of the default interval quantities is a reply of about 6 KB, past the 4 KB a DL/T
#: 698.45 frame reader on the line holds (and past what many meters send in one APDU); a
#: quarter of it is about 1.6 KB.
CURVE_CHUNK_POINTS = 24


def day_bounds(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """The UTC instants the local day ``day`` starts and ends (its next day's start)."""
    start = datetime.combine(day, datetime.min.time(), tz).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz).astimezone(UTC)
    return start, end


@dataclass
class MeterState:
    state: MeterStateName = MeterStateName.OK
    failures: int = 0
    attempts: int = 0
    successes: int = 0
    last_ok: datetime | None = None
    last_error: str | None = None
    retry_at: datetime | None = None


class BusWorker:
    """The coordinator of one bus: a thread, three queues of jobs (on demand first, then the
    items of backfills, scheduled ones after ``scheduled_max_wait_s`` at the latest; each
    queue in submission order), the meters' health, and the reader it talks through."""

    def __init__(
        self,
        bus: BusConfig,
        *,
        sink: Sink,
        clock: Clock,
        tz_name: str,
        metrics: EdgeMetrics,
        reader: MeterReader | None = None,
        scheduled_max_wait_s: float = SCHEDULED_MAX_WAIT_S,
    ) -> None:
        self.bus, self.sink, self.clock, self.metrics = bus, sink, clock, metrics
        self.tz = ZoneInfo(tz_name)
        self.reader = reader or build_reader(bus, tz=self.tz)
        self.states = {m.id: MeterState() for m in bus.meters}
        # (meter, counter) -> (value, when its last event began): the record is read again
        # only when the counter moved, so a meter opened long ago costs one read per start
        self._event_at: dict[tuple[str, str], tuple[float, datetime | None]] = {}
        self.scheduled_max_wait_s = scheduled_max_wait_s
        self._jobs = threading.Condition()
        self._on_demand: deque[Job] = deque()
        self._bulk: deque[Job] = deque()  # on demand too, but behind a read-now: backfills
        self._scheduled: deque[tuple[float, Job]] = deque()  # (monotonic time queued, job)
        self._busy = threading.Event()
        self._pending = 0  # jobs submitted and not finished
        self._pending_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"bus-{bus.name}", daemon=True)
        self.last_error: str | None = None

    # ------------------------------------------------------------------ control

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        with self._jobs:
            self._jobs.notify_all()
        self._thread.join(timeout)
        self._cancel_queued()
        self.reader.close()

    def _cancel_queued(self) -> None:
        """Cancel the jobs still queued at stop, so whoever waits on them (a backfill of
        thousands of items) learns it now rather than after a timeout per item."""
        with self._jobs:
            queued = [*self._on_demand, *self._bulk, *(job for _, job in self._scheduled)]
            self._on_demand.clear()
            self._bulk.clear()
            self._scheduled.clear()
        for job in queued:
            if job.future.cancel():
                with self._pending_lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._busy.clear()

    def submit(self, job: Job) -> Future[JobResult]:
        with self._pending_lock:
            self._pending += 1
            self._busy.set()
        with self._jobs:
            if job.on_demand and job.source is Source.BACKFILL:
                self._bulk.append(job)
            elif job.on_demand:
                self._on_demand.append(job)
            else:
                self._scheduled.append((time.monotonic(), job))
            self._jobs.notify()
        return job.future

    def idle(self) -> bool:
        """No job queued or running (counted from submit to the end of the job, so a job the
        worker has just taken off the queue is not mistaken for idleness)."""
        return not self._busy.is_set()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            time.sleep(0.005)
        return False

    # ------------------------------------------------------------------ the loop

    def _next_job(self) -> Job | None:
        """The next job to run (None once stopping): on demand first (a read-now before the
        items of a backfill), unless the oldest scheduled job has waited
        ``scheduled_max_wait_s``."""
        with self._jobs:
            while not (self._on_demand or self._bulk or self._scheduled or self._stop.is_set()):
                self._jobs.wait()
            if self._stop.is_set():
                return None
            if self._scheduled and (
                not (self._on_demand or self._bulk)
                or time.monotonic() - self._scheduled[0][0] >= self.scheduled_max_wait_s
            ):
                return self._scheduled.popleft()[1]
            return (self._on_demand or self._bulk).popleft()

    def _run(self) -> None:
        while not self._stop.is_set():
            job = self._next_job()
            if job is None:
                break
            try:
                result = self._execute(job)
                job.future.set_result(result)
            except Exception as exc:  # a job must never kill the worker
                log.exception("bus %s: job %s failed", self.bus.name, job.kind)
                job.future.set_exception(exc)
            finally:
                with self._pending_lock:
                    self._pending -= 1
                    if self._pending == 0:
                        self._busy.clear()

    def _execute(self, job: Job) -> JobResult:
        if job.kind is JobKind.BROADCAST_TIME:
            self._broadcast_time()
            return JobResult(time_set=True)
        if job.call is not None:
            return JobResult(output=job.call())
        readings: list[Reading] = []
        result = JobResult()
        offsets: list[float] = []
        for meter in job.meters:
            state = self.states[meter.id]
            if self._backing_off(state, job):
                result.failed.append(
                    ReadFailure(meter.id, FailureKind.BACKING_OFF, FailureKind.BACKING_OFF.value)
                )
                continue
            if self.bus.gap_ms:
                time.sleep(self.bus.gap_ms / 1000)
            started = time.monotonic()
            try:
                got, offset = self._read(meter, job)
            except ReadError as exc:
                self._failed(meter, state, exc)
                result.failed.append(ReadFailure(meter.id, exc.kind, exc.reason))
                continue
            except TransportError as exc:
                self.last_error = str(exc)
                self._failed(meter, state, ReadError(meter.id, FailureKind.LINE, str(exc)))
                result.failed.append(
                    ReadFailure(meter.id, FailureKind.LINE, FailureKind.LINE.value)
                )
                continue
            self.metrics.response_time.labels(self.bus.name).observe(time.monotonic() - started)
            self._ok(meter, state)
            if offset is not None:
                offsets.append(offset)
            readings.extend(got)
        self._sync_counters()
        if readings:
            self._deliver(readings)
            job.collected.extend(readings)
        result.read = len(readings)
        result.late = sum(1 for r in readings if Quality.LATE in r.quality)
        if job.kind is JobKind.CLOCK:
            worst = max((abs(o) for o in offsets), default=0.0)
            result.max_offset_s = worst
            if worst > job.threshold_s and not self._in_no_sync_window():
                self._broadcast_time()
                result.time_set = True
        return result

    def _backing_off(self, state: MeterState, job: Job) -> bool:
        """A dead meter waiting for its retry time (scheduled jobs only)."""
        return (
            not job.on_demand
            and state.state == MeterStateName.DEAD
            and state.retry_at is not None
            and self.clock.now() < state.retry_at
        )

    def _read(self, meter: MeterConfig, job: Job) -> tuple[list[Reading], float | None]:
        """The readings one meter gives for ``job``, and its clock offset (clock jobs)."""
        if job.kind is JobKind.FREEZE:
            assert job.data_date is not None
            if not self.reader.keeps_freezes(meter):
                return self._terminal_freeze(meter, job), None
            today = self.clock.now().astimezone(self.tz).date()
            values = self.reader.freeze(meter, job.data_date, today)
            ts = freeze_instant(job.data_date, self.tz)
            out = self._readings(
                meter, values, ts, ReadingKind.FREEZE, job.source, flags_of(values)
            )
            seal = seal_of(values)
            if seal is not None:  # kept for the utility's security module, never checked
                out = [replace(r, mac=seal.mac, rn=seal.rn) for r in out]
            return out, None
        if job.kind is JobKind.CURVE:
            return self._curve(meter, job), None
        if job.kind is JobKind.CLOCK:
            shown = self.reader.meter_clock(meter)
            if shown is None:
                return [], None
            offset = (shown - self.clock.now()).total_seconds()
            values = {"clock_offset": offset}
            return self._readings(
                meter, values, self.clock.now(), ReadingKind.CLOCK, job.source
            ), offset
        values = self.reader.read(meter, job.quantities)
        late = job.on_time_until is not None and self.clock.now() > job.on_time_until
        quality = (frozenset({Quality.LATE}) if late else frozenset()) | flags_of(values)
        out = self._readings(meter, values, job.slot, job.reading_kind, job.source, quality)
        if job.reading_kind is ReadingKind.EVENT:
            out = [self._dated_event(meter, r) for r in out]
        return out, None

    def _dated_event(self, meter: MeterConfig, reading: Reading) -> Reading:
        """An event counter dated when its last event happened, not when it was read: the
        counter reached its value when that event began (the meter's own event record, e.g.
        the DL/T 645-2007 cover-open record), so the reading carries that instant. A counter
        at 0, or a meter without the record, keeps the read time; so does a record dated in
        the future (a meter clock ahead), which would otherwise be refused downstream."""
        if reading.quantity not in EVENT_RECORDS or reading.value <= 0:
            return reading
        key = (meter.id, reading.quantity)
        seen = self._event_at.get(key)
        if seen is not None and seen[0] == reading.value:
            at = seen[1]
        else:
            at = self.reader.last_event_time(meter, reading.quantity)
            self._event_at[key] = (reading.value, at)
        if at is None or at > self.clock.now():
            return reading
        return replace(reading, ts=at.astimezone(UTC))

    def _terminal_freeze(self, meter: MeterConfig, job: Job) -> list[Reading]:
        """终端日冻结 of a meter without a freeze history (DL/T 645-1997, Modbus): its
        energy registers read now, if now is within :data:`TERMINAL_FREEZE_WINDOW` after the
        close of ``job.data_date``, become that day's freeze (source ``terminal``, stamped at
        the close). Past the window, or for a re-read, the day is lost: the meter cannot
        give it back."""
        assert job.data_date is not None
        close = freeze_instant(job.data_date, self.tz)
        now = self.clock.now()
        if job.source is not Source.SCHEDULED or not close <= now <= close + TERMINAL_FREEZE_WINDOW:
            raise ReadError(
                meter.id,
                FailureKind.UNSUPPORTED,
                "terminal freeze missed: the meter keeps no freeze history, not re-readable",
                bits=("no_freeze_history",),
            )
        values = self.reader.read(meter, TERMINAL_FREEZE_QUANTITIES)
        if "energy_import_total" not in values:
            raise ReadError(meter.id, FailureKind.BAD_REPLY, "no forward active energy register")
        return self._readings(meter, values, close, ReadingKind.FREEZE, Source.TERMINAL)

    def _curve(self, meter: MeterConfig, job: Job) -> list[Reading]:
        """曲线补抄: the local day ``job.data_date``'s points every :data:`CURVE_STEP_MIN`
        minutes from the meter's own curve (DL/T 698.45 minute freeze 5002), each an
        interval reading at its point's time with ``job.source`` (``backfill``) and the
        flags the read gives (``unverified`` through an ESAM). A day the meter holds no
        point of is an ``unsupported`` failure; fewer points than the day has are what the
        meter kept (the command's answer counts them)."""
        assert job.data_date is not None
        start, end = day_bounds(job.data_date, self.tz)
        rows: list[FrozenRow] = []
        flags: frozenset[Quality] = frozenset()
        chunk = timedelta(minutes=CURVE_STEP_MIN * CURVE_CHUNK_POINTS)
        at = start
        while at < end:  # a day in four record reads (each reply ~1.6 KB, default quantities)
            got, got_flags = self.reader.curve(
                meter, at, min(at + chunk, end), CURVE_STEP_MIN, job.quantities
            )
            rows.extend(got)
            flags |= got_flags
            at += chunk
        out: list[Reading] = []
        seen: set[datetime] = set()
        for row in rows:
            ts = row.frozen_at.astimezone(UTC)
            on_grid = (ts - start).total_seconds() % (CURVE_STEP_MIN * 60) == 0
            if not start <= ts < end or not on_grid or ts in seen:
                continue  # a row outside the day or off the 15-minute grid is not a point
            seen.add(ts)
            out.extend(
                self._readings(meter, row.values, ts, ReadingKind.INTERVAL, job.source, flags)
            )
        if not out:
            raise ReadError(
                meter.id,
                FailureKind.UNSUPPORTED,
                f"no curve point of {job.data_date} in the meter's minute freeze",
                bits=("no_curve_points",),
            )
        return out

    def _readings(
        self,
        meter: MeterConfig,
        values: dict[str, float],
        ts: datetime,
        kind: ReadingKind,
        source: Source,
        quality: frozenset[Quality] = frozenset(),
    ) -> list[Reading]:
        return [
            Reading(meter.id, q, ts, v, QUANTITY_BY_NAME[q].unit, kind, source, quality)
            for q, v in values.items()
            if q in QUANTITY_BY_NAME
        ]

    def _deliver(self, readings: list[Reading]) -> None:
        """Hand readings to the sink; retried until it takes them (never dropped here)."""
        delay = 0.1
        while True:
            try:
                self.sink(readings)
                return
            except Exception:
                log.exception(
                    "bus %s: the outbox refused %d readings; retrying", self.bus.name, len(readings)
                )
                if self._stop.wait(delay):
                    log.error(
                        "bus %s: stopping with %d readings not committed",
                        self.bus.name,
                        len(readings),
                    )
                    return
                delay = min(delay * 2, 5.0)

    def _broadcast_time(self) -> None:
        self.reader.broadcast_time(self.clock.now().astimezone(self.tz))

    def _in_no_sync_window(self) -> bool:
        local = self.clock.now().astimezone(self.tz)
        hm = (local.hour, local.minute)
        return hm >= NO_SYNC_WINDOW[0] or hm < NO_SYNC_WINDOW[1]

    # ------------------------------------------------------------------ health

    def _ok(self, meter: MeterConfig, state: MeterState) -> None:
        state.attempts += 1
        state.successes += 1
        state.failures = 0
        state.state = MeterStateName.OK
        state.last_ok = self.clock.now()
        state.last_error = None  # read again: the old error no longer describes it
        state.retry_at = None
        self.metrics.meter_success.labels(meter.id).set(state.successes / state.attempts)

    def _failed(self, meter: MeterConfig, state: MeterState, exc: ReadError) -> None:
        state.attempts += 1
        state.last_error = exc.reason
        if exc.communication:
            state.failures += 1
        state.state = (
            MeterStateName.DEAD if state.failures >= DEAD_AFTER else MeterStateName.FAILING
        )
        if state.state == MeterStateName.DEAD:
            # the exponent is capped: a meter dead for weeks must not overflow the timedelta
            # (that failed the whole job, and with it the readings of the bus's other meters)
            doublings = min(state.failures - DEAD_AFTER, 30)
            backoff = min(BACKOFF_START * 2**doublings, BACKOFF_MAX)
            state.retry_at = self.clock.now() + backoff
        self.metrics.meter_success.labels(meter.id).set(state.successes / state.attempts)
        log.info("bus %s: %s", self.bus.name, exc)

    def _sync_counters(self) -> None:
        name = self.bus.name
        line = self.reader.stats
        for counter, value in (
            (self.metrics.transactions, line.transactions),
            (self.metrics.timeouts, line.timeouts),
            (self.metrics.checksum_errors, line.checksum_errors),
        ):
            child = counter.labels(name)
            delta = value - child._value.get()
            if delta > 0:
                child.inc(delta)

    def health(self) -> tuple[BusHealth, list[MeterHealth]]:
        meters = [
            MeterHealth(mid, s.state, s.last_ok, s.last_error, s.failures)
            for mid, s in self.states.items()
        ]
        line = self.reader.stats
        ok = sum(1 for m in meters if m.state == "ok")
        return BusHealth(
            self.bus.name,
            self.last_error is None or ok > 0,
            line.transactions,
            line.timeouts,
            line.checksum_errors,
            ok,
            len(meters) - ok,
            self.last_error,
        ), meters
