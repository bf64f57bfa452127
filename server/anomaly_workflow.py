"""The anomaly workflow: which status an anomaly may take next, as one table.

::

    open ──> confirmed ──> closed
      │  ^
      v  │
    dismissed ──> closed

A rule opens an anomaly; staff confirm it (it is real: go on site) or dismiss it (a false
alarm, which may be reopened); either ends closed, and a closed anomaly stays closed. The
API (:mod:`server.api.routes.anomalies`) asks this table before it changes a row; the SQL
is in :mod:`server.db.queries.anomalies`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

Status = Literal["open", "confirmed", "dismissed", "closed"]
STATUSES: Final[tuple[Status, ...]] = ("open", "confirmed", "dismissed", "closed")

TRANSITIONS: Final[Mapping[str, frozenset[Status]]] = MappingProxyType(
    {
        "open": frozenset({"confirmed", "dismissed"}),
        "confirmed": frozenset({"closed"}),
        "dismissed": frozenset({"closed", "open"}),
        "closed": frozenset(),
    }
)


class TransitionRefused(ValueError):
    """The anomaly's status cannot change this way (the HTTP API answers 409)."""


def check_transition(current: str, new: str) -> None:
    """Raise :class:`TransitionRefused` unless an anomaly that is ``current`` may become
    ``new``."""
    if new not in TRANSITIONS.get(current, frozenset()):
        raise TransitionRefused(f"an anomaly that is {current} cannot become {new}")
