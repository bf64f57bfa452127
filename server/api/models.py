"""What the API answers, as pydantic models: the OpenAPI document shows them and FastAPI
checks every answer against them.

The envelopes are typed; the rows inside them are the database's rows as stored
(:data:`Row`), since their columns follow the tables and the reports (a ``numeric``
column is a decimal and answers as a string, as it always has). A body that is itself one
such row is an open model (``extra="allow"``) naming only the columns it always has.
Request bodies stay beside their routes.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Row = dict[str, Any]


class Liveness(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    database: str
    broker: str
    ingest: str | None = None  # present only when ingestion is unhealthy, with the reason


class Me(BaseModel):
    username: str
    role: str


class Page(BaseModel):
    """One page of a listing and how many items there are in all."""

    items: list[Row]
    total: int
    limit: int
    offset: int


class ArchiveRecord(BaseModel):
    """A meter, area, gateway or org unit as stored (personal details hidden from
    viewers)."""

    model_config = ConfigDict(extra="allow")
    id: str


class Imported(BaseModel):
    imported: int
    created: int
    updated: int


class RereadTally(BaseModel):
    """Meter-days of the date asked again, and how many of them came back."""

    requested: int
    recovered: int


class SuccessRate(BaseModel):
    date: dt.date
    by: str
    groups: list[Row]
    reread: RereadTally


class SuccessReport(BaseModel):
    date: dt.date
    groups: dict[str, list[Row]]
    reread: RereadTally


class Trend(BaseModel):
    days: list[Row]


class FailedMeters(BaseModel):
    """A page of the data date's failed meters and how many there are in all."""

    date: dt.date
    items: list[Row]
    total: int
    limit: int
    offset: int


class CurveReread(BaseModel):
    """Which meters' curve of the date can be re-read from the meters (曲线补抄): those of
    ``protocols`` (the ones keeping a 15-minute curve, DL/T 698.45's minute freeze), while
    the date is within their ``history_days``-day curve history; ``meters`` (at most
    1,000, by area and meter) lack points, ``total`` counts them all."""

    protocols: list[str]
    history_days: int
    within_history: bool
    meters: list[Row]
    total: int


class CurveCompleteness(BaseModel):
    date: dt.date
    by: str
    groups: list[Row]
    curve_reread: CurveReread | None = None


class LineLoss(BaseModel):
    date: dt.date
    areas: list[Row]


class RereadRequested(BaseModel):
    """Meter-days asked again now, by concentrator, and those an unanswered earlier command
    already asks for (not asked twice)."""

    requested: dict[str, int]
    already_pending: dict[str, int] = {}
    #: the same for days of curve (``kind: curve``): backfill_curve commands
    curves_requested: dict[str, int] = {}
    curves_already_pending: dict[str, int] = {}


class RuleCount(BaseModel):
    rule: str
    n: int


class Anomalies(BaseModel):
    """A page of anomalies, how many match in all, and the open ones per rule."""

    items: list[Row]
    total: int
    limit: int
    offset: int
    open_by_rule: list[RuleCount]


class Anomaly(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: int
    status: str


class ChecksRun(BaseModel):
    """Anomalies found (new or still present) per rule, and the rules that failed with the
    error (their findings are missing; every other rule's are saved)."""

    date: dt.date
    found: dict[str, int]
    failed: dict[str, str] = Field(default_factory=dict)


class RuleParamsInForce(BaseModel):
    defaults: dict[str, Any]
    general: dict[str, Any]
    by_customer_class: dict[str, dict[str, Any]]


class RuleParams(BaseModel):
    rules: dict[str, RuleParamsInForce]


class RuleTable(BaseModel):
    rules: list[dict[str, Any]]


class RuleParamsSet(BaseModel):
    rule: str
    customer_class: str
    params: dict[str, Any]


class JobRuns(BaseModel):
    """A page of the scheduled jobs' runs, newest first."""

    items: list[Row]
    total: int
    limit: int
    offset: int


class AuditEntry(BaseModel):
    """One audit row: when, who, what, which record, and its values before and after."""

    id: int
    at: dt.datetime
    actor: str
    action: str
    entity: str
    entity_id: str | None
    before: Any
    after: Any


class AuditPage(BaseModel):
    """A page of the audit log, newest first, and how many rows match in all."""

    items: list[AuditEntry]
    total: int
    limit: int
    offset: int


class Curve(BaseModel):
    meter: str
    quantity: str
    unit: str | None
    points: list[Row]


class Latest(BaseModel):
    meter: str
    values: list[Row]


class Freezes(BaseModel):
    meter: str
    freezes: list[Row]


class DayReadings(BaseModel):
    meter: str
    date: dt.date
    timezone: str
    start: dt.datetime
    end: dt.datetime
    total: int
    limit: int
    offset: int
    items: list[Row]


class MeterEvents(BaseModel):
    meter: str
    first: dt.date = Field(alias="from")
    last: dt.date = Field(alias="to")
    timezone: str
    start: dt.datetime
    end: dt.datetime
    total: int
    limit: int
    offset: int
    items: list[Row]


class CommandQueued(BaseModel):
    id: str
    status: str


class Command(BaseModel):
    """A command to a gateway and, once answered, its result."""

    model_config = ConfigDict(extra="allow")
    id: str
    gateway_id: str
    name: str
    status: str
