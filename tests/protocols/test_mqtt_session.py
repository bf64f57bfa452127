"""The MQTT session policy without a broker: every pair of state and event against the table,
and the stories behind the rules (a broker that is down is not a broker without MQTT 5)."""

from __future__ import annotations

import itertools

import paho.mqtt.client as mqtt
import pytest

from protocols.mqtt_session import (
    CONNACK_WAIT_S,
    TRANSITIONS,
    Action,
    Event,
    ProtocolVersion,
    SessionPolicy,
    State,
)


def policy_in(state: State) -> SessionPolicy:
    """An "auto" policy brought to ``state`` through its public reports, by a path on which
    every event can still happen (CONNECTING: after a first connection, so the wait runs)."""
    p = SessionPolicy("auto")
    if state is State.FALLBACK:
        p.socket_opened(0.0)
        assert p.tick(CONNACK_WAIT_S) is Action.FALL_BACK
    elif state is State.CONNECTING:
        p.socket_opened(0.0)
        p.disconnected()
    else:
        p.socket_opened(0.0)
        if state is State.CONNECTED:
            p.connack(accepted=True)
        elif state is State.REFUSED:
            p.connack(accepted=False, reason="Not authorized")
    assert p.state is state
    return p


def fire(p: SessionPolicy, event: Event) -> Action:
    if event is Event.SOCKET_OPENED:
        return p.socket_opened(1.0)
    if event is Event.CONNACK_ACCEPTED:
        return p.connack(accepted=True, reason="Success")
    if event is Event.CONNACK_REFUSED:
        return p.connack(accepted=False, reason="Not authorized")
    if event is Event.VERSION_REFUSED:
        return p.connack(accepted=False, reason="Unsupported protocol version")
    if event is Event.CONNACK_TIMEOUT:
        return p.tick(CONNACK_WAIT_S + 1.0)
    if event is Event.DISCONNECTED:
        return p.disconnected()
    assert event is Event.CLIENT_REPLACED
    return p.client_replaced()


@pytest.mark.parametrize(
    ("state", "event"), list(itertools.product(State, Event)), ids=lambda x: x.name
)
def test_every_state_and_event_does_what_the_table_says(state: State, event: Event) -> None:
    p = policy_in(state)
    expected = TRANSITIONS.get((state, event), (state, Action.NONE))  # not listed: ignored
    assert fire(p, event) is expected[1]
    assert p.state is expected[0]
    if expected[0] is State.FALLBACK:
        assert p.version is ProtocolVersion.V311 and not p.watching


def test_the_version_numbers_are_the_connect_packets_and_paho_s() -> None:
    assert ProtocolVersion.V5 == mqtt.MQTTv5 == 5
    assert ProtocolVersion.V311 == mqtt.MQTTv311 == 4


@pytest.mark.parametrize(
    ("setting", "version", "watching"),
    [("auto", ProtocolVersion.V5, True), ("5", ProtocolVersion.V5, False)]
    + [("3.1.1", ProtocolVersion.V311, False)],
)
def test_the_setting_picks_the_first_version_and_whether_to_watch(
    setting: str, version: ProtocolVersion, watching: bool
) -> None:
    p = SessionPolicy(setting)
    assert p.version is version and p.watching is watching and p.state is State.CONNECTING


def test_an_unknown_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="expected one of auto, 5, 3.1.1"):
        SessionPolicy("4")


def test_a_broker_that_is_down_is_waited_for_not_taken_for_one_without_mqtt_5() -> None:
    p = SessionPolicy("auto")
    for second in range(0, 600, 1):  # ten minutes of connection refused: no TCP connection
        assert p.tick(float(second)) is Action.NONE
        p.disconnected()
    assert p.socket_opened(600.0) is Action.NONE  # the broker is back
    assert p.connack(accepted=True) is Action.SESSION_UP
    assert p.version is ProtocolVersion.V5 and p.state is State.CONNECTED
    assert not p.watching


def test_the_wait_counts_from_the_first_tcp_connection() -> None:
    p = SessionPolicy("auto", connack_wait_s=5.0)
    p.socket_opened(10.0)
    p.disconnected()  # the broker dropped the CONNECT without a word (amqtt)
    p.socket_opened(13.0)  # paho tries again
    assert p.tick(14.99) is Action.NONE
    assert p.tick(15.0) is Action.FALL_BACK
    assert p.version is ProtocolVersion.V311 and p.state is State.FALLBACK


def test_a_refusal_naming_the_protocol_falls_back_at_once_but_only_with_auto() -> None:
    p = SessionPolicy("auto")
    p.socket_opened(0.0)
    assert p.connack(accepted=False, reason="Unsupported protocol version") is Action.FALL_BACK
    pinned = SessionPolicy("5")
    pinned.socket_opened(0.0)
    assert pinned.connack(accepted=False, reason="Unsupported protocol version") is Action.NONE
    assert pinned.state is State.REFUSED and pinned.version is ProtocolVersion.V5


def test_any_answer_ends_the_wait_for_good() -> None:
    p = SessionPolicy("auto")
    p.socket_opened(0.0)
    assert p.connack(accepted=False, reason="Not authorized") is Action.NONE
    assert p.answered and not p.watching
    p.disconnected()
    p.socket_opened(1.0)
    assert p.tick(3600.0) is Action.NONE  # the broker speaks MQTT 5: it said no, not "what?"
    assert p.version is ProtocolVersion.V5


def test_the_fallback_happens_once_and_stale_reports_of_the_old_client_are_ignored() -> None:
    p = SessionPolicy("auto")
    p.socket_opened(0.0)
    assert p.tick(CONNACK_WAIT_S) is Action.FALL_BACK
    # the watchdog and a late refusing CONNACK race: only the first decides
    assert p.connack(accepted=False, reason="Unsupported protocol version") is Action.NONE
    assert p.connack(accepted=True) is Action.NONE  # the old v5 client: not our session
    assert p.tick(100.0) is Action.NONE and p.disconnected() is Action.NONE
    assert p.state is State.FALLBACK
    assert p.client_replaced() is Action.NONE and p.state is State.CONNECTING
    p.socket_opened(101.0)
    assert p.tick(200.0) is Action.NONE  # 3.1.1 has nothing to fall back to
    assert p.connack(accepted=True) is Action.SESSION_UP
    assert p.version is ProtocolVersion.V311 and p.state is State.CONNECTED


def test_a_broker_replaced_by_one_without_mqtt_5_after_a_session_is_fallen_back_from() -> None:
    p = SessionPolicy("auto")
    p.socket_opened(0.0)
    assert p.connack(accepted=True) is Action.SESSION_UP
    p.disconnected()
    p.socket_opened(50.0)
    assert p.connack(accepted=False, reason="Unacceptable protocol version") is Action.FALL_BACK


def test_a_reconnect_after_a_session_announces_the_new_session() -> None:
    p = SessionPolicy("5")
    p.socket_opened(0.0)
    assert p.connack(accepted=True) is Action.SESSION_UP
    assert p.disconnected() is Action.NONE and p.state is State.CONNECTING
    p.socket_opened(9.0)
    assert p.connack(accepted=True) is Action.SESSION_UP
