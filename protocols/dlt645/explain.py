"""``python -m protocols.dlt645 explain``: one JSON line per frame, for test teams.

Input: HEX arguments (one frame each; spaces inside a quoted frame are fine, and if every
argument is a single byte like ``68 AA AA ...`` they are joined into one frame), or one
frame per line on stdin when no HEX is given (blank lines and ``#`` comments skipped).

Output, per frame, exactly these keys::

    protocol      "2007" | "1997"      (from the function code; 08 is shown as 2007)
    direction     "request" | "response"
    address       12 printed digits, A for wildcard nibbles
    control       two upper-case hex digits
    function      name, e.g. "read_data" ("unknown_XX" if the version has no such code)
    error         null or the list of named error bits
    more_follows  bool
    di            printed high byte first ("00010000", "9010") or null
    values        numbers; ISO 8601 strings for dates/times; digit strings for addresses
    unit          string or null (the catalogue unit of the DI)
    checksum_ok   bool

and, only when they apply:

    raw           the item data as hex (0x33 removed, low byte first as it travels) when
                  the DI is not in the catalogue, so its values list is empty
    skipped       what a DL/T 645-1997 block reply carried beyond its members (the
                  delimiter AA, extra bytes) or lacked; the members are decoded anyway

A block member the meter filled with FF bytes (it has no such phase) is shown as null.

A frame whose checksum is wrong is still decoded and shown with ``checksum_ok: false``
(the rest of it may be trusted as far as the bytes go); it makes the exit status 1, like
a frame that cannot be decoded at all, which prints ``{"error": "<what and where>"}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from datetime import date, time
from typing import Any, TextIO

from .catalogue import DataItem, format_di
from .control import error_names, function_info, function_name
from .errors import FrameError
from .formats import Value
from .frame import inspect_frame
from .master import parse_reply
from .meter import parse_request
from .version import detect_version


def _json_value(value: Value | None) -> Any:
    if isinstance(value, (date, time)):  # datetime is a date
        return value.isoformat()
    return value


def parse_hex(text: str) -> bytes:
    """Hex text (any whitespace allowed, optional ``0x``) -> bytes; FrameError if not hex."""
    cleaned = "".join(text.split())
    if cleaned[:2].lower() == "0x":
        cleaned = cleaned[2:]
    for pos, char in enumerate(cleaned):
        if char not in "0123456789abcdefABCDEF":
            raise FrameError(f"not hex: {char!r} at character {pos}")
    if len(cleaned) % 2:
        raise FrameError(f"odd number of hex digits ({len(cleaned)})")
    return bytes.fromhex(cleaned)


def explain(text: str) -> dict[str, Any]:
    """One frame as hex -> the JSON-ready dict described in the module docstring."""
    try:
        info = inspect_frame(parse_hex(text))
    except FrameError as exc:
        return {"error": str(exc)}
    frame = info.frame
    version = detect_version(frame)
    di: int | None = None
    values: tuple[Value | None, ...] = ()
    entry: DataItem | None = None
    error: list[str] | None = None
    extra: dict[str, Any] = {}
    known = function_info(frame.function, version) is not None
    try:
        if frame.is_reply and frame.is_error:
            if not frame.data:
                raise FrameError("error reply without an ERR byte")
            error = list(error_names(frame.data[0], version))
        elif frame.is_reply and known:
            reply = parse_reply(frame, version)
            di, values, entry = reply.di, reply.values, reply.item
            if di is not None and entry is None:
                extra["raw"] = reply.raw.hex(" ").upper()
            if reply.skipped is not None:
                extra["skipped"] = reply.skipped
        elif known:
            request = parse_request(frame, version)
            di, entry = request.di, request.item
            if request.time is not None:
                values = (request.time,)
            elif request.freeze_pattern is not None:
                values = (request.freeze_pattern,)
            elif request.baud is not None:
                values = (request.baud,)
            else:
                values = request.values
    except FrameError as exc:
        return {
            "error": f"{function_name(frame.function, version)} "
            f"{'reply' if frame.is_reply else 'request'} "
            f"(control {frame.control:02X}): {exc}"
        }
    return {
        "protocol": version,
        "direction": "response" if frame.is_reply else "request",
        "address": frame.address,
        "control": f"{frame.control:02X}",
        "function": function_name(frame.function, version),
        "error": error,
        "more_follows": frame.more_follows,
        "di": None if di is None else format_di(di, version),
        "values": [_json_value(v) for v in values],
        "unit": entry.unit if entry else None,
        "checksum_ok": info.checksum_ok,
        **extra,
    }


def _frames_from_args(args: Sequence[str]) -> list[str]:
    if args and all(len("".join(a.split())) <= 2 for a in args):
        return [" ".join(args)]
    return list(args)


def _frames_from_stream(stream: TextIO) -> Iterable[str]:
    for line in stream:
        text = line.strip()
        if text and not text.startswith("#"):
            yield text


def run(args: Sequence[str], stdin: TextIO, stdout: TextIO) -> int:
    """Explain each frame; return the exit status (1 if any frame failed)."""
    status = 0
    frames = _frames_from_args(args) if args else _frames_from_stream(stdin)
    for text in frames:
        result = explain(text)
        if "checksum_ok" not in result or not result["checksum_ok"]:
            status = 1
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m protocols.dlt645``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "explain":
        sys.stderr.write(
            "usage: python -m protocols.dlt645 explain [HEX ...]\n"
            "       (no HEX: one frame per line on stdin)\n"
        )
        return 2
    return run(args[1:], sys.stdin, sys.stdout)
