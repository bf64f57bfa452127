"""Meter role (simulators, test peers): parse requests, build replies.

The same catalogue and frame codec the gateway uses build these replies, so a simulated
meter answers exactly what the gateway can read. A meter must stay silent on broadcasts
and on frames for other addresses: :func:`address_matches` helps decide; this module
never decides for you. Reply builders refuse wildcard addresses (a meter answers with
its real address) and default to no FE preamble.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from .address import BROADCAST, address_to_wire, normalize_address
from .catalogue import DataItem, di_length, di_to_bytes, find_item, item, parse_di
from .common import (
    build,
    code_of,
    operator_from_wire,
    password_from_wire,
    require_function,
)
from .control import ABNORMAL, DIR_REPLY, MORE_FOLLOWS, Version, baud_to_z, error_code, z_to_baud
from .errors import FrameError, RequestError
from .formats import Value
from .frame import Frame
from .master import BROADCAST_TIME
from .version import detect_version


@dataclass(frozen=True, slots=True)
class Request:
    """A parsed master request.

    ``function`` is the name (``"read_data"``...), ``code`` the D4..D0 code. Fields not
    used by the function are None/empty. ``payload`` is what follows the fixed fields
    (the item data of a write, the extra parameters of a load-profile read...).
    ``values`` are the write payload decoded through the catalogue when the DI is known.
    """

    version: Version
    function: str
    code: int
    control: int
    address: str
    di: int | None = None
    seq: int | None = None
    payload: bytes = b""
    password: str | None = None
    operator: str | None = None
    values: tuple[Value | None, ...] = ()
    time: datetime | None = None  # broadcast time (08)
    freeze_pattern: str | None = None  # freeze (16), mmhhDDMM wire order
    baud: int | None = None  # change baud (17 / 0C)
    item: DataItem | None = None

    @property
    def is_broadcast(self) -> bool:
        return self.address == BROADCAST

    @property
    def is_wildcard(self) -> bool:
        return "A" in self.address

    @property
    def expects_reply(self) -> bool:
        """False for broadcasts (time sync, broadcast freeze): meters stay silent."""
        return not self.is_broadcast


def parse_request(frame: Frame, version: Version | None = None) -> Request:
    """Frame -> :class:`Request`; FrameError for replies, unknown functions, bad lengths."""
    if frame.is_reply:
        raise FrameError(f"expected a request, got a reply (control {frame.control:02X})")
    ver: Version = version or detect_version(frame)
    name = require_function(frame.function, ver)
    data = frame.data
    base = Request(ver, name, frame.function, frame.control, frame.address)
    size = di_length(ver)

    def need(n: int, exact: bool = False) -> None:
        if len(data) < n or (exact and len(data) != n):
            what = "exactly" if exact else "at least"
            raise FrameError(f"{name} request needs {what} {n} data bytes, got {len(data)}")

    if name in ("read_data", "reread", "read_subsequent"):
        need(size)
        di = int.from_bytes(data[:size], "little")
        seq = None
        rest = data[size:]
        if name == "read_subsequent" and ver == "2007":
            need(size + 1, exact=True)
            seq, rest = data[size], b""
        return replace(base, di=di, seq=seq, payload=rest, item=find_item(di, ver))
    if name == "write_data":
        fixed = size + 4 + (4 if ver == "2007" else 0)
        need(fixed)
        di = int.from_bytes(data[:size], "little")
        operator = operator_from_wire(data[size + 4 : fixed]) if ver == "2007" else None
        payload = data[fixed:]
        entry = find_item(di, ver)
        values: tuple[Value | None, ...] = ()
        if entry is not None and len(payload) == entry.nbytes:
            values = entry.decode(payload)
        return replace(
            base,
            di=di,
            payload=payload,
            password=password_from_wire(data[size : size + 4]),
            operator=operator,
            values=values,
            item=entry,
        )
    if name == "broadcast_time":
        need(6, exact=True)
        stamp = BROADCAST_TIME.decode(data)
        assert isinstance(stamp, datetime)
        return replace(base, time=stamp)
    if name == "freeze":
        need(4, exact=True)
        text = data.hex()
        if not text.isdigit():
            raise FrameError(f"bad freeze pattern {data.hex(' ').upper()}")
        return replace(base, freeze_pattern=text)
    if name == "change_baud":
        need(1, exact=True)
        return replace(base, baud=z_to_baud(data[0]))
    if name == "read_address":
        return replace(base, payload=data)
    return replace(base, payload=data)


def _reply_address(address: str) -> str:
    text = normalize_address(address)
    if "A" in text or text == BROADCAST:
        raise RequestError(f"a meter replies with its own address, not {text}")
    return text


def build_ack(
    address: str,
    function: int | str,
    data: bytes = b"",
    version: Version = "2007",
    more_follows: bool = False,
    preamble: int = 0,
) -> bytes:
    """A normal reply ``C | 0x80`` (``| 0x20`` with more frames) carrying ``data``."""
    control = code_of(function, version) | DIR_REPLY | (MORE_FOLLOWS if more_follows else 0)
    return build(_reply_address(address), control, bytes(data), preamble)


def build_read_reply_raw(
    address: str,
    di: int | str,
    payload: bytes,
    version: Version = "2007",
    more_follows: bool = False,
    seq: int | None = None,
    preamble: int = 0,
) -> bytes:
    """A read reply with raw item bytes (one slice of long data).

    ``seq=None`` answers ``11``/``01`` (``91``, or ``B1`` with ``more_follows``); a
    ``seq`` answers a 2007 ``12`` (``92``/``B2``, SEQ appended to the data).
    """
    key = parse_di(di, version)
    data = di_to_bytes(key, version) + bytes(payload)
    if seq is None:
        return build_ack(
            address, 0x11 if version == "2007" else 0x01, data, version, more_follows, preamble
        )
    if version != "2007":
        return build_ack(address, 0x02, data, version, more_follows, preamble)
    if not 0 <= seq <= 0xFF:
        raise RequestError(f"sequence number must be 0..255, got {seq}")
    return build_ack(address, 0x12, data + bytes((seq,)), version, more_follows, preamble)


def build_read_reply(
    address: str,
    di: int | str,
    values: Value | Sequence[Value],
    version: Version = "2007",
    more_follows: bool = False,
    seq: int | None = None,
    preamble: int = 0,
) -> bytes:
    """A read reply with ``values`` encoded through the catalogue (one per field, in
    order; block reads take the members' values concatenated)."""
    key = parse_di(di, version)
    return build_read_reply_raw(
        address, key, item(key, version).encode(values), version, more_follows, seq, preamble
    )


def build_error_reply(
    address: str,
    function: int | str,
    error_bits: int | str | Sequence[str] | frozenset[str] | set[str],
    version: Version = "2007",
    preamble: int = 0,
) -> bytes:
    """An abnormal reply ``C | 0xC0`` with one ERR byte built from named bits (or an int)."""
    bits = error_code(
        error_bits
        if not isinstance(error_bits, Sequence) or isinstance(error_bits, str)
        else tuple(error_bits),
        version,
    )
    control = code_of(function, version) | DIR_REPLY | ABNORMAL
    return build(_reply_address(address), control, bytes((bits,)), preamble)


def build_address_reply(address: str, preamble: int = 0) -> bytes:
    """Answer to read address ``13``: ``93`` with the address (low byte first) as data."""
    own = _reply_address(address)
    return build_ack(own, 0x13, address_to_wire(own), "2007", False, preamble)


def build_write_ack(address: str, version: Version = "2007", preamble: int = 0) -> bytes:
    """Answer to a successful write: ``94`` (1997 ``84``), no data."""
    return build_ack(address, 0x14 if version == "2007" else 0x04, b"", version, False, preamble)


def build_freeze_ack(address: str, preamble: int = 0) -> bytes:
    """Answer to a freeze sent to this meter: ``96``, no data."""
    return build_ack(address, 0x16, b"", "2007", False, preamble)


def build_baud_reply(
    address: str, baud: int, version: Version = "2007", preamble: int = 0
) -> bytes:
    """Answer to change baud: ``97`` (1997 ``8C``) echoing the Z byte."""
    return build_ack(
        address,
        0x17 if version == "2007" else 0x0C,
        bytes((baud_to_z(baud),)),
        version,
        False,
        preamble,
    )
