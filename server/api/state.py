"""The application state, read back with its types.

The lifespan in :mod:`server.api.app` puts the settings, the connection pool, the clock,
the broker's URL and the Prometheus registry on ``app.state``; the functions here are their
only readers. Routes do not call them: they name what they need with the aliases of
:mod:`server.api.deps`. The secret that signs session tokens is read (or created) on first
use and kept on the state too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from prometheus_client import CollectorRegistry
from psycopg_pool import ConnectionPool

from server.auth.hashing import HashingPool
from server.auth.secret import load_or_create_secret
from server.clock import Clock
from server.settings import Settings


def settings(request: Request) -> Settings:
    value: Settings = request.app.state.settings
    return value


def pool(request: Request) -> ConnectionPool[Any]:
    value: ConnectionPool[Any] = request.app.state.pool
    return value


def clock(request: Request) -> Clock:
    value: Clock = request.app.state.clock
    return value


def mqtt_url(request: Request) -> str:
    value: str = request.app.state.mqtt_url
    return value


def hashing_pool(request: Request) -> HashingPool:
    value: HashingPool = request.app.state.hashing_pool
    return value


def metrics_registry(request: Request) -> CollectorRegistry:
    value: CollectorRegistry = request.app.state.metrics_registry
    return value


def service_problems(request: Request) -> dict[str, str]:
    """What the running services (those with a ``health()``) say is wrong, by service."""
    out: dict[str, str] = {}
    for svc in getattr(request.app.state, "services", []):
        check = getattr(svc, "health", None)
        problem = check() if callable(check) else None
        if problem:
            out[getattr(svc, "health_name", type(svc).__name__.lower())] = str(problem)
    return out


def auth_secret(request: Request) -> bytes:
    state = request.app.state
    secret: bytes | None = getattr(state, "auth_secret", None)
    if secret is None:
        config = settings(request)
        configured = config.auth_secret.get_secret_value() if config.auth_secret else None
        secret = load_or_create_secret(configured, Path(config.data_dir))
        state.auth_secret = secret
    return secret
