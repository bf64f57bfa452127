"""Schema migrations: ordered ``NNNN_name.sql`` files in ``server/db/migrations``, each applied
once in its own transaction and recorded in ``schema_migrations``. Safe to run twice and
from several processes at once (an advisory lock serialises them)."""

from __future__ import annotations

import logging
from importlib import resources
from typing import Any

import psycopg

log = logging.getLogger(__name__)
LOCK_KEY = 0x6D6C6D67  # "mlmg"


def migration_files() -> list[tuple[str, str]]:
    folder = resources.files("server.db").joinpath("migrations")
    out = []
    for entry in folder.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((name[:-4], entry.read_text(encoding="utf-8")))
    return sorted(out)


def migrate(target: str | psycopg.Connection[Any]) -> list[str]:
    """Apply what is missing; returns the versions applied now."""
    conn = psycopg.connect(target, autocommit=True) if isinstance(target, str) else target
    try:
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version text PRIMARY KEY, "
            "applied_at timestamptz NOT NULL DEFAULT now())"
        )
        if not conn.autocommit:
            conn.commit()
        applied = []
        for version, sql in migration_files():
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                done = conn.execute(
                    "SELECT 1 FROM schema_migrations WHERE version = %s", (version,)
                ).fetchone()
                if done:
                    continue
                conn.execute(sql.encode())
                conn.execute("INSERT INTO schema_migrations (version) VALUES (%s)", (version,))
                applied.append(version)
                log.info("applied migration %s", version)
        return applied
    finally:
        if isinstance(target, str):
            conn.close()
