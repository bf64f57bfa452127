"""The named answers of the workbench's routes (issue 19) for the OpenAPI document: each
names the keys it always has (the rows inside stay the database's rows, as in
:mod:`server.api.models`); open (``extra="allow"``), so a route may add a key before the
model names it. The routes build their answers with :func:`server.api.workbench.body`; the
route's ``response_model`` is one of these."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict

Row = dict[str, Any]


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class OrgTree(_Open):
    """Organisation units nested by parent with their areas as leaves, every node with its
    meters, due, read, rate and below_threshold for the date; areas without a unit under
    ``unassigned``."""

    date: dt.date
    threshold: float
    items: list[Row]
    unassigned: Row


class CollectionTrend(_Open):
    """The rate per day (first pass and after re-reading) with the threshold to draw."""

    start: dt.date
    end: dt.date
    by: str
    key: str | None
    threshold: float
    items: list[Row]


class RereadBatch(_Open):
    """A staff re-read batch as kept: its id, who asked and when, and per concentrator the
    meter-days requested now, already pending, and how many cannot be re-read."""

    id: int
    requested_by: str
    requested_at: dt.datetime
    requested: dict[str, int]
    already_pending: dict[str, int]
    not_rereadable: int


class ReadNowQueued(_Open):
    """An on-demand read (召测) queued: the command to follow."""

    command_id: str
    gateway_id: str
    meter_id: str
    status: str


class ReadNowResult(_Open):
    """An on-demand read's command and the values that arrived since it was asked;
    ``final`` once the command is answered (or expired)."""

    meter_id: str
    status: str
    final: bool
    values: dict[str, Any]
    readings: list[Row]


class AnomalyStats(_Open):
    """Per rule (or area) the anomalies of the range by status, assigned, and per day."""

    start: dt.date
    end: dt.date
    by: str
    items: list[Row]
    total: int


class BatchOutcome(_Open):
    """A batch of anomaly decisions, each checked on its own: per record ok or the error."""

    items: list[Row]
    done: int
    refused: int


class AnomalyDetail(_Open):
    """One anomaly with its meter's archive card, its rule's labels and its evidence as
    chart series."""

    id: int
    rule: str
    status: str
    meter: Row | None
    evidence_series: Row


class AnomalyHistory(_Open):
    """An anomaly's history (created, status changes, assignments, comments), oldest
    first."""

    id: int
    items: list[Row]
    total: int


class AnomalyRecord(_Open):
    """The anomaly record after the change."""

    id: int
    status: str


class AnomalyComment(_Open):
    """The comment as kept in the record's history."""

    at: dt.datetime
    actor: str
    action: str


class LineLossArea(_Open):
    """One area's line loss for the date, its thresholds and the meters that keep it from
    being computed."""

    date: dt.date
    area_id: str
    status: str
    high_threshold: float
    negative_threshold: float
    blocking_meters: list[Row]


class LineLossTrend(_Open):
    """One area's loss per day with the thresholds to draw."""

    area_id: str
    start: dt.date
    end: dt.date
    high_threshold: float
    negative_threshold: float
    items: list[Row]
    total: int


class Concentrator(_Open):
    """One concentrator: the day's collection, reported buses beside the archive's, failing
    meters, last time sync, clock offsets, recent commands and events."""

    id: str
    date: dt.date
    failing_meters: list[Row]
    failing_count: int
    buses: list[Row]
    time_sync: Row | None
    clock_offsets: list[Row]
    commands: list[Row]
    events: list[Row]
