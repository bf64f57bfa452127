"""SQL of the ingestion besides the batch merge (which is :mod:`server.ingest.store`)."""

from __future__ import annotations

from typing import Any

from psycopg import Connection


def add_dead_letter(
    conn: Connection[Any], *, topic: str, gateway_id: str | None, reason: str, payload: bytes
) -> None:
    """Keep a message (or part of one) that could not be used, with the reason."""
    conn.execute(
        "INSERT INTO dead_letters (topic, gateway_id, reason, payload) VALUES (%s, %s, %s, %s)",
        (topic, gateway_id, reason, payload),
    )
