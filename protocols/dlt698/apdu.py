"""APDU codec of DL/T 698.45: every service of both roles, as frozen dataclasses.

An APDU starts with its service tag; most services then have a choice byte, a PIID
(PIID-ACD in server APDUs: bit 7 priority, bit 6 ACD, bits 0-5 service number) and
their fields; client APDUs end with an OPTIONAL time tag, server APDUs with an OPTIONAL
follow report and an OPTIONAL time tag (each ``00`` absent, ``01`` + content)::

    tag  service                 choices
    01   LINK-Request (server)   -        PIID-ACD, type enum, heartbeat long-unsigned, date_time
    81   LINK-Response (client)  -        PIID, result, request/receive/response date_time
    02   CONNECT-Request         -        PIID, version, conformance, sizes, timeout, mechanism
    82   CONNECT-Response        -        PIID-ACD, factory version, agreed values, result
    03   RELEASE-Request         -        PIID
    83   RELEASE-Response        -        PIID-ACD, result enum
    84   RELEASE-Notification    -        PIID-ACD, established date_time_s, now date_time_s
    05   GET-Request             01 Normal OAD | 02 NormalList OADs | 03 Record OAD RSD RCSD |
                                 04 RecordList | 05 Next block | 06 MD5 OAD
    85   GET-Response            01 A-ResultNormal | 02 list | 03 A-ResultRecord | 04 list |
                                 05 Next: last bool, block, 00 DAR / 01 normals / 02 records |
                                 06 MD5: OAD, 00 DAR / 01 octet-string
    06   SET-Request             01 Normal OAD Data | 02 NormalList | 03 ThenGetNormalList
                                 (OAD Data OAD delay)
    86   SET-Response            01 OAD DAR | 02 list | 03 (OAD DAR OAD Get-Result) list
    07   ACTION-Request          01 Normal OMD Data | 02 NormalList | 03 ThenGetNormalList
    87   ACTION-Response         01 OMD DAR OPTIONAL-Data | 02 list | 03 (... OAD Get-Result)
    88   REPORT-Notification     01 List (A-ResultNormal) | 02 RecordList (A-ResultRecord) |
                                 03 TransData (port OAD, octet-strings)
    08   REPORT-Response         01 List | 02 RecordList: PIID, OADs | 03 TransData: PIID
    09   PROXY-Request           01 GetList | 02 GetRecord | 03 SetList | 04 SetThenGetList |
                                 05 ActionList | 06 ActionThenGetList | 07 TransCommand
    89   PROXY-Response          the same choices, answered per target TSA
    10   SECURITY-Request        00 plain / 01 cipher octet-string; verification 00 SID_MAC |
                                 01 RN | 02 RN_MAC | 03 SID
    90   SECURITY-Response       00 plain / 01 cipher octet-string / 02 DAR; OPTIONAL 00 MAC
    EE   ERROR-Response          PIID, 01 APDU cannot be parsed / 02 not supported / FF other
                                 (a server APDU: follow report and time tag close it too)

A-ResultNormal = OAD + (00 DAR | 01 Data). A-ResultRecord = OAD + RCSD + (00 DAR | 01 n
rows, each one Data per RCSD column). Decoding accepts an APDU whose optional trailer
bytes are missing (some firmware stops after the service); encoding always writes them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Final, TypeVar

from .address import ServerAddress
from .axdr import (
    Comdcb,
    Csd,
    Data,
    Reader,
    Rsd,
    Sid,
    T,
    Ti,
    format_oad,
    read_data,
    read_date_time_s,
    read_rcsd,
    read_rsd,
    read_sid,
    read_ti,
    read_tsa,
    write_data,
    write_date_time_s,
    write_length,
    write_octets,
    write_rcsd,
    write_rsd,
    write_sid,
    write_ti,
    write_tsa,
)
from .errors import FrameError, RequestError

# Service tags.
LINK_REQUEST: Final[int] = 0x01
CONNECT_REQUEST: Final[int] = 0x02
RELEASE_REQUEST: Final[int] = 0x03
GET_REQUEST: Final[int] = 0x05
SET_REQUEST: Final[int] = 0x06
ACTION_REQUEST: Final[int] = 0x07
REPORT_RESPONSE: Final[int] = 0x08
PROXY_REQUEST: Final[int] = 0x09
SECURITY_REQUEST: Final[int] = 0x10
LINK_RESPONSE: Final[int] = 0x81
CONNECT_RESPONSE: Final[int] = 0x82
RELEASE_RESPONSE: Final[int] = 0x83
RELEASE_NOTIFICATION: Final[int] = 0x84
GET_RESPONSE: Final[int] = 0x85
SET_RESPONSE: Final[int] = 0x86
ACTION_RESPONSE: Final[int] = 0x87
REPORT_NOTIFICATION: Final[int] = 0x88
PROXY_RESPONSE: Final[int] = 0x89
SECURITY_RESPONSE: Final[int] = 0x90
ERROR_RESPONSE: Final[int] = 0xEE

GET_CHOICES: Final[dict[int, str]] = {
    1: "Normal",
    2: "NormalList",
    3: "Record",
    4: "RecordList",
    5: "Next",
    6: "MD5",
}
SET_CHOICES: Final[dict[int, str]] = {1: "Normal", 2: "NormalList", 3: "ThenGetNormalList"}
ACTION_CHOICES: Final[dict[int, str]] = SET_CHOICES
REPORT_CHOICES: Final[dict[int, str]] = {1: "List", 2: "RecordList", 3: "TransData"}
PROXY_CHOICES: Final[dict[int, str]] = {
    1: "GetList",
    2: "GetRecord",
    3: "SetList",
    4: "SetThenGetList",
    5: "ActionList",
    6: "ActionThenGetList",
    7: "TransCommand",
}
#: The application-layer protocol version a CONNECT-Request proposes (0x0010, as a public
#: Java 698.45 tool's connect request and the PyPI dlt698 peer's server both use).
PROTOCOL_VERSION: Final[int] = 0x0010
#: LINK-Request types.
LINK_LOGIN: Final[int] = 0
LINK_HEARTBEAT: Final[int] = 1
LINK_LOGOUT: Final[int] = 2
#: ERROR-Response kinds.
ERROR_KINDS: Final[dict[int, str]] = {1: "apdu_unparsable", 2: "service_unsupported", 255: "other"}
#: SECURITY verification kinds (request side).
VERIFY_KINDS: Final[dict[int, str]] = {0: "SID_MAC", 1: "RN", 2: "RN_MAC", 3: "SID"}

DateTime = tuple[int, int, int, int, int, int, int, int]
_A = TypeVar("_A")  # year month day weekday h m s ms


# -- shared pieces -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeTag:
    """TimeTag: send time (date_time_s) and the allowed transmission delay (TI)."""

    send_time: datetime | tuple[int, ...]
    delay: Ti


@dataclass(frozen=True, slots=True)
class ResultNormal:
    """A-ResultNormal (OAD + Get-Result): ``data`` when read, else the refusal ``dar``."""

    oad: int
    data: Data | None = None
    dar: int | None = None

    def __post_init__(self) -> None:
        if (self.data is None) == (self.dar is None):
            raise RequestError(f"result for {format_oad(self.oad)} needs data or a DAR, not both")


@dataclass(frozen=True, slots=True)
class ResultRecord:
    """A-ResultRecord: the record object's OAD, the columns, then rows or a DAR."""

    oad: int
    rcsd: tuple[Csd, ...]
    rows: tuple[tuple[Data, ...], ...] = ()
    dar: int | None = None


@dataclass(frozen=True, slots=True)
class GetRecord:
    """GetRecord: record object OAD, row selector, column selector."""

    oad: int
    rsd: Rsd
    rcsd: tuple[Csd, ...]


@dataclass(frozen=True, slots=True)
class FollowReport:
    """Follow report: choice 1 normal results or choice 2 record results."""

    results: tuple[ResultNormal, ...] = ()
    records: tuple[ResultRecord, ...] = ()


@dataclass(frozen=True, slots=True)
class ActionResult:
    """One ACTION answer: OMD, DAR, optional returned data."""

    omd: int
    dar: int
    data: Data | None = None


@dataclass(frozen=True, slots=True)
class FactoryVersion:
    """The server's factory version: fixed-size visible strings (4, 4, 6, 4, 6, 8)."""

    vendor: str = "    "
    software: str = "    "
    software_date: str = "      "
    hardware: str = "    "
    hardware_date: str = "      "
    extra: str = "        "


_FACTORY_SIZES: Final[tuple[int, ...]] = (4, 4, 6, 4, 6, 8)


@dataclass(frozen=True, slots=True)
class SecurityVerify:
    """Request verification: kind 0 SID_MAC, 1 RN, 2 RN_MAC, 3 SID."""

    kind: int
    rn: bytes | None = None
    mac: bytes | None = None
    sid: Sid | None = None


@dataclass(frozen=True, slots=True)
class ProxyTarget:
    """One meter of a PROXY list request: its TSA, timeout (s) and items.

    Items by choice: 1 OAD ints; 3 (OAD, Data); 4 (OAD, Data, OAD, delay);
    5 (OMD, Data); 6 (OMD, Data, OAD, delay).
    """

    tsa: ServerAddress
    timeout: int
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class ProxyTargetResult:
    """One meter of a PROXY list response. Items by choice: 1 ResultNormal;
    3 (OAD, DAR); 4 (OAD, DAR, ResultNormal); 5 ActionResult; 6 (ActionResult,
    ResultNormal)."""

    tsa: ServerAddress
    items: tuple[Any, ...]


@dataclass(frozen=True, slots=True)
class TransCommand:
    """PROXY TransCommand request: port OAD (F2010201 = RS-485 1), line settings,
    frame timeout and byte timeout (long-unsigned each), the raw frame to forward."""

    port: int
    comdcb: Comdcb
    frame_timeout: int
    byte_timeout: int
    command: bytes


# -- the APDU classes --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class LinkRequest:
    """LINK-Request, sent by a server (terminal, 4G meter): login/heartbeat/logout."""

    piid: int
    kind: int
    heartbeat: int
    time: DateTime
    tag = LINK_REQUEST

    @property
    def service(self) -> str:
        return "LINK-Request"


@dataclass(frozen=True, slots=True)
class LinkResponse:
    """LINK-Response, the client's answer: result byte (bit 7 clock trusted, bits 0-2
    0 success / 1 address repeated / 2 illegal device / 3 capacity) and three times."""

    piid: int
    result: int
    request_time: DateTime
    receive_time: DateTime
    response_time: DateTime
    tag = LINK_RESPONSE

    @property
    def service(self) -> str:
        return "LINK-Response"


@dataclass(frozen=True, slots=True)
class ConnectRequest:
    """CONNECT-Request: mechanism 0 null, 1 password (``auth`` = (str,)), 2 symmetric and
    3 signature (``auth`` = (ciphertext, signature))."""

    piid: int
    version: int = PROTOCOL_VERSION
    protocol_conformance: bytes = b"\xff" * 8
    function_conformance: bytes = b"\xff" * 16
    send_max: int = 0x0200
    recv_max: int = 0x0200
    window: int = 1
    apdu_max: int = 0x0200
    timeout: int = 7200
    mechanism: int = 0
    auth: tuple[Any, ...] = ()
    time_tag: TimeTag | None = None
    tag = CONNECT_REQUEST

    @property
    def service(self) -> str:
        return "CONNECT-Request"


@dataclass(frozen=True, slots=True)
class ConnectResponse:
    """CONNECT-Response: result 0 allowed, 1 password wrong, 2..4 crypto errors,
    5 version mismatch, 255 other; ``security`` = (server RN, server signature)."""

    piid: int
    factory: FactoryVersion = field(default_factory=FactoryVersion)
    version: int = PROTOCOL_VERSION
    protocol_conformance: bytes = b"\xff" * 8
    function_conformance: bytes = b"\xff" * 16
    send_max: int = 0x0200
    recv_max: int = 0x0200
    window: int = 1
    apdu_max: int = 0x0200
    timeout: int = 7200
    result: int = 0
    security: tuple[bytes, bytes] | None = None
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = CONNECT_RESPONSE

    @property
    def service(self) -> str:
        return "CONNECT-Response"


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    piid: int
    time_tag: TimeTag | None = None
    tag = RELEASE_REQUEST

    @property
    def service(self) -> str:
        return "RELEASE-Request"


@dataclass(frozen=True, slots=True)
class ReleaseResponse:
    piid: int
    result: int = 0
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = RELEASE_RESPONSE

    @property
    def service(self) -> str:
        return "RELEASE-Response"


@dataclass(frozen=True, slots=True)
class ReleaseNotification:
    piid: int
    established: datetime | tuple[int, ...]
    now: datetime | tuple[int, ...]
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = RELEASE_NOTIFICATION

    @property
    def service(self) -> str:
        return "RELEASE-Notification"


@dataclass(frozen=True, slots=True)
class GetRequest:
    """GET-Request. ``choice``: 1 Normal (``oads[0]``), 2 NormalList (``oads``), 3 Record
    (``records[0]``), 4 RecordList (``records``), 5 Next (``block``: the last block
    received), 6 MD5 (``oads[0]``)."""

    choice: int
    piid: int
    oads: tuple[int, ...] = ()
    records: tuple[GetRecord, ...] = ()
    block: int = 0
    time_tag: TimeTag | None = None
    tag = GET_REQUEST

    @property
    def service(self) -> str:
        return f"GET-Request-{GET_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class GetResponse:
    """GET-Response. Normal/NormalList: ``results``; Record/RecordList: ``records``;
    Next: ``last``, ``block`` and ``results`` or ``records`` or ``dar``; MD5:
    ``results[0]`` with an octet-string datum (or a DAR)."""

    choice: int
    piid: int
    results: tuple[ResultNormal, ...] = ()
    records: tuple[ResultRecord, ...] = ()
    last: bool = True
    block: int = 0
    dar: int | None = None
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = GET_RESPONSE

    @property
    def service(self) -> str:
        return f"GET-Response-{GET_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class SetRequest:
    """SET-Request: ``items`` (OAD, Data); ThenGetNormalList also ``gets`` (OAD, delay s)."""

    choice: int
    piid: int
    items: tuple[tuple[int, Data], ...] = ()
    gets: tuple[tuple[int, int], ...] = ()
    time_tag: TimeTag | None = None
    tag = SET_REQUEST

    @property
    def service(self) -> str:
        return f"SET-Request-{SET_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class SetResponse:
    """SET-Response: ``results`` (OAD, DAR); ThenGetNormalList also ``gets``."""

    choice: int
    piid: int
    results: tuple[tuple[int, int], ...] = ()
    gets: tuple[ResultNormal, ...] = ()
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = SET_RESPONSE

    @property
    def service(self) -> str:
        return f"SET-Response-{SET_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """ACTION-Request: ``items`` (OMD, Data); ThenGetNormalList also ``gets``."""

    choice: int
    piid: int
    items: tuple[tuple[int, Data], ...] = ()
    gets: tuple[tuple[int, int], ...] = ()
    time_tag: TimeTag | None = None
    tag = ACTION_REQUEST

    @property
    def service(self) -> str:
        return f"ACTION-Request-{ACTION_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ActionResponse:
    choice: int
    piid: int
    results: tuple[ActionResult, ...] = ()
    gets: tuple[ResultNormal, ...] = ()
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = ACTION_RESPONSE

    @property
    def service(self) -> str:
        return f"ACTION-Response-{ACTION_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ReportNotification:
    """REPORT-Notification (server-initiated): List ``results``, RecordList ``records``,
    TransData ``port`` + ``frames``."""

    choice: int
    piid: int
    results: tuple[ResultNormal, ...] = ()
    records: tuple[ResultRecord, ...] = ()
    port: int = 0
    frames: tuple[bytes, ...] = ()
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = REPORT_NOTIFICATION

    @property
    def service(self) -> str:
        return f"REPORT-Notification-{REPORT_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ReportResponse:
    """REPORT-Response (the client's acknowledgement): the OADs it received (none for
    TransData, which is acknowledged by its PIID alone)."""

    choice: int
    piid: int
    oads: tuple[int, ...] = ()
    time_tag: TimeTag | None = None
    tag = REPORT_RESPONSE

    @property
    def service(self) -> str:
        return f"REPORT-Response-{REPORT_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ProxyRequest:
    """PROXY-Request: list choices use ``timeout`` + ``targets``; GetRecord uses
    ``timeout``, ``record_tsa`` and ``record``; TransCommand uses ``trans``."""

    choice: int
    piid: int
    timeout: int = 0
    targets: tuple[ProxyTarget, ...] = ()
    record_tsa: ServerAddress | None = None
    record: GetRecord | None = None
    trans: TransCommand | None = None
    time_tag: TimeTag | None = None
    tag = PROXY_REQUEST

    @property
    def service(self) -> str:
        return f"PROXY-Request-{PROXY_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class ProxyResponse:
    """PROXY-Response: list choices ``targets``; GetRecord ``record_tsa`` + ``record``;
    TransCommand ``port`` and the meter's raw answer ``data`` or a ``dar``."""

    choice: int
    piid: int
    targets: tuple[ProxyTargetResult, ...] = ()
    record_tsa: ServerAddress | None = None
    record: ResultRecord | None = None
    port: int = 0
    data: bytes | None = None
    dar: int | None = None
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = PROXY_RESPONSE

    @property
    def service(self) -> str:
        return f"PROXY-Response-{PROXY_CHOICES.get(self.choice, str(self.choice))}"


@dataclass(frozen=True, slots=True)
class SecurityRequest:
    """SECURITY-Request: a plaintext (``plain``) or ciphertext inner APDU and how to
    verify it. A ciphertext is carried opaquely: only an ESAM can open it."""

    plain: bool
    data: bytes
    verify: SecurityVerify
    tag = SECURITY_REQUEST

    @property
    def service(self) -> str:
        return "SECURITY-Request"

    def inner(self) -> Apdu:
        if not self.plain:
            raise FrameError("the inner APDU is ciphertext; only an ESAM can open it")
        return decode_apdu(self.data)


@dataclass(frozen=True, slots=True)
class SecurityResponse:
    """SECURITY-Response: kind 0 plaintext, 1 ciphertext (``data``), 2 a ``dar``; the
    optional ``mac`` is kept as received: only the utility's security module can verify
    it, so a reading taken from a plaintext+MAC answer is *not* verified."""

    kind: int
    data: bytes = b""
    dar: int | None = None
    mac: bytes | None = None
    tag = SECURITY_RESPONSE

    @property
    def plain(self) -> bool:
        return self.kind == 0

    @property
    def service(self) -> str:
        return "SECURITY-Response"

    def inner(self) -> Apdu:
        if self.kind != 0:
            raise FrameError("the inner APDU is not plaintext")
        return decode_apdu(self.data)


@dataclass(frozen=True, slots=True)
class ErrorResponse:
    """ERROR-Response: the peer could not parse (1) or does not support (2) our APDU."""

    piid: int
    kind: int
    follow: FollowReport | None = None
    time_tag: TimeTag | None = None
    tag = ERROR_RESPONSE

    @property
    def service(self) -> str:
        return "ERROR-Response"


Apdu = (
    LinkRequest
    | LinkResponse
    | ConnectRequest
    | ConnectResponse
    | ReleaseRequest
    | ReleaseResponse
    | ReleaseNotification
    | GetRequest
    | GetResponse
    | SetRequest
    | SetResponse
    | ActionRequest
    | ActionResponse
    | ReportNotification
    | ReportResponse
    | ProxyRequest
    | ProxyResponse
    | SecurityRequest
    | SecurityResponse
    | ErrorResponse
)

# -- readers ------------------------------------------------------------------------------


def _date_time(r: Reader) -> DateTime:
    raw = r.take(10, "date_time")
    return (
        raw[0] << 8 | raw[1],
        raw[2],
        raw[3],
        raw[4],
        raw[5],
        raw[6],
        raw[7],
        raw[8] << 8 | raw[9],
    )


def _result_normal(r: Reader) -> ResultNormal:
    oad = r.u32("OAD")
    at = r.pos
    choice = r.u8("Get-Result choice")
    if choice == 0:
        return ResultNormal(oad, dar=r.u8("DAR"))
    if choice == 1:
        return ResultNormal(oad, read_data(r))
    raise r.fail(f"Get-Result choice {choice:02X} for {format_oad(oad)} is neither 00 nor 01", at)


def _result_record(r: Reader) -> ResultRecord:
    oad = r.u32("record OAD")
    rcsd = read_rcsd(r)
    at = r.pos
    choice = r.u8("record result choice")
    if choice == 0:
        return ResultRecord(oad, rcsd, dar=r.u8("DAR"))
    if choice != 1:
        raise r.fail(f"record result choice {choice:02X} is neither 00 nor 01", at)
    n = r.count("record row count")
    ncols = len(rcsd)
    rows = tuple(tuple(read_data(r) for _ in range(ncols)) for _ in range(n))
    return ResultRecord(oad, rcsd, rows)


def _get_record(r: Reader) -> GetRecord:
    return GetRecord(r.u32("record OAD"), read_rsd(r), read_rcsd(r))


def _seq(r: Reader, what: str, one: Any) -> tuple[Any, ...]:
    return tuple(one(r) for _ in range(r.count(what)))


def _time_tag(r: Reader) -> TimeTag | None:
    if r.left == 0 or not r.optional("time tag flag"):
        return None
    return TimeTag(read_date_time_s(r), read_ti(r))


def _follow(r: Reader) -> FollowReport | None:
    if r.left == 0 or not r.optional("follow report flag"):
        return None
    at = r.pos
    choice = r.u8("follow report choice")
    if choice == 1:
        return FollowReport(results=_seq(r, "follow report count", _result_normal))
    if choice == 2:
        return FollowReport(records=_seq(r, "follow report count", _result_record))
    raise r.fail(f"follow report choice {choice:02X} is neither 01 nor 02", at)


def _action_result(r: Reader) -> ActionResult:
    omd = r.u32("OMD")
    dar = r.u8("DAR")
    data = read_data(r) if r.optional("action data flag") else None
    return ActionResult(omd, dar, data)


def _get_result_after(r: Reader, oad: int) -> ResultNormal:
    at = r.pos
    choice = r.u8("Get-Result choice")
    if choice == 0:
        return ResultNormal(oad, dar=r.u8("DAR"))
    if choice == 1:
        return ResultNormal(oad, read_data(r))
    raise r.fail(f"Get-Result choice {choice:02X} is neither 00 nor 01", at)


def _decode_get_request(r: Reader) -> GetRequest:
    at = r.pos
    choice = r.u8("GET-Request choice")
    piid = r.u8("PIID")
    if choice in (1, 6):
        out = GetRequest(choice, piid, oads=(r.u32("OAD"),))
    elif choice == 2:
        out = GetRequest(2, piid, oads=tuple(r.u32("OAD") for _ in range(r.count("OAD count"))))
    elif choice == 3:
        out = GetRequest(3, piid, records=(_get_record(r),))
    elif choice == 4:
        out = GetRequest(4, piid, records=_seq(r, "GetRecord count", _get_record))
    elif choice == 5:
        out = GetRequest(5, piid, block=r.u16("block number"))
    else:
        raise r.fail(f"GET-Request choice {choice:02X} is not 01..06", at)
    return _with_time_tag(out, r)


def _decode_get_response(r: Reader) -> GetResponse:
    at = r.pos
    choice = r.u8("GET-Response choice")
    piid = r.u8("PIID-ACD")
    if choice == 1:
        out = GetResponse(1, piid, results=(_result_normal(r),))
    elif choice == 2:
        out = GetResponse(2, piid, results=_seq(r, "result count", _result_normal))
    elif choice == 3:
        out = GetResponse(3, piid, records=(_result_record(r),))
    elif choice == 4:
        out = GetResponse(4, piid, records=_seq(r, "record result count", _result_record))
    elif choice == 5:
        last = r.u8("last block flag") != 0
        block = r.u16("block number")
        at2 = r.pos
        kind = r.u8("block data choice")
        if kind == 0:
            out = GetResponse(5, piid, last=last, block=block, dar=r.u8("DAR"))
        elif kind == 1:
            results = _seq(r, "result count", _result_normal)
            out = GetResponse(5, piid, results=results, last=last, block=block)
        elif kind == 2:
            records = _seq(r, "record result count", _result_record)
            out = GetResponse(5, piid, records=records, last=last, block=block)
        else:
            raise r.fail(f"GET-Response-Next data choice {kind:02X} is not 00..02", at2)
    elif choice == 6:
        oad = r.u32("OAD")
        at2 = r.pos
        kind = r.u8("MD5 result choice")
        if kind == 0:
            result = ResultNormal(oad, dar=r.u8("DAR"))
        elif kind == 1:
            result = ResultNormal(oad, Data(T.OCTET_STRING, r.octets("MD5")))
        else:
            raise r.fail(f"MD5 result choice {kind:02X} is neither 00 nor 01", at2)
        out = GetResponse(6, piid, results=(result,))
    else:
        raise r.fail(f"GET-Response choice {choice:02X} is not 01..06", at)
    return _with_trailer(out, r)


def _decode_set_like_request(r: Reader, cls: Any, name: str) -> Any:
    at = r.pos
    choice = r.u8(f"{name} choice")
    piid = r.u8("PIID")
    if choice == 1:
        out = cls(1, piid, items=((r.u32("OAD/OMD"), read_data(r)),))
    elif choice == 2:
        out = cls(2, piid, items=_seq(r, "item count", lambda r: (r.u32("OAD/OMD"), read_data(r))))
    elif choice == 3:
        items = []
        gets = []
        for _ in range(r.count("item count")):
            items.append((r.u32("OAD/OMD"), read_data(r)))
            gets.append((r.u32("read OAD"), r.u8("delay")))
        out = cls(3, piid, items=tuple(items), gets=tuple(gets))
    else:
        raise r.fail(f"{name} choice {choice:02X} is not 01..03", at)
    return _with_time_tag(out, r)


def _decode_set_response(r: Reader) -> SetResponse:
    at = r.pos
    choice = r.u8("SET-Response choice")
    piid = r.u8("PIID-ACD")
    if choice == 1:
        out = SetResponse(1, piid, results=((r.u32("OAD"), r.u8("DAR")),))
    elif choice == 2:
        out = SetResponse(
            2, piid, results=_seq(r, "result count", lambda r: (r.u32("OAD"), r.u8("DAR")))
        )
    elif choice == 3:
        results = []
        gets = []
        for _ in range(r.count("result count")):
            results.append((r.u32("OAD"), r.u8("DAR")))
            gets.append(_result_normal(r))
        out = SetResponse(3, piid, results=tuple(results), gets=tuple(gets))
    else:
        raise r.fail(f"SET-Response choice {choice:02X} is not 01..03", at)
    return _with_trailer(out, r)


def _decode_action_response(r: Reader) -> ActionResponse:
    at = r.pos
    choice = r.u8("ACTION-Response choice")
    piid = r.u8("PIID-ACD")
    if choice == 1:
        out = ActionResponse(1, piid, results=(_action_result(r),))
    elif choice == 2:
        out = ActionResponse(2, piid, results=_seq(r, "result count", _action_result))
    elif choice == 3:
        results = []
        gets = []
        for _ in range(r.count("result count")):
            results.append(_action_result(r))
            gets.append(_result_normal(r))
        out = ActionResponse(3, piid, results=tuple(results), gets=tuple(gets))
    else:
        raise r.fail(f"ACTION-Response choice {choice:02X} is not 01..03", at)
    return _with_trailer(out, r)


def _decode_report_notification(r: Reader) -> ReportNotification:
    at = r.pos
    choice = r.u8("REPORT-Notification choice")
    piid = r.u8("PIID-ACD")
    if choice == 1:
        out = ReportNotification(1, piid, results=_seq(r, "result count", _result_normal))
    elif choice == 2:
        out = ReportNotification(2, piid, records=_seq(r, "record count", _result_record))
    elif choice == 3:
        port = r.u32("port OAD")
        frames = _seq(r, "frame count", lambda r: r.octets("forwarded frame"))
        out = ReportNotification(3, piid, port=port, frames=frames)
    else:
        raise r.fail(f"REPORT-Notification choice {choice:02X} is not 01..03", at)
    return _with_trailer(out, r)


def _decode_report_response(r: Reader) -> ReportResponse:
    at = r.pos
    choice = r.u8("REPORT-Response choice")
    if choice not in REPORT_CHOICES:
        raise r.fail(f"REPORT-Response choice {choice:02X} is not 01..03", at)
    piid = r.u8("PIID")
    if choice == 3:  # ReportResponseTransData: the PIID alone
        return _with_time_tag(ReportResponse(3, piid), r)
    oads = tuple(r.u32("OAD") for _ in range(r.count("OAD count")))
    return _with_time_tag(ReportResponse(choice, piid, oads), r)


def _proxy_item(r: Reader, choice: int) -> Any:
    if choice == 1:
        return r.u32("OAD")
    if choice in (3, 5):
        return (r.u32("OAD/OMD"), read_data(r))
    return (r.u32("OAD/OMD"), read_data(r), r.u32("read OAD"), r.u8("delay"))


def _decode_proxy_request(r: Reader) -> ProxyRequest:
    at = r.pos
    choice = r.u8("PROXY-Request choice")
    piid = r.u8("PIID")
    if choice in (1, 3, 4, 5, 6):
        timeout = r.u16("proxy timeout")
        targets = []
        for _ in range(r.count("target count")):
            tsa = read_tsa(r)
            t = r.u16("target timeout")
            items = tuple(_proxy_item(r, choice) for _ in range(r.count("item count")))
            targets.append(ProxyTarget(tsa, t, items))
        out = ProxyRequest(choice, piid, timeout=timeout, targets=tuple(targets))
    elif choice == 2:
        timeout = r.u16("proxy timeout")
        tsa = read_tsa(r)
        out = ProxyRequest(2, piid, timeout=timeout, record_tsa=tsa, record=_get_record(r))
    elif choice == 7:
        port = r.u32("port OAD")
        raw = r.take(5, "COMDCB")
        trans = TransCommand(
            port, Comdcb(*raw), r.u16("frame timeout"), r.u16("byte timeout"), r.octets("command")
        )
        out = ProxyRequest(7, piid, trans=trans)
    else:
        raise r.fail(f"PROXY-Request choice {choice:02X} is not 01..07", at)
    return _with_time_tag(out, r)


def _proxy_result_item(r: Reader, choice: int) -> Any:
    if choice == 1:
        return _result_normal(r)
    if choice == 3:
        return (r.u32("OAD"), r.u8("DAR"))
    if choice == 4:
        oad = r.u32("OAD")
        dar = r.u8("DAR")
        return (oad, dar, _result_normal(r))
    if choice == 5:
        return _action_result(r)
    return (_action_result(r), _result_normal(r))


def _decode_proxy_response(r: Reader) -> ProxyResponse:
    at = r.pos
    choice = r.u8("PROXY-Response choice")
    piid = r.u8("PIID-ACD")
    if choice in (1, 3, 4, 5, 6):
        targets = []
        for _ in range(r.count("target count")):
            tsa = read_tsa(r)
            items = tuple(_proxy_result_item(r, choice) for _ in range(r.count("item count")))
            targets.append(ProxyTargetResult(tsa, items))
        out = ProxyResponse(choice, piid, targets=tuple(targets))
    elif choice == 2:
        tsa = read_tsa(r)
        out = ProxyResponse(2, piid, record_tsa=tsa, record=_result_record(r))
    elif choice == 7:
        port = r.u32("port OAD")
        at2 = r.pos
        kind = r.u8("TransCommand result choice")
        if kind == 0:
            out = ProxyResponse(7, piid, port=port, dar=r.u8("DAR"))
        elif kind == 1:
            out = ProxyResponse(7, piid, port=port, data=r.octets("returned frame"))
        else:
            raise r.fail(f"TransCommand result choice {kind:02X} is neither 00 nor 01", at2)
    else:
        raise r.fail(f"PROXY-Response choice {choice:02X} is not 01..07", at)
    return _with_trailer(out, r)


def _decode_security_request(r: Reader) -> SecurityRequest:
    at = r.pos
    kind = r.u8("SECURITY-Request data choice")
    if kind not in (0, 1):
        raise r.fail(f"SECURITY-Request data choice {kind:02X} is neither 00 nor 01", at)
    data = r.octets("secured APDU")
    at = r.pos
    vkind = r.u8("verification choice")
    if vkind == 0:
        verify = SecurityVerify(0, sid=read_sid(r), mac=r.octets("MAC"))
    elif vkind == 1:
        verify = SecurityVerify(1, rn=r.octets("RN"))
    elif vkind == 2:
        verify = SecurityVerify(2, rn=r.octets("RN"), mac=r.octets("MAC"))
    elif vkind == 3:
        verify = SecurityVerify(3, sid=read_sid(r))
    else:
        raise r.fail(f"verification choice {vkind:02X} is not 00..03", at)
    return SecurityRequest(kind == 0, data, verify)


def _decode_security_response(r: Reader) -> SecurityResponse:
    at = r.pos
    kind = r.u8("SECURITY-Response data choice")
    if kind in (0, 1):
        data = r.octets("secured APDU")
        dar = None
    elif kind == 2:
        data, dar = b"", r.u8("DAR")
    else:
        raise r.fail(f"SECURITY-Response data choice {kind:02X} is not 00..02", at)
    mac = None
    if r.left and r.optional("verification flag"):
        at = r.pos
        vkind = r.u8("verification choice")
        if vkind != 0:
            raise r.fail(f"SECURITY-Response verification choice {vkind:02X} is not 00 (MAC)", at)
        mac = r.octets("MAC")
    return SecurityResponse(kind, data, dar, mac)


def _decode_connect_request(r: Reader) -> ConnectRequest:
    piid = r.u8("PIID")
    version = r.u16("protocol version")
    pc = r.take(8, "protocol conformance")
    fc = r.take(16, "function conformance")
    send_max, recv_max = r.u16("send size"), r.u16("receive size")
    window = r.u8("window")
    apdu_max = r.u16("APDU size")
    timeout = r.u32("connection timeout")
    at = r.pos
    mech = r.u8("connect mechanism")
    auth: tuple[Any, ...]
    if mech == 0:
        auth = ()
    elif mech == 1:
        auth = (r.octets("password").decode("latin-1"),)
    elif mech in (2, 3):
        auth = (r.octets("ciphertext"), r.octets("signature"))
    else:
        raise r.fail(f"connect mechanism {mech} is not 0..3", at)
    out = ConnectRequest(
        piid, version, pc, fc, send_max, recv_max, window, apdu_max, timeout, mech, auth
    )
    return _with_time_tag(out, r)


def _decode_connect_response(r: Reader) -> ConnectResponse:
    piid = r.u8("PIID-ACD")
    factory = FactoryVersion(
        *(r.take(n, "factory version").decode("latin-1") for n in _FACTORY_SIZES)
    )
    version = r.u16("protocol version")
    pc = r.take(8, "protocol conformance")
    fc = r.take(16, "function conformance")
    send_max, recv_max = r.u16("send size"), r.u16("receive size")
    window = r.u8("window")
    apdu_max = r.u16("APDU size")
    timeout = r.u32("connection timeout")
    result = r.u8("connect result")
    security = None
    if r.optional("security data flag"):
        security = (r.octets("server RN"), r.octets("server signature"))
    out = ConnectResponse(
        piid,
        factory,
        version,
        pc,
        fc,
        send_max,
        recv_max,
        window,
        apdu_max,
        timeout,
        result,
        security,
    )
    return _with_trailer(out, r)


def _with_time_tag(apdu: _A, r: Reader) -> _A:
    tt = _time_tag(r)
    return apdu if tt is None else _replace(apdu, time_tag=tt)


def _with_trailer(apdu: _A, r: Reader) -> _A:
    follow = _follow(r)
    tt = _time_tag(r)
    if follow is None and tt is None:
        return apdu
    return _replace(apdu, follow=follow, time_tag=tt)


def _replace(obj: _A, **changes: Any) -> _A:
    return replace(obj, **changes)  # type: ignore[type-var]


def decode_apdu(raw: bytes | bytearray | memoryview, base: int = 0) -> Apdu:
    """APDU bytes -> one of the APDU classes; :class:`FrameError` (naming the offset,
    counted from ``base``) for anything malformed, unknown or left over."""
    r = Reader(bytes(raw), 0, base)
    tag = r.u8("APDU tag")
    out: Apdu
    if tag == GET_REQUEST:
        out = _decode_get_request(r)
    elif tag == GET_RESPONSE:
        out = _decode_get_response(r)
    elif tag == SET_REQUEST:
        out = _decode_set_like_request(r, SetRequest, "SET-Request")
    elif tag == SET_RESPONSE:
        out = _decode_set_response(r)
    elif tag == ACTION_REQUEST:
        out = _decode_set_like_request(r, ActionRequest, "ACTION-Request")
    elif tag == ACTION_RESPONSE:
        out = _decode_action_response(r)
    elif tag == REPORT_NOTIFICATION:
        out = _decode_report_notification(r)
    elif tag == REPORT_RESPONSE:
        out = _decode_report_response(r)
    elif tag == PROXY_REQUEST:
        out = _decode_proxy_request(r)
    elif tag == PROXY_RESPONSE:
        out = _decode_proxy_response(r)
    elif tag == SECURITY_REQUEST:
        out = _decode_security_request(r)
    elif tag == SECURITY_RESPONSE:
        out = _decode_security_response(r)
    elif tag == LINK_REQUEST:
        out = LinkRequest(r.u8("PIID-ACD"), r.u8("link type"), r.u16("heartbeat"), _date_time(r))
    elif tag == LINK_RESPONSE:
        out = LinkResponse(
            r.u8("PIID"), r.u8("link result"), _date_time(r), _date_time(r), _date_time(r)
        )
    elif tag == CONNECT_REQUEST:
        out = _decode_connect_request(r)
    elif tag == CONNECT_RESPONSE:
        out = _decode_connect_response(r)
    elif tag == RELEASE_REQUEST:
        out = _with_time_tag(ReleaseRequest(r.u8("PIID")), r)
    elif tag == RELEASE_RESPONSE:
        out = _with_trailer(ReleaseResponse(r.u8("PIID-ACD"), r.u8("release result")), r)
    elif tag == RELEASE_NOTIFICATION:
        piid = r.u8("PIID-ACD")
        out = _with_trailer(ReleaseNotification(piid, read_date_time_s(r), read_date_time_s(r)), r)
    elif tag == ERROR_RESPONSE:
        out = _with_trailer(ErrorResponse(r.u8("PIID"), r.u8("error kind")), r)
    else:
        raise r.fail(f"unknown APDU tag {tag:02X}", 0)
    r.done(out.service)
    return out


# -- writers ------------------------------------------------------------------------------


def _w_date_time(w: bytearray, v: DateTime | datetime) -> None:
    if isinstance(v, datetime):
        v = (
            v.year,
            v.month,
            v.day,
            v.isoweekday() % 7,
            v.hour,
            v.minute,
            v.second,
            v.microsecond // 1000,
        )
    w += v[0].to_bytes(2, "big") + bytes(v[1:7]) + v[7].to_bytes(2, "big")


def _w_u32(w: bytearray, v: int) -> None:
    w += v.to_bytes(4, "big")


def _w_result_normal(w: bytearray, res: ResultNormal) -> None:
    _w_u32(w, res.oad)
    _w_get_result(w, res)


def _w_get_result(w: bytearray, res: ResultNormal) -> None:
    if res.data is not None:
        w.append(1)
        write_data(w, res.data)
    else:
        w += bytes((0, res.dar or 0))


def _w_result_record(w: bytearray, rec: ResultRecord) -> None:
    _w_u32(w, rec.oad)
    write_rcsd(w, rec.rcsd)
    if rec.dar is not None:
        w += bytes((0, rec.dar))
        return
    w.append(1)
    write_length(w, len(rec.rows))
    for row in rec.rows:
        if len(row) != len(rec.rcsd):
            raise RequestError(
                f"record row of {len(row)} values for {len(rec.rcsd)} columns of "
                f"{format_oad(rec.oad)}"
            )
        for d in row:
            write_data(w, d)


def _w_get_record(w: bytearray, g: GetRecord) -> None:
    _w_u32(w, g.oad)
    write_rsd(w, g.rsd)
    write_rcsd(w, g.rcsd)


def _w_time_tag(w: bytearray, tt: TimeTag | None) -> None:
    if tt is None:
        w.append(0)
        return
    w.append(1)
    write_date_time_s(w, tt.send_time)
    write_ti(w, tt.delay)


def _w_follow(w: bytearray, fr: FollowReport | None) -> None:
    if fr is None:
        w.append(0)
    elif fr.records:
        w += b"\x01\x02"
        write_length(w, len(fr.records))
        for rec in fr.records:
            _w_result_record(w, rec)
    else:
        w += b"\x01\x01"
        write_length(w, len(fr.results))
        for res in fr.results:
            _w_result_normal(w, res)


def _w_trailer(w: bytearray, apdu: Any) -> None:
    _w_follow(w, apdu.follow)
    _w_time_tag(w, apdu.time_tag)


def _w_action_result(w: bytearray, a: ActionResult) -> None:
    _w_u32(w, a.omd)
    w.append(a.dar)
    if a.data is None:
        w.append(0)
    else:
        w.append(1)
        write_data(w, a.data)


def _w_seq(w: bytearray, items: Any, one: Any) -> None:
    write_length(w, len(items))
    for item in items:
        one(w, item)


def _encode_into(w: bytearray, a: Apdu) -> None:  # noqa: C901 - one dispatch table
    w.append(a.tag)
    if isinstance(a, GetRequest):
        w += bytes((a.choice, a.piid))
        if a.choice in (1, 6):
            _w_u32(w, a.oads[0])
        elif a.choice == 2:
            _w_seq(w, a.oads, _w_u32)
        elif a.choice == 3:
            _w_get_record(w, a.records[0])
        elif a.choice == 4:
            _w_seq(w, a.records, _w_get_record)
        elif a.choice == 5:
            w += a.block.to_bytes(2, "big")
        else:
            raise RequestError(f"GET-Request choice {a.choice} is not 1..6")
        _w_time_tag(w, a.time_tag)
    elif isinstance(a, GetResponse):
        w += bytes((a.choice, a.piid))
        if a.choice == 1:
            _w_result_normal(w, a.results[0])
        elif a.choice == 2:
            _w_seq(w, a.results, _w_result_normal)
        elif a.choice == 3:
            _w_result_record(w, a.records[0])
        elif a.choice == 4:
            _w_seq(w, a.records, _w_result_record)
        elif a.choice == 5:
            w.append(1 if a.last else 0)
            w += a.block.to_bytes(2, "big")
            if a.dar is not None:
                w += bytes((0, a.dar))
            elif a.records:
                w.append(2)
                _w_seq(w, a.records, _w_result_record)
            else:
                w.append(1)
                _w_seq(w, a.results, _w_result_normal)
        elif a.choice == 6:
            res = a.results[0]
            _w_u32(w, res.oad)
            if res.data is None:
                w += bytes((0, res.dar or 0))
            else:
                w.append(1)
                write_octets(w, bytes(res.data.value))
        else:
            raise RequestError(f"GET-Response choice {a.choice} is not 1..6")
        _w_trailer(w, a)
    elif isinstance(a, (SetRequest, ActionRequest)):
        w += bytes((a.choice, a.piid))
        if a.choice == 1:
            _w_u32(w, a.items[0][0])
            write_data(w, a.items[0][1])
        elif a.choice == 2:
            write_length(w, len(a.items))
            for target, d in a.items:
                _w_u32(w, target)
                write_data(w, d)
        elif a.choice == 3:
            if len(a.gets) != len(a.items):
                raise RequestError("ThenGetNormalList needs one (OAD, delay) per item")
            write_length(w, len(a.items))
            for (target, d), (read, delay) in zip(a.items, a.gets, strict=True):
                _w_u32(w, target)
                write_data(w, d)
                _w_u32(w, read)
                w.append(delay)
        else:
            raise RequestError(f"{a.service} choice {a.choice} is not 1..3")
        _w_time_tag(w, a.time_tag)
    elif isinstance(a, SetResponse):
        w += bytes((a.choice, a.piid))
        if a.choice == 1:
            _w_u32(w, a.results[0][0])
            w.append(a.results[0][1])
        elif a.choice == 2:
            write_length(w, len(a.results))
            for target, dar in a.results:
                _w_u32(w, target)
                w.append(dar)
        elif a.choice == 3:
            write_length(w, len(a.results))
            for (target, dar), res in zip(a.results, a.gets, strict=True):
                _w_u32(w, target)
                w.append(dar)
                _w_result_normal(w, res)
        else:
            raise RequestError(f"SET-Response choice {a.choice} is not 1..3")
        _w_trailer(w, a)
    elif isinstance(a, ActionResponse):
        w += bytes((a.choice, a.piid))
        if a.choice == 1:
            _w_action_result(w, a.results[0])
        elif a.choice == 2:
            _w_seq(w, a.results, _w_action_result)
        elif a.choice == 3:
            write_length(w, len(a.results))
            for act, res in zip(a.results, a.gets, strict=True):
                _w_action_result(w, act)
                _w_result_normal(w, res)
        else:
            raise RequestError(f"ACTION-Response choice {a.choice} is not 1..3")
        _w_trailer(w, a)
    elif isinstance(a, ReportNotification):
        w += bytes((a.choice, a.piid))
        if a.choice == 1:
            _w_seq(w, a.results, _w_result_normal)
        elif a.choice == 2:
            _w_seq(w, a.records, _w_result_record)
        elif a.choice == 3:
            _w_u32(w, a.port)
            _w_seq(w, a.frames, write_octets)
        else:
            raise RequestError(f"REPORT-Notification choice {a.choice} is not 1..3")
        _w_trailer(w, a)
    elif isinstance(a, ReportResponse):
        w += bytes((a.choice, a.piid))
        if a.choice != 3:
            _w_seq(w, a.oads, _w_u32)
        _w_time_tag(w, a.time_tag)
    elif isinstance(a, ProxyRequest):
        _encode_proxy_request(w, a)
    elif isinstance(a, ProxyResponse):
        _encode_proxy_response(w, a)
    elif isinstance(a, SecurityRequest):
        w.append(0 if a.plain else 1)
        write_octets(w, a.data)
        v = a.verify
        w.append(v.kind)
        if v.kind == 0 and v.sid is not None:
            write_sid(w, v.sid)
            write_octets(w, v.mac or b"")
        elif v.kind == 1:
            write_octets(w, v.rn or b"")
        elif v.kind == 2:
            write_octets(w, v.rn or b"")
            write_octets(w, v.mac or b"")
        elif v.kind == 3 and v.sid is not None:
            write_sid(w, v.sid)
        else:
            raise RequestError(f"verification {v!r} is incomplete")
    elif isinstance(a, SecurityResponse):
        w.append(a.kind)
        if a.kind == 2:
            w.append(a.dar or 0)
        else:
            write_octets(w, a.data)
        if a.mac is None:
            w.append(0)
        else:
            w += b"\x01\x00"
            write_octets(w, a.mac)
    elif isinstance(a, LinkRequest):
        w += bytes((a.piid, a.kind)) + a.heartbeat.to_bytes(2, "big")
        _w_date_time(w, a.time)
    elif isinstance(a, LinkResponse):
        w += bytes((a.piid, a.result))
        for t in (a.request_time, a.receive_time, a.response_time):
            _w_date_time(w, t)
    elif isinstance(a, ConnectRequest):
        _encode_connect_common(w, a)
        w.append(a.mechanism)
        if a.mechanism == 1:
            write_octets(w, str(a.auth[0]).encode("latin-1"))
        elif a.mechanism in (2, 3):
            write_octets(w, bytes(a.auth[0]))
            write_octets(w, bytes(a.auth[1]))
        elif a.mechanism != 0:
            raise RequestError(f"connect mechanism {a.mechanism} is not 0..3")
        _w_time_tag(w, a.time_tag)
    elif isinstance(a, ConnectResponse):
        w.append(a.piid)
        f = a.factory
        for text, size in zip(
            (f.vendor, f.software, f.software_date, f.hardware, f.hardware_date, f.extra),
            _FACTORY_SIZES,
            strict=True,
        ):
            raw = text.encode("latin-1")
            if len(raw) != size:
                raise RequestError(f"factory version field {text!r} must be {size} characters")
            w += raw
        _encode_connect_common(w, a, with_piid=False)
        w.append(a.result)
        if a.security is None:
            w.append(0)
        else:
            w.append(1)
            write_octets(w, a.security[0])
            write_octets(w, a.security[1])
        _w_trailer(w, a)
    elif isinstance(a, ReleaseRequest):
        w.append(a.piid)
        _w_time_tag(w, a.time_tag)
    elif isinstance(a, ReleaseResponse):
        w += bytes((a.piid, a.result))
        _w_trailer(w, a)
    elif isinstance(a, ReleaseNotification):
        w.append(a.piid)
        write_date_time_s(w, a.established)
        write_date_time_s(w, a.now)
        _w_trailer(w, a)
    elif isinstance(a, ErrorResponse):
        w += bytes((a.piid, a.kind))
        _w_trailer(w, a)
    else:  # pragma: no cover - the union is exhaustive
        raise RequestError(f"not an APDU: {a!r}")


def _encode_connect_common(
    w: bytearray, a: ConnectRequest | ConnectResponse, with_piid: bool = True
) -> None:
    if with_piid:
        w.append(a.piid)
    if len(a.protocol_conformance) != 8 or len(a.function_conformance) != 16:
        raise RequestError("conformance blocks must be 8 and 16 bytes")
    w += a.version.to_bytes(2, "big") + a.protocol_conformance + a.function_conformance
    w += a.send_max.to_bytes(2, "big") + a.recv_max.to_bytes(2, "big") + bytes((a.window,))
    w += a.apdu_max.to_bytes(2, "big") + a.timeout.to_bytes(4, "big")


def _w_proxy_item(w: bytearray, choice: int, item: Any) -> None:
    if choice == 1:
        _w_u32(w, item)
        return
    _w_u32(w, item[0])
    write_data(w, item[1])
    if choice in (4, 6):
        _w_u32(w, item[2])
        w.append(item[3])


def _encode_proxy_request(w: bytearray, a: ProxyRequest) -> None:
    w += bytes((a.choice, a.piid))
    if a.choice in (1, 3, 4, 5, 6):
        w += a.timeout.to_bytes(2, "big")
        write_length(w, len(a.targets))
        for t in a.targets:
            write_tsa(w, t.tsa)
            w += t.timeout.to_bytes(2, "big")
            write_length(w, len(t.items))
            for item in t.items:
                _w_proxy_item(w, a.choice, item)
    elif a.choice == 2:
        if a.record is None or a.record_tsa is None:
            raise RequestError("PROXY GetRecord needs record_tsa and record")
        w += a.timeout.to_bytes(2, "big")
        write_tsa(w, a.record_tsa)
        _w_get_record(w, a.record)
    elif a.choice == 7:
        tc = a.trans
        if tc is None:
            raise RequestError("PROXY TransCommand needs trans")
        _w_u32(w, tc.port)
        c = tc.comdcb
        w += bytes((c.baud, c.parity, c.data_bits, c.stop_bits, c.flow))
        w += tc.frame_timeout.to_bytes(2, "big") + tc.byte_timeout.to_bytes(2, "big")
        write_octets(w, tc.command)
    else:
        raise RequestError(f"PROXY-Request choice {a.choice} is not 1..7")
    _w_time_tag(w, a.time_tag)


def _w_proxy_result_item(w: bytearray, choice: int, item: Any) -> None:
    if choice == 1:
        _w_result_normal(w, item)
    elif choice == 3:
        _w_u32(w, item[0])
        w.append(item[1])
    elif choice == 4:
        _w_u32(w, item[0])
        w.append(item[1])
        _w_result_normal(w, item[2])
    elif choice == 5:
        _w_action_result(w, item)
    else:
        _w_action_result(w, item[0])
        _w_result_normal(w, item[1])


def _encode_proxy_response(w: bytearray, a: ProxyResponse) -> None:
    w += bytes((a.choice, a.piid))
    if a.choice in (1, 3, 4, 5, 6):
        write_length(w, len(a.targets))
        for t in a.targets:
            write_tsa(w, t.tsa)
            write_length(w, len(t.items))
            for item in t.items:
                _w_proxy_result_item(w, a.choice, item)
    elif a.choice == 2:
        if a.record is None or a.record_tsa is None:
            raise RequestError("PROXY GetRecord response needs record_tsa and record")
        write_tsa(w, a.record_tsa)
        _w_result_record(w, a.record)
    elif a.choice == 7:
        _w_u32(w, a.port)
        if a.data is not None:
            w.append(1)
            write_octets(w, a.data)
        else:
            w += bytes((0, a.dar or 0))
    else:
        raise RequestError(f"PROXY-Response choice {a.choice} is not 1..7")
    _w_trailer(w, a)


def encode_apdu(apdu: Apdu) -> bytes:
    """An APDU object -> bytes; :class:`RequestError` when a field does not fit."""
    w = bytearray()
    try:
        _encode_into(w, apdu)
    except RequestError:
        raise
    except (IndexError, TypeError, ValueError, OverflowError, AttributeError) as exc:
        raise RequestError(f"{getattr(apdu, 'service', apdu)!r} cannot be encoded: {exc}") from exc
    return bytes(w)
