"""Sending the pending commands: each goes to its gateway's command topic at QoS 1, and is
marked sent in the same transaction that took it (a failure leaves it pending)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from psycopg_pool import ConnectionPool

from protocols import wire

from .commands import take_pending

log = logging.getLogger(__name__)

#: publishes one payload on one topic (at QoS 1)
Publish = Callable[[str, bytes], object]


def send_pending(pool: ConnectionPool, publish: Publish, *, root: str) -> int:
    """Send every pending command; returns how many were sent."""
    with pool.connection() as conn, conn.transaction():
        sent = take_pending(conn)
        for cmd in sent:
            publish(wire.topic(cmd.gateway, wire.Channel.CMD, root), cmd.payload)
            log.info("sent command %s to %s", cmd.id, cmd.gateway)
    return len(sent)
