"""``python -m protocols.dlt698 explain`` as test teams run it."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from protocols import dlt698 as d
from protocols.dlt698.explain import explain

from .vectors import VECTOR_BY_NAME

KEYS = [
    "protocol",
    "control",
    "dir",
    "prm",
    "server_address",
    "client_address",
    "service",
    "piid",
    "security",
    "items",
    "hcs_ok",
    "fcs_ok",
    "error",
]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "protocols.dlt698", "explain", *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_arguments_one_json_line_each_with_exactly_the_keys() -> None:
    names = ["peer_energy_array_response", "esam_daily_freeze_forward_mac", "broadcast_time"]
    done = run(*(VECTOR_BY_NAME[n].hex for n in names))
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert len(lines) == 3
    for line in lines:
        assert list(line) == KEYS
    energy, esam, clock = lines
    assert energy["service"] == "GET-Response-Normal"
    assert energy["items"] == [
        {
            "oad": "00100200",
            "name": "forward active energy",
            "values": [1234.56, 100.0, 200.0, 300.0, 634.56],
            "unit": "kWh",
        }
    ]
    # a plaintext SECURITY frame shows its inner APDU's items; a record is one item of rows
    assert esam["service"] == "SECURITY-Response" and esam["security"] == "plain"
    assert esam["items"][0]["oad"] == "50040200"
    assert esam["items"][0]["values"] == [[[19173.57, 0.0, 17040.75, 0.0, 2132.81]]]
    # ACTION's OMD stands in "oad"; broadcast address flag C0 is type 3
    assert clock["service"] == "ACTION-Request-Normal"
    assert clock["server_address"] == {"type": 3, "logical": 0, "address": "AA"}
    assert clock["items"][0]["oad"] == "40007F00"
    assert clock["items"][0]["values"] == ["2017-06-05T10:24:12"]


def test_single_byte_arguments_are_one_frame_and_wildcards_print_as_a() -> None:
    done = run(*VECTOR_BY_NAME["std_h3_read_address_request"].hex.split())
    line = json.loads(done.stdout)
    assert line["server_address"] == {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"}
    assert line["dir"] == "client->server" and line["prm"] is True and line["piid"] == 0x25


def test_stdin_one_frame_per_line_comments_and_blanks_skipped() -> None:
    text = "\n".join(
        [
            "# a record read and its answer",
            VECTOR_BY_NAME["peer_monthly_freeze_request"].hex,
            "",
            VECTOR_BY_NAME["peer_monthly_freeze_response"].hex.replace(" ", ""),
        ]
    )
    done = run(stdin=text)
    assert done.returncode == 0
    req, resp = (json.loads(x) for x in done.stdout.splitlines())
    assert req["service"] == "GET-Request-Record"
    assert resp["service"] == "GET-Response-Record"
    assert resp["items"] == [
        {
            "oad": "50060200",
            "name": "monthly freeze",
            "values": [[1, "2026-09-01T00:00:00", 1111.11], [2, "2026-10-01T00:00:00", 2222.22]],
            "unit": None,
        }
    ]


def test_undecodable_frame_prints_only_an_error_and_exits_1() -> None:
    good = VECTOR_BY_NAME["peer_clock_request"].hex
    done = run(good, "68 17 00 43", "zz")
    assert done.returncode == 1
    lines = [json.loads(x) for x in done.stdout.splitlines()]
    assert lines[0]["error"] is None
    assert list(lines[1]) == ["error"] and "too short" in lines[1]["error"]
    assert list(lines[2]) == ["error"] and "not hex" in lines[2]["error"]


def test_bad_crc_is_shown_and_exits_1() -> None:
    done = run(VECTOR_BY_NAME["bad_crc_hand_computed"].hex)
    assert done.returncode == 1
    line = json.loads(done.stdout)
    assert line["hcs_ok"] is False and line["fcs_ok"] is False
    assert line["service"] == "GET-Request-Normal"


def test_refusals_errors_and_ciphertext() -> None:
    mixed = explain(VECTOR_BY_NAME["peer_mixed_list_response"].hex)
    assert mixed["error"] == "20140200: DAR 4 (object_undefined)"
    assert [i["values"] for i in mixed["items"]] == [[241.3, 241.4, 241.5], [], [50.0]]
    cipher = d.build_frame(0x43, "000000000001", 0, bytes.fromhex("10 01 03 AA BB CC 01 02 01 02"))
    shown = explain(cipher.hex())
    assert shown["service"] == "SECURITY-Request" and shown["security"] == "cipher"
    assert shown["items"] == [] and shown["piid"] is None
    error = d.build_error_response(d.decode_frame(VECTOR_BY_NAME["peer_clock_request"].wire))
    assert explain(error.hex())["error"] == "ERROR-Response: apdu_unparsable"
    bad_apdu = d.build_frame(0x43, "000000000001", 0, bytes.fromhex("05 01 00 40 01"))
    assert explain(bad_apdu.hex()) == {
        "error": "APDU (control 43): OAD: need 4 byte(s), 2 left at offset 17"
    }


def test_usage_without_explain() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "protocols.dlt698"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and "usage" in done.stderr


def test_fragments_are_shown_in_place_and_the_last_shows_the_whole_apdu() -> None:
    """A run of fragments (one per line, as captured): each line says which fragment it
    is; the last one's line is the whole reply, as the unfragmented frame shows it."""
    whole = d.decode_frame(bytes.fromhex(VECTOR_BY_NAME["esam_daily_freeze_forward_mac"].hex))
    frames = d.split_apdu(whole, whole.apdu, 12)
    confirms = [d.confirm_frame(f) for f in frames]
    wire = [d.encode_frame(x).hex() for pair in zip(frames, confirms, strict=True) for x in pair]
    done = run(stdin="\n".join(wire) + "\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert all(list(line) == KEYS for line in lines)
    assert lines[0]["service"] == "link fragment: first, seq 0, 12 bytes"
    assert lines[1]["service"] == "link fragment confirmation: seq 0"
    assert lines[1]["dir"] == "client->server" and lines[0]["dir"] == "server->client"
    assert lines[2]["service"].startswith("link fragment: middle, seq 1")
    reference = explain(d.encode_frame(whole).hex())
    last = lines[-2]
    assert {k: last[k] for k in ("service", "piid", "security", "items", "error")} == {
        k: reference[k] for k in ("service", "piid", "security", "items", "error")
    }
    assert last["items"]  # the reassembled reply's values, not an empty fragment


def test_a_fragment_out_of_order_names_the_gap() -> None:
    whole = d.decode_frame(bytes.fromhex(VECTOR_BY_NAME["esam_daily_freeze_forward_mac"].hex))
    first, _, third, *_ = d.split_apdu(whole, whole.apdu, 12)
    done = run(d.encode_frame(first).hex(), d.encode_frame(third).hex())
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert lines[0]["error"] is None
    assert "fragment sequence 2 where 1 was due" in lines[1]["error"]
    with pytest.raises(d.FrameError, match="reassemble"):
        d.parse_reply(first)
