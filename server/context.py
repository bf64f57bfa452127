"""The application context and the shape of a service: what the server process hands to
everything that runs beside the HTTP API (the ingest consumer, the scheduled jobs).

This module owns no service and imports none: each service's factory lives beside the
service (:func:`server.ingest.service.ingest_service`, :func:`server.jobs.jobs_service`), and
:mod:`server.services` picks the ones the settings enable. So a service may import the
context, and the context never imports a service back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from .clock import Clock
from .settings import Settings


@dataclass
class AppContext:
    """What one server process shares with its services, built by the app's lifespan."""

    settings: Settings
    pool: ConnectionPool
    clock: Clock
    mqtt_url: str
    embedded_broker: bool = False
    #: the user name and password the server's own clients connect with (None: anonymous);
    #: for the embedded broker, the server's derived password
    mqtt_user: tuple[str, str | None] | None = None
    #: the app's Prometheus registry (``/metrics`` serves it); services add theirs to it
    metrics: CollectorRegistry = field(default_factory=CollectorRegistry)


class Service(Protocol):
    """Something the server starts after its database is ready and stops before closing it."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[AppContext], Service]
