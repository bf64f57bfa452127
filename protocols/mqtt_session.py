"""How an MQTT client gets from a TCP connection to an accepted session, and which protocol
version it speaks: the one copy of that logic, for the edge's uplink and the server's consumer.

Sans-IO (as h11): this module opens no socket, starts no thread and reads no clock. The client
that owns the paho connection reports what happened (a TCP connection opened, a CONNACK came,
the connection closed; ``now`` is its monotonic seconds) and carries out the action it gets
back (:class:`Action`): announce the session, or replace the client by a 3.1.1 one.

MQTT 5 is used where the broker speaks it. With the ``"auto"`` setting a broker that refuses
MQTT 5 is retried with 3.1.1: either its CONNACK refuses the protocol version, or it takes the
TCP connection and never answers (amqtt drops an MQTT 5 CONNECT without a CONNACK). The wait
for that answer counts from the *first* TCP connection: a broker that is down (a gateway or a
server started during a broker outage) has said nothing about MQTT 5 and is waited for, and
once any CONNACK came the broker has answered, so the wait is over for good. (Before this
module the rule lived in both clients and the "down is not silent" bug was fixed twice.)

States and transitions (anything not in :data:`TRANSITIONS` is ignored: an event from a client
already replaced, or one paho reports twice)::

                socket opened                  CONNACK accepted
    CONNECTING --------------> AWAITING_CONNACK ---------------> CONNECTED  -> SESSION_UP
      ^  ^  ^                    |    |    |                        |
      |  |  |   disconnected     |    |    | CONNACK refused        |
      |  |  +--------------------+    |    v                        |
      |  +--------------------------- | REFUSED                     |
      |         disconnected          |                             |
      |                               | version refused, or no      | disconnected
      |                               | CONNACK in time ("auto"     | (to CONNECTING)
      |                               v  and MQTT 5 only)
      +-------------------------- FALLBACK -> FALL_BACK (the version is now 3.1.1)
             client replaced

Only :attr:`SessionPolicy.version` and :attr:`SessionPolicy.state` are for the client to read;
the guards (``"auto"``, MQTT 5, no answer yet, the wait elapsed) decide which :class:`Event` a
report becomes, and the table alone decides what the event does.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import Enum, IntEnum
from types import MappingProxyType
from typing import Final

SETTINGS: Final = ("auto", "5", "3.1.1")
CONNACK_WAIT_S: Final = 5.0  # a broker that took the connection but sends no CONNACK: not MQTT 5


class ProtocolVersion(IntEnum):
    """The protocol level byte of an MQTT CONNECT (paho's ``MQTTv311``/``MQTTv5`` values)."""

    V311 = 4
    V5 = 5


class State(Enum):
    CONNECTING = "connecting"  # no TCP connection open (not yet, or paho is retrying)
    AWAITING_CONNACK = "awaiting connack"  # connected, CONNECT sent, no answer yet
    CONNECTED = "connected"  # the broker accepted: a session is up
    REFUSED = "refused"  # the broker said no (credentials, ...); paho retries
    FALLBACK = "fallback"  # this client is given up: the caller builds a 3.1.1 one


class Event(Enum):
    SOCKET_OPENED = "socket opened"
    CONNACK_ACCEPTED = "connack accepted"
    CONNACK_REFUSED = "connack refused"
    VERSION_REFUSED = "version refused"  # a refusal naming the protocol, fallback allowed
    CONNACK_TIMEOUT = "connack timeout"  # no answer in time after a TCP connection
    DISCONNECTED = "disconnected"
    CLIENT_REPLACED = "client replaced"  # the caller runs a new client at the new version


class Action(Enum):
    NONE = "none"
    SESSION_UP = "session up"  # subscribe, announce, mark connected
    FALL_BACK = "fall back"  # stop this client, build one at ``version`` and connect it


_S, _E, _A = State, Event, Action
TRANSITIONS: Final[Mapping[tuple[State, Event], tuple[State, Action]]] = MappingProxyType(
    {
        (_S.CONNECTING, _E.SOCKET_OPENED): (_S.AWAITING_CONNACK, _A.NONE),
        # a CONNACK can only come over an open connection: take it even if the opening
        # was not reported
        (_S.CONNECTING, _E.CONNACK_ACCEPTED): (_S.CONNECTED, _A.SESSION_UP),
        (_S.CONNECTING, _E.CONNACK_REFUSED): (_S.REFUSED, _A.NONE),
        (_S.CONNECTING, _E.VERSION_REFUSED): (_S.FALLBACK, _A.FALL_BACK),
        # the first connection was dropped without a CONNACK and the wait is over
        (_S.CONNECTING, _E.CONNACK_TIMEOUT): (_S.FALLBACK, _A.FALL_BACK),
        (_S.CONNECTING, _E.DISCONNECTED): (_S.CONNECTING, _A.NONE),
        (_S.AWAITING_CONNACK, _E.SOCKET_OPENED): (_S.AWAITING_CONNACK, _A.NONE),
        (_S.AWAITING_CONNACK, _E.CONNACK_ACCEPTED): (_S.CONNECTED, _A.SESSION_UP),
        (_S.AWAITING_CONNACK, _E.CONNACK_REFUSED): (_S.REFUSED, _A.NONE),
        (_S.AWAITING_CONNACK, _E.VERSION_REFUSED): (_S.FALLBACK, _A.FALL_BACK),
        (_S.AWAITING_CONNACK, _E.CONNACK_TIMEOUT): (_S.FALLBACK, _A.FALL_BACK),
        (_S.AWAITING_CONNACK, _E.DISCONNECTED): (_S.CONNECTING, _A.NONE),
        (_S.CONNECTED, _E.SOCKET_OPENED): (_S.AWAITING_CONNACK, _A.NONE),
        (_S.CONNECTED, _E.DISCONNECTED): (_S.CONNECTING, _A.NONE),
        (_S.REFUSED, _E.SOCKET_OPENED): (_S.AWAITING_CONNACK, _A.NONE),
        (_S.REFUSED, _E.DISCONNECTED): (_S.CONNECTING, _A.NONE),
        (_S.FALLBACK, _E.CLIENT_REPLACED): (_S.CONNECTING, _A.NONE),
    }
)
_CONNACKS: Final = frozenset({_E.CONNACK_ACCEPTED, _E.CONNACK_REFUSED, _E.VERSION_REFUSED})


class SessionPolicy:
    """One client's connection state and protocol version (not thread-safe: the caller
    serialises its reports, and acts on the returned :class:`Action` outside its lock)."""

    def __init__(self, setting: str = "auto", *, connack_wait_s: float = CONNACK_WAIT_S) -> None:
        if setting not in SETTINGS:
            raise ValueError(f"MQTT protocol {setting!r}: expected one of {', '.join(SETTINGS)}")
        self.setting = setting
        self.connack_wait_s = connack_wait_s
        self.version = ProtocolVersion.V311 if setting == "3.1.1" else ProtocolVersion.V5
        self.state = State.CONNECTING
        self.answered = False  # some CONNACK came: the broker has spoken
        self.opened_at: float | None = None  # the first TCP connection, monotonic seconds

    @property
    def may_fall_back(self) -> bool:
        return self.setting == "auto" and self.version is ProtocolVersion.V5

    @property
    def watching(self) -> bool:
        """True while a missing CONNACK may still turn into a fallback (the caller ticks)."""
        return self.may_fall_back and not self.answered and self.state is not State.FALLBACK

    # ------------------------------------------------------------------ reports

    def socket_opened(self, now: float) -> Action:
        action = self._fire(Event.SOCKET_OPENED)
        if self.opened_at is None and self.state is State.AWAITING_CONNACK:
            self.opened_at = now
        return action

    def connack(self, *, accepted: bool, reason: str = "") -> Action:
        if accepted:
            return self._fire(Event.CONNACK_ACCEPTED)
        if self.may_fall_back and "protocol" in reason.lower():
            return self._fire(Event.VERSION_REFUSED)
        return self._fire(Event.CONNACK_REFUSED)

    def disconnected(self) -> Action:
        return self._fire(Event.DISCONNECTED)

    def tick(self, now: float) -> Action:
        """The caller's watchdog, every fraction of a second while :attr:`watching`."""
        if (
            self.watching
            and self.opened_at is not None
            and now - self.opened_at >= self.connack_wait_s
        ):
            return self._fire(Event.CONNACK_TIMEOUT)
        return Action.NONE

    def client_replaced(self) -> Action:
        """The old client is stopped and a new one at :attr:`version` is about to connect."""
        return self._fire(Event.CLIENT_REPLACED)

    # ------------------------------------------------------------------ the table

    def _fire(self, event: Event) -> Action:
        step = TRANSITIONS.get((self.state, event))
        if step is None:
            return Action.NONE  # stale or repeated: nothing changes
        self.state, action = step
        if event in _CONNACKS:
            self.answered = True
        if self.state is State.FALLBACK:
            self.version = ProtocolVersion.V311
        return action
