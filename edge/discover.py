"""Finding unknown meters on a bus.

DL/T 645: read the communication address (04000401) with wildcard addresses, fixing the low
digits one at a time. A probe answered by one valid frame names a candidate; silence means
no meter ends in those digits; bytes that are not a valid frame mean several meters answered
at once and collided, so the search goes one digit deeper (ten probes).

A candidate is reported only after an addressed read of 04000401 at exactly its address
is answered by that address. Colliding replies can XOR into a valid frame: three replies
of the same length keep the 68/control/length/16 bytes and carry the XOR of the three
addresses, and now and then the checksum matches too (000000360528, 000000998735 and
000000888628 make a "000000270435" that no meter has). An unconfirmed candidate, or one
whose address does not fit the probe's pattern, is treated as a collision: the search
goes deeper there, so the real meters behind the phantom are still found.
DL/T 698.45: the same search with GET-Request-Normal of the communication address
(40010200) to a wildcard server address (address type 1, ``A`` nibbles), confirmed by the
same read addressed to the candidate alone (:func:`discover_dlt698`). A 645 meter does not
understand a 698.45 frame (nor the reverse), so a mixed line is searched once per family.
Modbus: scan unit ids.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from typing import Literal

from protocols import dlt645 as d
from protocols import dlt698
from protocols.dlt645.address import address_matches

from .transports import Transport

log = logging.getLogger(__name__)


#: What each version's search asks: 2007 the communication address; 1997 (which has no
#: address item) the meter number C032. Any reply, an error reply included, names its
#: sender in the frame's address field, which is all the search needs.
PROBE_DI: dict[d.Version, str] = {"2007": "04000401", "1997": "C032"}
#: What the 698.45 search asks: the communication address.
PROBE_OAD_698 = "40010200"
#: A search's protocol: a DL/T 645 version, or "698" for DL/T 698.45.
Family = Literal["2007", "1997", "698"]


def _probe(
    transport: Transport, pattern: str, timeout_s: float, version: Family = "2007"
) -> tuple[str, str | None]:
    """("none" | "one" | "many", address)."""
    decoder: d.StreamDecoder | dlt698.StreamDecoder
    if version == "698":
        decoder = dlt698.StreamDecoder(accept="replies")
        transport.write(dlt698.build_get(pattern, PROBE_OAD_698))
    else:
        decoder = d.StreamDecoder(accept="replies")
        transport.write(d.build_read(pattern, PROBE_DI[version], version))
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
                first = frames[0]
                if isinstance(first, dlt698.Frame):
                    return "one", first.server.address
                return "one", first.address
        elif quiet_until is not None and time.monotonic() > quiet_until:
            break
    decoder.flush()
    # Every byte that is neither our echo (a valid request frame, with its FE preamble,
    # which the decoder skips silently) nor a reply ends up in a discard: garbage means
    # several meters answered at once. (Counting bytes heard against the echo's frame
    # bytes took an echoed preamble for a collision.)
    garbage = [x for x in decoder.discards if x.reason != "wrong_direction"]
    return ("many", None) if heard and garbage else ("none", None)


def _confirmed(
    transport: Transport, pattern: str, address: str, timeout_s: float, version: Family
) -> bool:
    """Does ``address`` (heard for ``pattern``) answer a read addressed to it alone?"""
    try:
        fits = address.isdigit() and address_matches(pattern, address)
    except ValueError:
        fits = False
    if not fits:
        return False  # a wildcard digit or an address outside the probe: XOR of replies
    if pattern == address:
        return True  # the probe was already addressed to exactly this meter
    outcome, heard = _probe(transport, address, timeout_s, version)
    return outcome == "one" and heard == address


def discover_dlt698(
    transport: Transport,
    *,
    timeout_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
    max_probes: int = 20_000,
) -> list[str]:
    """Every DL/T 698.45 meter answering a wildcard read of 40010200 on the line, each
    confirmed by a read addressed to it alone; sorted."""
    return discover_dlt645(
        transport, timeout_s=timeout_s, progress=progress, version="698", max_probes=max_probes
    )


def discover_dlt645(
    transport: Transport,
    *,
    timeout_s: float = 1.0,
    progress: Callable[[str], None] | None = None,
    version: Family = "2007",
    max_probes: int = 20_000,
) -> list[str]:
    """Every address answering ``version``'s read on the line, sorted. A meter of the
    other version does not understand the probe's function code and stays silent, so
    a mixed line is searched once per version. ``max_probes`` bounds a search that a
    misbehaving line would otherwise keep going (it is logged when reached)."""
    found: set[str] = set()
    stack = [""]
    probes = 0
    while stack:
        suffix = stack.pop()
        pattern = "A" * (12 - len(suffix)) + suffix
        outcome, address = _probe(transport, pattern, timeout_s, version)
        probes += 1
        if progress:
            progress(f"{pattern}: {outcome}")
        if outcome == "one" and address is not None:
            if _confirmed(transport, pattern, address, timeout_s, version):
                found.add(address)
                continue
            if address == pattern:
                # a meter that answers with the wildcard address it was sent (some
                # simulators and old meters): searching deeper would find it everywhere
                log.warning(
                    "discovery: a meter answers %s with that same wildcard address; its "
                    "own address cannot be searched for: read it alone on the line",
                    pattern,
                )
                continue
            log.info(
                "discovery: %s answered %s but not its own address: a collision", pattern, address
            )
            outcome = "many"
        if outcome == "many" and len(suffix) < 12 and probes < max_probes:
            stack.extend(str(digit) + suffix for digit in range(9, -1, -1))
    if stack or probes >= max_probes:
        log.warning("discovery: stopped after %d probes; the search is incomplete", probes)
    log.info("discovery: %d %s meters in %d probes", len(found), _NAMES[version], probes)
    return sorted(found)


_NAMES: dict[Family, str] = {"2007": "DL/T 645-2007", "1997": "DL/T 645-1997", "698": "DL/T 698.45"}


def discover_modbus(
    read_unit: Callable[[int], bool], units: Iterable[int] = range(1, 248)
) -> list[int]:
    """Unit ids for which ``read_unit`` (one register read) succeeds."""
    return [u for u in units if read_unit(u)]


def snippet(addresses: list[str], prefix: str = "M", protocol: str = "2007") -> str:
    """A configuration snippet for the found meters."""
    lines = []
    for a in addresses:
        lines += [
            "[[bus.meter]]",
            f'id = "{prefix}{a}"',
            f'address = "{a}"',
            f'protocol = "{protocol}"',
            "",
        ]
    return "\n".join(lines)


def modbus_snippet(units: list[int], profiles: Iterable[str], prefix: str = "U") -> str:
    """A configuration snippet for the Modbus unit ids found.

    A unit id does not say the meter's model, so ``profile`` (required) is left for the
    installer to fill in, commented out: check-config refuses the snippet until it is.
    """
    choices = ", ".join(sorted(profiles))
    lines = []
    for u in units:
        lines += [
            "[[bus.meter]]",
            f'id = "{prefix}{u:03d}"',
            'protocol = "modbus"',
            f"unit = {u}",
            f'# profile = ""             # required: the meter\'s model, one of {choices}',
            "",
        ]
    return "\n".join(lines)
