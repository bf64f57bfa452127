"""``python -m protocols.dlt645 explain`` as test teams run it."""

from __future__ import annotations

import json
import subprocess
import sys

from .vectors import VECTORS

KEYS = {
    "protocol",
    "direction",
    "address",
    "control",
    "function",
    "error",
    "more_follows",
    "di",
    "values",
    "unit",
    "checksum_ok",
}


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocols.dlt645", "explain", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_arguments_one_json_line_each() -> None:
    picked = [
        v
        for v in VECTORS
        if v.name in {"reply_energy_block", "r97_reply_energy", "reply_error_no_such_data"}
    ]
    out = run(*[v.hex for v in picked])
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == len(picked)
    for line, vec in zip(lines, picked, strict=True):
        obj = json.loads(line)
        assert set(obj) == KEYS
        assert obj == vec.expect


def test_stdin_one_frame_per_line_with_spaces() -> None:
    text = "\n".join(v.hex for v in VECTORS) + "\n"
    out = run(stdin=text)
    assert out.returncode == 0, out.stderr
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert objs == [v.expect for v in VECTORS]


def test_bad_frame_prints_error_and_exit_1() -> None:
    good = VECTORS[0].hex
    out = run(stdin=f"{good}\n68 78 56 34 12 00 00 68 91 08 33\nzz\n{good}\n")
    assert out.returncode == 1
    objs = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(objs) == 4
    assert objs[0] == VECTORS[0].expect and objs[3] == VECTORS[0].expect
    assert set(objs[1]) == {"error"} and "short" in objs[1]["error"]
    assert set(objs[2]) == {"error"} and "hex" in objs[2]["error"]


def test_bad_checksum_is_shown_and_fails() -> None:
    wire = bytearray(VECTORS[1].wire)
    wire[-2] ^= 0xFF
    out = run(wire.hex())
    assert out.returncode == 1
    obj = json.loads(out.stdout)
    assert obj["checksum_ok"] is False
    assert obj["di"] == "00010000"
