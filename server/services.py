"""What runs inside the server process besides the HTTP API: the ingest consumer and the
scheduled jobs. Each is a factory taking the :class:`AppContext`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from psycopg_pool import ConnectionPool

from .clock import Clock
from .settings import Settings


@dataclass
class AppContext:
    settings: Settings
    pool: ConnectionPool
    clock: Clock
    mqtt_url: str
    embedded_broker: bool = False


class Service(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


ServiceFactory = Callable[[AppContext], Service]


def ingest_service(ctx: AppContext) -> Service:
    from .ingest.consumer import Consumer, MqttConfig

    s = ctx.settings
    cfg = MqttConfig(
        ctx.mqtt_url,
        root=s.mqtt_root,
        share_group=None if ctx.embedded_broker else s.mqtt_share_group,
        client_id=s.mqtt_client_id,
        username=s.mqtt_username,
        password=s.mqtt_password.get_secret_value() if s.mqtt_password else None,
        ca=str(s.mqtt_tls_ca) if s.mqtt_tls_ca else None,
        cert=str(s.mqtt_tls_cert) if s.mqtt_tls_cert else None,
        key=str(s.mqtt_tls_key) if s.mqtt_tls_key else None,
        protocol="3.1.1" if ctx.embedded_broker else "auto",
    )
    return Consumer(
        cfg,
        ctx.pool,
        tz=s.utility_timezone,
        batch_max=s.ingest_batch_max,
        batch_ms=s.ingest_batch_ms,
        future_tolerance_s=s.future_tolerance_s,
        retention_days=s.retention_days,
        clock=ctx.clock,
        writers=s.ingest_writers,
    )


def jobs_service(ctx: AppContext) -> Service:
    from .jobs import JobsService

    return JobsService(ctx)


def default_services(settings: Settings) -> list[ServiceFactory]:
    out: list[ServiceFactory] = []
    if settings.ingest_enabled:
        out.append(ingest_service)
    if settings.jobs_enabled:
        out.append(jobs_service)
    return out
