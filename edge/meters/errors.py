"""Why a meter could not be read, in words field staff can act on."""

from __future__ import annotations


class ReadError(Exception):
    """A meter read failed. ``reason`` is a short code: ``timeout``, ``checksum``,
    ``wrong_address``, ``error_reply: <bits>``, ``bad_reply``, ``line``, ``unsupported``."""

    def __init__(self, meter: str, reason: str, detail: str = "") -> None:
        self.meter, self.reason, self.detail = meter, reason, detail
        super().__init__(f"meter {meter}: {reason}" + (f" ({detail})" if detail else ""))

    @property
    def communication(self) -> bool:
        """True when the meter did not answer usefully (as opposed to refusing an item)."""
        return not self.reason.startswith(("error_reply", "unsupported"))
