"""Liveness, readiness (database and broker), Prometheus metrics."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

router = APIRouter(tags=["health"])


@router.get("/health/live")
def live() -> dict[str, str]:
    return {"status": "alive"}


@router.get("/health/ready")
def ready(request: Request) -> JSONResponse:
    checks: dict[str, str] = {}
    try:
        with request.app.state.pool.connection(timeout=3) as conn:
            conn.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # noqa: BLE001 - reported, not raised
        checks["database"] = f"unavailable: {type(exc).__name__}"
    parts = urlsplit(request.app.state.mqtt_url)
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 1883), 3):
            checks["broker"] = "ok"
    except OSError as exc:
        checks["broker"] = f"unreachable: {exc.strerror or exc}"
    ok = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503
    )


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(
        generate_latest(request.app.state.metrics_registry), media_type=CONTENT_TYPE_LATEST
    )
