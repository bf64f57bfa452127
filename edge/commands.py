"""Commands from the server, each answered with a result on ``cmd/result``.

A malformed or unknown command gets an error result and changes nothing. A command id
seen before (a broker redelivery after a restart) is answered as a duplicate and not run
again.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from protocols import wire
from protocols.wire import CommandName, CommandResult

from .clock import Clock, SystemClock
from .outbox import Outbox
from .runtime import CommandRefused, EdgeRuntime

log = logging.getLogger(__name__)


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

    def _answer(
        self,
        cmd_id: str,
        name: str,
        ok: bool,
        error: str | None = None,
        result: dict[str, Any] | None = None,
    ) -> None:
        res = CommandResult(cmd_id, name, ok, self.clock.now(), error, result or {})
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
            self._answer(cmd.id, cmd.name.value, True, result={"duplicate": True})
            return
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
