"""The base install is the gateway's: what the edge agent, the protocols and the simulators
import must be the standard library, our own packages and the base dependencies of
``pyproject.toml`` — nothing of the server's extra (FastAPI, psycopg, an embedded
PostgreSQL, ...). Imports are read from the source (function-local ones included), so a
heavy dependency cannot slip in behind a function call either."""

from __future__ import annotations

import ast
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))

#: Distribution name -> the top-level module it installs (where the two differ).
MODULE_OF = {"paho-mqtt": "paho", "pyserial": "serial", "prometheus-client": "prometheus_client"}


def _modules(requirements: list[str]) -> set[str]:
    out = set()
    for req in requirements:
        name = re.split(r"[\[<>=!~; ]", req, maxsplit=1)[0].lower()
        out.add(MODULE_OF.get(name, name.replace("-", "_")))
    return out


BASE = _modules(PYPROJECT["project"]["dependencies"])
SERVER = _modules(PYPROJECT["project"]["optional-dependencies"]["server"])


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def _foreign(package: str, own: set[str], skip: tuple[str, ...] = ()) -> dict[str, set[str]]:
    allowed = set(sys.stdlib_module_names) | BASE | own
    found = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith(skip):
            continue
        extra = _imports(path) - allowed
        if extra:
            found[rel] = extra
    return found


def test_the_base_dependencies_are_the_gateways() -> None:
    assert BASE == {"paho", "pymodbus", "serial", "apscheduler", "prometheus_client"}
    assert not BASE & SERVER


@pytest.mark.parametrize(
    ("package", "own"),
    [
        ("protocols", {"protocols"}),
        ("edge", {"edge", "protocols"}),
    ],
)
def test_gateway_code_needs_only_the_base_install(package: str, own: set[str]) -> None:
    assert _foreign(package, own) == {}


def test_simulators_need_only_the_base_install_but_the_demo() -> None:
    """The demo starts a server, so it (alone) needs the ``all`` extra."""
    demo = ("simulators/demo",)
    assert _foreign("simulators", {"simulators", "protocols"}, skip=demo) == {}


def test_the_all_extra_is_server_and_sim() -> None:
    extras = PYPROJECT["project"]["optional-dependencies"]
    assert extras["all"] == ["meterlink[server,sim]"]
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert 'pip install -e ".[all,dev]"' in readme
