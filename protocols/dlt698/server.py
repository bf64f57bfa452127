"""The server role (a meter, or a simulated one): requests in, responses out.

:func:`parse_request` decodes a client's frame into a :class:`Request` (the service
APDU unwrapped from SECURITY plaintext, with the way it was secured). The builders
answer it with the *same* codec the client uses: :func:`build_get_response` (Normal and
NormalList from a list of :class:`ResultNormal`), :func:`build_get_record_response`,
:func:`build_set_response`, :func:`build_action_response`, :func:`build_error_response`,
:func:`respond` for any APDU. A request that came as SECURITY plaintext + RN is answered
as SECURITY plaintext + MAC (``mac``: what the meter's ESAM computed; a simulator passes
any 4 bytes) — the form real ESAM meters use for frozen data.

Server-initiated frames: :func:`build_link_request` (login, heartbeat, logout, control
81) and :func:`build_report` (REPORT-Notification, control 83).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from .address import ServerAddress
from .apdu import (
    ActionResponse,
    ActionResult,
    Apdu,
    ErrorResponse,
    GetRequest,
    GetResponse,
    LinkRequest,
    ReportNotification,
    ResultNormal,
    ResultRecord,
    SecurityRequest,
    SecurityResponse,
    SetResponse,
    decode_apdu,
    encode_apdu,
)
from .axdr import Csd, Data, parse_oad
from .client import refuse_fragment, unwrap
from .control import SERVER_LINK_REQUEST, SERVER_REPORT, SERVER_RESPONSE
from .errors import FrameError
from .frame import Frame, apdu_offset, build_frame, decode_frame

DEFAULT_MAC: Final[bytes] = b"\x00\x00\x00\x00"


@dataclass(frozen=True)
class Request:
    """A client's frame, decoded: ``inner`` is the service APDU, ``security`` None /
    ``"plain"`` / ``"cipher"``; ``rn`` the client's random number when it sent one."""

    frame: Frame
    apdu: Apdu
    inner: Apdu
    security: str | None = None
    rn: bytes | None = None

    @property
    def address(self) -> ServerAddress:
        return self.frame.server

    @property
    def service(self) -> str:
        return self.inner.service

    @property
    def piid(self) -> int | None:
        return getattr(self.inner, "piid", None)

    @property
    def oads(self) -> tuple[int, ...]:
        """OADs a GET-Request-Normal/NormalList asks for (record OADs for Record)."""
        a = self.inner
        if isinstance(a, GetRequest):
            return a.oads or tuple(r.oad for r in a.records)
        return ()


def parse_request(frame: Frame | bytes) -> Request:
    """A client's frame (or its bytes) -> :class:`Request`; FrameError if it is not one."""
    if not isinstance(frame, Frame):
        frame = decode_frame(frame)
    if frame.from_server:
        raise FrameError(
            f"frame with control {frame.control:02X} was sent by a server, not a client"
        )
    refuse_fragment(frame)
    apdu = decode_apdu(frame.apdu, apdu_offset(frame))
    inner, security, _ = unwrap(apdu)
    rn = apdu.verify.rn if isinstance(apdu, SecurityRequest) else None
    return Request(frame, apdu, inner, security, rn)


def respond(
    request: Request,
    apdu: Apdu,
    *,
    own_address: ServerAddress | str | None = None,
    mac: bytes = DEFAULT_MAC,
    preamble: int = 0,
) -> bytes:
    """Any server APDU -> the frame answering ``request``: control C3, the meter's own
    address (``own_address``, needed when the request was to a wildcard/broadcast),
    the request's client address; SECURITY plaintext + MAC when the request was secured
    in plaintext."""
    raw = encode_apdu(apdu)
    if request.security == "plain":
        raw = encode_apdu(SecurityResponse(0, raw, mac=mac))
    address = own_address if own_address is not None else request.frame.server
    return build_frame(SERVER_RESPONSE, address, request.frame.client, raw, preamble)


def _piid(request: Request) -> int:
    return (request.piid or 0) & 0xFF


def build_get_response(request: Request, results: Sequence[ResultNormal], **kw: Any) -> bytes:
    """GET-Response-Normal (one result) or -NormalList, echoing the request's PIID."""
    choice = 1 if isinstance(request.inner, GetRequest) and request.inner.choice == 1 else 2
    return respond(request, GetResponse(choice, _piid(request), results=tuple(results)), **kw)


def build_get_record_response(
    request: Request, oad: int | str, rcsd: Sequence[Csd], rows: Iterable[Sequence[Data]], **kw: Any
) -> bytes:
    """GET-Response-Record: the columns ``rcsd`` and the selected ``rows``."""
    rec = ResultRecord(parse_oad(oad), tuple(rcsd), tuple(tuple(r) for r in rows))
    return respond(request, GetResponse(3, _piid(request), records=(rec,)), **kw)


def build_get_refusal(request: Request, dar: int, **kw: Any) -> bytes:
    """Refuse every OAD of a GET request with ``dar`` (e.g. 6 object_unavailable)."""
    a = request.inner
    if not isinstance(a, GetRequest):
        raise FrameError(f"{request.service} is not a GET request")
    if a.choice in (3, 4):
        recs = tuple(ResultRecord(r.oad, r.rcsd, dar=dar) for r in a.records)
        return respond(request, GetResponse(a.choice, _piid(request), records=recs), **kw)
    results = tuple(ResultNormal(o, dar=dar) for o in a.oads)
    choice = 1 if a.choice in (1, 6) else 2
    return respond(request, GetResponse(choice, _piid(request), results=results), **kw)


def build_set_response(request: Request, results: Sequence[tuple[int, int]], **kw: Any) -> bytes:
    choice = 1 if len(results) == 1 else 2
    return respond(request, SetResponse(choice, _piid(request), results=tuple(results)), **kw)


def build_action_response(request: Request, results: Sequence[ActionResult], **kw: Any) -> bytes:
    choice = 1 if len(results) == 1 else 2
    return respond(request, ActionResponse(choice, _piid(request), results=tuple(results)), **kw)


def build_error_response(
    request_frame: Frame,
    kind: int = 1,
    *,
    piid: int = 0,
    own_address: ServerAddress | str | None = None,
) -> bytes:
    """ERROR-Response (1 APDU cannot be parsed, 2 service not supported) to a frame
    whose APDU we could not use."""
    address = own_address if own_address is not None else request_frame.server
    return build_frame(
        SERVER_RESPONSE, address, request_frame.client, encode_apdu(ErrorResponse(piid, kind))
    )


def build_link_request(
    address: ServerAddress | str,
    kind: int,
    now: datetime,
    *,
    heartbeat: int = 300,
    piid: int = 0,
    client: int = 0,
) -> bytes:
    """LINK-Request (0 login, 1 heartbeat, 2 logout), control 81."""
    t = (
        now.year,
        now.month,
        now.day,
        now.isoweekday() % 7,
        now.hour,
        now.minute,
        now.second,
        now.microsecond // 1000,
    )
    return build_frame(
        SERVER_LINK_REQUEST, address, client, encode_apdu(LinkRequest(piid, kind, heartbeat, t))
    )


def build_report(
    address: ServerAddress | str,
    report: ReportNotification,
    *,
    client: int = 0,
) -> bytes:
    """REPORT-Notification, control 83."""
    return build_frame(SERVER_REPORT, address, client, encode_apdu(report))
