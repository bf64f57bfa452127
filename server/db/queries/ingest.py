"""SQL of the ingestion besides the batch merge (which is :mod:`server.ingest.store`): the
dead letters, the one place they are written."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any, Final

from psycopg import Connection

from protocols.wire import text_fault

#: The most of a payload a dead letter keeps (its size and SHA-256 are kept too).
DEAD_LETTER_PAYLOAD_MAX: Final[int] = 64 * 1024
#: The longest topic or reason kept (a reason quotes the sender's text, shortened).
_TEXT_MAX: Final[int] = 2000

DeadLetter = tuple[str, str | None, str, bytes]  # topic, gateway, reason, whole payload


def storable(text: str, limit: int = _TEXT_MAX) -> str:
    """``text`` as PostgreSQL can keep it: NUL and lone surrogates escaped, at most ``limit``
    characters (the topic and reason of a dead letter come from the sender)."""
    if text_fault(text):
        text = text.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _row(letter: DeadLetter) -> tuple[str, str | None, str, bytes, int, str]:
    topic, gateway, reason, payload = letter
    return (
        storable(topic),
        storable(gateway, 64) if gateway is not None else None,
        storable(reason),
        bytes(payload[:DEAD_LETTER_PAYLOAD_MAX]),
        len(payload),
        hashlib.sha256(payload).hexdigest(),
    )


def add_dead_letters(conn: Connection[Any], letters: Iterable[DeadLetter]) -> None:
    """Keep messages (or parts of them) that could not be used, each with the reason: the
    payload's first :data:`DEAD_LETTER_PAYLOAD_MAX` bytes, its size and SHA-256."""
    rows = [_row(letter) for letter in letters]
    if rows:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO dead_letters (topic, gateway_id, reason, payload, payload_size, "
                "payload_sha256) VALUES (%s, %s, %s, %s, %s, %s)",
                rows,
            )


def add_dead_letter(
    conn: Connection[Any], *, topic: str, gateway_id: str | None, reason: str, payload: bytes
) -> None:
    """Keep one message that could not be used, with the reason (see :func:`add_dead_letters`)."""
    add_dead_letters(conn, [(topic, gateway_id, reason, payload)])
