"""The delivery ledger: the one owner of "a reading leaves the outbox only when it is delivered".

Every batch the uplink publishes is a row here from the moment it is handed to paho until it
is either *forgotten* (delivered: the caller deletes its readings from the outbox) or
*released* (no proof of delivery: its readings stay in the outbox and are published again).
Delivered means the server's receipt for the batch (``delivery = "receipt"``, the default: a
broker's PUBACK only says the broker has it, and a broker killed before delivering loses what
it acknowledged) or, with ``delivery = "puback"`` (a durable broker), the broker's PUBACK.

Batch states and transitions (:data:`TRANSITIONS`; an event not listed for a batch's state
changes nothing)::

                   mid known              PUBACK (receipt mode)
    PUBLISHING ---------------> PUBLISHED ---------------------> AWAITING_RECEIPT
        |                        |   |                            |          |
        | send failed            |   | PUBACK (puback mode)       | receipt  | no receipt in
        | disconnected           |   | receipt                    |          | time,
        v                        |   v                            v          | disconnected
    RELEASED <--- PUBACK refused-+  FORGOTTEN <-------------------+          v
        ^         disconnected                                            RELEASED
        (a receipt also forgets a PUBLISHING batch: one of its earlier sends was stored)

FORGOTTEN and RELEASED are terminal: the row leaves the ledger. Any release rewinds the
:attr:`DeliveryLedger.cursor`, so the next read of the outbox starts from its oldest reading
again and the released readings are picked up (the server merges repeats idempotently).

Also kept here: PUBACKs that beat the publisher to recording the message id (paho may call
``on_publish`` before ``publish`` returns), and the receipt timeout. A batch waits for its
receipt the timeout that was current when the broker acknowledged it. The timeout doubles
(up to an hour) while no receipt comes at all, so a server that is down is not flooded: once
per round of late batches, when a batch that was given the current timeout is late, not once
per late batch (batches acknowledged milliseconds apart are late in different checks of the
publisher, and each used to double the timeout for the next: the last batch of a round of
five waited 40 s instead of 5). Any receipt brings the base timeout back, for every batch.

Pure bookkeeping: no I/O, no clock (``now`` is the caller's monotonic seconds), no threads; the
uplink serialises every call under its lock and does the deleting (:meth:`Outbox.ack`) itself
with the ids it gets back.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from types import MappingProxyType
from typing import Final

MAX_INFLIGHT: Final = 32  # batches published and not yet acknowledged by the broker
MAX_UNCONFIRMED: Final = 256  # batches acknowledged by the broker, awaiting the server
MAX_RECEIPT_TIMEOUT_S: Final = 3600.0
EARLY_ACKS_KEPT: Final = 256  # past this many, early PUBACKs older than EARLY_ACK_TTL_S go
EARLY_ACK_TTL_S: Final = 30.0


class Delivery(Enum):
    RECEIPT = "receipt"
    PUBACK = "puback"


class BatchState(Enum):
    PUBLISHING = "publishing"  # handed to paho, its message id not known yet
    PUBLISHED = "published"  # on its way: the broker has not acknowledged it
    AWAITING_RECEIPT = "awaiting receipt"  # the broker has it; the server has not said so
    FORGOTTEN = "forgotten"  # delivered: its readings are deleted from the outbox
    RELEASED = "released"  # not known to be delivered: its readings are sent again


class Event(Enum):
    MID_KNOWN = "mid known"
    SEND_FAILED = "send failed"
    PUBACK = "puback"
    PUBACK_REFUSED = "puback refused"
    RECEIPT = "receipt"
    RECEIPT_LATE = "receipt late"
    DISCONNECTED = "disconnected"


_B, _E = BatchState, Event
_COMMON: Final = {
    (_B.PUBLISHING, _E.MID_KNOWN): _B.PUBLISHED,
    (_B.PUBLISHING, _E.SEND_FAILED): _B.RELEASED,
    (_B.PUBLISHING, _E.DISCONNECTED): _B.RELEASED,
    (_B.PUBLISHED, _E.PUBACK_REFUSED): _B.RELEASED,
    (_B.PUBLISHED, _E.DISCONNECTED): _B.RELEASED,
}
TRANSITIONS: Final[Mapping[Delivery, Mapping[tuple[BatchState, Event], BatchState]]] = (
    MappingProxyType(
        {
            Delivery.RECEIPT: MappingProxyType(
                _COMMON
                | {
                    (_B.PUBLISHING, _E.RECEIPT): _B.FORGOTTEN,  # an earlier send was stored
                    (_B.PUBLISHED, _E.PUBACK): _B.AWAITING_RECEIPT,
                    (_B.PUBLISHED, _E.RECEIPT): _B.FORGOTTEN,  # the receipt beat the PUBACK
                    (_B.AWAITING_RECEIPT, _E.RECEIPT): _B.FORGOTTEN,
                    (_B.AWAITING_RECEIPT, _E.RECEIPT_LATE): _B.RELEASED,
                    (_B.AWAITING_RECEIPT, _E.DISCONNECTED): _B.RELEASED,
                }
            ),
            Delivery.PUBACK: MappingProxyType(_COMMON | {(_B.PUBLISHED, _E.PUBACK): _B.FORGOTTEN}),
        }
    )
)
TERMINAL: Final = frozenset({BatchState.FORGOTTEN, BatchState.RELEASED})


@dataclass
class _Batch:
    id: str
    ids: list[int]
    state: BatchState = BatchState.PUBLISHING
    mid: int | None = None
    acked_at: float = 0.0  # when the broker acknowledged it (monotonic seconds)
    timeout: float = 0.0  # how long it waits for its receipt from then


class DeliveryLedger:
    """The batches between the outbox and their delivery (not thread-safe: see the module)."""

    def __init__(
        self,
        delivery: Delivery = Delivery.RECEIPT,
        *,
        receipt_timeout_s: float = 120.0,
        max_inflight: int = MAX_INFLIGHT,
        max_unconfirmed: int = MAX_UNCONFIRMED,
        max_receipt_timeout_s: float = MAX_RECEIPT_TIMEOUT_S,
    ) -> None:
        self.delivery = delivery
        self.table = TRANSITIONS[delivery]
        self.base_timeout_s = float(receipt_timeout_s)
        self.receipt_timeout_s = self.base_timeout_s  # the current one (it backs off)
        self.max_inflight, self.max_unconfirmed = max_inflight, max_unconfirmed
        self.max_receipt_timeout_s = max_receipt_timeout_s
        self.cursor = 0  # the outbox is read after this id; 0 after any release
        self.resent_batches = 0  # released for want of a receipt in time
        self.ignored_receipts = 0  # batch ids in receipts that named no live batch
        self._batches: dict[str, _Batch] = {}
        self._by_mid: dict[int, str] = {}  # PUBLISHED batches by their message id
        self._held: set[int] = set()  # reading ids in live batches
        self._early: dict[int, tuple[bool, float]] = {}  # mid -> (accepted, when)
        self._count: Counter[BatchState] = Counter()

    # ------------------------------------------------------------------ questions

    def holds(self, reading_id: int) -> bool:
        """True while the reading is in a live batch (not to be published again now)."""
        return reading_id in self._held

    def state_of(self, batch_id: str) -> BatchState | None:
        """A live batch's state; None for a batch forgotten, released or never seen."""
        batch = self._batches.get(batch_id)
        return batch.state if batch else None

    def count(self, state: BatchState) -> int:
        return self._count[state]

    def room(self) -> int:
        """How many more batches may be published now."""
        return min(
            self.max_inflight - self._count[BatchState.PUBLISHED],
            self.max_unconfirmed - self._count[BatchState.AWAITING_RECEIPT],
        )

    def advance(self, last_id: int) -> None:
        """The outbox was read up to ``last_id``."""
        self.cursor = last_id

    # ------------------------------------------------------------------ events

    def sending(self, batch_id: str, ids: Sequence[int]) -> None:
        """A batch is about to be handed to paho (before ``publish``: its PUBACK may come
        before ``publish`` returns)."""
        if batch_id in self._batches or self._held.intersection(ids):
            raise ValueError(f"batch {batch_id!r} overlaps a batch already on its way")
        self._batches[batch_id] = _Batch(batch_id, list(ids))
        self._held.update(ids)
        self._count[BatchState.PUBLISHING] += 1

    def send_failed(self, batch_id: str) -> None:
        """paho did not take the batch (not connected, queue full)."""
        self._fire(batch_id, Event.SEND_FAILED, 0.0)

    def published(self, batch_id: str, mid: int, now: float) -> list[int]:
        """paho took the batch as message ``mid``; returns reading ids to delete (a PUBACK
        that came first, in puback mode)."""
        early = self._early.pop(mid, None)
        batch = self._batches.get(batch_id)
        if batch is None:
            return []  # a receipt for an earlier send already forgot it
        if batch.state is BatchState.PUBLISHING:
            batch.mid = mid
        done = self._fire(batch_id, Event.MID_KNOWN, now)
        if early is not None:
            accepted, _ = early
            done += self._fire(batch_id, Event.PUBACK if accepted else Event.PUBACK_REFUSED, now)
        return done

    def puback(self, mid: int, accepted: bool, now: float) -> list[int]:
        """The broker acknowledged message ``mid``; returns reading ids to delete."""
        batch_id = self._by_mid.get(mid)
        if batch_id is None:
            # our batch's mid not recorded yet, or a status/result publish: keep briefly
            self._early[mid] = (accepted, now)
            if len(self._early) > EARLY_ACKS_KEPT:
                cutoff = now - EARLY_ACK_TTL_S
                for old in [m for m, (_, at) in self._early.items() if at < cutoff]:
                    del self._early[old]
            return []
        return self._fire(batch_id, Event.PUBACK if accepted else Event.PUBACK_REFUSED, now)

    def receipt(self, batch_ids: Iterable[str]) -> list[int]:
        """The server committed these batches; returns reading ids to delete. Only a live
        batch (sent, its receipt not in yet) is forgotten: an id the ledger does not hold
        deletes nothing and is counted in :attr:`ignored_receipts`. Any receipt that
        forgets a batch ends the back-off."""
        done: list[int] = []
        for batch_id in batch_ids:
            if batch_id in self._batches:
                done += self._fire(batch_id, Event.RECEIPT, 0.0)
            else:  # never sent, or forgotten or released already: nothing to delete
                self.ignored_receipts += 1
        if done:  # the server is there: the base timeout again, also for those waiting
            self.receipt_timeout_s = self.base_timeout_s
            for b in self._batches.values():
                b.timeout = min(b.timeout, self.base_timeout_s)
        return done

    def expire(self, now: float) -> tuple[list[str], float]:
        """Release the batches whose receipt is late, to be sent again; returns them and the
        longest timeout they had. The timeout doubles (up to the maximum) once per round."""
        late = [
            b
            for b in self._batches.values()
            if b.state is BatchState.AWAITING_RECEIPT and now - b.acked_at > b.timeout
        ]
        if not late:
            return [], self.receipt_timeout_s
        timeout = max(b.timeout for b in late)
        for b in late:
            self._fire(b.id, Event.RECEIPT_LATE, now)
        self.resent_batches += len(late)
        if timeout >= self.receipt_timeout_s:  # a batch of the current round: back off
            self.receipt_timeout_s = min(timeout * 2, self.max_receipt_timeout_s)
        return [b.id for b in late], timeout

    def disconnected(self) -> None:
        """The connection is gone: nothing on its way is known to arrive; send it all again."""
        for batch_id in list(self._batches):
            self._fire(batch_id, Event.DISCONNECTED, 0.0)
        self._early.clear()
        self.cursor = 0

    # ------------------------------------------------------------------ the table

    def _fire(self, batch_id: str, event: Event, now: float) -> list[int]:
        """Move one live batch by the table; returns the reading ids to delete, if any."""
        batch = self._batches.get(batch_id)
        if batch is None:
            return []
        nxt = self.table.get((batch.state, event))
        if nxt is None:
            return []  # not an event for this state: nothing changes
        if batch.mid is not None and batch.state is BatchState.PUBLISHED:
            self._by_mid.pop(batch.mid, None)
        self._count[batch.state] -= 1
        batch.state = nxt
        if nxt in TERMINAL:
            del self._batches[batch_id]
            self._held.difference_update(batch.ids)
            if nxt is BatchState.RELEASED:
                self.cursor = 0
                return []
            return batch.ids
        self._count[nxt] += 1
        if nxt is BatchState.PUBLISHED and batch.mid is not None:
            self._by_mid[batch.mid] = batch_id
        if nxt is BatchState.AWAITING_RECEIPT:
            batch.acked_at, batch.timeout = now, self.receipt_timeout_s
        return []
