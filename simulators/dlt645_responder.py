"""A simulated DL/T 645 meter's answers: request frame in, reply bytes (or silence) out.

Uses only the meter role of ``protocols.dlt645`` (``parse_request`` and the reply
builders) and its catalogue, so the simulator speaks exactly the codec the edge reads.

What a simulated meter does with each function (2007 code / 1997 code):

* read data ``11``/``01``: every catalogue item, block reads included, the daily-freeze
  history (0506xxnn, n = 1..62) and the last cover-open record (03300D01: when the cover
  was opened and closed, on the meter's clock) from the meter model; unknown DI -> error
  "no such data".
  A reply longer than ``max_reply_data`` bytes is split: the first frame says "more
  follows" and the master fetches the rest with read subsequent ``12``/``02``.
* read address ``13``: the meter's own address (wildcards allowed in the request).
* broadcast time ``08``: sets the meter clock, never answered.
* freeze ``16``: acknowledged (an addressed freeze); the daily freeze history is
  computed from the profile at local midnights, so an extra instant freeze is not kept.
* re-read ``03`` (1997): the last reply again.
* change baud: error "baud rate unchangeable" (the line speed is the bus's);
  writes, address/password changes, clears, relay control: error "unauthorised"
  (no password is accepted by a simulated meter).
* A frame whose function belongs only to the other protocol version gets no answer (a
  1997 meter does not understand 2007 codes), which is how a gateway probes versions.

Energy registers roll over at 1,000,000 kWh like the 8-digit register of a real meter.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from typing import Any

from protocols.dlt645 import DataItem, find_item
from protocols.dlt645.control import Version, version_of_function
from protocols.dlt645.errors import Dlt645Error
from protocols.dlt645.frame import Frame
from protocols.dlt645.meter import (
    Request,
    build_address_reply,
    build_error_reply,
    build_freeze_ack,
    build_read_reply_raw,
    parse_request,
)
from protocols.line import LineFrame
from simulators.meter import SimMeter

log = logging.getLogger(__name__)

_ROLLOVER_KWH = 1_000_000
_UNAUTHORISED = {
    "write_data",
    "write_address",
    "change_password",
    "max_demand_reset",
    "meter_clear",
    "event_clear",
    "relay_control",
}


def meter_version(meter: SimMeter) -> Version:
    return "1997" if meter.spec.protocol == "dlt645-1997" else "2007"


class Dlt645Responder:
    """Answers for DL/T 645 meters; keeps per-meter state for multi-frame replies."""

    def __init__(self, max_reply_data: int = 200) -> None:
        if not 8 <= max_reply_data <= 200:
            raise ValueError("max_reply_data must be within 8..200 bytes")
        self.max_reply_data = max_reply_data
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, int], bytes] = {}  # (meter, DI) -> whole payload
        self._last: dict[str, bytes] = {}  # meter -> last reply (1997 re-read)

    def for_bus(self, preamble: int = 0) -> Any:
        def respond(meter: SimMeter, frame: Frame, now: datetime) -> bytes | None:
            return self.respond(meter, frame, now, preamble)

        return respond

    def respond(
        self, meter: SimMeter, frame: Frame | LineFrame, now: datetime, preamble: int = 0
    ) -> bytes | None:
        if meter.spec.protocol == "dlt698" or not isinstance(frame, Frame):
            return None  # a 698.45 meter ignores 645 frames (and this codec 698.45 ones)
        version = meter_version(meter)
        other = version_of_function(frame.function)
        if other is not None and other != version:
            return None  # a function of the other version: this meter does not understand it
        try:
            req = parse_request(frame, version)
        except Dlt645Error as exc:
            log.info("meter %s: unusable request %s: %s", meter.archive_id, frame, exc)
            return None  # a meter stays silent on frames it cannot parse
        reply = self._answer(meter, req, now, version, preamble)
        if reply is not None:
            with self._lock:
                self._last[meter.archive_id] = reply
        return reply

    def _answer(
        self, meter: SimMeter, req: Request, now: datetime, version: Version, preamble: int
    ) -> bytes | None:
        own = meter.address_at(now)
        name = req.function
        if name == "broadcast_time":
            if req.time is not None:
                meter.set_clock(req.time, now)
            return None
        if req.is_broadcast:
            return None  # broadcast freeze and anything else: act (nothing to do), stay silent
        if name == "read_address":
            return build_address_reply(own, preamble)
        if name in ("read_data", "read_subsequent"):
            return self._read(meter, req, now, version, own, preamble)
        if name == "reread":
            with self._lock:
                last = self._last.get(meter.archive_id)
            return last or build_error_reply(own, req.code, "no_such_data", version, preamble)
        if name == "freeze":
            return build_freeze_ack(own, preamble)
        if name == "change_baud":
            bits = "baud_unchangeable" if version == "2007" else "illegal_data"
            return build_error_reply(own, req.code, bits, version, preamble)
        if name in _UNAUTHORISED:
            return build_error_reply(own, req.code, "unauthorised", version, preamble)
        return build_error_reply(
            own, req.code, "other" if version == "2007" else "illegal_data", version, preamble
        )

    def _read(
        self,
        meter: SimMeter,
        req: Request,
        now: datetime,
        version: Version,
        own: str,
        preamble: int,
    ) -> bytes:
        di = req.di
        assert di is not None
        entry = find_item(di, version)
        if entry is None:
            return build_error_reply(own, req.code, "no_such_data", version, preamble)
        key = (meter.archive_id, di)
        room = self.max_reply_data - (4 if version == "2007" else 2) - 1  # DI and SEQ
        if req.function == "read_subsequent":
            with self._lock:
                payload = self._pending.get(key)
            seq = req.seq if req.seq is not None else 1
            if payload is None or seq * room >= len(payload):
                return build_error_reply(own, req.code, "no_such_data", version, preamble)
            chunk = payload[seq * room : (seq + 1) * room]
            more = (seq + 1) * room < len(payload)
            if not more:
                with self._lock:
                    self._pending.pop(key, None)
            return build_read_reply_raw(
                own, di, chunk, version, more, req.seq if version == "2007" else None, preamble
            )
        try:
            payload = entry.encode(self._values(meter, entry, now))
        except KeyError:  # the meter has no such register (a phase B voltage on 1 phase)
            return build_error_reply(own, req.code, "no_such_data", version, preamble)
        except Dlt645Error as exc:
            log.warning("meter %s: cannot encode %s: %s", meter.archive_id, entry.di_text, exc)
            return build_error_reply(
                own, req.code, "other" if version == "2007" else "illegal_data", version, preamble
            )
        if len(payload) <= room + 1:  # fits one frame (no SEQ byte in a first reply)
            return build_read_reply_raw(own, di, payload, version, False, None, preamble)
        with self._lock:
            self._pending[key] = payload
        return build_read_reply_raw(own, di, payload[:room], version, True, None, preamble)

    def _values(self, meter: SimMeter, entry: DataItem, now: datetime) -> list[Any]:
        if entry.history:
            shown, regs = meter.freeze(entry.history, now)
        elif entry.record:  # the last cover-open record: times and energies of its own
            record = meter.cover_open_record(now)
            return [
                record[f.quantity] % _ROLLOVER_KWH
                if isinstance(record[f.quantity], float)
                else record[f.quantity]
                for f in entry.fields
            ]
        else:
            shown, regs = None, meter.registers_at(now)
        out: list[Any] = []
        for field in entry.fields:
            out.append(self._value(meter, field.quantity, regs, now, shown))
        return out

    def _value(
        self, meter: SimMeter, q: str, regs: dict[str, float], now: datetime, shown: datetime | None
    ) -> Any:
        if q == "freeze_time":
            assert shown is not None
            return shown.replace(tzinfo=None)
        if q in ("meter_date", "meter_time"):
            clock = meter.meter_clock(now).replace(tzinfo=None)
            return clock.date() if q == "meter_date" else clock.time().replace(microsecond=0)
        if q in ("meter_address", "meter_number"):
            return meter.address_at(now)
        if q == "max_demand_import_time":
            return meter.demand_at(now)[1]
        if q.startswith("energy_combined_t"):
            j = q[-1]
            value = regs[f"energy_import_t{j}"] + regs[f"energy_export_t{j}"]
        elif q == "energy_reactive_import_total":
            value = regs["energy_reactive_1_total"]
        else:
            value = regs[q]
        if q.startswith("energy_"):
            value = value % _ROLLOVER_KWH
        return value
