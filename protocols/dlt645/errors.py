"""The one exception tree of the DL/T 645 codec.

Two kinds of failure are kept apart on purpose:

* :class:`RequestError` — *we* asked for something that cannot be put on the wire
  (a malformed address, a value that does not fit its format, an unknown data
  identifier for encoding, a bad password string...). It is a programming or
  configuration error on our side and retrying will not help.
* :class:`FrameError` — *the peer* sent bytes that are not a valid frame or not a
  valid answer (bad checksum, bad length, bad BCD, unexpected function, a reply to
  another data identifier...). Retrying may help.

:class:`MeterErrorReply` is neither: the meter understood us and said no. The parse
helpers *return* it as data (``Reply.error``); :meth:`Reply.raise_for_error` raises
it for callers who prefer an exception.
"""

from __future__ import annotations


class Dlt645Error(Exception):
    """Base class of every error raised by :mod:`protocols.dlt645`."""


class RequestError(Dlt645Error, ValueError):
    """We built a bad request, or a value cannot be encoded."""


class FrameError(Dlt645Error):
    """The peer sent bytes that are not a valid frame or not a valid answer."""


class MeterErrorReply(Dlt645Error):
    """A meter answered with an abnormal (error) reply.

    ``bits`` are the named error bits set in the ERR byte (e.g. ``("no_such_data",)``),
    ``code`` the raw ERR byte, ``function`` the function the error answers.
    """

    def __init__(self, address: str, function: int, code: int, bits: tuple[str, ...]) -> None:
        self.address = address
        self.function = function
        self.code = code
        self.bits = bits
        names = ", ".join(bits) if bits else "no bits set"
        super().__init__(
            f"meter {address} refused function {function:02X}: ERR={code:02X} ({names})"
        )


class UnknownItemError(RequestError, KeyError):
    """No catalogue entry for a data identifier or quantity (also a KeyError)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""
