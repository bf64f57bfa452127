"""The ``mac`` / ``rn`` of a reading on the wire (DL/T 698.45 meters with an ESAM).

An ESAM meter answers frozen data through SECURITY plaintext + MAC; the reader keeps the
MAC as received and the random number (RN) it sent. Only the utility's security module can
verify the pair, so the reading travels flagged ``unverified`` with both as hex. A reading
whose only fault is a malformed ``mac`` / ``rn`` is set aside with the reason (see
:mod:`protocols.wire.readings`); the batch's other readings stand.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from protocols.model import MAX_SECURITY_BYTES
from protocols.wire.codec import WireError, kind_of

_HEX: Final[re.Pattern[str]] = re.compile(r"[0-9A-Fa-f]+")

#: A reading set aside for a bad ``mac`` / ``rn`` alone: (the reading as JSON, the reason).
Refused = tuple[bytes, str]

#: The MAC (and RN) of one reading of a batch, beside its row (few readings carry one, so
#: rows stay as they are): ``(meter, quantity, ts UTC, value, kind, mac, rn)``.
MacRow = tuple[str, str, datetime, float, str, bytes, bytes | None]


def hex_octets(value: object, where: str) -> bytes:
    """A ``mac`` / ``rn`` field: an even number of hex digits (either case), 1 to
    :data:`MAX_SECURITY_BYTES` bytes."""
    if not isinstance(value, str):
        raise WireError(f"{where}: expected a hex string, got {kind_of(value)}")
    if len(value) > 2 * MAX_SECURITY_BYTES:
        raise WireError(
            f"{where}: {len(value)} hex digits exceed {2 * MAX_SECURITY_BYTES} "
            f"({MAX_SECURITY_BYTES} bytes)"
        )
    if not value or len(value) % 2 or _HEX.fullmatch(value) is None:
        raise WireError(
            f"{where}: {value[:40]!r} is not hex octets (digits 0-9 A-F, an even number, "
            "at least 2)"
        )
    return bytes.fromhex(value)


def security_of(obj: Mapping[str, Any], where: str) -> tuple[bytes | None, bytes | None]:
    """The reading's (mac, rn), checked; (None, None) when it carries none."""
    raw_mac, raw_rn = obj.get("mac"), obj.get("rn")
    mac = None if raw_mac is None else hex_octets(raw_mac, f"{where}.mac")
    rn = None if raw_rn is None else hex_octets(raw_rn, f"{where}.rn")
    if rn is not None and mac is None:
        raise WireError(f"{where}.rn: an rn without a mac (the rn only pairs a mac)")
    return mac, rn


def without_security(obj: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in obj.items() if k not in ("mac", "rn")}


def has_security(obj: object) -> bool:
    return isinstance(obj, Mapping) and ("mac" in obj or "rn" in obj)


def refused_item(item: Mapping[str, Any], reason: str) -> Refused:
    return json.dumps(item, separators=(",", ":"), default=str).encode(), reason
