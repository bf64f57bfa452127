"""No import cycles inside ``server/`` or ``edge/``.

The graph is built from the source by AST, not by importing: a node per module, an edge per
module-level import of another module of the same tree (an ``import`` inside a function runs
when it is called and is left out; one under ``if TYPE_CHECKING:`` is counted, since it still
says which module leans on which). ``from pkg import name`` points at ``pkg.name`` when that is
a module, else at ``pkg``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(package: str) -> dict[str, Path]:
    return {module_name(p): p for p in sorted((ROOT / package).rglob("*.py"))}


def _absolute(module: str, is_package: bool, level: int, target: str | None) -> str:
    """The absolute name of a relative import (``from ..x import y`` in ``module``)."""
    if level == 0:
        return target or ""
    base = module.split(".")
    if not is_package:
        base.pop()
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, target] if target else base)


def _top_level_imports(tree: ast.Module) -> list[ast.Import | ast.ImportFrom]:
    """Imports that run when the module is imported: the module body and the bodies of
    module-level ``if``/``try``/``with`` blocks, never a function's or a class's body."""
    found: list[ast.Import | ast.ImportFrom] = []
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            found.append(node)
        elif isinstance(node, ast.If):
            pending += [*node.body, *node.orelse]
        elif isinstance(node, ast.Try):
            pending += [*node.body, *node.orelse, *node.finalbody]
            for handler in node.handlers:
                pending += handler.body
        elif isinstance(node, ast.With):
            pending += node.body
    return found


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        for node in _top_level_imports(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            else:
                base = _absolute(name, is_package, node.level, node.module)
                for alias in node.names:
                    sub = f"{base}.{alias.name}"
                    targets.append(sub if sub in modules else base)
            graph[name] |= {t for t in targets if t in modules and t != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a list of modules (first == last), or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in state and (cycle := visit(nxt)) is not None:
                return cycle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)) is not None:
            return cycle
    return None


def test_the_graph_sees_relative_and_absolute_imports() -> None:
    graph = import_graph(modules_of("server"))
    assert "server.settings" in graph["server.services"]  # from .settings import Settings
    assert "server.auth.passwords" in graph["server.auth.users"]  # from server.auth import x
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


@pytest.mark.parametrize("package", ["server", "edge"])
def test_no_import_cycle(package: str) -> None:
    cycle = find_cycle(import_graph(modules_of(package)))
    assert cycle is None, "import cycle: " + " -> ".join(cycle or [])


IMPORT_ALL = """
import argon2
import prometheus_client

hashed = []
real = argon2.PasswordHasher.hash
argon2.PasswordHasher.hash = lambda self, *a, **k: hashed.append(1) or real(self, *a, **k)
before = set(prometheus_client.REGISTRY._names_to_collectors)

import importlib, pkgutil, server

for info in pkgutil.walk_packages(server.__path__, "server."):
    importlib.import_module(info.name)

assert hashed == [], "an Argon2 hash was computed at import"
added = set(prometheus_client.REGISTRY._names_to_collectors) - before
assert not added, f"metrics registered in the global registry at import: {sorted(added)}"
"""


def test_importing_the_server_hashes_nothing_and_registers_no_global_metric() -> None:
    """Import-time side effects: the timing guard's Argon2 hash is made on first use (or at
    the app's start), and the ingest metrics live on a registry per app or consumer."""
    subprocess.run([sys.executable, "-c", IMPORT_ALL], cwd=ROOT, check=True, timeout=120)
