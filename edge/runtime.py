"""The reading side of the agent: bus workers, read plans, and the operations commands call.

``EdgeRuntime(config, sink=...)`` starts one :class:`~edge.bus.BusWorker` per bus and the
read plans. ``sink`` receives every batch of readings and must return only once they are
durably committed (the outbox's ``add``).

An interval reading keeps its slot's time; it is on time when taken within the slot's
window (:func:`on_time_until`): the bus's budgeted cycle for the plan (the wire time the
read of all its meters takes, :mod:`edge.wire_budget`) plus :data:`ON_TIME_GRACE_S`, and
never past the end of the slot. Taken later, it carries the ``late`` quality flag.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from concurrent.futures import CancelledError, Future
from datetime import datetime, timedelta
from typing import Final

from protocols.model import Reading, ReadingKind, Source, slot_start
from protocols.vocabulary import CURVE_REREADABLE_PROTOCOLS, EDGE_PROTOCOL_OF, MeterProtocol
from protocols.wire import BackfillItem, BusHealth, MeterHealth

from .bus import CURVE_STEP_MIN, BusWorker, Sink, day_bounds
from .clock import Clock, ManualClock, SystemClock
from .config import EdgeConfig, MeterConfig, PlanConfig
from .discover import discover_dlt645, discover_dlt698
from .jobs import Job, JobKind, JobResult
from .meters.reader import Dlt645Reader, no_curve
from .metrics import EdgeMetrics
from .plans import PlanRunner
from .wire_budget import check_budgets

log = logging.getLogger(__name__)

#: The archive's protocol of each gateway-configuration word but ``auto`` (found on the line).
ARCHIVE_PROTOCOL_OF: Final[dict[str, MeterProtocol]] = {
    str(edge): archive for archive, edge in EDGE_PROTOCOL_OF.items()
}

#: Seconds an interval reading may come after its bus's budgeted cycle and still count as
#: taken at its slot: the longest a scheduled job waits behind on-demand work (30 s) plus
#: as much again for retries and slow replies; equal to the plans' misfire grace (a plan
#: found due later than that does not fire at all).
ON_TIME_GRACE_S: Final[float] = 60.0


def on_time_until(slot: datetime, every_min: int, cycle_s: float) -> datetime:
    """The last instant a reading of ``slot`` is on time: the bus's cycle for the plan plus
    :data:`ON_TIME_GRACE_S` after the slot starts, at most the slot's end."""
    return slot + timedelta(seconds=min(cycle_s + ON_TIME_GRACE_S, every_min * 60.0))


class CommandRefused(Exception):
    """A command the agent cannot carry out (an unknown meter or bus, a meter that gave
    nothing); the message says why and goes back as the command's error."""


class EdgeRuntime:
    def __init__(
        self,
        config: EdgeConfig,
        *,
        sink: Sink,
        clock: Clock | None = None,
        metrics: EdgeMetrics | None = None,
    ) -> None:
        check_budgets(config)  # a plan that cannot fit its interval is refused at start
        self.config = config
        self.sink = sink
        self.clock = clock or SystemClock()
        self.metrics = metrics or EdgeMetrics()
        self.tz = config.gateway.tz
        self._build()

    def _build(self) -> None:
        self.workers = {
            b.name: BusWorker(
                b,
                sink=self.sink,
                clock=self.clock,
                tz_name=self.config.gateway.timezone,
                metrics=self.metrics,
            )
            for b in self.config.buses
        }
        self.plans = PlanRunner(self.config.plans, self.tz, self.clock, self._fire)
        #: (bus, plan) -> the wire time one interval read of the bus's meters takes
        self.cycle_s = {(b.bus, b.plan): b.seconds for _, b in check_budgets(self.config)}
        self._started = False

    # ------------------------------------------------------------------ lifecycle

    def start(self, *, plans: bool = True) -> None:
        for w in self.workers.values():
            w.start()
        if plans:
            self.plans.start()
        self._started = True

    def stop(self, timeout: float = 10.0) -> None:
        self.plans.stop()
        for w in self.workers.values():
            w.stop(timeout)
        self._started = False

    def wait_idle(self, timeout: float = 120.0) -> None:
        for w in self.workers.values():
            if not w.wait_idle(timeout):
                raise TimeoutError(f"bus {w.bus.name} still busy after {timeout} s")

    def run_plans_until(self, end: datetime) -> int:
        """Tests and benchmarks: fire the plans up to ``end`` on a :class:`ManualClock`."""
        if not isinstance(self.clock, ManualClock):
            raise TypeError("run_plans_until needs a ManualClock")
        clock = self.clock
        return self.plans.run_until(end, clock.set, self.wait_idle)

    # ------------------------------------------------------------------ plans

    def _fire(self, plan: PlanConfig, when: datetime) -> None:
        for worker in self.workers.values():
            meters = list(worker.bus.meters)
            if plan.kind == "interval":
                slot = slot_start(when, plan.every_min)
                cycle = self.cycle_s.get((worker.bus.name, plan.name), 0.0)
                job = Job(
                    JobKind.READ,
                    meters,
                    slot,
                    plan.quantities,
                    on_time_until=on_time_until(slot, plan.every_min, cycle),
                )
            elif plan.kind == "events":
                job = Job(JobKind.READ, meters, when, plan.quantities, ReadingKind.EVENT)
            elif plan.kind == "daily_freeze":
                yesterday = when.astimezone(self.tz).date() - timedelta(days=1)
                job = Job(
                    JobKind.FREEZE,
                    meters,
                    when,
                    reading_kind=ReadingKind.FREEZE,
                    data_date=yesterday,
                )
            else:
                job = Job(JobKind.CLOCK, meters, when, threshold_s=plan.threshold_s)
            worker.submit(job)

    # ------------------------------------------------------------------ commands

    def _meter(self, meter_id: str) -> tuple[BusWorker, MeterConfig]:
        for w in self.workers.values():
            for m in w.bus.meters:
                if m.id == meter_id:
                    return w, m
        raise CommandRefused(f"no meter {meter_id!r} on this gateway")

    def read_now(
        self, meter_id: str, quantities: Sequence[str] | None = None, timeout: float = 30.0
    ) -> list[Reading]:
        """召测: read a meter now (source on_demand); the readings also go to the sink."""
        worker, meter = self._meter(meter_id)
        qs = (
            tuple(quantities)
            if quantities
            else next((p.quantities for p in self.config.plans if p.kind == "interval"), ())
        )
        job = Job(
            JobKind.READ,
            [meter],
            self.clock.now().replace(microsecond=0),
            qs,
            source=Source.ON_DEMAND,
            on_demand=True,
        )
        result = worker.submit(job).result(timeout)
        if result.failed and not job.collected:
            raise CommandRefused(f"meter {meter_id}: {result.failed[0].reason}")
        return job.collected

    def backfill(self, items: Sequence[BackfillItem], timeout: float = 300.0) -> dict[str, object]:
        """补抄: read the daily freezes closing the given dates (source backfill); answers
        the meter-days read, the readings they gave and the meter-days that failed."""
        futures: list[tuple[BackfillItem, Future[JobResult]]] = []
        unknown = []
        for it in items:
            try:
                worker, meter = self._meter(it.meter)
            except CommandRefused:
                unknown.append(
                    {
                        "meter": it.meter,
                        "date": it.date.isoformat(),
                        "reason": "not on this gateway",
                    }
                )
                continue
            job = Job(
                JobKind.FREEZE,
                [meter],
                self.clock.now(),
                reading_kind=ReadingKind.FREEZE,
                source=Source.BACKFILL,
                data_date=it.date,
                on_demand=True,
            )
            futures.append((it, worker.submit(job)))
        read = readings = 0
        failed = list(unknown)
        for it, fut in futures:
            try:
                res = fut.result(timeout)
            except CancelledError:  # the bus stopped (a reload) before this item's turn
                failed.append(
                    {"meter": it.meter, "date": it.date.isoformat(), "reason": "cancelled"}
                )
                continue
            readings += res.read
            read += 1 if res.read and not res.failed else 0
            for f in res.failed:
                failed.append({"meter": it.meter, "date": it.date.isoformat(), "reason": f.reason})
        # "read" counts meter-days, as the server takes it ("read 15 of 16 meter-days"); a
        # freeze is a dozen readings, which "readings" counts
        return {"read": read, "readings": readings, "failed": failed}

    def curve_quantities(self) -> tuple[str, ...]:
        """What a curve re-read asks of each point: the quantities the interval plans read
        (every interval plan's, in order, once each)."""
        wanted = [q for p in self.config.plans if p.kind == "interval" for q in p.quantities]
        return tuple(dict.fromkeys(wanted))

    def backfill_curve(
        self, items: Sequence[BackfillItem], timeout: float = 600.0
    ) -> dict[str, object]:
        """曲线补抄: read each meter-day's 15-minute curve (96 points a day) back from the
        meter's own minute freeze (DL/T 698.45 5002) as interval readings (source
        backfill), the quantities the interval plans read. A meter whose protocol keeps no
        curve (DL/T 645, Modbus) is answered with that reason, not read. Answers the
        meter-days read whole (``read``), the readings and points they gave, and the
        meter-days that failed or gave fewer points than the day has (``failed``, each
        with its reason)."""
        quantities = self.curve_quantities()
        if not quantities:
            raise CommandRefused("no interval plan on this gateway: no curve quantities to read")
        jobs: list[tuple[BackfillItem, int, Job]] = []
        failed: list[dict[str, object]] = []

        def fail(it: BackfillItem, reason: str) -> None:
            failed.append({"meter": it.meter, "date": it.date.isoformat(), "reason": reason})

        for it in items:
            try:
                worker, meter = self._meter(it.meter)
            except CommandRefused:
                fail(it, "not on this gateway")
                continue
            archive = ARCHIVE_PROTOCOL_OF.get(meter.protocol)  # None: auto, probed on the line
            if archive is not None and archive not in CURVE_REREADABLE_PROTOCOLS:
                refusal = no_curve(meter, archive.value)
                fail(it, f"{refusal.reason} ({refusal.detail})")
                continue
            start, end = day_bounds(it.date, self.tz)
            expected = int((end - start).total_seconds() // (CURVE_STEP_MIN * 60))
            job = Job(
                JobKind.CURVE,
                [meter],
                self.clock.now(),
                quantities,
                source=Source.BACKFILL,
                data_date=it.date,
                on_demand=True,
            )
            worker.submit(job)
            jobs.append((it, expected, job))
        read = readings = points = 0
        for it, expected, job in jobs:
            try:
                res = job.future.result(timeout)
            except CancelledError:  # the bus stopped (a reload) before this item's turn
                fail(it, "cancelled")
                continue
            for f in res.failed:
                fail(it, f.reason)
            if res.failed:
                continue
            got = len({r.ts for r in job.collected})
            readings += res.read
            points += got
            if got >= expected:
                read += 1
            else:
                fail(it, f"incomplete: {got} of {expected} points in the meter's minute freeze")
        return {"read": read, "readings": readings, "points": points, "failed": failed}

    def time_sync(self, bus: str | None = None) -> dict[str, object]:
        names = [bus] if bus else list(self.workers)
        for name in names:
            if name not in self.workers:
                raise CommandRefused(f"no bus {name!r} on this gateway")
        results = {}
        for name in names:
            w = self.workers[name]
            res = w.submit(
                Job(
                    JobKind.CLOCK,
                    list(w.bus.meters),
                    self.clock.now(),
                    threshold_s=0.0,
                    on_demand=True,
                )
            ).result(120)
            results[name] = {"max_offset_s": res.max_offset_s, "time_set": res.time_set}
        return {"buses": results}

    def rediscover(self, bus: str) -> dict[str, object]:
        if bus not in self.workers:
            raise CommandRefused(f"no bus {bus!r} on this gateway")
        w = self.workers[bus]
        if not isinstance(w.reader, Dlt645Reader):
            raise CommandRefused(
                f"bus {bus} carries Modbus meters: scan with `meterlink-edge discover`"
            )
        transport = w.reader.transport
        timeout_s = w.bus.timeout_ms / 1000
        # a line configured with 698.45 (or auto) meters is searched for those too
        with_698 = any(m.protocol in ("dlt698", "auto") for m in w.bus.meters)

        def search() -> dict[str, object]:
            found = discover_dlt645(transport, timeout_s=timeout_s)
            out: dict[str, object] = {"addresses": found}
            if with_698:
                out["dlt698"] = discover_dlt698(transport, timeout_s=timeout_s)
            return out

        job = Job(JobKind.CALL, [], self.clock.now(), on_demand=True, call=search)
        return w.submit(job).result(900).output

    def reload_config(self, config: EdgeConfig) -> None:
        check_budgets(config)
        was = self._started
        self.stop()
        self.config = config
        self.tz = config.gateway.tz
        self._build()
        if was:
            self.start()

    def health(self) -> tuple[tuple[BusHealth, ...], tuple[MeterHealth, ...]]:
        buses, meters = [], []
        for w in self.workers.values():
            b, ms = w.health()
            buses.append(b)
            meters.extend(ms)
        return tuple(buses), tuple(meters)
