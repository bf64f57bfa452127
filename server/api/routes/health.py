"""Liveness, readiness (database and broker), Prometheus metrics."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from fastapi import APIRouter, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from ..deps import MetricsRegistry, MqttUrl, Pool, ServiceProblems
from ..models import Liveness, Readiness

router = APIRouter(tags=["health"])


@router.get("/health/live")
def live() -> Liveness:
    """The process answers (for a liveness probe; checks nothing else)."""
    return Liveness(status="alive")


@router.get(
    "/health/ready",
    response_model=Readiness,
    responses={
        503: {
            "model": Readiness,
            "description": "the database or the broker is down, or ingestion is stalled",
        }
    },
)
def ready(pool: Pool, mqtt_url: MqttUrl, problems: ServiceProblems) -> JSONResponse:
    """Ready to serve: the database answers, the broker is reachable and ingestion is not
    stalled (503 naming what is wrong otherwise)."""
    checks: dict[str, str] = {}
    try:
        with pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"unavailable: {type(exc).__name__}"
    parts = urlsplit(mqtt_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), 3):
            checks["broker"] = "ok"
    except OSError as exc:
        checks["broker"] = f"unreachable: {exc.strerror or exc}"
    checks.update(problems)  # e.g. "consumer": "ingestion stalled: ..."
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503
    )


@router.get(
    "/metrics",
    responses={
        200: {
            "content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}},
            "description": "Prometheus metrics in the text exposition format",
        }
    },
)
def metrics(registry: MetricsRegistry) -> Response:
    """Prometheus metrics in the text exposition format (counts, queue depths, timings; no
    meter or customer data)."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
