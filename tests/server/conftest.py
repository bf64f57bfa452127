"""Server fixtures: a migrated database of either flavour and the app on it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.db.migrate import migrate
from server.settings import Settings
from tests.conftest import Broker


@pytest.fixture
def migrated(db_url: str) -> str:
    migrate(db_url)
    return db_url


def settings_for(db: str, broker_url: str, tmp: Path, **over: Any) -> Settings:
    return Settings(
        database_url=db,
        mqtt_url=broker_url,
        data_dir=tmp,
        auth_secret="test-secret-test-secret-test-secret",
        jobs_enabled=False,
        **over,
    )


@pytest.fixture
def client(migrated: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    app = create_app(settings_for(migrated, mqtt_broker.url, tmp_path), services=[])
    with TestClient(app) as c:
        yield c
