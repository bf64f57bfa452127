"""``python -m protocols.dlt698 explain``: one JSON line per frame, for test teams.

Input: HEX arguments (one frame each; spaces inside a quoted frame are fine, and if every
argument is a single byte like ``68 17 00 ...`` they are joined into one frame), or one
frame per line on stdin when no HEX is given (blank lines and ``#`` comments skipped).

Output, per frame, exactly these keys::

    protocol        "698.45"
    control         two upper-case hex digits
    dir             "client->server" | "server->client"           (DIR bit)
    prm             bool: the PRM bit, true when the client started the exchange
    server_address  {"type": 0-3, "logical": int, "address": printed digits, A = wildcard}
    client_address  two upper-case hex digits
    service         e.g. "GET-Request-Normal", "GET-Response-Record", "SECURITY-Request"
    piid            int or null (for SECURITY, the inner APDU's)
    security        null | "plain" | "cipher"
    items           [{"oad": 8 hex digits, "name", "values": [...], "unit"}] in frame order
    hcs_ok, fcs_ok  bools
    error           null or what is wrong (a DAR refusal, an ERROR-Response)

Items: numbers scaled by the object's scaler-unit (unknown objects: unscaled, name and
unit null); a record service gives one item per record object whose values are its rows
(each row one value per column); ACTION puts its OMD in ``oad``; a plaintext SECURITY
frame shows its inner APDU's items, a ciphertext one none; PROXY TransCommand shows the
port OAD with the forwarded frame as hex.

Link-layer fragments (FRAG bit set, ``fragment.py``): a fragment prints its place as the
``service`` ("link fragment: first, seq 0, 200 bytes"; a confirmation "link fragment
confirmation: seq 0") with no items; the frames of one run are put back together in order,
so the last fragment's line shows the whole APDU's service and items. A fragment out of
order (a gap, a middle one without a first) prints the frame with the ``error``.
A frame with a wrong HCS or FCS is still decoded and shown with ``hcs_ok``/``fcs_ok``
false; it makes the exit status 1, like a frame that cannot be decoded at all, which
prints ``{"error": "<what and where>"}``.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any, TextIO

from .apdu import (
    ERROR_KINDS,
    ActionRequest,
    ActionResponse,
    Apdu,
    ErrorResponse,
    GetRequest,
    GetResponse,
    ProxyRequest,
    ProxyResponse,
    ReportNotification,
    ReportResponse,
    ResultNormal,
    ResultRecord,
    SecurityRequest,
    SecurityResponse,
    SetRequest,
    SetResponse,
    decode_apdu,
)
from .axdr import Data, format_oad
from .catalogue import name_of, row_values, unit_of, values_of
from .client import unwrap
from .errors import FrameError, dar_name
from .fragment import CONFIRM, Reassembler, fragment_of, is_confirmation, whole_frame
from .frame import Frame, apdu_offset, inspect_frame


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


def _item(oad: int, values: list[Any]) -> dict[str, Any]:
    return {"oad": format_oad(oad), "name": name_of(oad), "values": values, "unit": unit_of(oad)}


def _normal(res: ResultNormal, errors: list[str]) -> dict[str, Any]:
    if res.data is None:
        errors.append(f"{format_oad(res.oad)}: DAR {res.dar} ({dar_name(res.dar or 0)})")
        return _item(res.oad, [])
    return _item(res.oad, values_of(res.oad, res.data))


def _record(rec: ResultRecord, errors: list[str]) -> dict[str, Any]:
    if rec.dar is not None:
        errors.append(f"{format_oad(rec.oad)}: DAR {rec.dar} ({dar_name(rec.dar)})")
        return _item(rec.oad, [])
    item = _item(rec.oad, [row_values(rec.rcsd, row) for row in rec.rows])
    item["unit"] = None
    return item


def _data_item(oad: int, d: Data | None) -> dict[str, Any]:
    return _item(oad, [] if d is None else values_of(oad, d))


def items_of(apdu: Apdu, errors: list[str]) -> list[dict[str, Any]]:  # noqa: C901
    """The ``items`` of one (unwrapped) APDU; refusals are appended to ``errors``."""
    a = apdu
    if isinstance(a, GetRequest):
        if a.choice in (3, 4):
            return [_item(r.oad, []) for r in a.records]
        return [_item(o, []) for o in a.oads]
    if isinstance(a, (GetResponse, ReportNotification)):
        if isinstance(a, GetResponse) and a.dar is not None:
            errors.append(f"DAR {a.dar} ({dar_name(a.dar)})")
        if isinstance(a, ReportNotification) and a.choice == 3:
            return [_item(a.port, [f.hex().upper() for f in a.frames])]
        return [_normal(r, errors) for r in a.results] + [_record(r, errors) for r in a.records]
    if isinstance(a, (SetRequest, ActionRequest)):
        return [_data_item(o, d) for o, d in a.items]
    if isinstance(a, SetResponse):
        out = []
        for o, dar in a.results:
            if dar:
                errors.append(f"{format_oad(o)}: DAR {dar} ({dar_name(dar)})")
            out.append(_item(o, []))
        return out + [_normal(r, errors) for r in a.gets]
    if isinstance(a, ActionResponse):
        out = []
        for act in a.results:
            if act.dar:
                errors.append(f"{format_oad(act.omd)}: DAR {act.dar} ({dar_name(act.dar)})")
            out.append(_data_item(act.omd, act.data))
        return out + [_normal(r, errors) for r in a.gets]
    if isinstance(a, ReportResponse):
        return [_item(o, []) for o in a.oads]
    if isinstance(a, ProxyRequest):
        if a.trans is not None:
            return [_item(a.trans.port, [a.trans.command.hex().upper()])]
        if a.record is not None:
            return [_item(a.record.oad, [])]
        out = []
        for t in a.targets:
            for it in t.items:
                target = it if isinstance(it, int) else it[0]
                out.append(_data_item(target, None if isinstance(it, int) else it[1]))
        return out
    if isinstance(a, ProxyResponse):
        if a.choice == 7:
            if a.dar is not None:
                errors.append(f"{format_oad(a.port)}: DAR {a.dar} ({dar_name(a.dar)})")
            return [_item(a.port, [] if a.data is None else [a.data.hex().upper()])]
        if a.record is not None:
            return [_record(a.record, errors)]
        out = []
        for tr in a.targets:
            for it in tr.items:
                if isinstance(it, ResultNormal):
                    out.append(_normal(it, errors))
                elif isinstance(it, tuple) and isinstance(it[0], int):
                    if it[1]:
                        errors.append(f"{format_oad(it[0])}: DAR {it[1]} ({dar_name(it[1])})")
                    out.append(_item(it[0], []))
                else:
                    act = it if not isinstance(it, tuple) else it[0]
                    out.append(_data_item(act.omd, act.data))
        return out
    if isinstance(a, ErrorResponse):
        errors.append(f"ERROR-Response: {ERROR_KINDS.get(a.kind, str(a.kind))}")
    if isinstance(a, SecurityResponse) and a.dar is not None:
        errors.append(f"SECURITY-Response: DAR {a.dar} ({dar_name(a.dar)})")
    return []


def _header(frame: Frame) -> dict[str, Any]:
    return {
        "protocol": "698.45",
        "control": f"{frame.control:02X}",
        "dir": frame.direction,
        "prm": frame.prm,
        "server_address": frame.server.as_json(),
        "client_address": f"{frame.client:02X}",
    }


def _fragment(frame: Frame, assembler: Reassembler, hcs_ok: bool, fcs_ok: bool) -> Any:
    """A fragment's line, or the whole frame once its last fragment is in."""
    line: dict[str, Any] = {
        **_header(frame),
        "service": None,
        "piid": None,
        "security": None,
        "items": [],
        "hcs_ok": hcs_ok,
        "fcs_ok": fcs_ok,
        "error": None,
    }
    try:
        frag = fragment_of(frame)
        if frag.kind == CONFIRM:
            line["service"] = f"link fragment confirmation: seq {frag.seq}"
            return line
        line["service"] = f"link fragment: {frag.kind_name}, seq {frag.seq}, {len(frag.data)} bytes"
        whole = assembler.feed(frame)
    except FrameError as exc:
        line["error"] = f"fragment (control {frame.control:02X}): {exc}"
        return line
    return line if whole is None else whole_frame(frame, whole)


def explain(text: str, assembler: Reassembler | None = None) -> dict[str, Any]:
    """One frame as hex -> the JSON-ready dict described in the module docstring.
    ``assembler`` carries fragments from one frame of a run to the next."""
    try:
        info = inspect_frame(parse_hex(text))
    except FrameError as exc:
        return {"error": str(exc)}
    frame = info.frame
    offset = apdu_offset(frame) + info.preamble
    if frame.fragmented or is_confirmation(frame):
        got = _fragment(frame, assembler or Reassembler(), info.hcs_ok, info.fcs_ok)
        if isinstance(got, dict):
            return got
        frame, offset = got, 0  # the reassembled APDU has no place in one frame's bytes
    try:
        outer = decode_apdu(frame.apdu, offset)
        inner, security, _ = unwrap(outer)
    except FrameError as exc:
        return {"error": f"APDU (control {frame.control:02X}): {exc}"}
    if isinstance(outer, SecurityResponse) and outer.kind == 2:
        security = "plain"
    errors: list[str] = []
    items = items_of(inner, errors) if security != "cipher" else []
    service = (
        outer.service if isinstance(outer, (SecurityRequest, SecurityResponse)) else inner.service
    )
    return {
        **_header(frame),
        "service": service,
        "piid": getattr(inner, "piid", None),
        "security": security,
        "items": items,
        "hcs_ok": info.hcs_ok,
        "fcs_ok": info.fcs_ok,
        "error": "; ".join(errors) or None,
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
    assembler = Reassembler()
    for text in frames:
        result = explain(text, assembler)
        if "hcs_ok" not in result or not (result["hcs_ok"] and result["fcs_ok"]):
            status = 1
        stdout.write(json.dumps(result, ensure_ascii=False) + "\n")
        stdout.flush()
    return status


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m protocols.dlt698``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] != "explain":
        sys.stderr.write(
            "usage: python -m protocols.dlt698 explain [HEX ...]\n"
            "       (no HEX: one frame per line on stdin)\n"
        )
        return 2
    return run(args[1:], sys.stdin, sys.stdout)
