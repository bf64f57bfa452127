"""Command results as they arrive: each closes the command it names; a result naming no
command of its gateway is kept as a dead letter with its payload (bounded like every dead
letter: the first 64 KiB, the size and SHA-256), never dropped silently."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, NamedTuple

import psycopg

from protocols import wire

from ..db.queries.ingest import add_dead_letter
from .commands import record_result

log = logging.getLogger(__name__)


class ArrivedResult(NamedTuple):
    """A decoded result with where it came from and the payload it came in."""

    topic: str
    gateway: str
    result: wire.CommandResult
    payload: bytes


def record_results(conn: psycopg.Connection[Any], results: Iterable[ArrivedResult]) -> None:
    """Record arrived results in the caller's transaction."""
    for arrived in results:
        if not record_result(conn, arrived.gateway, arrived.result):
            log.warning(
                "gateway %s answered unknown command %r", arrived.gateway, arrived.result.id
            )
            add_dead_letter(
                conn,
                topic=arrived.topic,
                gateway_id=arrived.gateway,
                reason=f"result for unknown command {arrived.result.id!r}",
                payload=arrived.payload,
            )
