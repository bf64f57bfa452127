"""Sans-IO DL/T 645-2007 and -1997 protocol core: frames, streaming decoder, data
catalogue, and both roles (master requests / meter replies). Stdlib only, no I/O.

Typical master use::

    wire = build_read("000102030425", 0x00010000)
    ...send wire, feed received bytes to a StreamDecoder(accept="replies")...
    reply = parse_reply(frame, request_di=0x00010000).raise_for_error()
    reply.values  # (12345.67,)

Modules: ``frame`` (envelope codec), ``stream`` (streaming decoder), ``address``,
``control`` (control byte, functions, error bits), ``formats`` (BCD value formats),
``catalogue`` (data identifiers), ``master``/``meter`` (the two roles), ``explain``
(the ``python -m protocols.dlt645 explain`` tool), ``errors``.
"""

from .address import (
    BROADCAST,
    WILDCARD,
    address_from_wire,
    address_matches,
    address_to_wire,
    is_broadcast,
    is_wildcard,
    normalize_address,
)
from .catalogue import (
    CATALOGUE,
    CATALOGUE_1997,
    CATALOGUE_2007,
    EXTRA_QUANTITIES,
    DataItem,
    Field,
    by_quantity,
    di_to_bytes,
    find_item,
    format_di,
    freeze_items,
    item,
    items,
    parse_di,
)
from .control import (
    ERROR_BITS,
    FUNCTIONS,
    ErrorBit,
    Function,
    Version,
    error_code,
    error_names,
    function_name,
)
from .errors import (
    Dlt645Error,
    FrameError,
    MeterErrorReply,
    RequestError,
    UnknownItemError,
)
from .formats import Format, Value
from .frame import Frame, FrameInfo, decode_frame, encode_frame, inspect_frame
from .master import (
    Reply,
    build_broadcast_time,
    build_change_baud,
    build_freeze,
    build_read,
    build_read_address,
    build_read_subsequent,
    build_write,
    parse_reply,
)
from .meter import (
    Request,
    build_ack,
    build_address_reply,
    build_baud_reply,
    build_error_reply,
    build_freeze_ack,
    build_read_reply,
    build_read_reply_raw,
    build_write_ack,
    parse_request,
)
from .stream import Discard, StreamDecoder
from .version import detect_version

__all__ = [
    "BROADCAST",
    "CATALOGUE",
    "CATALOGUE_1997",
    "CATALOGUE_2007",
    "ERROR_BITS",
    "EXTRA_QUANTITIES",
    "FUNCTIONS",
    "WILDCARD",
    "DataItem",
    "Discard",
    "Dlt645Error",
    "ErrorBit",
    "Field",
    "Format",
    "Frame",
    "FrameError",
    "FrameInfo",
    "Function",
    "MeterErrorReply",
    "Reply",
    "Request",
    "RequestError",
    "StreamDecoder",
    "UnknownItemError",
    "Value",
    "Version",
    "address_from_wire",
    "address_matches",
    "address_to_wire",
    "build_ack",
    "build_address_reply",
    "build_baud_reply",
    "build_broadcast_time",
    "build_change_baud",
    "build_error_reply",
    "build_freeze",
    "build_freeze_ack",
    "build_read",
    "build_read_address",
    "build_read_reply",
    "build_read_reply_raw",
    "build_read_subsequent",
    "build_write",
    "build_write_ack",
    "by_quantity",
    "decode_frame",
    "detect_version",
    "di_to_bytes",
    "encode_frame",
    "error_code",
    "error_names",
    "find_item",
    "format_di",
    "freeze_items",
    "function_name",
    "inspect_frame",
    "is_broadcast",
    "is_wildcard",
    "item",
    "items",
    "normalize_address",
    "parse_di",
    "parse_reply",
    "parse_request",
]
