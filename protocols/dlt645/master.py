"""Master role (the gateway): build requests, parse the meter's replies.

Requests default to 4 FE wake-up bytes. Replies are parsed from :class:`Frame` objects
(what :class:`StreamDecoder` returns) into :class:`Reply`.

Error replies are *returned*, not raised: ``Reply.error`` holds the named error bits
(``("no_such_data",)``) and ``Reply.values`` is empty; call :meth:`Reply.raise_for_error`
to turn it into :class:`MeterErrorReply`. Frames that are not a sensible reply (a request,
an unknown function, a DI other than the one asked for, a data length that does not
match the catalogue, bad BCD) raise :class:`FrameError`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .address import BROADCAST, WILDCARD, address_from_wire
from .catalogue import DataItem, di_length, di_to_bytes, find_item, format_di, item, parse_di
from .common import build, operator_to_wire, password_to_wire, require_function
from .control import Version, baud_to_z, error_names, z_to_baud
from .errors import FrameError, MeterErrorReply, RequestError
from .formats import Value, calendar
from .frame import Frame
from .version import detect_version

DEFAULT_PREAMBLE = 4
BROADCAST_TIME = calendar("YYMMDDhhmmss")  # wire: ss mm hh DD MM YY


def _read_code(version: Version) -> int:
    return 0x11 if version == "2007" else 0x01


def build_read(
    address: str, di: int | str, version: Version = "2007", preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """Read one data identifier (2007 ``11`` / 1997 ``01``)."""
    key = parse_di(di, version)
    return build(address, _read_code(version), di_to_bytes(key, version), preamble)


def build_read_subsequent(
    address: str,
    di: int | str,
    seq: int = 1,
    version: Version = "2007",
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """Ask for the next frame of a long reply: 2007 ``12`` DI + SEQ, 1997 ``02`` DI."""
    key = parse_di(di, version)
    if version == "1997":
        return build(address, 0x02, di_to_bytes(key, version), preamble)
    if not isinstance(seq, int) or not 0 <= seq <= 0xFF:
        raise RequestError(f"sequence number must be 0..255, got {seq!r}")
    return build(address, 0x12, di_to_bytes(key, version) + bytes((seq,)), preamble)


def build_read_address(preamble: int = DEFAULT_PREAMBLE) -> bytes:
    """Read the address of the only meter on the bus: ``13`` to ``AAAAAAAAAAAA``."""
    return build(WILDCARD, 0x13, b"", preamble)


def build_write(
    address: str,
    di: int | str,
    value: bytes | Value | Sequence[Value],
    password: str = "00000000",
    operator: str = "00000000",
    version: Version = "2007",
    preamble: int = DEFAULT_PREAMBLE,
) -> bytes:
    """Write data (2007 ``14``: DI, PA P0 P1 P2, C0..C3, data; 1997 ``04``: DI, password,
    data). ``value`` is raw item bytes, or value(s) encoded through the catalogue."""
    key = parse_di(di, version)
    if isinstance(value, (bytes, bytearray)):
        payload = bytes(value)
    else:
        payload = item(key, version).encode(value)
    head = di_to_bytes(key, version) + password_to_wire(password)
    if version == "2007":
        return build(address, 0x14, head + operator_to_wire(operator) + payload, preamble)
    return build(address, 0x04, head + payload, preamble)


def build_broadcast_time(
    dt: datetime, version: Version = "2007", preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """Broadcast time ``08`` to ``999999999999``, data ``ss mm hh DD MM YY`` (no reply).
    ``dt`` is the meters' local wall-clock time; a time zone, if any, is not converted."""
    del version  # same layout in 1997 and 2007
    return build(BROADCAST, 0x08, BROADCAST_TIME.encode(dt), preamble)


def build_freeze(
    address: str, pattern: str = "99999999", preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """Freeze ``16``; ``pattern`` is ``mmhhDDMM`` in wire order (minute first), ``99`` =
    any; ``"99999999"`` freezes at once. ``address`` may be the broadcast address."""
    text = pattern.strip() if isinstance(pattern, str) else ""
    if len(text) != 8 or not text.isdigit():
        raise RequestError(f"freeze pattern must be 8 digits mmhhDDMM, got {pattern!r}")
    return build(address, 0x16, bytes.fromhex(text), preamble)


def build_change_baud(
    address: str, baud: int, version: Version = "2007", preamble: int = DEFAULT_PREAMBLE
) -> bytes:
    """Change the meter's baud rate (2007 ``17`` / 1997 ``0C``), data = Z byte."""
    return build(address, 0x17 if version == "2007" else 0x0C, bytes((baud_to_z(baud),)), preamble)


@dataclass(frozen=True, slots=True)
class Reply:
    """A parsed meter reply.

    ``function`` is the D4..D0 code (what the reply answers), ``function_name`` its name.
    ``di``/``item`` are set for read replies; ``values`` are decoded through the catalogue
    (empty for unknown DIs, error replies, and partial data of multi-frame replies);
    ``raw`` is the item data after the DI (without the SEQ byte); ``data`` the whole
    unscrambled DATA field.
    """

    address: str
    control: int
    function: int
    function_name: str
    version: Version
    di: int | None
    values: tuple[Value | None, ...]
    raw: bytes
    data: bytes
    more_follows: bool
    seq: int | None
    error: tuple[str, ...] | None
    error_code: int | None
    item: DataItem | None
    skipped: str | None = None  # a 1997 block's delimiter / extra bytes, said in words

    @property
    def unit(self) -> str | None:
        return self.item.unit if self.item else None

    @property
    def di_text(self) -> str | None:
        return None if self.di is None else format_di(self.di, self.version)

    def raise_for_error(self) -> Reply:
        """Raise :class:`MeterErrorReply` for an error reply, else return self."""
        if self.error is not None:
            raise MeterErrorReply(self.address, self.function, self.error_code or 0, self.error)
        return self


def parse_reply(
    frame: Frame, version: Version | None = None, request_di: int | str | None = None
) -> Reply:
    """Frame -> :class:`Reply` (see the module docstring for what raises)."""
    if not frame.is_reply:
        raise FrameError(f"expected a reply, got a request (control {frame.control:02X})")
    ver: Version = version or detect_version(frame)
    name = require_function(frame.function, ver)
    data = frame.data
    want_di = None if request_di is None else parse_di(request_di, ver)

    def reply(
        di: int | None = None,
        values: tuple[Value | None, ...] = (),
        raw: bytes = b"",
        seq: int | None = None,
        entry: DataItem | None = None,
        error: tuple[str, ...] | None = None,
        code: int | None = None,
        skipped: str | None = None,
    ) -> Reply:
        return Reply(
            frame.address,
            frame.control,
            frame.function,
            name,
            ver,
            di,
            values,
            raw,
            data,
            frame.more_follows,
            seq,
            error,
            code,
            entry,
            skipped,
        )

    if frame.is_error:
        if len(data) < 1:
            raise FrameError(f"error reply {frame.control:02X} without an ERR byte")
        return reply(
            error=error_names(data[0], ver),
            code=data[0],
            entry=None if want_di is None else find_item(want_di, ver),
            di=want_di,
        )

    if name in ("read_data", "read_subsequent", "reread"):
        size = di_length(ver)
        has_seq = name == "read_subsequent" and ver == "2007"
        if len(data) < size + has_seq:
            raise FrameError(f"{name} reply too short for a DI: {len(data)} data bytes")
        di = int.from_bytes(data[:size], "little")
        if want_di is not None and di != want_di:
            raise FrameError(
                f"reply carries DI {format_di(di, ver)}, asked for {format_di(want_di, ver)}"
            )
        raw = data[size:-1] if has_seq else data[size:]
        seq = data[-1] if has_seq else None
        entry = find_item(di, ver)
        values: tuple[Value | None, ...] = ()
        skipped = None
        if entry is not None:
            complete = not frame.more_follows and name == "read_data"
            if ver == "1997" and entry.is_block and complete and len(raw) != entry.nbytes:
                values, skipped = entry.decode_lenient(raw)
            elif complete or len(raw) == entry.nbytes:
                values = entry.decode(raw)  # FrameError on a wrong length or bad BCD
        return reply(di, values, raw, seq, entry, skipped=skipped)

    if name == "read_address":
        if len(data) != 6:
            raise FrameError(f"read-address reply needs 6 data bytes, got {len(data)}")
        return reply(values=(address_from_wire(data),), raw=data)

    if name == "change_baud":
        if len(data) != 1:
            raise FrameError(f"change-baud reply needs 1 data byte, got {len(data)}")
        return reply(values=(z_to_baud(data[0]),), raw=data)

    return reply(raw=data)
