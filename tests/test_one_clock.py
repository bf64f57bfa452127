"""One clock: only the clock modules read the host's time.

Everything else in ``edge/`` and ``server/`` takes the time from a ``protocols.clock.Clock``,
so a simulated week stamps statuses, batches and command results with simulated time.
``time.monotonic`` (timeouts, elapsed time) is not "the time" and stays allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

#: The modules allowed to read the host's time.
CLOCK_MODULES = {"edge/clock.py", "server/clock.py", "simulators/clock.py"}

#: (object, attribute) calls that read the host's time.
FORBIDDEN = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("date", "today"),
    ("time", "time"),
}


def _host_time_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        func = node.func
        if isinstance(func, ast.Attribute):
            owner = func.value
            name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", None)
            if (name, func.attr) in FORBIDDEN:
                found.append(f"{name}.{func.attr}() at line {node.lineno}")
    return found


def host_time_readers(packages: Iterable[str]) -> dict[str, list[str]]:
    """Every module of ``packages`` (outside the clock modules) that reads the host's time,
    with where."""
    out = {}
    for package in packages:
        for path in sorted((ROOT / package).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in CLOCK_MODULES:
                continue
            calls = _host_time_calls(path)
            if calls:
                out[rel] = calls
    return out


def test_the_edge_and_the_server_take_the_time_only_from_their_clocks() -> None:
    assert host_time_readers(["edge", "server"]) == {}


def test_the_scan_sees_a_host_time_call(tmp_path: Path) -> None:
    probe = tmp_path / "probe.py"
    probe.write_text(
        "import time\nfrom datetime import UTC, date, datetime\n"
        "a = datetime.now(UTC)\nb = time.time()\nc = date.today()\nd = time.monotonic()\n",
        encoding="utf-8",
    )
    assert len(_host_time_calls(probe)) == 3
