"""Commands (server -> edge) and their results (edge -> server).

A command names what the gateway should do now and carries its arguments; each command's
arguments are checked on both sides (:func:`encode_command` and :func:`decode_command`).
The gateway answers every command with one :class:`CommandResult` under the same id; a
command it has seen before is answered with :func:`duplicate_result`, which never stands for
the real one (:func:`is_duplicate_answer`).

One command carries at most :data:`MAX_COMMAND_ITEMS` items (backfill meter-days, read_now
quantities): a gateway works through a command on one serial line at 2400 baud, and its
result must stay well under the payload limit. Larger work is split into several commands.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final

from protocols.model import QUANTITY_BY_NAME
from protocols.wire.codec import (
    SCHEMA_VERSION,
    WireError,
    a_string,
    a_string_or_null,
    check_id,
    check_tree,
    dump,
    enum_value,
    format_ts,
    kind_of,
    load,
    parse_ts,
    typed_field,
)

#: The most items (backfill meter-days, read_now quantities) one command may carry.
MAX_COMMAND_ITEMS: Final[int] = 10_000


class CommandName(StrEnum):
    READ_NOW = "read_now"  # 召测: args {"meter": id, "quantities": [..] (optional)}
    BACKFILL = "backfill"  # 补抄: args {"items": [{"meter": id, "date": "YYYY-MM-DD"}, ...]}
    #: 曲线补抄: args as backfill's; each item is a meter's whole local day of 15-minute
    #: curve read back from the meter's minute freeze (DL/T 698.45 5002). A command of its
    #: own, not a kind field in backfill's items: an edge older than it ignores unknown item
    #: keys and would read the daily freeze instead, answering "read"; a command name it
    #: does not know it refuses ("malformed command: command: 'backfill_curve' is not one
    #: of ..."), and the server tells staff the agent must be updated.
    BACKFILL_CURVE = "backfill_curve"
    TIME_SYNC = "time_sync"  # args {"bus": name (optional: all buses)}
    REDISCOVER = "rediscover"  # args {"bus": name}
    RELOAD_CONFIG = "reload_config"  # args {}


#: The commands whose arguments are meter-days (``{"items": [{meter, date}, ...]}``).
BACKFILL_COMMANDS: Final[frozenset[CommandName]] = frozenset(
    {CommandName.BACKFILL, CommandName.BACKFILL_CURVE}
)


@dataclass(frozen=True)
class BackfillItem:
    meter: str
    date: date


@dataclass(frozen=True)
class Command:
    id: str
    name: CommandName
    issued_at: datetime
    args: Mapping[str, Any] = field(default_factory=dict)

    def backfill_items(self) -> tuple[BackfillItem, ...]:
        """The meter-days of a backfill or backfill_curve command, validated."""
        if self.name not in BACKFILL_COMMANDS:
            raise WireError(f"command {self.name.value} has no backfill items")
        return _backfill_items(self.args)


def _backfill_items(args: Mapping[str, Any]) -> tuple[BackfillItem, ...]:
    items = args.get("items")
    if not isinstance(items, list) or not items:
        raise WireError("args.items: expected a non-empty list of {meter, date}")
    _check_count(len(items), "args.items")
    out = []
    for i, it in enumerate(items):
        where = f"args.items[{i}]"
        if not isinstance(it, Mapping):
            raise WireError(f"{where}: expected an object with a meter and a date")
        extra = sorted(str(k) for k in it if k not in _ITEM_KEYS)
        if extra:  # never read something other than what was asked (a kind from a newer side)
            raise WireError(
                f"{where}: unknown key {extra[0][:64]!r} (an item is {{meter, date}}; a day's "
                "curve is asked by the backfill_curve command)"
            )
        check_id(it.get("meter"), f"{where}.meter")
        try:
            day = date.fromisoformat(str(it.get("date")))
        except ValueError:
            raise WireError(f"{where}.date: {it.get('date')!r} is not YYYY-MM-DD") from None
        out.append(BackfillItem(it["meter"], day))
    return tuple(out)


_ITEM_KEYS: Final[frozenset[str]] = frozenset({"meter", "date"})


def _check_count(n: int, where: str) -> None:
    if n > MAX_COMMAND_ITEMS:
        raise WireError(
            f"{where}: {n} items exceed the limit of {MAX_COMMAND_ITEMS} per command "
            "(split the work into several commands)"
        )


def _check_args(name: CommandName, args: Mapping[str, Any]) -> None:
    if name is CommandName.READ_NOW:
        if args.get("meter") is None:
            raise WireError("args.meter: read_now needs the meter's archive id")
        check_id(args["meter"], "args.meter")
        qs = args.get("quantities")
        if qs is not None:
            if not isinstance(qs, list):
                raise WireError(f"args.quantities: expected a list, got {kind_of(qs)}")
            _check_count(len(qs), "args.quantities")
            for i, q in enumerate(qs):
                if not isinstance(q, str) or q not in QUANTITY_BY_NAME:
                    raise WireError(f"args.quantities[{i}]: {q!r} is not a known quantity")
    elif name in BACKFILL_COMMANDS:
        _backfill_items(args)
    elif name is CommandName.REDISCOVER:
        if not isinstance(args.get("bus"), str):
            raise WireError("args.bus: rediscover needs a bus name")
    elif name is CommandName.TIME_SYNC:
        bus = args.get("bus")
        if bus is not None and not isinstance(bus, str):
            raise WireError("args.bus: expected a bus name or nothing")


def encode_command(cmd: Command) -> bytes:
    _check_args(cmd.name, cmd.args)
    return dump(
        {
            "schema": SCHEMA_VERSION,
            "id": cmd.id,
            "command": cmd.name.value,
            "issued_at": format_ts(cmd.issued_at),
            "args": dict(cmd.args),
        }
    )


def decode_command(payload: bytes) -> Command:
    obj = load(payload)
    cmd_id = _command_id(obj)
    name = enum_value(CommandName, obj.get("command"), "command")
    args = obj.get("args", {})
    if not isinstance(args, Mapping):
        raise WireError(f"args: expected an object, got {kind_of(args)}")
    check_tree(args, "args")
    _check_args(name, args)
    return Command(cmd_id, name, parse_ts(obj.get("issued_at"), "issued_at"), dict(args))


_ERROR_MAX = 2000  # the longest error text a result may carry


@dataclass(frozen=True)
class CommandResult:
    id: str
    command: str
    ok: bool
    finished_at: datetime
    error: str | None = None
    result: Mapping[str, Any] = field(default_factory=dict)


def encode_result(res: CommandResult) -> bytes:
    return dump(
        {
            "schema": SCHEMA_VERSION,
            "id": res.id,
            "command": res.command,
            "ok": res.ok,
            "error": res.error,
            "finished_at": format_ts(res.finished_at),
            "result": dict(res.result),
        }
    )


def decode_result(payload: bytes) -> CommandResult:
    obj = load(payload)
    result = obj.get("result", {})
    if not isinstance(result, Mapping):
        raise WireError(f"result: expected an object, got {kind_of(result)}")
    check_tree(result, "result")  # kept as it came: every string and number storable
    return CommandResult(
        id=_command_id(obj),
        command=a_string(obj.get("command", ""), "command", max_len=64),
        ok=typed_field(obj, "ok", bool),
        finished_at=parse_ts(obj.get("finished_at"), "finished_at"),
        error=a_string_or_null(obj.get("error"), "error", max_len=_ERROR_MAX),
        result=dict(result),
    )


def _command_id(obj: Mapping[str, Any]) -> str:
    return a_string(obj.get("id"), "id", max_len=128, non_empty=True)


#: The key of the answer a gateway gives to a command id it has seen before.
DUPLICATE_KEY: Final[str] = "duplicate"


def duplicate_result(cmd_id: str, command: str, finished_at: datetime) -> CommandResult:
    """The answer to a command seen before: not run again, and no stand-in for its result."""
    return CommandResult(cmd_id, command, True, finished_at, None, {DUPLICATE_KEY: True})


def is_duplicate_answer(res: CommandResult) -> bool:
    """True for :func:`duplicate_result`'s answer: it must never replace a real result."""
    return res.result.get(DUPLICATE_KEY) is True
