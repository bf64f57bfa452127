"""Commands from the server, each answered with a result on ``cmd/result``.

A malformed or unknown command gets an error result and changes nothing. A command id
seen before (a broker redelivery after a restart) is answered as a duplicate
(:func:`protocols.wire.duplicate_result`, which the server never takes for the real result)
and not run again.

A backfill runs on its own thread (one at a time, in arrival order): it can take hours of
line time, and a read-now or a time sync arriving meanwhile must not wait for it. One still
queued when the agent stops is answered as not run (:data:`NOT_RUN`), never left for the
server to expire.

A result is bounded: past :data:`RESULT_BUDGET_BYTES` encoded, :func:`fit_result` drops the
per-item detail (a backfill's failed meter-days) to counts by reason, so a 10,000-item
backfill that fails everywhere still answers in one message the server accepts.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, Final

from protocols import wire
from protocols.vocabulary import read_failure_kind
from protocols.wire import CommandName, CommandResult

from .clock import Clock, SystemClock
from .outbox import Outbox
from .runtime import CommandRefused, EdgeRuntime

log = logging.getLogger(__name__)

#: The most bytes a result's ``result`` object may take encoded before its per-item detail
#: is summarised: a sixteenth of the wire's payload limit, so the envelope, the error text
#: and the server's JSON column never come near it (a result is also shown by the API).
RESULT_BUDGET_BYTES: Final[int] = wire.MAX_PAYLOAD_BYTES // 16
#: The longest error text a result carries (the wire takes up to 2,000 characters).
ERROR_MAX_CHARS: Final[int] = 1000
#: The answer to a backfill the agent dropped unstarted because it stopped.
NOT_RUN: Final[str] = "not run: the edge agent stopped before this backfill's turn; ask again"


def _encoded_size(obj: Mapping[str, Any]) -> int:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=str)
    return len(text.encode(errors="surrogatepass"))


def _reason_kind(item: object) -> str:
    """The failure kind an item's reason names (its first word), or "other"."""
    reason = item.get("reason") if isinstance(item, Mapping) else None
    kind = read_failure_kind(reason) if isinstance(reason, str) else None
    return kind.value if kind is not None else "other"


def fit_result(result: Mapping[str, Any], budget: int = RESULT_BUDGET_BYTES) -> dict[str, Any]:
    """``result`` as is when it encodes within ``budget`` bytes; otherwise every list in it
    becomes ``<key>_count`` and ``<key>_by_kind`` (items counted by the failure kind their
    reason names) and ``detail_dropped`` says how large the full result was. Objects that
    still do not fit are replaced by their size the same way."""
    size = _encoded_size(result)
    if size <= budget:
        return dict(result)
    out: dict[str, Any] = {}
    for key, value in result.items():
        if isinstance(value, list):
            out[f"{key}_count"] = len(value)
            out[f"{key}_by_kind"] = dict(sorted(Counter(map(_reason_kind, value)).items()))
        else:
            out[key] = value
    out["detail_dropped"] = {"bytes": size, "budget": budget}
    if _encoded_size(out) > budget:
        for key, value in list(out.items()):
            if isinstance(value, (Mapping, str)) and key != "detail_dropped":
                out[key] = None
                out[f"{key}_bytes"] = _encoded_size({key: value})
    return out


class CommandHandler:
    def __init__(
        self,
        runtime: Callable[[], EdgeRuntime],
        outbox: Outbox,
        publish: Callable[[bytes], None],
        reload_config: Callable[[], None] | None = None,
        *,
        clock: Clock | None = None,
    ) -> None:
        self.runtime, self.outbox, self.publish = runtime, outbox, publish
        self.reload = reload_config
        self.clock = clock or SystemClock()
        self._backfills = ThreadPoolExecutor(max_workers=1, thread_name_prefix="edge-backfill")
        self._running = 0
        self._idle = threading.Condition()
        #: backfills queued or running, by their future: close() answers those it drops
        self._queued: dict[Future[None], wire.Command] = {}

    def _answer(
        self,
        cmd_id: str,
        name: str,
        ok: bool,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        if error is not None and len(error) > ERROR_MAX_CHARS:
            error = error[: ERROR_MAX_CHARS - 1] + "…"
        res = CommandResult(cmd_id, name, ok, self.clock.now(), error, fit_result(result or {}))
        self.publish(wire.encode_result(res))

    def handle(self, payload: bytes) -> None:
        try:
            cmd = wire.decode_command(payload)
        except wire.WireError as exc:
            cmd_id, name = "unknown", ""
            try:
                obj = json.loads(payload)
                if isinstance(obj, dict):
                    cmd_id = str(obj.get("id") or "unknown")[:128]
                    name = str(obj.get("command") or "")[:64]
            except (ValueError, UnicodeDecodeError):
                pass
            log.warning("refused a malformed command %s: %s", cmd_id, exc)
            self._answer(cmd_id, name, False, f"malformed command: {exc}")
            return
        if self.outbox.command_seen(cmd.id):
            dup = wire.duplicate_result(cmd.id, cmd.name.value, self.clock.now())
            self.publish(wire.encode_result(dup))
            return
        if cmd.name in wire.BACKFILL_COMMANDS:
            with self._idle:
                self._running += 1
                future = self._backfills.submit(self._execute_in_background, cmd)
                self._queued[future] = cmd
            future.add_done_callback(self._backfill_done)
            return
        self._execute(cmd)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until no backfill is queued or running; False if ``timeout`` passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._running == 0, timeout)

    def close(self) -> None:
        """Drop the backfills not started, each answered as not run (left unanswered, the
        server would wait for it until it expired, an hour or more, and keep its meter-days
        as asked meanwhile); the running one ends when its bus stops, answered with what
        it read."""
        with self._idle:
            queued = list(self._queued.items())
        self._backfills.shutdown(wait=False, cancel_futures=True)
        for future, cmd in queued:
            if not future.cancelled():
                continue
            try:
                self._answer(cmd.id, cmd.name.value, False, NOT_RUN)
            except Exception:  # the uplink is gone too: the server's expiry will say it
                log.exception("backfill %s: could not answer that it was not run", cmd.id)

    def _execute_in_background(self, cmd: wire.Command) -> None:
        try:
            self._execute(cmd)
        except Exception:  # publishing the answer failed: nothing else would say so
            log.exception("backfill %s: could not answer", cmd.id)

    def _backfill_done(self, future: Future[None]) -> None:  # run, or cancelled by close()
        with self._idle:
            self._running -= 1
            self._queued.pop(future, None)
            self._idle.notify_all()

    def _execute(self, cmd: wire.Command) -> None:
        try:
            result = self._run(cmd)
        except (CommandRefused, KeyError, ValueError, TimeoutError) as exc:
            self._answer(cmd.id, cmd.name.value, False, str(exc))
            return
        except Exception as exc:
            log.exception("command %s failed", cmd.id)
            self._answer(cmd.id, cmd.name.value, False, f"internal error: {exc}")
            return
        self._answer(cmd.id, cmd.name.value, True, result=result)

    def _run(self, cmd: wire.Command) -> dict[str, Any]:
        rt = self.runtime()
        if cmd.name is CommandName.READ_NOW:
            readings = rt.read_now(cmd.args["meter"], cmd.args.get("quantities"))
            return {"readings": len(readings), "values": {r.quantity: r.value for r in readings}}
        if cmd.name is CommandName.BACKFILL:
            return rt.backfill(cmd.backfill_items())
        if cmd.name is CommandName.BACKFILL_CURVE:
            return rt.backfill_curve(cmd.backfill_items())
        if cmd.name is CommandName.TIME_SYNC:
            return rt.time_sync(cmd.args.get("bus"))
        if cmd.name is CommandName.REDISCOVER:
            return rt.rediscover(cmd.args["bus"])
        if cmd.name is CommandName.RELOAD_CONFIG:
            if self.reload is None:
                raise CommandRefused("this agent was not started from a configuration file")
            self.reload()
            return {"reloaded": True}
        raise CommandRefused(f"unknown command {cmd.name}")
