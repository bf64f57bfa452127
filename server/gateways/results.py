"""Command results as they arrive: each closes the command it names; a result naming no
command of its gateway is kept as a dead letter (never dropped silently)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import psycopg

from protocols import wire

from ..db.queries.ingest import add_dead_letter
from .commands import record_result


def record_results(
    conn: psycopg.Connection[Any], results: Iterable[tuple[str, wire.CommandResult]]
) -> None:
    """Record ``(gateway, result)`` pairs in the caller's transaction."""
    for gateway, res in results:
        if not record_result(conn, gateway, res):
            add_dead_letter(
                conn,
                topic=f"{gateway}/cmd/result",
                gateway_id=gateway,
                reason=f"result for unknown command {res.id!r}",
                payload=b"",
            )
