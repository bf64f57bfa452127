"""The embedded broker's topic rule, as data: the same table as deploy/mosquitto/acl."""

from __future__ import annotations

import pytest

from server.broker_acl import (
    SERVER_USER,
    connect_refusal,
    is_user,
    may_publish,
    may_receive,
    may_subscribe,
)

GW = "meterlink/v1/gw"


@pytest.mark.parametrize("channel", ["readings", "status", "cmd/result"])
def test_a_gateway_publishes_its_own_edge_to_server_topics_only(channel: str) -> None:
    assert may_publish("gw-a", f"{GW}/gw-a/{channel}")
    assert not may_publish("gw-a", f"{GW}/gw-b/{channel}")
    assert not may_publish(SERVER_USER, f"{GW}/gw-a/{channel}")


@pytest.mark.parametrize("channel", ["cmd", "receipt"])
def test_only_the_server_writes_commands_and_receipts(channel: str) -> None:
    assert may_publish(SERVER_USER, f"{GW}/gw-a/{channel}")
    assert not may_publish("gw-a", f"{GW}/gw-a/{channel}")
    assert not may_publish("gw-a", f"{GW}/gw-b/{channel}")
    assert may_subscribe("gw-a", f"{GW}/gw-a/{channel}")
    assert not may_subscribe("gw-a", f"{GW}/gw-b/{channel}")
    assert not may_subscribe("gw-a", f"{GW}/+/{channel}")
    assert not may_subscribe(SERVER_USER, f"{GW}/+/{channel}")


def test_the_server_reads_every_gateway_with_wildcards_and_shared_subscriptions() -> None:
    for channel in ("readings", "status", "cmd/result"):
        assert may_subscribe(SERVER_USER, f"{GW}/+/{channel}")
        assert may_subscribe(SERVER_USER, f"$share/meterlink-ingest/{GW}/+/{channel}")
        assert may_subscribe(SERVER_USER, f"{GW}/gw-a/{channel}")
        assert may_receive(SERVER_USER, f"{GW}/gw-a/{channel}")
        assert not may_subscribe("gw-a", f"{GW}/gw-a/{channel}")  # a gateway reads no uplink
        assert not may_receive("gw-a", f"{GW}/gw-a/{channel}")
    assert not may_subscribe(SERVER_USER, f"$share/+/{GW}/+/readings")
    assert not may_subscribe("gw-a", f"$share/g/{GW}/gw-a/cmd")


@pytest.mark.parametrize(
    "name",
    [
        "#",
        f"{GW}/#",
        f"{GW}/+/+",
        f"{GW}/gw-a",
        f"{GW}/gw-a/readings/x",
        f"{GW}/gw-a/unknown",
        "other/v1/gw/gw-a/readings",
        "meterlink/v2/gw/gw-a/readings",
        f"{GW}/{SERVER_USER}/readings",
        f"{GW}/bad id/readings",
        "",
    ],
)
def test_names_outside_the_table_are_refused_to_everyone(name: str) -> None:
    for user in ("gw-a", SERVER_USER):
        assert not may_publish(user, name)
        assert not may_subscribe(user, name)
        assert not may_receive(user, name)


def test_wildcards_never_pass_as_topic_names() -> None:
    assert not may_publish(SERVER_USER, f"{GW}/+/cmd")
    assert not may_receive(SERVER_USER, f"{GW}/+/readings")


def test_the_root_is_a_parameter() -> None:
    assert may_publish("gw-a", "site1/v1/gw/gw-a/readings", root="site1")
    assert not may_publish("gw-a", f"{GW}/gw-a/readings", root="site1")


def test_users_are_the_server_and_gateway_ids() -> None:
    assert is_user(SERVER_USER) and is_user("gw-a")
    for bad in (None, "", "a b", "-x", "x" * 65, "a/b", "+", "#"):
        assert not is_user(bad)
        assert not may_publish(bad, f"{GW}/{bad}/readings")


def test_a_last_will_must_be_a_topic_the_user_may_publish() -> None:
    assert connect_refusal("gw-a", None) is None
    assert connect_refusal("gw-a", f"{GW}/gw-a/status") is None
    assert connect_refusal("gw-a", f"{GW}/gw-b/receipt") is not None
    assert connect_refusal("gw-a", f"{GW}/gw-a/receipt") is not None
    assert connect_refusal("a b", None) is not None
