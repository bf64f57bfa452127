"""One exception tree, and no I/O anywhere in protocols/."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from protocols import dlt645 as d

PROTOCOLS = Path(__file__).resolve().parents[3] / "protocols"
IO_MODULES = {
    "socket",
    "serial",
    "asyncio",
    "paho",
    "psycopg",
    "threading",
    "select",
    "subprocess",
    "selectors",
    "ssl",
    "urllib",
    "http",
    "sqlite3",
    "os",
}


def test_request_errors_and_frame_errors_are_separate_branches() -> None:
    assert issubclass(d.RequestError, d.Dlt645Error)
    assert issubclass(d.FrameError, d.Dlt645Error)
    assert issubclass(d.MeterErrorReply, d.Dlt645Error)
    assert not issubclass(d.FrameError, d.RequestError)
    assert not issubclass(d.RequestError, d.FrameError)
    with pytest.raises(d.RequestError):
        d.build_read("12345", "00010000", preamble=9)  # we asked wrong
    with pytest.raises(d.RequestError):
        d.build_read("0000123456789", "00010000")
    with pytest.raises(d.FrameError):
        d.decode_frame(bytes.fromhex("68 78 56 34 12 00 00 68 11 04 33 33 34 33 C7 16"))


def test_meter_error_reply_names_its_bits() -> None:
    wire = d.build_error_reply("000012345678", "read_data", ["no_such_data"])
    reply = d.parse_reply(d.decode_frame(wire))
    with pytest.raises(d.MeterErrorReply) as exc:
        reply.raise_for_error()
    assert "no_such_data" in str(exc.value)
    assert exc.value.bits == ("no_such_data",)
    assert exc.value.code == 0x02


def test_broadcast_and_wildcard_replies_are_refused() -> None:
    with pytest.raises(d.RequestError):
        d.build_read_reply("999999999999", "00010000", 1.0)
    with pytest.raises(d.RequestError):
        d.build_address_reply("AAAAAAAAAAAA")


def test_protocols_package_imports_no_io() -> None:
    for path in PROTOCOLS.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in IO_MODULES, f"{path}: imports {name}"
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id != "open", f"{path}: calls open()"
