"""Helpers for server tests: sign in as a role, build a settings object for a test database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
from fastapi.testclient import TestClient

from server.auth.users import create_user

PASSWORD = "correct horse battery"


def auth_headers(client: TestClient, role: str, database_url: str) -> dict[str, str]:
    """A user with ``role`` (created on first use) and a bearer header for it."""
    username = f"test-{role}"
    with psycopg.connect(database_url) as conn:
        exists = conn.execute("SELECT 1 FROM users WHERE username = %s", (username,)).fetchone()
        if not exists:
            create_user(
                conn,
                actor="test",
                username=username,
                password=PASSWORD,
                role=role,
                now=datetime.now(UTC),
            )
            conn.commit()
    resp = client.post("/api/auth/login", json={"username": username, "password": PASSWORD})
    assert resp.status_code == 200, resp.text
    return {"Authorization": f"Bearer {resp.json()['token']}"}


def add_meters(
    database_url: str, meters: list[dict[str, Any]], gateway: str = "gw-1", area: str = "A1"
) -> None:
    with psycopg.connect(database_url) as conn:
        conn.execute(
            "INSERT INTO areas (id, name) VALUES (%s, %s) ON CONFLICT DO NOTHING", (area, area)
        )
        conn.execute(
            "INSERT INTO gateways (id, name, area_id) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING",
            (gateway, gateway, area),
        )
        for m in meters:
            conn.execute(
                "INSERT INTO meters (id, address, protocol, gateway_id, area_id, "
                "customer_class, installed_on, is_area_master, contracted_kw, customer_name) "
                "VALUES (%(id)s, %(address)s, %(protocol)s, %(gateway)s, %(area)s, "
                "%(customer_class)s, %(installed_on)s, %(is_area_master)s, %(contracted_kw)s, "
                "%(customer_name)s)",
                {
                    "protocol": "dlt645-2007",
                    "gateway": gateway,
                    "area": area,
                    "customer_class": "residential",
                    "installed_on": "2025-01-01",
                    "is_area_master": False,
                    "contracted_kw": None,
                    "customer_name": None,
                    **m,
                },
            )
        conn.commit()
