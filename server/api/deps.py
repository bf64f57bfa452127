"""What a route may ask for, as typed dependencies.

A handler names what it needs in its signature and FastAPI provides it::

    @router.get("/line-loss")
    def loss(_: Viewer, conn: Db, day: ReportDay) -> LineLoss: ...

``Db`` is a connection from the pool, held for the handler's run and given back (committed,
or rolled back on an error) before the response is sent; handlers that write still open
their own ``conn.transaction()``. The principals answer 401 without a valid token and 403
when the role is too low; list them first, so a refused call takes no connection.

Not here: reading the application state (:mod:`server.api.state`) and turning a token
into a principal (:mod:`server.auth.deps`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from typing import Annotated, Any

import psycopg
from fastapi import Depends, Query
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from server.auth.deps import require_role
from server.auth.hashing import HashingPool
from server.auth.roles import Principal
from server.clock import Clock
from server.settings import Settings

from . import state

Pool = Annotated[ConnectionPool[Any], Depends(state.pool)]
SettingsDep = Annotated[Settings, Depends(state.settings)]
ClockDep = Annotated[Clock, Depends(state.clock)]
MqttUrl = Annotated[str, Depends(state.mqtt_url)]
#: what the running services report as wrong ({} when all is well)
ServiceProblems = Annotated[dict[str, str], Depends(state.service_problems)]
AuthSecret = Annotated[bytes, Depends(state.auth_secret)]
Hashing = Annotated[HashingPool, Depends(state.hashing_pool)]
MetricsRegistry = Annotated[CollectorRegistry, Depends(state.metrics_registry)]


def connection(pool: Pool) -> Iterator[psycopg.Connection[Any]]:
    with pool.connection() as conn:
        yield conn


Db = Annotated[psycopg.Connection[Any], Depends(connection, scope="function")]

Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Operator = Annotated[Principal, Depends(require_role("operator"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]


def local_today(settings: SettingsDep, clock: ClockDep) -> date:
    """Today in the utility's time zone."""
    today: date = clock.now().astimezone(settings.tz).date()
    return today


LocalToday = Annotated[date, Depends(local_today)]


def yesterday(today: LocalToday) -> date:
    """The last whole data date: yesterday in the utility's time zone."""
    return today - timedelta(days=1)


Yesterday = Annotated[date, Depends(yesterday)]


def report_day(default: Yesterday, day: Annotated[date | None, Query(alias="date")] = None) -> date:
    """The data date a report is about: ``?date=YYYY-MM-DD``, by default yesterday."""
    return day if day is not None else default


ReportDay = Annotated[date, Depends(report_day)]
