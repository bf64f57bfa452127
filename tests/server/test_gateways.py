"""The gateways' room on a real database: a command is checked before it is queued, sent
once to its gateway's topic, closed by its result; a result nobody asked for and a stale
status are handled as the consumer always did."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from protocols import wire
from server.db.pool import open_pool
from server.gateways.commands import queue_command, take_pending
from server.gateways.dispatch import send_pending
from server.gateways.results import ArrivedResult, record_results
from server.gateways.status import record_status

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


class NoDatabase:
    def execute(self, *args: Any) -> Any:
        raise AssertionError("a refused command must not reach the database")


@pytest.mark.parametrize(
    ("gateway", "name", "args"),
    [
        ("bad gateway/id", "read_now", {"meter": "M1"}),
        ("gw-1", "no_such_command", {}),
        ("gw-1", "backfill", {"meter": "M1"}),  # a backfill needs its range
    ],
)
def test_a_command_the_wire_refuses_is_never_queued(gateway: str, name: str, args: Any) -> None:
    with pytest.raises((wire.WireError, ValueError)):
        queue_command(
            NoDatabase(),  # type: ignore[arg-type]
            gateway_id=gateway,
            name=name,
            args=args,
            requested_by="test",
        )


def test_pending_commands_are_sent_once_and_closed_by_their_results(migrated: str) -> None:
    sent: list[tuple[str, bytes]] = []
    pool = open_pool(migrated)
    try:
        with pool.connection() as conn, conn.transaction():
            first = queue_command(
                conn, gateway_id="gw-1", name="read_now", args={"meter": "M1"}, requested_by="t"
            )
            second = queue_command(
                conn, gateway_id="gw-2", name="time_sync", args={}, requested_by="t"
            )
        assert send_pending(pool, lambda t, p: sent.append((t, p)), root="mlroot") == 2
        assert send_pending(pool, lambda t, p: sent.append((t, p)), root="mlroot") == 0
        assert [t for t, _ in sent] == [
            wire.topic("gw-1", wire.Channel.CMD, "mlroot"),
            wire.topic("gw-2", wire.Channel.CMD, "mlroot"),
        ]
        assert [wire.decode_command(p).id for _, p in sent] == [first, second]
        with pool.connection() as conn, conn.transaction():
            assert take_pending(conn) == []
            results = [
                ("gw-1", wire.CommandResult(first, "read_now", True, T0, None, {"n": 3})),
                ("gw-1", wire.CommandResult(second, "time_sync", True, T0, None, {})),
                ("gw-2", wire.CommandResult(second, "time_sync", False, T0, "no clock", {})),
            ]
            record_results(
                conn,
                [
                    ArrivedResult(
                        wire.topic(gw, wire.Channel.CMD_RESULT, "mlroot"),
                        gw,
                        res,
                        wire.encode_result(res),
                    )
                    for gw, res in results
                ],
            )
    finally:
        pool.close()
    with psycopg.connect(migrated) as conn:
        rows = conn.execute(
            "SELECT id, status, result, error, sent_at IS NOT NULL FROM gateway_commands "
            "ORDER BY created_at"
        ).fetchall()
        dead = conn.execute(
            "SELECT topic, gateway_id, reason, payload FROM dead_letters"
        ).fetchall()
    assert rows == [(first, "ok", {"n": 3}, None, True), (second, "error", {}, "no clock", True)]
    # gw-1 answered for gw-2's command: kept aside, the command untouched by it
    assert dead == [
        (
            wire.topic("gw-1", wire.Channel.CMD_RESULT, "mlroot"),
            "gw-1",
            f"result for unknown command {second!r}",
            wire.encode_result(results[1][1]),  # kept whole, to be looked into
        )
    ]


def test_an_older_status_never_replaces_a_newer_one(migrated: str) -> None:
    with psycopg.connect(migrated) as conn:
        record_status(conn, wire.GatewayStatus("gw-9", True, T0, "1.2.0", outbox_depth=4))
        record_status(conn, wire.GatewayStatus("gw-9", False, T0 - timedelta(minutes=1)))
        row = conn.execute(
            "SELECT online, known, version, status_at, status->'outbox'->>'depth' FROM gateways"
        ).fetchone()
        record_status(conn, wire.GatewayStatus("gw-9", False, T0 + timedelta(minutes=1)))
        later = conn.execute("SELECT online, version FROM gateways").fetchone()
    assert row == (True, False, "1.2.0", T0, "4")
    assert later == (False, "1.2.0")  # an empty version keeps the known one


def test_a_last_will_ends_its_connection_and_no_later_one(migrated: str) -> None:
    """A will is stamped when its connection's client set it (older than every status sent
    on it): it marks the gateway offline when it ends the stored status's connection; a
    will of an earlier connection, or a status of a connection a will ended, changes
    nothing."""
    c1, c2 = T0 - timedelta(hours=2), T0 + timedelta(minutes=5)

    def online_of(conn: psycopg.Connection[object]) -> tuple[object, ...] | None:
        return conn.execute("SELECT online, status->>'reason' FROM gateways").fetchone()

    with psycopg.connect(migrated) as conn:
        assert record_status(conn, wire.GatewayStatus("gw-9", True, T0, connected_since=c1)) is None
        # a will left from a connection before c1 (delivered late): not ours to end
        old = wire.decode_status(wire.last_will("gw-9", c1 - timedelta(hours=1)))
        assert record_status(conn, old) is None
        assert online_of(conn) == (True, None)
        # the crash: the broker publishes the will of connection c1
        assert record_status(conn, wire.decode_status(wire.last_will("gw-9", c1))) is None
        assert online_of(conn) == (False, "last will")
        # a redelivered status of the dead connection is stale
        why = record_status(conn, wire.GatewayStatus("gw-9", True, T0, connected_since=c1))
        assert why is not None and "last will" in why
        assert online_of(conn) == (False, "last will")
        # the gateway reconnects: a new connection, online again
        assert record_status(conn, wire.GatewayStatus("gw-9", True, c2, connected_since=c2)) is None
        assert online_of(conn) == (True, None)
        # a will of connection c1 delivered after the takeover changes nothing
        assert record_status(conn, wire.decode_status(wire.last_will("gw-9", c1))) is None
        assert online_of(conn) == (True, None)
