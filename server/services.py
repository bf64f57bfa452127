"""Which services run inside the server process besides the HTTP API: the ingest consumer
and the scheduled jobs, as the settings enable them. The context and the service protocol
are in :mod:`server.context`; each factory lives beside its service."""

from __future__ import annotations

from .context import ServiceFactory
from .ingest.service import ingest_service
from .jobs import jobs_service
from .settings import Settings


def default_services(settings: Settings) -> list[ServiceFactory]:
    out: list[ServiceFactory] = []
    if settings.ingest_enabled:
        out.append(ingest_service)
    if settings.jobs_enabled:
        out.append(jobs_service)
    return out
