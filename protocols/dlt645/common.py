"""Pieces both roles share: frame building, function lookup, password/operator codes."""

from __future__ import annotations

from .control import Version, function_code, function_info
from .errors import FrameError, RequestError
from .frame import Frame, encode_frame


def build(address: str, control: int, data: bytes, preamble: int) -> bytes:
    """Frame fields -> wire bytes (data unscrambled; scrambling happens in the codec)."""
    return encode_frame(Frame(address, control, data), preamble)


def code_of(function: int | str, version: Version) -> int:
    """Function name or code -> code, checked against ``version``."""
    if isinstance(function, str):
        code = function_code(function, version)
        if code is None:
            raise RequestError(f"unknown {version} function {function!r}")
        return code
    if function_info(function, version) is None:
        raise RequestError(f"function {function:02X} is not defined in {version}")
    return function & 0x1F


def require_function(code: int, version: Version) -> str:
    """The function name of a received code; FrameError if ``version`` has none."""
    info = function_info(code, version)
    if info is None:
        raise FrameError(f"unexpected function code {code:02X} for DL/T 645-{version}")
    return info.name


def password_to_wire(password: str) -> bytes:
    """``"02123456"`` (level PA, then password P2P1P0 printed high first) -> PA P0 P1 P2."""
    text = password.strip() if isinstance(password, str) else ""
    if len(text) != 8 or not text.isdigit():
        raise RequestError(f"password must be 8 digits (level + 6 digits), got {password!r}")
    raw = bytes.fromhex(text)
    return raw[:1] + raw[1:][::-1]


def password_from_wire(raw: bytes) -> str:
    """PA P0 P1 P2 -> ``"PAP2P1P0"`` printed (hex digits as sent)."""
    return (raw[:1] + raw[1:4][::-1]).hex().upper()


def operator_to_wire(operator: str) -> bytes:
    """Operator code, 8 digits printed high first -> C0 C1 C2 C3 (low byte first)."""
    text = operator.strip() if isinstance(operator, str) else ""
    if len(text) != 8 or not text.isdigit():
        raise RequestError(f"operator code must be 8 digits, got {operator!r}")
    return bytes.fromhex(text)[::-1]


def operator_from_wire(raw: bytes) -> str:
    return raw[::-1].hex().upper()
