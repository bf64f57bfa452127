"""Finding unknown meters on a bus.

DL/T 645: read the communication address (04000401) with wildcard addresses, fixing the low
digits one at a time. A probe answered by one valid frame found a meter; silence means no
meter ends in those digits; bytes that are not a valid frame mean several meters answered
at once and collided, so the search goes one digit deeper (ten probes). Modbus: scan unit ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

from protocols import dlt645 as d

from .transports import Transport

log = logging.getLogger(__name__)


def _probe(transport: Transport, pattern: str, timeout_s: float) -> tuple[str, str | None]:
    """("none" | "one" | "many", address)."""
    decoder = d.StreamDecoder(accept="replies")
    transport.write(d.build_read(pattern, "04000401"))
    transport.stats.transactions += 1
    heard = 0
    deadline = time.monotonic() + timeout_s
    quiet_until = None
    while time.monotonic() < deadline:
        chunk = transport.read()
        if chunk:
            heard += len(chunk)
            quiet_until = time.monotonic() + 0.15  # a collision may trail on
            frames = decoder.feed(chunk)
            if frames:
                return "one", frames[0].address
        elif quiet_until is not None and time.monotonic() > quiet_until:
            break
    decoder.flush()
    # Every byte that is neither our echo (a valid request frame, with its FE preamble,
    # which the decoder skips silently) nor a reply ends up in a discard: garbage means
    # several meters answered at once. (Counting bytes heard against the echo's frame
    # bytes took an echoed preamble for a collision.)
    garbage = [x for x in decoder.discards if x.reason != "wrong_direction"]
    return ("many", None) if heard and garbage else ("none", None)


def discover_dlt645(
    transport: Transport,
    *,
    timeout_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
) -> list[str]:
    """Every DL/T 645-2007 address answering on the line, sorted."""
    found: set[str] = set()
    stack = [""]
    probes = 0
    while stack:
        suffix = stack.pop()
        pattern = "A" * (12 - len(suffix)) + suffix
        outcome, address = _probe(transport, pattern, timeout_s)
        probes += 1
        if progress:
            progress(f"{pattern}: {outcome}")
        if outcome == "one" and address is not None:
            found.add(address)
        elif outcome == "many" and len(suffix) < 12:
            stack.extend(str(digit) + suffix for digit in range(9, -1, -1))
    log.info("discovery: %d meters in %d probes", len(found), probes)
    return sorted(found)


def discover_modbus(
    read_unit: Callable[[int], bool], units: Iterable[int] = range(1, 248)
) -> list[int]:
    """Unit ids for which ``read_unit`` (one register read) succeeds."""
    return [u for u in units if read_unit(u)]


def snippet(addresses: list[str], prefix: str = "M") -> str:
    """A configuration snippet for the found meters."""
    lines = []
    for a in addresses:
        lines += [
            "[[bus.meter]]",
            f'id = "{prefix}{a}"',
            f'address = "{a}"',
            'protocol = "2007"',
            "",
        ]
    return "\n".join(lines)
