"""Telling DL/T 645-2007 frames from 1997 frames.

The envelope is identical, so the function code decides: 2007 uses ``11``..``1C``,
1997 uses ``01``..``10``. Only broadcast time (``08``) exists in both, with the same
layout; it is reported as 2007 unless the caller knows better.
"""

from __future__ import annotations

from .control import Version, version_of_function
from .frame import Frame


def detect_version(frame: Frame, hint: Version | None = None) -> Version:
    """The protocol version of ``frame`` from its function code; ``hint`` (default 2007)
    decides only when the code is shared (``08``) or unknown."""
    found = version_of_function(frame.function)
    if found is not None:
        return found
    return hint or "2007"
