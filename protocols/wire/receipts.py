"""Receipts (server -> edge): the server's word that batches are committed.

Only a receipt lets a gateway forget a batch from its outbox; see :class:`Receipt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final

from protocols.wire.codec import (
    SCHEMA_VERSION,
    WireError,
    check_gateway_id,
    check_id,
    dump,
    format_ts,
    load,
    parse_ts,
    typed_field,
)


@dataclass(frozen=True, slots=True)
class Receipt:
    """The server's word that the named batches of a gateway are committed to its database
    (stored, quarantined or dead-lettered): only then may the gateway forget them. A broker's
    PUBACK is not that word: a broker that crashes before delivering loses what it acked."""

    gateway: str
    batches: tuple[str, ...]
    ts: datetime


MAX_RECEIPT_BATCHES: Final[int] = 1000


def encode_receipt(receipt: Receipt) -> bytes:
    return dump(
        {
            "schema": SCHEMA_VERSION,
            "gateway": check_gateway_id(receipt.gateway),
            "batches": list(receipt.batches),
            "ts": format_ts(receipt.ts),
        }
    )


def decode_receipt(payload: bytes) -> Receipt:
    obj = load(payload)
    batches = obj.get("batches")
    if not isinstance(batches, list):
        raise WireError("batches: expected a list of batch ids")
    if len(batches) > MAX_RECEIPT_BATCHES:
        raise WireError(f"batches: {len(batches)} ids exceed {MAX_RECEIPT_BATCHES}")
    return Receipt(
        gateway=check_gateway_id(typed_field(obj, "gateway", str)),
        batches=tuple(check_id(b, f"batches[{i}]") for i, b in enumerate(batches)),
        ts=parse_ts(obj.get("ts"), "ts"),
    )
