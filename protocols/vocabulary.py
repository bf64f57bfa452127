"""The words every part of meterlink spells the same way, written once.

The edge, the server, the simulators and the wire all name meter protocols, meter states,
read-failure kinds and customer classes; each is a ``StrEnum`` here, so a member *is* its
string (``MeterState.DEAD == "dead"``, it goes into JSON and SQL as is) and a typo is a
name error rather than a silently different word. :mod:`protocols.model` re-exports them.

What this module does not own: quantity names and units, reading kinds, sources and
quality flags (:mod:`protocols.model`); topic channels and command names
(:mod:`protocols.wire`); user roles (the server's, the wire does not carry them).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Final


class MeterProtocol(StrEnum):
    """A meter's protocol as the archive, the API and the simulated fleet name it."""

    DLT645_2007 = "dlt645-2007"
    DLT645_1997 = "dlt645-1997"
    MODBUS = "modbus"
    DLT698 = "dlt698"  # DL/T 698.45 (面向对象的用电信息数据交换协议)


class EdgeProtocol(StrEnum):
    """A meter's protocol as a gateway's configuration names it (``auto``: try DL/T 645-2007,
    then DL/T 698.45, then 645-1997; the first that answers is kept)."""

    DLT645_2007 = "2007"
    DLT645_1997 = "1997"
    AUTO = "auto"
    MODBUS = "modbus"
    DLT698 = "dlt698"


#: The gateway-configuration word for each archive protocol.
EDGE_PROTOCOL_OF: Final[Mapping[MeterProtocol, EdgeProtocol]] = MappingProxyType(
    {
        MeterProtocol.DLT645_2007: EdgeProtocol.DLT645_2007,
        MeterProtocol.DLT645_1997: EdgeProtocol.DLT645_1997,
        MeterProtocol.MODBUS: EdgeProtocol.MODBUS,
        MeterProtocol.DLT698: EdgeProtocol.DLT698,
    }
)


class MeterState(StrEnum):
    """How a gateway sees one of its meters (carried in its status)."""

    OK = "ok"  # the last read succeeded
    FAILING = "failing"  # the last reads failed, fewer times than the dead threshold
    DEAD = "dead"  # failed often enough that the gateway backs off retrying


class ReadFailureKind(StrEnum):
    """Why a meter read failed: the first word of a gateway's ``last_error`` for a meter.

    ``error_reply`` carries details after a colon (``"error_reply: no_such_data"``); use
    :func:`read_failure_kind` to recover the kind rather than comparing prefixes.
    """

    TIMEOUT = "timeout"  # no valid reply in time (silence, garbage, a bad checksum)
    WRONG_ADDRESS = "wrong_address"  # a reply from another meter
    BAD_REPLY = "bad_reply"  # a valid frame that does not answer the request
    ERROR_REPLY = "error_reply"  # the meter refused the item (its error bits say why)
    LINE = "line"  # the port or the line failed, not the meter
    UNSUPPORTED = "unsupported"  # the meter cannot do this (a 1997 meter's freeze history)
    BACKING_OFF = "dead (backing off)"  # not tried: a dead meter waiting for its retry time


def read_failure_kind(reason: str) -> ReadFailureKind | None:
    """The kind of a ``last_error`` text (``"error_reply: ..."`` -> ``ERROR_REPLY``), or
    None for a text that names no known kind."""
    head = reason.partition(":")[0].strip()
    try:
        return ReadFailureKind(head)
    except ValueError:
        return None


class CustomerClass(StrEnum):
    """The tariff class of a metering point, as the archive keeps it."""

    RESIDENTIAL = "residential"
    COMMERCIAL = "commercial"
    INDUSTRIAL = "industrial"
    AGRICULTURAL = "agricultural"
    OTHER = "other"


#: How many daily freezes a DL/T 645 meter keeps (the 0506xxnn history, n = 1..62): the
#: oldest day a re-read (补抄) can still fetch.
FREEZE_HISTORY_DAYS: Final[int] = 62


#: The meter protocols whose meters keep their own daily-freeze history, so a missed day can
#: be re-read (补抄) from the meter: DL/T 645-2007 (0506xxnn) and DL/T 698.45 (the daily
#: freeze 5004). The others (645-1997, Modbus) get a terminal-side freeze from the gateway
#: and a missed day is lost. The one table the edge, the re-read job and completeness use.
REREADABLE_PROTOCOLS: Final[frozenset[MeterProtocol]] = frozenset(
    {MeterProtocol.DLT645_2007, MeterProtocol.DLT698}
)


#: How many days of 15-minute curve a DL/T 698.45 meter's minute freeze (5002) is counted on
#: keeping for a curve re-read (曲线补抄): the oldest local day a curve re-read may ask for.
#: The depth of 5002 is set per meter (its associated-object table); ten days is the depth
#: the simulated meters keep and a conservative floor for the installed base.
CURVE_HISTORY_DAYS: Final[int] = 10

#: The meter protocols whose meters keep their own 15-minute curve (DL/T 698.45: the minute
#: freeze 5002), so a day's missed curve points can be re-read from the meter (曲线补抄).
#: DL/T 645 and Modbus meters keep none here: their curve is what the edge read live.
CURVE_REREADABLE_PROTOCOLS: Final[frozenset[MeterProtocol]] = frozenset({MeterProtocol.DLT698})
