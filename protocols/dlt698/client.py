"""The client role (master station, concentrator, our edge): requests out, replies in.

Builders return wire bytes (``preamble`` FE bytes in front when asked); every builder
takes the server address (printed digits, a wildcard such as ``AAAAAAAAAAAA``, or a
:class:`ServerAddress`), ``piid`` (default 1) and the client address ``client``
(default 0x00). ``secure=True`` wraps the request in SECURITY-Request plaintext with a
16-byte random number (``rn``; drawn from :mod:`secrets` when not given), the form
meters with an ESAM demand for frozen data.

:func:`parse_reply` turns a received frame into a :class:`Reply`: the outer APDU, the
service APDU (unwrapped from a plaintext SECURITY-Response), the security wrapping and
the MAC as received. A MAC can only be checked by the utility's security module, so
``Reply.verified`` is always False: readings taken from it are not verified.

Typical use::

    wire = build_get("000000000001", "00100200")
    ...send, feed the received bytes to StreamDecoder(accept="replies")...
    reply = parse_reply(frame, expect=wire)
    reply.values("00100200")   # [1234.56, 300.01, ...] in kWh
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .address import ServerAddress
from .apdu import (
    ERROR_KINDS,
    ActionRequest,
    ActionResponse,
    Apdu,
    ConnectRequest,
    DateTime,
    ErrorResponse,
    GetRecord,
    GetRequest,
    GetResponse,
    LinkRequest,
    LinkResponse,
    ProxyRequest,
    ProxyResponse,
    ProxyTarget,
    ReleaseRequest,
    ReportNotification,
    ReportResponse,
    ResultNormal,
    ResultRecord,
    SecurityRequest,
    SecurityResponse,
    SecurityVerify,
    SetRequest,
    SetResponse,
    TransCommand,
    decode_apdu,
    encode_apdu,
)
from .axdr import Comdcb, Csd, Data, Rsd, T, dts, format_oad, parse_oad
from .catalogue import model_values, row_values, values_of
from .control import CLIENT_LINK_RESPONSE, CLIENT_REPORT_RESPONSE, CLIENT_REQUEST
from .errors import DarError, FrameError, RequestError, dar_name
from .frame import Frame, apdu_offset, build_frame, decode_frame

DEFAULT_CLIENT: Final[int] = 0x00
DEFAULT_PIID: Final[int] = 0x01
RN_BYTES: Final[int] = 16
#: OMD of the clock's "broadcast time" method (4000, method 127, mode 0).
BROADCAST_TIME_OMD: Final[int] = 0x40007F00


def _oads(oads: Iterable[int | str]) -> tuple[int, ...]:
    out = tuple(parse_oad(o) for o in oads)
    if not out:
        raise RequestError("at least one OAD is needed")
    return out


def secure_plain(apdu: bytes, rn: bytes | None = None) -> SecurityRequest:
    """A client APDU wrapped as SECURITY-Request plaintext + RN."""
    rn = secrets.token_bytes(RN_BYTES) if rn is None else bytes(rn)
    return SecurityRequest(True, apdu, SecurityVerify(1, rn=rn))


def request(
    address: ServerAddress | str,
    apdu: Apdu,
    *,
    client: int = DEFAULT_CLIENT,
    secure: bool = False,
    rn: bytes | None = None,
    preamble: int = 0,
    control: int = CLIENT_REQUEST,
) -> bytes:
    """Any client APDU -> wire bytes (optionally wrapped in SECURITY plaintext + RN)."""
    raw = encode_apdu(apdu)
    if secure:
        raw = encode_apdu(secure_plain(raw, rn))
    return build_frame(control, address, client, raw, preamble)


def build_get(
    address: ServerAddress | str, oad: int | str, *, piid: int = DEFAULT_PIID, **kw: Any
) -> bytes:
    """GET-Request-Normal of one OAD (``"40010200"``, ``0x00100200``)."""
    return request(address, GetRequest(1, piid, oads=(parse_oad(oad),)), **kw)


def build_get_list(
    address: ServerAddress | str, oads: Iterable[int | str], *, piid: int = DEFAULT_PIID, **kw: Any
) -> bytes:
    """GET-Request-NormalList of several OADs."""
    return request(address, GetRequest(2, piid, oads=_oads(oads)), **kw)


def build_get_record(
    address: ServerAddress | str,
    oad: int | str,
    rsd: Rsd,
    rcsd: Sequence[Csd | str],
    *,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    """GET-Request-Record: record object ``oad`` (``"50040200"``), rows by ``rsd``,
    columns ``rcsd`` (OADs; an empty list asks for every column)."""
    record = GetRecord(parse_oad(oad), rsd, _rcsd(rcsd))
    return request(address, GetRequest(3, piid, records=(record,)), **kw)


def build_get_record_list(
    address: ServerAddress | str,
    records: Iterable[GetRecord],
    *,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    return request(address, GetRequest(4, piid, records=tuple(records)), **kw)


def build_get_next(
    address: ServerAddress | str, block: int, *, piid: int = DEFAULT_PIID, **kw: Any
) -> bytes:
    """GET-Request-Next: ask for the block after ``block`` (the last one received)."""
    return request(address, GetRequest(5, piid, block=block), **kw)


def build_set(
    address: ServerAddress | str,
    oad: int | str,
    value: Data,
    *,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    return request(address, SetRequest(1, piid, items=((parse_oad(oad), value),)), **kw)


def build_action(
    address: ServerAddress | str,
    omd: int | str,
    value: Data,
    *,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    return request(address, ActionRequest(1, piid, items=((parse_oad(omd), value),)), **kw)


def build_broadcast_time(
    when: datetime, address: ServerAddress | str = "AA", *, piid: int = DEFAULT_PIID, **kw: Any
) -> bytes:
    """ACTION 4000 method 127 (broadcast time) with ``when`` as date_time_s; by default
    to the broadcast address ``AA`` (flag C0)."""
    return build_action(
        address, BROADCAST_TIME_OMD, dts(when.replace(microsecond=0)), piid=piid, **kw
    )


def build_release(address: ServerAddress | str, *, piid: int = DEFAULT_PIID, **kw: Any) -> bytes:
    return request(address, ReleaseRequest(piid), **kw)


def build_connect(
    address: ServerAddress | str,
    *,
    piid: int = DEFAULT_PIID,
    password: str | None = None,
    **kw: Any,
) -> bytes:
    """CONNECT-Request with null security, or a password."""
    if password is None:
        apdu = ConnectRequest(piid)
    else:
        apdu = ConnectRequest(piid, mechanism=1, auth=(password,))
    return request(address, apdu, **kw)


def build_link_response(
    address: ServerAddress | str,
    link: LinkRequest,
    received: DateTime | datetime,
    responded: DateTime | datetime,
    *,
    result: int = 0x80,
    client: int = DEFAULT_CLIENT,
) -> bytes:
    """LINK-Response to a server's login/heartbeat (result 0x80: success, clock trusted)."""
    apdu = LinkResponse(link.piid, result, link.time, _dt10(received), _dt10(responded))
    return build_frame(CLIENT_LINK_RESPONSE, address, client, encode_apdu(apdu))


def build_report_response(
    address: ServerAddress | str, report: ReportNotification, *, client: int = DEFAULT_CLIENT
) -> bytes:
    """REPORT-Response acknowledging every OAD of a REPORT-Notification."""
    if report.choice == 1:
        oads = tuple(r.oad for r in report.results)
    elif report.choice == 2:
        oads = tuple(r.oad for r in report.records)
    else:
        oads = ()
    apdu = ReportResponse(report.choice, report.piid & 0xBF, oads)  # ACD bit dropped
    return build_frame(CLIENT_REPORT_RESPONSE, address, client, encode_apdu(apdu))


def build_proxy_get(
    address: ServerAddress | str,
    targets: Sequence[tuple[ServerAddress | str, Iterable[int | str]]],
    *,
    timeout: int = 60,
    target_timeout: int = 10,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    """PROXY-Request-GetList: ask a concentrator to read OADs of the meters behind it."""
    from .address import as_address

    items = tuple(ProxyTarget(as_address(t), target_timeout, _oads(o)) for t, o in targets)
    return request(address, ProxyRequest(1, piid, timeout=timeout, targets=items), **kw)


def build_trans_command(
    address: ServerAddress | str,
    port: int | str,
    command: bytes,
    *,
    comdcb: Comdcb | None = None,
    frame_timeout: int = 30,
    byte_timeout: int = 100,
    piid: int = DEFAULT_PIID,
    **kw: Any,
) -> bytes:
    """PROXY-Request-TransCommand: forward a raw meter frame through ``port``
    (``"F2010201"`` = RS-485 1) with the line settings ``comdcb`` (default 2400 8E1)."""
    trans = TransCommand(
        parse_oad(port), comdcb or Comdcb(baud=3), frame_timeout, byte_timeout, bytes(command)
    )
    return request(address, ProxyRequest(7, piid, trans=trans), **kw)


def _rcsd(rcsd: Sequence[Csd | str]) -> tuple[Csd, ...]:
    return tuple(c if not isinstance(c, str) else parse_oad(c) for c in rcsd)


def _dt10(v: DateTime | datetime) -> DateTime:
    if isinstance(v, datetime):
        return (
            v.year,
            v.month,
            v.day,
            v.isoweekday() % 7,
            v.hour,
            v.minute,
            v.second,
            v.microsecond // 1000,
        )
    return v


# -- replies ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """A server's frame, decoded. ``apdu`` is the outer APDU, ``inner`` the service APDU
    (the same object unless the reply came wrapped in SECURITY plaintext), ``security``
    None / ``"plain"`` / ``"cipher"``, ``mac`` as received. ``verified`` is False: a MAC
    is kept but only the utility's security module can verify it."""

    frame: Frame
    apdu: Apdu
    inner: Apdu
    security: str | None = None
    mac: bytes | None = None
    verified: bool = False

    @property
    def address(self) -> str:
        return self.frame.server.address

    @property
    def service(self) -> str:
        return self.inner.service

    @property
    def piid(self) -> int | None:
        return getattr(self.inner, "piid", None)

    @property
    def results(self) -> tuple[ResultNormal, ...]:
        """Normal results of a GET/REPORT/PROXY-GetList reply (empty otherwise)."""
        a = self.inner
        if isinstance(a, (GetResponse, ReportNotification)):
            return a.results
        if isinstance(a, ProxyResponse) and a.choice == 1:
            return tuple(r for t in a.targets for r in t.items)
        return ()

    @property
    def records(self) -> tuple[ResultRecord, ...]:
        a = self.inner
        if isinstance(a, (GetResponse, ReportNotification)):
            return a.records
        if isinstance(a, ProxyResponse) and a.record is not None:
            return (a.record,)
        return ()

    def result(self, oad: int | str) -> ResultNormal:
        want = parse_oad(oad)
        for r in self.results:
            if r.oad == want:
                return r
        raise FrameError(f"reply from {self.address} holds no result for {format_oad(want)}")

    def data(self, oad: int | str) -> Data:
        """The datum read for ``oad``; :class:`DarError` if the meter refused it."""
        res = self.result(oad)
        if res.data is None:
            raise DarError(res.dar or 0, format_oad(res.oad), self.address)
        return res.data

    def values(self, oad: int | str) -> list[Any]:
        """Scaled values of ``oad`` (see :func:`catalogue.values_of`)."""
        return values_of(parse_oad(oad), self.data(oad))

    def quantities(self, oad: int | str) -> list[tuple[str, Any]]:
        """(canonical quantity, value in the model's unit) pairs of ``oad``."""
        return model_values(parse_oad(oad), self.data(oad))

    def record(self, oad: int | str | None = None) -> ResultRecord:
        """The record result for ``oad`` (default: the only one); DarError if refused."""
        want = None if oad is None else parse_oad(oad)
        for rec in self.records:
            if want is None or rec.oad == want:
                if rec.dar is not None:
                    raise DarError(rec.dar, format_oad(rec.oad), self.address)
                return rec
        raise FrameError(f"reply from {self.address} holds no record result")

    def rows(self, oad: int | str | None = None) -> list[list[Any]]:
        """The rows of a record result, each value scaled by its column's entry."""
        rec = self.record(oad)
        return [row_values(rec.rcsd, row) for row in rec.rows]

    def row_quantities(self, oad: int | str | None = None) -> list[dict[str, Any]]:
        """Rows of a record result as {quantity: value in model unit} (freeze time,
        sequence, energies...): the shape the edge turns into readings."""
        rec = self.record(oad)
        out = []
        for row in rec.rows:
            entry: dict[str, Any] = {}
            for csd, d in zip(rec.rcsd, row, strict=True):
                if isinstance(csd, int):
                    entry.update(model_values(csd, d))
            out.append(entry)
        return out

    def raise_for_error(self) -> Reply:
        """Raise :class:`DarError` on a refusal anywhere in the reply, FrameError on an
        ERROR-Response; return self otherwise."""
        a = self.inner
        if isinstance(self.apdu, SecurityResponse) and self.apdu.dar is not None:
            raise DarError(self.apdu.dar, "SECURITY", self.address)
        if isinstance(a, ErrorResponse):
            raise FrameError(
                f"meter {self.address} answered ERROR-Response: {ERROR_KINDS.get(a.kind, a.kind)}"
            )
        for r in self.results:
            if r.dar is not None:
                raise DarError(r.dar, format_oad(r.oad), self.address)
        for rec in self.records:
            if rec.dar is not None:
                raise DarError(rec.dar, format_oad(rec.oad), self.address)
        if isinstance(a, GetResponse) and a.dar is not None:
            raise DarError(a.dar, a.service, self.address)
        if isinstance(a, SetResponse):
            for o, dar in a.results:
                if dar:
                    raise DarError(dar, format_oad(o), self.address)
        if isinstance(a, ActionResponse):
            for act in a.results:
                if act.dar:
                    raise DarError(act.dar, format_oad(act.omd), self.address)
        return self


def refuse_fragment(frame: Frame) -> None:
    """A link-layer fragment (FRAG bit set) is not an APDU: say so instead of decoding
    a fragment header as one. Put fragments together first (:class:`.fragment.Reassembler`,
    confirming each with :func:`.fragment.confirm_frame`) and parse the whole frame
    (:func:`.fragment.whole_frame`)."""
    if frame.fragmented:
        raise FrameError(
            f"link-layer fragment (control {frame.control:02X}, FRAG bit set): reassemble "
            "the fragments (fragment.Reassembler) before parsing the APDU"
        )


def unwrap(apdu: Apdu) -> tuple[Apdu, str | None, bytes | None]:
    """(service APDU, security, MAC) of an APDU that may be SECURITY-wrapped."""
    if isinstance(apdu, (SecurityRequest, SecurityResponse)):
        mac = apdu.mac if isinstance(apdu, SecurityResponse) else apdu.verify.mac
        if apdu.plain:
            return apdu.inner(), "plain", mac
        return apdu, "cipher", mac
    return apdu, None, None


def parse_reply(frame: Frame | bytes, *, expect: bytes | None = None) -> Reply:
    """A server's frame (or its wire bytes) -> :class:`Reply`.

    With ``expect`` (the wire bytes of our request) the reply is checked to answer it:
    same PIID service number and, for GET, the same OADs; a reply to something else is
    a :class:`FrameError`. DAR refusals are data here (see :meth:`Reply.raise_for_error`).
    """
    if not isinstance(frame, Frame):
        frame = decode_frame(frame)
    if not frame.from_server:
        raise FrameError(
            f"frame with control {frame.control:02X} was sent by a client, not a server"
        )
    refuse_fragment(frame)
    apdu = decode_apdu(frame.apdu, apdu_offset(frame))
    inner, security, mac = unwrap(apdu)
    if security == "cipher" and isinstance(apdu, SecurityResponse) and apdu.kind == 2:
        security = "plain"
    reply = Reply(frame, apdu, inner, security, mac)
    if expect is not None:
        _check_answers(reply, decode_frame(expect))
    return reply


def _check_answers(reply: Reply, request_frame: Frame) -> None:
    req, _, _ = unwrap(decode_apdu(request_frame.apdu))
    got = reply.inner
    if isinstance(got, ErrorResponse) or (
        isinstance(reply.apdu, SecurityResponse) and reply.apdu.dar is not None
    ):
        return
    if type(got).__name__.replace("Response", "") != type(req).__name__.replace("Request", ""):
        raise FrameError(f"{got.service} does not answer {req.service}")
    req_piid = getattr(req, "piid", None)
    if req_piid is not None and (got.piid & 0x3F) != (req_piid & 0x3F):  # type: ignore[union-attr]
        raise FrameError(
            f"{got.service} PIID {got.piid:02X} does not answer PIID {req_piid:02X}"  # type: ignore[union-attr]
        )
    if isinstance(req, GetRequest) and isinstance(got, GetResponse) and req.choice in (1, 2):
        asked = list(req.oads)
        answered = [r.oad for r in got.results]
        if got.choice != req.choice or answered != asked:
            raise FrameError(
                f"{got.service} answers {', '.join(map(format_oad, answered))}, "
                f"we asked {', '.join(map(format_oad, asked))}"
            )
    if isinstance(req, GetRequest) and isinstance(got, GetResponse) and req.choice == 3:
        if got.choice == 3 and got.records and got.records[0].oad != req.records[0].oad:
            raise FrameError(
                f"{got.service} answers {format_oad(got.records[0].oad)}, we asked "
                f"{format_oad(req.records[0].oad)}"
            )
    if (
        request_frame.server.type == 0
        and reply.frame.server.address != request_frame.server.address
    ):
        raise FrameError(
            f"reply from {reply.frame.server.address}, we asked {request_frame.server.address}"
        )


__all__ = [
    "BROADCAST_TIME_OMD",
    "Reply",
    "build_action",
    "build_broadcast_time",
    "build_connect",
    "build_get",
    "build_get_list",
    "build_get_next",
    "build_get_record",
    "build_get_record_list",
    "build_link_response",
    "build_proxy_get",
    "build_release",
    "build_report_response",
    "build_set",
    "build_trans_command",
    "dar_name",
    "parse_reply",
    "request",
    "secure_plain",
    "unwrap",
]

_ = T  # re-exported type tags are used by callers through axdr
