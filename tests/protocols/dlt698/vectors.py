"""Byte-exact DL/T 698.45 vectors: one table drives encode, decode and round-trip tests.

Each :class:`Vector` is a whole link frame as it travelled or was printed, where it comes
from, and what the ``explain`` tool must say about it (every key but ``protocol``). The
values were checked by hand against the notes each source printed beside its frame (the
frame's own decoding in the source, e.g. "1234.56 kWh", "2026-10-07 14:16:26"); where a
source's notes and its bytes disagree, the bytes win and the vector says so.
:data:`BUILDERS` gives, for many of them, the call of our own builders (client or server
role) that produces exactly those bytes.

Sources (the ``source`` field). The code-search index quotes files without naming their
repository, so each is cited by what it is and the index's file id; facts and bytes carry
over, no code was copied.

- ``STD-H3``: the read-address exchange of the standard's annex H.3 (2021-09-10 draft, 有标
  签 edition), quoted with its source in a public C 698.45 library's comments (file id
  43395862094): wildcard request PIID 0x25 and the answer of meter 000039200933.
- ``TOOL-PY``: read-address frames sent by public PyQt 698.45 test tools (ids 21512823318,
  21789705280, 21258606603, 430529981).
- ``JAVA-TOOL``: frames in the comments of a public Java 698.45 frame tool (id 5203184301;
  its hand-computed variant of a read-address frame prints HCS high byte first and a wrong
  FCS: kept as ``bad_crc_hand_computed``) and a Java decoder (id 35157463916).
- ``JAVA-TEST``: frames of public Java 698.45 server tests (ids 26605374398, 26192097038,
  26789556390, 26526501339): terminal logins of 2025 and a concentrator TransCommand.
- ``CS-TOOL``: frames of public C# 698.45 tools (ids 10972222201, 52439598082).
- ``QT-TOOL`` / ``QT-SIM``: a public Qt serial tool (id 468318580) and a public Qt
  concentrator simulator (ids 55757260816, 55626288417) answering an energy list read.
- ``TEST-LINE``: the test-case document of an HPLC line tester (698 extension OADs FFF0xxxx,
  TransCommand carrying 376.2 frames), quoted in a public parser's tests (id 59681537638).
- ``GO-LIB`` / ``GO-TEST``: a public Go 698.45 packet library's login, login confirmation
  and heartbeat (id 49116717447) and a Go test's heartbeat and clock reply (id 16853488017).
- ``C-SIM``: a public C terminal simulator's login and heartbeat (id 42983327990).
- ``EMQX``: the login of a public EMQX TCP connector's README (id 43080178242).
- ``C-CONC``: broadcast and single-address time setting in public concentrator firmware
  comments (id 39448577379).
- ``NODE-RED``: two replies of a real ESAM meter (SECURITY plaintext + MAC around a daily
  freeze record) kept in a public Node-RED 698 decoder (id 62686871137).
- ``PY-TEMPLATE``: the reference frame of a public Python tool: SECURITY plaintext + RN
  around a read of 00100201 (id 63140605444).
- ``PEER-DOC``: frames printed in the documentation of the independent C++ DL/T 698.45
  library whose bindings are the PyPI ``dlt698`` peer (ids 70159452477 energy, 70141909617
  clock, 70702636496 demand, 70297526607 power, 70279691438 power factor, 70132731829
  lists, 70271853288 monthly freeze, 70560887308 events, 70448099360 login). Their tables
  disagree with their own bytes three times, and the bytes win: the five-item list reply
  carries DAR 4 for 200F0200 (the table says 50.00 Hz), the demand array's second time is
  14:00:00 (the table says 09:15:00), and date_time_s has no millisecond byte (the event
  table reads 08:00:30 as "08:00:00.030").

:data:`APDU_VECTORS` are APDUs without a link frame: the test vectors of that C++ library
(id 70200225277; its first six it attributes to the standard's annex D) and the examples of
a distilled copy of the standard quoted in a public parser's tests (id 59986451071), and the
connect request of the Java frame tool (``JAVA-TOOL``, its test case 4: version 0x0010, every
conformance bit set, 1024-byte frames, timeout 100 s).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from protocols import dlt698 as d


@dataclass(frozen=True)
class Vector:
    name: str
    hex: str
    source: str
    expect: dict[str, Any]  # the explain tool's answer without "protocol"

    @property
    def wire(self) -> bytes:
        return bytes.fromhex(self.hex)

    @property
    def crc_ok(self) -> bool:
        return bool(self.expect["hcs_ok"] and self.expect["fcs_ok"])

    @property
    def from_server(self) -> bool:
        return self.expect["dir"] == "server->client"


V = Vector

VECTORS: tuple[Vector, ...] = (
    V(
        "read_address_wildcard_ca10",
        "68 17 00 43 45 AA AA AA AA AA AA 10 DA 5F 05 01 03 40 01 02 00 00 90 0F 16",
        "TOOL-PY",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "10",
            "service": "GET-Request-Normal",
            "piid": 3,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "std_h3_read_address_request",
        "68 17 00 43 45 AA AA AA AA AA AA 00 5B 4F 05 01 25 40 01 02 00 00 0A 92 16",
        "STD-H3",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 37,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "std_h3_read_address_response",
        "68 21 00 C3 05 33 09 20 39 00 00 00 4A 55 85 01 25 40 01 02 00 01 09 06 "
        "00 00 39 20 09 33 00 00 B2 D8 16",
        "STD-H3",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000039200933"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 37,
            "security": None,
            "items": [
                {
                    "oad": "40010200",
                    "name": "communication address",
                    "values": ["000039200933"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "read_address_wildcard_ca_a1",
        "68 17 00 43 45 AA AA AA AA AA AA A1 D8 FB 05 01 02 40 01 02 00 00 BB 0B 16",
        "TOOL-PY",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "A1",
            "service": "GET-Request-Normal",
            "piid": 2,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "read_address_wildcard_piid1",
        "68 17 00 43 45 AA AA AA AA AA AA 00 5B 4F 05 01 01 40 01 02 00 00 C6 07 16",
        "JAVA-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 1,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "read_address_wildcard_piid0",
        "68 17 00 43 45 AA AA AA AA AA AA 00 5B 4F 05 01 00 40 01 02 00 00 ED 03 16",
        "CS-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_chip_id_request",
        "68 17 00 43 05 01 00 00 00 00 00 10 26 F6 05 01 01 FF F0 05 00 00 2B D4 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "GET-Request-Normal",
            "piid": 1,
            "security": None,
            "items": [{"oad": "FFF00500", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_chip_id_response",
        "68 33 00 C3 05 01 00 00 00 00 00 10 2E 8E 85 01 01 FF F0 05 00 01 09 18 "
        "A1 02 03 04 05 06 07 08 09 10 11 12 13 14 15 16 17 18 19 20 21 22 23 AA "
        "00 00 DE AF 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "GET-Response-Normal",
            "piid": 1,
            "security": None,
            "items": [
                {
                    "oad": "FFF00500",
                    "name": None,
                    "values": ["A102030405060708091011121314151617181920212223AA"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_virtual_address_request",
        "68 17 00 43 45 AA AA AA AA AA AA 10 DA 5F 05 01 01 40 01 02 00 00 C6 07 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "10",
            "service": "GET-Request-Normal",
            "piid": 1,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_virtual_address_response",
        "68 21 00 C3 05 10 00 00 00 00 00 10 55 7E 85 01 41 40 01 02 00 01 09 06 "
        "00 00 00 00 00 10 00 00 DD BA 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000010"},
            "client_address": "10",
            "service": "GET-Response-Normal",
            "piid": 65,
            "security": None,
            "items": [
                {
                    "oad": "40010200",
                    "name": "communication address",
                    "values": ["000000000010"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_cco_radio",
        "68 1B 00 43 05 01 00 00 00 00 00 10 D9 14 06 01 04 FF F0 03 00 09 02 02 29 00 EF 35 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Request-Normal",
            "piid": 4,
            "security": None,
            "items": [{"oad": "FFF00300", "name": None, "values": ["0229"], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_radio_broadcast",
        "68 1B 00 43 05 01 00 00 00 00 00 10 D9 14 06 01 01 FF F0 01 00 09 02 02 29 00 EF 9E 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Request-Normal",
            "piid": 1,
            "security": None,
            "items": [{"oad": "FFF00100", "name": None, "values": ["0229"], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_radio_broadcast_ack",
        "68 19 00 C3 05 01 00 00 00 00 00 10 2C 7B 86 01 01 FF F0 01 00 00 00 00 FA A3 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Response-Normal",
            "piid": 1,
            "security": None,
            "items": [{"oad": "FFF00100", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_mode",
        "68 1A 00 43 05 01 00 00 00 00 00 10 48 41 06 01 03 FF F0 02 00 09 01 02 00 9D 3D 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Request-Normal",
            "piid": 3,
            "security": None,
            "items": [{"oad": "FFF00200", "name": None, "values": ["02"], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_mode_ack",
        "68 19 00 C3 05 01 00 00 00 00 00 10 2C 7B 86 01 03 FF F0 02 00 00 00 00 59 B5 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Response-Normal",
            "piid": 3,
            "security": None,
            "items": [{"oad": "FFF00200", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_read_energy",
        "68 17 00 43 05 05 01 00 00 00 00 00 FA 8D 05 01 01 00 10 02 00 00 FE 19 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000105"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 1,
            "security": None,
            "items": [
                {"oad": "00100200", "name": "forward active energy", "values": [], "unit": "kWh"}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_cco_radio_ack",
        "68 19 00 C3 05 01 00 00 00 00 00 10 2C 7B 86 01 04 FF F0 03 00 00 00 00 13 22 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Response-Normal",
            "piid": 4,
            "security": None,
            "items": [{"oad": "FFF00300", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_radio_control",
        "68 1A 00 43 05 01 00 00 00 00 00 10 48 41 06 01 06 FF F0 04 00 09 01 02 00 7F 57 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Request-Normal",
            "piid": 6,
            "security": None,
            "items": [{"oad": "FFF00400", "name": None, "values": ["02"], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_set_radio_control_ack",
        "68 19 00 C3 05 01 00 00 00 00 00 10 2C 7B 86 01 06 FF F0 04 00 00 00 00 A0 19 16",
        "TEST-LINE",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "SET-Response-Normal",
            "piid": 6,
            "security": None,
            "items": [{"oad": "FFF00400", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_trans_376_channel",
        "68 31 00 43 05 55 55 22 33 11 11 14 86 A2 09 07 09 F2 09 02 01 06 02 08 "
        "01 00 00 03 00 64 10 68 10 00 43 00 00 00 25 80 01 05 80 09 01 78 16 00 "
        "39 72 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "111133225555"},
            "client_address": "14",
            "service": "PROXY-Request-TransCommand",
            "piid": 9,
            "security": None,
            "items": [
                {
                    "oad": "F2090201",
                    "name": None,
                    "values": ["68100043000000258001058009017816"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_trans_376_radio",
        "68 32 00 43 05 55 55 22 33 11 11 14 35 5C 09 07 0F F2 09 02 01 06 02 08 "
        "01 00 00 03 00 64 11 68 11 00 43 00 00 00 25 80 02 05 01 0A 02 29 25 16 "
        "00 0D E9 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "111133225555"},
            "client_address": "14",
            "service": "PROXY-Request-TransCommand",
            "piid": 15,
            "security": None,
            "items": [
                {
                    "oad": "F2090201",
                    "name": None,
                    "values": ["6811004300000025800205010A02292516"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "line_tester_trans_376_control",
        "68 31 00 43 05 55 55 22 33 11 11 14 86 A2 09 07 11 F2 09 02 01 06 02 08 "
        "01 00 00 03 00 64 10 68 10 00 43 00 00 00 25 80 02 05 02 0A 02 FD 16 00 "
        "39 15 16",
        "TEST-LINE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "111133225555"},
            "client_address": "14",
            "service": "PROXY-Request-TransCommand",
            "piid": 17,
            "security": None,
            "items": [
                {
                    "oad": "F2090201",
                    "name": None,
                    "values": ["6810004300000025800205020A02FD16"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "trans_command_645_read",
        "68 31 00 43 45 AA AA AA AA AA AA 00 A6 58 09 07 00 F2 01 02 01 03 02 08 "
        "01 00 00 1E 00 64 10 68 45 56 64 45 56 64 68 11 04 34 33 39 38 BB 16 00 "
        "52 4A 16",
        "CS-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "00",
            "service": "PROXY-Request-TransCommand",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "F2010201",
                    "name": None,
                    "values": ["6845566445566468110434333938BB16"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "trans_command_698_inside",
        "68 3A 00 43 45 AA AA AA AA AA AA 00 BF 1A 09 07 05 F2 01 02 01 06 02 08 "
        "01 00 00 0A 00 64 19 68 17 00 43 05 01 00 20 03 25 01 00 A5 80 05 01 00 "
        "20 01 02 01 00 86 BB 16 00 EB B1 16",
        "JAVA-TEST",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "00",
            "service": "PROXY-Request-TransCommand",
            "piid": 5,
            "security": None,
            "items": [
                {
                    "oad": "F2010201",
                    "name": None,
                    "values": ["681700430501002003250100A580050100200102010086BB16"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "bad_crc_hand_computed",
        "68 17 00 43 05 02 00 00 00 00 00 10 5E 48 05 01 00 40 01 02 00 00 62 E6 16",
        "JAVA-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000002"},
            "client_address": "10",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": False,
            "fcs_ok": False,
            "error": None,
        },
    ),
    V(
        "read_address_single_ca10",
        "68 17 00 43 05 02 00 00 00 00 00 10 48 5E 05 01 00 40 01 02 00 00 ED 03 16",
        "JAVA-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000002"},
            "client_address": "10",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "read_address_wildcard_ca_a0",
        "68 17 00 43 45 AA AA AA AA AA AA A0 51 EA 05 01 00 40 01 02 00 00 ED 03 16",
        "QT-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 1, "logical": 0, "address": "AAAAAAAAAAAA"},
            "client_address": "A0",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40010200", "name": "communication address", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "set_meter_number",
        "68 1B 00 43 05 02 00 00 00 00 00 10 B7 BC 06 01 00 40 02 02 00 09 02 01 23 00 14 1A 16",
        "JAVA-TOOL",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000002"},
            "client_address": "10",
            "service": "SET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40020200", "name": "meter number", "values": ["0123"], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_login",
        "68 1E 00 81 05 00 00 00 00 00 00 00 07 29 01 00 00 00 05 07 EA 0A 07 03 "
        "05 3A 0A 01 07 19 3B 16",
        "PEER-DOC",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "java_login_2025_04_10",
        "68 1E 00 81 05 11 11 11 11 11 11 00 9E 76 01 00 00 00 B4 07 E9 04 0A 04 "
        "0F 28 0F 00 00 6D 59 16",
        "JAVA-TEST",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "111111111111"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "java_login_2025_04_11",
        "68 1E 00 81 05 11 11 11 11 11 11 00 9E 76 01 00 00 00 B4 07 E9 04 0B 05 "
        "09 0C 28 00 00 8A 8B 16",
        "JAVA-TEST",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "111111111111"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "go_login",
        "68 1E 00 81 05 01 00 00 00 00 00 00 D2 B6 01 00 00 01 2C 07 E6 02 17 03 "
        "08 06 38 03 22 1C BC 16",
        "GO-LIB",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "go_login_confirm",
        "68 30 00 01 05 01 00 00 00 00 00 00 52 D9 81 00 00 07 E6 02 17 03 08 05 "
        "02 02 F9 07 E6 02 17 03 08 06 09 00 32 07 E6 02 17 03 08 06 09 00 32 F0 "
        "E7 16",
        "GO-LIB",
        {
            "control": "01",
            "dir": "client->server",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "00",
            "service": "LINK-Response",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "go_heartbeat",
        "68 1E 00 81 05 01 00 00 00 00 00 00 D2 B6 01 00 01 01 2C 07 E6 02 17 03 "
        "00 04 33 00 68 77 34 16",
        "GO-LIB",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "java_login_2016",
        "68 1E 00 81 05 11 11 11 11 11 11 00 9E 76 01 01 00 01 2C 07 E0 09 0D 02 "
        "00 1F 13 00 00 37 FB 16",
        "JAVA-TOOL",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "111111111111"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 1,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "java_login_2025_04_03",
        "68 1E 00 81 05 11 11 11 11 11 11 00 9E 76 01 00 00 00 B4 07 E9 04 03 04 "
        "0F 14 05 00 00 E8 B0 16",
        "JAVA-TEST",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "111111111111"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "c_simulator_login",
        "68 1E 00 81 05 05 00 00 00 00 00 00 A4 D9 01 01 00 01 2C 07 E3 01 18 04 "
        "0D 1C 11 00 00 1D B1 16",
        "C-SIM",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000005"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 1,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "c_simulator_heartbeat",
        "68 1E 00 81 05 05 00 00 00 00 00 00 A4 D9 01 01 01 01 2C 07 E3 02 15 04 "
        "13 2C 12 00 00 41 66 16",
        "C-SIM",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000005"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 1,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "emqx_login",
        "68 1E 00 81 05 84 00 00 00 00 00 00 6C C0 01 00 00 00 3C 07 E4 08 06 04 "
        "10 2C 0E 00 00 7A 06 16",
        "EMQX",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000084"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 0,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "go_test_heartbeat",
        "68 1E 00 81 05 01 00 00 00 00 00 00 D2 B6 01 10 01 01 2C 07 E0 09 0C 01 "
        "00 00 1F 02 AB 9D 39 16",
        "GO-TEST",
        {
            "control": "81",
            "dir": "server->client",
            "prm": False,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "00",
            "service": "LINK-Request",
            "piid": 16,
            "security": None,
            "items": [],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "broadcast_time",
        "68 1A 00 43 C0 AA 00 5E F7 07 01 00 40 00 7F 00 1C 07 E1 06 05 0A 18 0C 00 EC 67 16",
        "C-CONC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 3, "logical": 0, "address": "AA"},
            "client_address": "00",
            "service": "ACTION-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40007F00", "name": None, "values": ["2017-06-05T10:24:12"], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "single_address_time",
        "68 1F 00 43 05 58 93 56 10 00 01 00 17 B6 07 01 00 40 00 7F 00 1C 07 E1 "
        "06 05 0A 33 1A 00 30 8C 16",
        "C-CONC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "010010569358"},
            "client_address": "00",
            "service": "ACTION-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "40007F00", "name": None, "values": ["2017-06-05T10:51:26"], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "esam_daily_freeze_reverse_mac",
        "68 45 00 C3 05 20 43 07 00 15 19 11 9D 08 90 00 2C 85 03 01 50 04 02 00 "
        "01 00 00 20 02 00 01 01 01 05 06 00 00 00 00 06 00 00 00 00 06 00 00 00 "
        "00 06 00 00 00 00 06 00 00 00 00 00 00 01 00 04 41 83 7F C3 FC 0E 16",
        "NODE-RED",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "191500074320"},
            "client_address": "11",
            "service": "SECURITY-Response",
            "piid": 1,
            "security": "plain",
            "items": [
                {
                    "oad": "50040200",
                    "name": "daily freeze",
                    "values": [[[0.0, 0.0, 0.0, 0.0, 0.0]]],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "esam_daily_freeze_forward_mac",
        "68 45 00 C3 05 20 43 07 00 15 19 11 9D 08 90 00 2C 85 03 01 50 04 02 00 "
        "01 00 00 10 02 00 01 01 01 05 06 00 1D 41 AD 06 00 00 00 00 06 00 1A 00 "
        "8B 06 00 00 00 00 06 00 03 41 21 00 00 01 00 04 61 98 DF F4 E9 03 16",
        "NODE-RED",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "191500074320"},
            "client_address": "11",
            "service": "SECURITY-Response",
            "piid": 1,
            "security": "plain",
            "items": [
                {
                    "oad": "50040200",
                    "name": "daily freeze",
                    "values": [[[19173.57, 0.0, 17040.75, 0.0, 2132.81]]],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "qt_sim_energy_list",
        "68 35 00 C3 05 04 33 00 00 00 00 10 57 40 85 02 00 01 00 10 02 00 01 01 "
        "05 06 00 00 02 BB 06 00 00 00 C6 06 00 00 00 CB 06 00 00 00 AE 06 00 00 "
        "00 7C 00 00 55 43 16",
        "QT-SIM",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000003304"},
            "client_address": "10",
            "service": "GET-Response-NormalList",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100200",
                    "name": "forward active energy",
                    "values": [6.99, 1.98, 2.03, 1.74, 1.24],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "security_rn_read_energy_total",
        "68 2C 00 43 05 25 01 00 00 03 02 00 7B E3 10 00 08 05 01 7D 00 10 02 01 "
        "00 01 10 00 01 02 03 04 05 06 07 08 09 0A 0B 0C 0D 0E 0F 84 66 16",
        "PY-TEMPLATE",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "020300000125"},
            "client_address": "00",
            "service": "SECURITY-Request",
            "piid": 125,
            "security": "plain",
            "items": [
                {
                    "oad": "00100201",
                    "name": "forward active energy (energy_import_total)",
                    "values": [],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "go_test_clock_response",
        "68 21 00 C3 05 01 00 00 00 00 00 10 49 54 85 01 05 40 00 02 00 01 1C 07 "
        "E0 09 0B 12 1E 15 00 00 2A FB 16",
        "GO-TEST",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000001"},
            "client_address": "10",
            "service": "GET-Response-Normal",
            "piid": 5,
            "security": None,
            "items": [
                {
                    "oad": "40000200",
                    "name": "date-time",
                    "values": ["2016-09-11T18:30:21"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_total_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 00 10 02 01 00 0D 04 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100201",
                    "name": "forward active energy (energy_import_total)",
                    "values": [],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_total_response",
        "68 1E 00 C3 05 00 00 00 00 00 00 00 9E 54 85 01 00 00 10 02 01 01 06 00 "
        "01 E2 40 00 00 5A D4 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100201",
                    "name": "forward active energy (energy_import_total)",
                    "values": [1234.56],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_array_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 00 10 02 00 00 D5 1D 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "00100200", "name": "forward active energy", "values": [], "unit": "kWh"}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_array_response",
        "68 34 00 C3 05 00 00 00 00 00 00 00 9C A1 85 01 00 00 10 02 00 01 01 05 "
        "06 00 01 E2 40 06 00 00 27 10 06 00 00 4E 20 06 00 00 75 30 06 00 00 F7 "
        "E0 00 00 CC B3 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100200",
                    "name": "forward active energy",
                    "values": [1234.56, 100.0, 200.0, 300.0, 634.56],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_phase_a_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 00 11 02 01 00 B6 18 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00110201",
                    "name": "phase A forward active energy (energy_import_a)",
                    "values": [],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_phase_a_response",
        "68 1E 00 C3 05 00 00 00 00 00 00 00 9E 54 85 01 00 00 11 02 01 01 06 00 "
        "06 1A 80 00 00 7E 29 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00110201",
                    "name": "phase A forward active energy (energy_import_a)",
                    "values": [4000.0],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_precise_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 00 10 04 01 00 D4 D2 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100401",
                    "name": "forward active energy (high precision) (energy_import_total)",
                    "values": [],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_energy_precise_response",
        "68 22 00 C3 05 00 00 00 00 00 00 00 AE 25 85 01 00 00 10 04 01 01 15 00 "
        "00 00 00 00 BC 61 4E 00 00 62 BB 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "00100401",
                    "name": "forward active energy (high precision) (energy_import_total)",
                    "values": [1234.5678],
                    "unit": "kWh",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_frequency_piid21",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 21 20 0F 02 00 00 57 8D 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 33,
            "security": None,
            "items": [{"oad": "200F0200", "name": "grid frequency", "values": [], "unit": "Hz"}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_frequency_other_address",
        "68 17 00 43 05 12 90 78 56 34 12 00 A3 2E 05 01 00 20 0F 02 00 00 1C 0C 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "123456789012"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "200F0200", "name": "grid frequency", "values": [], "unit": "Hz"}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_normal_list_request",
        "68 28 00 43 05 00 00 00 00 00 00 00 F1 F6 05 02 00 05 20 00 02 00 20 01 "
        "02 01 20 04 02 01 20 0A 02 01 20 0F 02 00 00 85 BA 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-NormalList",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "20000200", "name": "voltage", "values": [], "unit": "V"},
                {"oad": "20010201", "name": "current (current_a)", "values": [], "unit": "A"},
                {
                    "oad": "20040201",
                    "name": "active power (power_active_total)",
                    "values": [],
                    "unit": "W",
                },
                {"oad": "200A0201", "name": "power factor (pf_total)", "values": [], "unit": None},
                {"oad": "200F0200", "name": "grid frequency", "values": [], "unit": "Hz"},
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_normal_list_response",
        "68 47 00 C3 05 00 00 00 00 00 00 00 E5 01 85 02 00 05 20 00 02 00 01 01 "
        "03 12 09 6D 12 09 6E 12 09 6F 20 01 02 01 01 05 00 00 13 88 20 04 02 01 "
        "01 05 00 00 EA 60 20 0A 02 01 01 10 03 7E 20 0F 02 00 00 04 00 00 D9 07 "
        "16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-NormalList",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20000200",
                    "name": "voltage",
                    "values": [241.3, 241.4, 241.5],
                    "unit": "V",
                },
                {"oad": "20010201", "name": "current (current_a)", "values": [5.0], "unit": "A"},
                {
                    "oad": "20040201",
                    "name": "active power (power_active_total)",
                    "values": [6000.0],
                    "unit": "W",
                },
                {
                    "oad": "200A0201",
                    "name": "power factor (pf_total)",
                    "values": [0.894],
                    "unit": None,
                },
                {"oad": "200F0200", "name": "grid frequency", "values": [], "unit": "Hz"},
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": "200F0200: DAR 4 (object_undefined)",
        },
    ),
    V(
        "peer_mixed_list_request",
        "68 20 00 43 05 00 00 00 00 00 00 00 5B 4A 05 02 00 03 20 00 02 00 20 14 "
        "02 00 20 0F 02 00 00 78 4A 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-NormalList",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "20000200", "name": "voltage", "values": [], "unit": "V"},
                {"oad": "20140200", "name": None, "values": [], "unit": None},
                {"oad": "200F0200", "name": "grid frequency", "values": [], "unit": "Hz"},
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_mixed_list_response",
        "68 33 00 C3 05 00 00 00 00 00 00 00 7A 01 85 02 00 03 20 00 02 00 01 01 "
        "03 12 09 6D 12 09 6E 12 09 6F 20 14 02 00 00 04 20 0F 02 00 01 12 13 88 "
        "00 00 1F 81 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-NormalList",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20000200",
                    "name": "voltage",
                    "values": [241.3, 241.4, 241.5],
                    "unit": "V",
                },
                {"oad": "20140200", "name": None, "values": [], "unit": None},
                {"oad": "200F0200", "name": "grid frequency", "values": [50.0], "unit": "Hz"},
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": "20140200: DAR 4 (object_undefined)",
        },
    ),
    V(
        "peer_monthly_freeze_request",
        "68 37 00 43 05 00 00 00 00 00 00 00 F8 9B 05 03 00 50 06 02 00 02 20 23 "
        "02 00 06 00 00 00 01 06 00 00 00 03 00 03 00 20 23 02 00 00 20 21 02 00 "
        "00 00 10 02 01 00 AF 50 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Record",
            "piid": 0,
            "security": None,
            "items": [{"oad": "50060200", "name": "monthly freeze", "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_monthly_freeze_response",
        "68 4E 00 C3 05 00 00 00 00 00 00 00 DE E8 85 03 00 50 06 02 00 03 00 20 "
        "23 02 00 00 20 21 02 00 00 00 10 02 01 01 02 06 00 00 00 01 1C 07 EA 09 "
        "01 00 00 00 06 00 01 B2 07 06 00 00 00 02 1C 07 EA 0A 01 00 00 00 06 00 "
        "03 64 0E 00 00 D0 A2 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Record",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "50060200",
                    "name": "monthly freeze",
                    "values": [
                        [1, "2026-09-01T00:00:00", 1111.11],
                        [2, "2026-10-01T00:00:00", 2222.22],
                    ],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_power_down_event_request",
        "68 3C 00 43 05 00 00 00 00 00 00 00 E1 D9 05 03 00 30 11 02 00 02 20 22 "
        "02 00 06 00 00 00 01 06 00 00 00 02 00 04 00 20 22 02 00 00 20 1E 02 00 "
        "00 20 20 02 00 00 20 24 02 00 00 FE 37 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Record",
            "piid": 0,
            "security": None,
            "items": [{"oad": "30110200", "name": "power-down event", "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_power_down_event_response",
        "68 45 00 C3 05 00 00 00 00 00 00 00 C7 AA 85 03 00 30 11 02 00 04 00 20 "
        "22 02 00 00 20 1E 02 00 00 20 20 02 00 00 20 24 02 00 01 01 06 00 00 00 "
        "01 1C 07 EA 0A 05 08 00 00 1C 07 EA 0A 05 08 00 1E 00 00 00 DC A5 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Record",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "30110200",
                    "name": "power-down event",
                    "values": [[1, "2026-10-05T08:00:00", "2026-10-05T08:00:30", None]],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_init_event_request",
        "68 28 00 43 05 00 00 00 00 00 00 00 F1 F6 05 03 00 31 00 02 00 02 20 22 "
        "02 00 06 00 00 00 01 06 00 00 00 02 00 00 00 68 C6 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Record",
            "piid": 0,
            "security": None,
            "items": [{"oad": "31000200", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_init_event_response",
        "68 3F 00 C3 05 00 00 00 00 00 00 00 85 E3 85 03 00 31 00 02 00 03 00 20 "
        "22 02 00 00 20 1E 02 00 00 20 20 02 00 01 01 06 00 00 00 01 1C 07 EA 0A "
        "06 09 00 00 1C 07 EA 0A 06 09 00 05 00 00 3C 8C 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Record",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "31000200",
                    "name": None,
                    "values": [[1, "2026-10-06T09:00:00", "2026-10-06T09:00:05"]],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_clock_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 40 00 02 00 00 56 1F 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000200", "name": "date-time", "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_clock_response",
        "68 21 00 C3 05 00 00 00 00 00 00 00 1D DB 85 01 00 40 00 02 00 01 1C 07 "
        "EA 0A 07 0E 10 1A 00 00 E4 C5 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "40000200",
                    "name": "date-time",
                    "values": ["2026-10-07T14:16:26"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_clock_mode_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 40 00 03 00 00 8A 45 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000300", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_clock_mode_response",
        "68 1B 00 C3 05 00 00 00 00 00 00 00 5A 5F 85 01 00 40 00 03 00 01 16 01 00 00 B6 45 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000300", "name": None, "values": [1], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_clock_params_response",
        "68 25 00 C3 05 00 00 00 00 00 00 00 48 85 85 01 00 40 00 04 00 01 02 05 "
        "11 08 11 02 11 01 11 05 11 04 00 00 39 50 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000400", "name": None, "values": [[8, 2, 1, 5, 4]], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_set_clock_request",
        "68 1F 00 43 05 00 00 00 00 00 00 00 D8 C5 06 01 00 40 00 02 00 1C 07 EA "
        "0A 07 0F 00 00 00 06 D5 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "SET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "40000200",
                    "name": "date-time",
                    "values": ["2026-10-07T15:00:00"],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_set_clock_response",
        "68 19 00 C3 05 00 00 00 00 00 00 00 78 F4 86 01 00 40 00 02 00 00 00 00 89 B6 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "SET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000200", "name": "date-time", "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_set_clock_mode_refused",
        "68 19 00 C3 05 00 00 00 00 00 00 00 78 F4 86 01 00 40 00 03 00 03 00 00 A9 52 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "SET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [{"oad": "40000300", "name": None, "values": [], "unit": None}],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": "40000300: DAR 3 (read_write_denied)",
        },
    ),
    V(
        "peer_demand_total_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 10 10 02 01 00 4D B0 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "10100201",
                    "name": "forward active maximum demand (max_demand_import)",
                    "values": [],
                    "unit": "kW",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_demand_total_response",
        "68 28 00 C3 05 00 00 00 00 00 00 00 26 32 85 01 00 10 10 02 01 01 02 02 "
        "06 00 00 30 39 1C 07 EA 0A 05 0C 1E 00 00 00 62 D3 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "10100201",
                    "name": "forward active maximum demand (max_demand_import)",
                    "values": [[1.2345, "2026-10-05T12:30:00"]],
                    "unit": "kW",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_demand_array_response",
        "68 39 00 C3 05 00 00 00 00 00 00 00 F2 16 85 01 00 10 10 02 00 01 01 02 "
        "02 02 06 00 00 30 39 1C 07 EA 0A 05 0C 1E 00 02 02 06 00 00 1F 40 1C 07 "
        "EA 0A 05 0E 00 00 00 00 E7 70 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "10100200",
                    "name": "forward active maximum demand",
                    "values": [[1.2345, "2026-10-05T12:30:00"], [0.8, "2026-10-05T14:00:00"]],
                    "unit": "kW",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_power_total_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 20 04 02 01 00 D1 D5 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20040201",
                    "name": "active power (power_active_total)",
                    "values": [],
                    "unit": "W",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_power_total_response",
        "68 1E 00 C3 05 00 00 00 00 00 00 00 9E 54 85 01 00 20 04 02 01 01 05 00 "
        "00 EA 60 00 00 33 95 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20040201",
                    "name": "active power (power_active_total)",
                    "values": [6000.0],
                    "unit": "W",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_power_array_response",
        "68 2F 00 C3 05 00 00 00 00 00 00 00 C0 92 85 01 00 20 04 02 00 01 01 04 "
        "05 00 00 EA 60 05 00 00 4E 84 05 00 00 4D BC 05 00 00 4E 20 00 00 79 9C "
        "16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20040200",
                    "name": "active power",
                    "values": [6000.0, 2010.0, 1990.0, 2000.0],
                    "unit": "W",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_reactive_power_a_response",
        "68 1E 00 C3 05 00 00 00 00 00 00 00 9E 54 85 01 00 20 05 02 02 01 05 00 "
        "00 13 88 00 00 8E 57 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20050202",
                    "name": "reactive power (power_reactive_a)",
                    "values": [500.0],
                    "unit": "var",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_apparent_power_a_response",
        "68 1E 00 C3 05 00 00 00 00 00 00 00 9E 54 85 01 00 20 06 02 02 01 05 00 "
        "00 FD E8 00 00 B8 B6 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "20060202",
                    "name": "apparent power (power_apparent_a)",
                    "values": [6500.0],
                    "unit": "VA",
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_pf_total_request",
        "68 17 00 43 05 00 00 00 00 00 00 00 72 79 05 01 00 20 0A 02 01 00 93 7B 16",
        "PEER-DOC",
        {
            "control": "43",
            "dir": "client->server",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Request-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {"oad": "200A0201", "name": "power factor (pf_total)", "values": [], "unit": None}
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
    V(
        "peer_pf_total_response",
        "68 1C 00 C3 05 00 00 00 00 00 00 00 BC FF 85 01 00 20 0A 02 01 01 10 03 7E 00 00 39 B5 16",
        "PEER-DOC",
        {
            "control": "C3",
            "dir": "server->client",
            "prm": True,
            "server_address": {"type": 0, "logical": 0, "address": "000000000000"},
            "client_address": "00",
            "service": "GET-Response-Normal",
            "piid": 0,
            "security": None,
            "items": [
                {
                    "oad": "200A0201",
                    "name": "power factor (pf_total)",
                    "values": [0.894],
                    "unit": None,
                }
            ],
            "hcs_ok": True,
            "fcs_ok": True,
            "error": None,
        },
    ),
)

VECTOR_BY_NAME: dict[str, Vector] = {v.name: v for v in VECTORS}

ZERO = "000000000000"  # the PEER-DOC meter
WILD = "AAAAAAAAAAAA"
RN = bytes(range(16))


def _reply(request: str, *results: d.ResultNormal, **kw: Any) -> bytes:
    """Our server role answering the named request vector."""
    req = d.parse_request(VECTOR_BY_NAME[request].wire)
    return d.build_get_response(req, list(results), **kw)


def _record(request: str, oad: int, rows: list[list[d.Data]], **kw: Any) -> bytes:
    req = d.parse_request(VECTOR_BY_NAME[request].wire)
    rcsd = req.inner.records[0].rcsd  # type: ignore[union-attr]
    return d.build_get_record_response(req, oad, rcsd, rows, **kw)


def _energy(*raw: int) -> d.Data:
    return d.array(*(d.dlu(x) for x in raw))


def _time(*fields: int) -> d.Data:
    return d.dts(datetime(*fields))  # type: ignore[arg-type]


_SET_MODE = d.parse_request(d.build_set(ZERO, "40000300", d.enum(1), piid=0))
_ESAM_READ = d.parse_request(
    d.build_get_record(
        "191500074320", "50040200", d.Rsd.last(1), ["00200200"], piid=1, client=0x11, secure=True
    )
)
_ESAM_READ_FWD = d.parse_request(
    d.build_get_record(
        "191500074320", "50040200", d.Rsd.last(1), ["00100200"], piid=1, client=0x11, secure=True
    )
)
_QT_READ = d.parse_request(d.build_get_list("000000003304", ["00100200"], piid=0, client=0x10))

#: Our builders (client role for requests, server role for responses) producing exactly
#: the bytes of the named vector.
BUILDERS: dict[str, Callable[[], bytes]] = {
    "read_address_wildcard_ca10": lambda: d.build_get(WILD, "40010200", piid=3, client=0x10),
    "std_h3_read_address_request": lambda: d.build_get(WILD, "40010200", piid=0x25),
    "std_h3_read_address_response": lambda: _reply(
        "std_h3_read_address_request",
        d.ResultNormal(0x40010200, d.octets("000039200933")),
        own_address="000039200933",
    ),
    "read_address_wildcard_ca_a1": lambda: d.build_get(WILD, "40010200", piid=2, client=0xA1),
    "read_address_wildcard_piid1": lambda: d.build_get(WILD, "40010200", piid=1),
    "read_address_wildcard_piid0": lambda: d.build_get(WILD, "40010200", piid=0),
    "read_address_wildcard_ca_a0": lambda: d.build_get(WILD, "40010200", piid=0, client=0xA0),
    "read_address_single_ca10": lambda: d.build_get(
        "000000000002", "40010200", piid=0, client=0x10
    ),
    "line_tester_chip_id_request": lambda: d.build_get(
        "000000000001", "FFF00500", piid=1, client=0x10
    ),
    "line_tester_virtual_address_request": lambda: d.build_get(
        WILD, "40010200", piid=1, client=0x10
    ),
    "line_tester_read_energy": lambda: d.build_get("000000000105", "00100200", piid=1),
    "line_tester_set_cco_radio": lambda: d.build_set(
        "000000000001", "FFF00300", d.octets("0229"), piid=4, client=0x10
    ),
    "line_tester_set_mode": lambda: d.build_set(
        "000000000001", "FFF00200", d.octets("02"), piid=3, client=0x10
    ),
    "set_meter_number": lambda: d.build_set(
        "000000000002", "40020200", d.octets("0123"), piid=0, client=0x10
    ),
    "broadcast_time": lambda: d.build_broadcast_time(datetime(2017, 6, 5, 10, 24, 12), piid=0),
    "single_address_time": lambda: d.build_broadcast_time(
        datetime(2017, 6, 5, 10, 51, 26), "010010569358", piid=0
    ),
    "trans_command_645_read": lambda: d.build_trans_command(
        WILD,
        "F2010201",
        bytes.fromhex("6845566445566468110434333938BB16"),
        comdcb=d.Comdcb(3, 2, 8, 1, 0),
        frame_timeout=30,
        byte_timeout=100,
        piid=0,
    ),
    "trans_command_698_inside": lambda: d.build_trans_command(
        WILD,
        "F2010201",
        bytes.fromhex("681700430501002003250100A580050100200102010086BB16"),
        comdcb=d.Comdcb(6, 2, 8, 1, 0),
        frame_timeout=10,
        byte_timeout=100,
        piid=5,
    ),
    "security_rn_read_energy_total": lambda: d.build_get(
        "020300000125", "00100201", piid=0x7D, secure=True, rn=RN
    ),
    "esam_daily_freeze_reverse_mac": lambda: d.build_get_record_response(
        _ESAM_READ,
        0x50040200,
        [0x00200200],
        [[_energy(0, 0, 0, 0, 0)]],
        mac=bytes.fromhex("41837FC3"),
    ),
    "esam_daily_freeze_forward_mac": lambda: d.build_get_record_response(
        _ESAM_READ_FWD,
        0x50040200,
        [0x00100200],
        [[_energy(1917357, 0, 1704075, 0, 213281)]],
        mac=bytes.fromhex("6198DFF4"),
    ),
    "qt_sim_energy_list": lambda: d.build_get_response(
        _QT_READ, [d.ResultNormal(0x00100200, _energy(699, 198, 203, 174, 124))]
    ),
    "go_login": lambda: d.build_link_request(
        "000000000001", d.apdu.LINK_LOGIN, datetime(2022, 2, 23, 8, 6, 56, 802000)
    ),
    "go_heartbeat": lambda: d.build_link_request(
        "000000000001", d.apdu.LINK_HEARTBEAT, datetime(2022, 2, 23, 0, 4, 51, 104000)
    ),
    "go_login_confirm": lambda: d.build_link_response(
        "000000000001",
        d.LinkRequest(0, 0, 300, (2022, 2, 23, 3, 8, 5, 2, 761)),
        (2022, 2, 23, 3, 8, 6, 9, 50),
        (2022, 2, 23, 3, 8, 6, 9, 50),
        result=0,
    ),
    "peer_energy_total_request": lambda: d.build_get(ZERO, "00100201", piid=0),
    "peer_energy_total_response": lambda: _reply(
        "peer_energy_total_request", d.ResultNormal(0x00100201, d.dlu(123456))
    ),
    "peer_energy_array_request": lambda: d.build_get(ZERO, "00100200", piid=0),
    "peer_energy_array_response": lambda: _reply(
        "peer_energy_array_request",
        d.ResultNormal(0x00100200, _energy(123456, 10000, 20000, 30000, 63456)),
    ),
    "peer_energy_phase_a_request": lambda: d.build_get(ZERO, "00110201", piid=0),
    "peer_energy_precise_request": lambda: d.build_get(ZERO, "00100401", piid=0),
    "peer_energy_precise_response": lambda: _reply(
        "peer_energy_precise_request",
        d.ResultNormal(0x00100401, d.Data(d.T.LONG64_UNSIGNED, 12345678)),
    ),
    "peer_frequency_piid21": lambda: d.build_get(ZERO, "200F0200", piid=0x21),
    "peer_frequency_other_address": lambda: d.build_get("123456789012", "200F0200", piid=0),
    "peer_normal_list_request": lambda: d.build_get_list(
        ZERO, ["20000200", "20010201", "20040201", "200A0201", "200F0200"], piid=0
    ),
    "peer_normal_list_response": lambda: _reply(
        "peer_normal_list_request",
        d.ResultNormal(0x20000200, d.array(d.lu(2413), d.lu(2414), d.lu(2415))),
        d.ResultNormal(0x20010201, d.dl(5000)),
        d.ResultNormal(0x20040201, d.dl(60000)),
        d.ResultNormal(0x200A0201, d.long(894)),
        d.ResultNormal(0x200F0200, dar=4),
    ),
    "peer_mixed_list_request": lambda: d.build_get_list(
        ZERO, ["20000200", "20140200", "200F0200"], piid=0
    ),
    "peer_mixed_list_response": lambda: _reply(
        "peer_mixed_list_request",
        d.ResultNormal(0x20000200, d.array(d.lu(2413), d.lu(2414), d.lu(2415))),
        d.ResultNormal(0x20140200, dar=4),
        d.ResultNormal(0x200F0200, d.lu(5000)),
    ),
    "peer_monthly_freeze_request": lambda: d.build_get_record(
        ZERO,
        "50060200",
        d.Rsd.interval(0x20230200, d.dlu(1), d.dlu(3)),
        ["20230200", "20210200", "00100201"],
        piid=0,
    ),
    "peer_monthly_freeze_response": lambda: _record(
        "peer_monthly_freeze_request",
        0x50060200,
        [
            [d.dlu(1), _time(2026, 9, 1), d.dlu(111111)],
            [d.dlu(2), _time(2026, 10, 1), d.dlu(222222)],
        ],
    ),
    "peer_power_down_event_request": lambda: d.build_get_record(
        ZERO,
        "30110200",
        d.Rsd.interval(0x20220200, d.dlu(1), d.dlu(2)),
        ["20220200", "201E0200", "20200200", "20240200"],
        piid=0,
    ),
    "peer_power_down_event_response": lambda: _record(
        "peer_power_down_event_request",
        0x30110200,
        [[d.dlu(1), _time(2026, 10, 5, 8, 0, 0), _time(2026, 10, 5, 8, 0, 30), d.null()]],
    ),
    "peer_init_event_request": lambda: d.build_get_record(
        ZERO, "31000200", d.Rsd.interval(0x20220200, d.dlu(1), d.dlu(2)), [], piid=0
    ),
    "peer_clock_request": lambda: d.build_get(ZERO, "40000200", piid=0),
    "peer_clock_response": lambda: _reply(
        "peer_clock_request", d.ResultNormal(0x40000200, _time(2026, 10, 7, 14, 16, 26))
    ),
    "peer_clock_mode_request": lambda: d.build_get(ZERO, "40000300", piid=0),
    "peer_set_clock_request": lambda: d.build_set(
        ZERO, "40000200", _time(2026, 10, 7, 15, 0, 0), piid=0
    ),
    "peer_set_clock_response": lambda: d.build_set_response(
        d.parse_request(VECTOR_BY_NAME["peer_set_clock_request"].wire), [(0x40000200, 0)]
    ),
    "peer_set_clock_mode_refused": lambda: d.build_set_response(_SET_MODE, [(0x40000300, 3)]),
    "peer_demand_total_request": lambda: d.build_get(ZERO, "10100201", piid=0),
    "peer_demand_total_response": lambda: _reply(
        "peer_demand_total_request",
        d.ResultNormal(0x10100201, d.structure(d.dlu(12345), _time(2026, 10, 5, 12, 30))),
    ),
    "peer_power_total_request": lambda: d.build_get(ZERO, "20040201", piid=0),
    "peer_power_total_response": lambda: _reply(
        "peer_power_total_request", d.ResultNormal(0x20040201, d.dl(60000))
    ),
    "peer_pf_total_request": lambda: d.build_get(ZERO, "200A0201", piid=0),
    "peer_pf_total_response": lambda: _reply(
        "peer_pf_total_request", d.ResultNormal(0x200A0201, d.long(894))
    ),
}


@dataclass(frozen=True)
class ApduVector:
    hex: str
    service: str
    source: str  # "PEER-TEST", "DOC-DISTILLED" or "JAVA-TOOL"

    @property
    def raw(self) -> bytes:
        return bytes.fromhex(self.hex)


A = ApduVector
APDU_VECTORS: tuple[ApduVector, ...] = (
    A(
        "06 03 04 01 45 00 02 0C 12 01 68 45 00 02 0C 03 00",
        "SET-Request-ThenGetNormalList",
        "PEER-TEST",
    ),
    A(
        "86 03 04 01 45 00 02 0C 00 45 00 02 0C 01 12 01 68 00 00",
        "SET-Response-ThenGetNormalList",
        "PEER-TEST",
    ),
    A(
        "07 03 07 01 00 10 01 00 0F 00 00 10 02 00 00 00",
        "ACTION-Request-ThenGetNormalList",
        "PEER-TEST",
    ),
    A(
        "87 03 07 01 00 10 01 00 00 00 00 10 02 00 01 01 05 06 00 00 00 00 06 00 "
        "00 00 00 06 00 00 00 00 06 00 00 00 00 06 00 00 00 00 00 00",
        "ACTION-Response-ThenGetNormalList",
        "PEER-TEST",
    ),
    A(
        "09 01 0A 00 78 02 07 05 20 16 01 20 00 01 00 3C 01 00 10 02 00 07 05 20 "
        "16 01 20 00 02 00 3C 01 00 10 02 00 00",
        "PROXY-Request-GetList",
        "PEER-TEST",
    ),
    A(
        "89 01 0A 02 07 05 20 16 01 20 00 01 01 00 10 02 00 01 01 05 06 00 00 00 "
        "00 06 00 00 00 00 06 00 00 00 00 06 00 00 00 00 06 00 00 00 00 07 05 20 "
        "16 01 20 00 02 01 00 10 02 00 01 01 05 06 00 00 00 00 06 00 00 00 00 06 "
        "00 00 00 00 06 00 00 00 00 06 00 00 00 00 00 00",
        "PROXY-Response-GetList",
        "PEER-TEST",
    ),
    A("88 01 42 01 20 00 02 00 01 12 00 DC 00 00", "REPORT-Notification-List", "PEER-TEST"),
    A("08 01 02 01 20 00 02 00 00", "REPORT-Response-List", "PEER-TEST"),
    A(
        "88 02 02 01 50 04 02 00 01 00 20 00 02 00 01 01 12 00 DC 00 00",
        "REPORT-Notification-RecordList",
        "PEER-TEST",
    ),
    A("08 02 02 01 50 04 02 00 00", "REPORT-Response-RecordList", "PEER-TEST"),
    A("88 03 02 F2 01 02 00 02 01 AA 02 BB CC 00 00", "REPORT-Notification-TransData", "PEER-TEST"),
    A("08 03 02 00", "REPORT-Response-TransData", "PEER-TEST"),
    A(
        "85 01 42 20 00 02 00 01 12 00 DC 01 01 01 20 01 02 00 00 04 00",
        "GET-Response-Normal",
        "PEER-TEST",
    ),
    A(
        "86 01 02 20 00 02 00 00 01 02 01 50 04 02 00 01 00 20 00 02 00 01 01 12 00 DC 00",
        "SET-Response-Normal",
        "PEER-TEST",
    ),
    A(
        "09 02 02 00 0A 02 00 01 50 04 02 00 00 01 00 20 00 02 00 00",
        "PROXY-Request-GetRecord",
        "PEER-TEST",
    ),
    A(
        "89 02 02 02 00 01 50 04 02 00 01 00 20 00 02 00 00 04 00 00",
        "PROXY-Response-GetRecord",
        "PEER-TEST",
    ),
    A(
        "09 03 02 00 0A 01 02 00 01 00 03 01 20 00 02 00 12 00 DC 00",
        "PROXY-Request-SetList",
        "PEER-TEST",
    ),
    A("89 03 02 01 02 00 01 01 20 00 02 00 00 00 00", "PROXY-Response-SetList", "PEER-TEST"),
    A(
        "09 04 02 00 0A 01 02 00 01 00 03 01 20 00 02 00 12 00 DC 20 00 02 00 01 00",
        "PROXY-Request-SetThenGetList",
        "PEER-TEST",
    ),
    A(
        "89 04 02 01 02 00 01 01 20 00 02 00 00 20 00 02 00 01 12 00 DC 00 00",
        "PROXY-Response-SetThenGetList",
        "PEER-TEST",
    ),
    A(
        "09 05 02 00 0A 01 02 00 01 00 03 01 00 10 01 00 00 00",
        "PROXY-Request-ActionList",
        "PEER-TEST",
    ),
    A(
        "89 05 02 01 02 00 01 01 00 10 01 00 00 01 00 00 00",
        "PROXY-Response-ActionList",
        "PEER-TEST",
    ),
    A(
        "09 06 02 00 0A 01 02 00 01 00 03 01 00 10 01 00 00 20 00 02 00 01 00",
        "PROXY-Request-ActionThenGetList",
        "PEER-TEST",
    ),
    A(
        "89 06 02 01 02 00 01 01 00 10 01 00 00 00 20 00 02 00 00 04 00 00",
        "PROXY-Response-ActionThenGetList",
        "PEER-TEST",
    ),
    A(
        "09 07 02 F2 01 02 00 06 02 08 01 00 00 03 00 0A 02 AA BB 00",
        "PROXY-Request-TransCommand",
        "PEER-TEST",
    ),
    A("89 07 02 F2 01 02 00 01 02 AA BB 00 00", "PROXY-Response-TransCommand", "PEER-TEST"),
    A("89 07 02 F2 01 02 00 00 02 00 00", "PROXY-Response-TransCommand", "PEER-TEST"),
    A("10 00 02 05 00 00 00 00 00 01 01 AA 01 BB", "SECURITY-Request", "PEER-TEST"),
    A("10 01 01 AA 01 02 BB CC", "SECURITY-Request", "PEER-TEST"),
    A("10 00 01 AA 02 01 BB 01 CC", "SECURITY-Request", "PEER-TEST"),
    A("10 01 01 AA 03 00 00 00 01 00", "SECURITY-Request", "PEER-TEST"),
    A("90 00 02 85 00 00", "SECURITY-Response", "PEER-TEST"),
    A("90 01 01 AA 01 00 01 BB", "SECURITY-Response", "PEER-TEST"),
    A("90 02 02 00", "SECURITY-Response", "PEER-TEST"),
    A("05 06 01 40 01 02 00 00", "GET-Request-MD5", "PEER-TEST"),
    A(
        "85 06 01 40 01 02 00 01 10 D4 1D 8C D9 8F 00 B2 04 E9 80 09 98 EC F8 42 7E 00 00",
        "GET-Response-MD5",
        "PEER-TEST",
    ),
    A("05 01 01 40 01 02 00 00", "GET-Request-Normal", "DOC-DISTILLED"),
    A(
        "85 01 01 40 01 02 00 01 09 06 12 34 56 78 90 12 00 00",
        "GET-Response-Normal",
        "DOC-DISTILLED",
    ),
    A("06 01 02 40 00 02 00 1C 07 E0 01 14 10 1B 0B 00", "SET-Request-Normal", "DOC-DISTILLED"),
    A("86 01 02 40 00 02 00 00 00 00", "SET-Response-Normal", "DOC-DISTILLED"),
    A("07 01 05 00 10 01 00 0F 00 00", "ACTION-Request-Normal", "DOC-DISTILLED"),
    A("87 01 05 00 10 01 00 00 00 00 00", "ACTION-Response-Normal", "DOC-DISTILLED"),
    A(
        "10 00 08 05 01 01 40 01 02 00 00 00 85 01 02 03 06 12 34 56 78 90 12 04 12 34 56 78",
        "SECURITY-Request",
        "DOC-DISTILLED",
    ),
    A(
        "05 03 01 50 02 02 00 00 02 00 20 21 02 00 00 00 10 02 00 00",
        "GET-Request-Record",
        "DOC-DISTILLED",
    ),
    A("01 00 00 00 B4 07 E0 05 13 04 08 05 00 00 A4", "LINK-Request", "DOC-DISTILLED"),
    A(
        "02 17 00 10 FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF "
        "04 00 04 00 01 04 00 00 00 00 64 00 00",
        "CONNECT-Request",
        "JAVA-TOOL",
    ),
)

#: An APDU of the distilled document that is inconsistent in itself: its plaintext length
#: says 0x11 (17) bytes but 18 follow, so 7 bytes are left over after the MAC option.
BROKEN_APDU = "90 00 11 85 01 01 40 01 02 00 01 09 06 20 16 01 29 00 01 00 00 01 00 04 12 34 56 78"
