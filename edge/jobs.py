"""Work for a bus worker and what comes back: :class:`Job`, :class:`JobKind`,
:class:`JobResult`, :class:`ReadFailure`.

Plans and commands (``edge.runtime``) make jobs; the bus worker (``edge.bus``) runs them one
at a time and answers each job's future with a :class:`JobResult`.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from protocols.model import Reading, ReadingKind, Source

from .config import MeterConfig
from .meters.errors import FailureKind


class JobKind(StrEnum):
    READ = "read"  # quantities now (interval, events, on demand)
    FREEZE = "freeze"  # the daily freeze closing ``data_date``
    #: the local day ``data_date``'s 15-minute curve from the meter's own history (DL/T
    #: 698.45 minute freeze 5002): a curve re-read (曲线补抄), readings of kind interval
    CURVE = "curve"
    CLOCK = "clock"  # read the meters' clocks; broadcast the time if one is off
    BROADCAST_TIME = "broadcast_time"  # set every meter's clock, nothing read
    CALL = "call"  # run ``call`` on the bus thread (discovery owns the line meanwhile)


@dataclass(frozen=True)
class ReadFailure:
    """One meter a job could not read. ``reason`` is what results report (the kind, with
    the meter's error bits for an error reply)."""

    meter: str
    kind: FailureKind
    reason: str


@dataclass
class JobResult:
    read: int = 0  # readings made
    late: int = 0  # of which taken after the job's on_time_until (flagged ``late``)
    failed: list[ReadFailure] = field(default_factory=list)
    max_offset_s: float | None = None  # clock jobs: the largest meter clock error
    time_set: bool = False  # clock jobs: the time was broadcast
    output: dict[str, object] = field(default_factory=dict)  # what a CALL returned


@dataclass
class Job:
    """Work for one bus."""

    kind: JobKind
    meters: list[MeterConfig]
    slot: datetime
    quantities: tuple[str, ...] = ()
    reading_kind: ReadingKind = ReadingKind.INTERVAL
    source: Source = Source.SCHEDULED
    data_date: date | None = None
    threshold_s: float = 60.0
    on_demand: bool = False
    #: interval reads: a reading taken after this instant carries the ``late`` quality flag
    #: (it keeps the slot's time, so it must say it was not read then)
    on_time_until: datetime | None = None
    call: Callable[[], dict[str, object]] | None = None  # runs on the bus thread (discovery)
    collected: list[Reading] = field(default_factory=list)  # the readings this job made
    future: Future[JobResult] = field(default_factory=Future)
