"""Why a meter could not be read, in words field staff can act on.

:class:`FailureKind` is the closed list of reasons; :class:`ReadError` carries one, plus the
meter's own error bits when it answered with an error reply. Callers branch on ``kind``,
never on the text.
"""

from __future__ import annotations

from collections.abc import Sequence

# The closed list is the wire's vocabulary (the server reads these words in statuses).
from protocols.vocabulary import ReadFailureKind as FailureKind

__all__ = ["REFUSALS", "FailureKind", "ReadError"]


#: Kinds where the meter answered and refused: they do not count towards "dead".
REFUSALS = frozenset({FailureKind.ERROR_REPLY, FailureKind.UNSUPPORTED})


class ReadError(Exception):
    """A meter read failed. ``reason`` is the kind, followed by the meter's error bits for
    an error reply (``error_reply: no_such_data``)."""

    def __init__(
        self, meter: str, kind: FailureKind | str, detail: str = "", *, bits: Sequence[str] = ()
    ) -> None:
        self.meter, self.kind, self.detail = meter, FailureKind(kind), detail
        self.bits = tuple(bits)
        super().__init__(f"meter {meter}: {self.reason}" + (f" ({detail})" if detail else ""))

    @property
    def reason(self) -> str:
        return f"{self.kind}: {','.join(self.bits)}" if self.bits else str(self.kind)

    @property
    def communication(self) -> bool:
        """True when the meter did not answer usefully (as opposed to refusing an item)."""
        return self.kind not in REFUSALS
