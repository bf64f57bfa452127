"""The simulators (the demo included) reach the server only through its HTTP API.

Read from the source with ``ast``: no module under ``simulators/`` imports the server's
database layer, its ingestion internals, its gateway commands or a PostgreSQL driver, and
no string in it is SQL against a server table. Starting the server (``server.api.app``,
``server.settings``) is allowed; talking to it is HTTP.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = ("server.db", "server.ingest", "server.gateways", "psycopg", "psycopg_pool")
SERVER_TABLES = frozenset(
    m.group(1).lower()
    for sql in (ROOT / "server" / "db" / "migrations").glob("*.sql")
    for m in re.finditer(
        r"create\s+table\s+(?:if\s+not\s+exists\s+)?(\w+)", sql.read_text(), re.IGNORECASE
    )
)
SQL = re.compile(r"\b(?:from|join|into|update)\s+(\w+)(?=[\s,;)]|$)|\btable\s+(\w+)", re.IGNORECASE)
SQL_VERB = re.compile(r"\b(?:select|insert|update|delete|truncate|copy)\b", re.IGNORECASE)


def forbidden_imports(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        found += [n for n in names if any(n == f or n.startswith(f + ".") for f in FORBIDDEN)]
    return sorted(set(found))


def sql_against_server_tables(tree: ast.AST) -> list[str]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            text = node.value
            if not SQL_VERB.search(text):
                continue
            tables = {(a or b).lower() for a, b in SQL.findall(text)}
            if tables & SERVER_TABLES:
                found.append(text)
    return found


def _modules() -> list[Path]:
    return sorted((ROOT / "simulators").rglob("*.py"))


def test_the_migrations_name_the_server_tables() -> None:
    assert {"meters", "areas", "daily_freeze", "gateway_commands"} <= SERVER_TABLES


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ("from server.db.queries import archive as q", True),
        ("import server.ingest.commands", True),
        ("from server.ingest.commands import queue_command", True),
        ("import psycopg", True),
        ("from psycopg.rows import dict_row", True),
        ("from server import db", True),
        ("from server.api.app import create_app", False),
        ("from server.settings import Settings", False),
        ("import serial", False),
    ],
)
def test_the_import_check_tells_internals_from_the_api(source: str, bad: bool) -> None:
    assert bool(forbidden_imports(ast.parse(source))) is bad


@pytest.mark.parametrize(
    ("source", "bad"),
    [
        ('q = "SELECT count(*) FROM gateway_commands"', True),
        ('q = "UPDATE areas SET master_meter_id = %s WHERE id = %s"', True),
        ('q = "SELECT a.id FROM areas a JOIN meters m ON m.area_id = a.id"', True),
        ('q = "select data_date from daily_freeze where meter_id = %s"', True),
        ('msg = "meters read from the bus"', False),
        ('msg = "select a meter from the list"', False),
        ('url = "/api/meters/M1/freeze"', False),
    ],
)
def test_the_sql_check_finds_sql_on_server_tables(source: str, bad: bool) -> None:
    assert bool(sql_against_server_tables(ast.parse(source))) is bad


@pytest.mark.parametrize("module", _modules(), ids=lambda p: p.relative_to(ROOT).as_posix())
def test_simulators_use_no_server_internals(module: Path) -> None:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    assert forbidden_imports(tree) == []
    assert sql_against_server_tables(tree) == []
