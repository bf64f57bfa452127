"""The FastAPI application: its lifespan builds the database, broker, pool and services."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import psycopg
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import (
    CollectorRegistry,
    GCCollector,
    PlatformCollector,
    ProcessCollector,
)

from ..auth import passwords, users
from ..auth.hashing import HashingPool
from ..broker_credentials import BrokerCredentials
from ..clock import Clock, SystemClock
from ..context import AppContext, ServiceFactory
from ..db.migrate import migrate
from ..db.pool import open_pool
from ..db.queries import auth as q
from ..embedded import EmbeddedBroker, EmbeddedPostgres
from ..services import default_services
from ..settings import Settings
from ..web import mount
from . import openapi
from .access import guard
from .docs import add_docs
from .limits import add_limits
from .routes import anomalies, completeness, jobs, reread, rules
from .routes.archive import archive_router
from .routes.audit import router as audit_router
from .routes.auth import router as auth_router
from .routes.health import router as health_router
from .routes.ingest import router as ingest_router
from .routes.readings import router as readings_router
from .routes.workbench import workbench_routers
from .web_security import add_web_security

log = logging.getLogger(__name__)


def bootstrap_admin(pool: Any, settings: Settings, now: datetime) -> None:
    if settings.admin_password is None:
        return
    with pool.connection() as conn, conn.transaction():
        if q.count_users(conn) == 0:
            try:
                passwords.check_policy(settings.admin_password.get_secret_value())
            except passwords.WeakPasswordError as exc:
                raise ValueError(f"METERLINK_ADMIN_PASSWORD refused: {exc}") from None
            users.create_user(
                conn,
                actor="bootstrap",
                username="admin",
                password=settings.admin_password.get_secret_value(),
                role="admin",
                display_name="Administrator",
                now=now,
            )
            log.info("created the first user 'admin' (password from settings)")


def metrics_registry() -> CollectorRegistry:
    """A registry for one app: the process, platform and garbage-collector metrics the
    process-wide default registry carries, and whatever the services add to it."""
    registry = CollectorRegistry()
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)
    return registry


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    services: Sequence[ServiceFactory] | None = None,
) -> FastAPI:
    the_clock: Clock = clock or SystemClock()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        embedded: list[Any] = []
        url = settings.database_url
        if url is None:
            pg = EmbeddedPostgres(settings.data_dir)
            url = pg.start()
            embedded.append(pg)
            log.info("database: embedded PostgreSQL (no database URL configured)")
        else:
            log.info("database: %s", url.split("@")[-1])
        mqtt_url = settings.mqtt_url
        mqtt_user: tuple[str, str | None] | None = None
        if mqtt_url is None:
            broker = EmbeddedBroker(
                BrokerCredentials.load_or_create(settings.data_dir), root=settings.mqtt_root
            )
            mqtt_url = broker.start()
            embedded.append(broker)
            mqtt_user = broker.server_user
            log.info("broker: embedded amqtt at %s (no broker URL configured)", mqtt_url)
        else:
            if settings.mqtt_username:
                password = settings.mqtt_password
                mqtt_user = (
                    settings.mqtt_username,
                    password.get_secret_value() if password else None,
                )
            log.info("broker: %s", mqtt_url)
        migrate(url)
        pool = open_pool(url, min_size=settings.pool_min, max_size=settings.pool_max)
        bootstrap_admin(pool, settings, the_clock.now())
        passwords.dummy_hash()  # now, so the first unknown user costs what the others do
        app.state.settings = settings
        app.state.pool = pool
        app.state.hashing_pool = hashing = HashingPool(
            settings.hashing_workers, settings.hashing_queue
        )
        app.state.clock = the_clock
        app.state.mqtt_url = mqtt_url
        app.state.database_url = url
        app.state.metrics_registry = registry = metrics_registry()
        ctx = AppContext(
            settings,
            pool,
            the_clock,
            mqtt_url,
            embedded_broker=settings.mqtt_url is None,
            mqtt_user=mqtt_user,
            metrics=registry,
        )
        factories = default_services(settings) if services is None else services
        running = []
        try:
            for factory in factories:
                svc = factory(ctx)
                svc.start()
                running.append(svc)
            app.state.services = running
            yield
        finally:
            for svc in reversed(running):
                try:
                    svc.stop()
                except Exception:
                    log.exception("stopping %s failed", svc)
            hashing.close()
            pool.close()
            for thing in reversed(embedded):
                thing.stop()

    app = FastAPI(
        title="meterlink",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served from this server by server.api.docs (no CDN)
        redoc_url=None,
        dependencies=[Depends(guard)],  # the role matrix, for every route
        description="Remote meter reading: archive, readings, collection completeness, anomalies.",
    )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            where = ".".join(str(x) for x in err.get("loc", ()) if x != "body")
            problems.append(f"{where}: {err.get('msg')}")
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=422)

    @app.exception_handler(psycopg.errors.DataError)
    async def _bad_value(request: Request, exc: psycopg.errors.DataError) -> JSONResponse:
        # a value the database cannot hold (out of range, bad text): the request's fault
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return JSONResponse(
            {"detail": f"a value in the request is not acceptable: {first}"}, status_code=422
        )

    for router in (
        health_router,
        auth_router,
        archive_router(),
        readings_router,
        ingest_router,
        completeness.router,
        reread.router,
        anomalies.router,
        audit_router,
        rules.router,
        jobs.router,
        *workbench_routers(),
    ):
        app.include_router(router)
    mount(app)
    add_docs(app)
    openapi.install(app)
    add_limits(app)
    add_web_security(app, settings)  # last: the outermost, so every answer has its headers
    return app
