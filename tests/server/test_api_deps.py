"""The API's typed dependencies on a bare application (no database, no lifespan): the day a
report is about follows the injected clock and the utility's time zone."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from server.api.deps import ClockDep, LocalToday, MqttUrl, ReportDay, SettingsDep, Yesterday
from server.settings import Settings


class StoppedClock:
    def __init__(self, at: datetime) -> None:
        self.at = at

    def now(self) -> datetime:
        return self.at

    def sleep(self, seconds: float) -> None:
        raise AssertionError("a route never sleeps")


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    app = FastAPI()
    app.state.settings = Settings(
        database_url="postgresql://nobody@127.0.0.1:1/none",
        mqtt_url="mqtt://127.0.0.1:1",
        data_dir=tmp_path,
        auth_secret="deps-secret-deps-secret-deps-secret",
        utility_timezone="Asia/Shanghai",
    )
    # 2026-11-10 17:30 UTC is already 2026-11-11 01:30 in Shanghai
    app.state.clock = StoppedClock(datetime(2026, 11, 10, 17, 30, tzinfo=UTC))
    app.state.mqtt_url = "mqtt://broker.example:1883"

    @app.get("/day")
    def day(d: ReportDay, today: LocalToday, yesterday: Yesterday) -> dict[str, date]:
        return {"day": d, "today": today, "yesterday": yesterday}

    @app.get("/state")
    def state(settings: SettingsDep, clock: ClockDep, mqtt_url: MqttUrl) -> dict[str, str]:
        return {"tz": settings.utility_timezone, "now": clock.now().isoformat(), "mqtt": mqtt_url}

    return app


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as c:
        yield c


def test_the_report_day_is_yesterday_in_the_utility_time_zone(client: TestClient) -> None:
    assert client.get("/day").json() == {
        "day": "2026-11-10",
        "today": "2026-11-11",
        "yesterday": "2026-11-10",
    }


def test_a_date_in_the_query_wins(client: TestClient) -> None:
    assert client.get("/day?date=2026-01-31").json()["day"] == "2026-01-31"


def test_a_bad_date_is_the_callers_fault(client: TestClient) -> None:
    r = client.get("/day?date=2026-13-01")
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "date"]


def test_state_reaches_routes_typed(client: TestClient) -> None:
    assert client.get("/state").json() == {
        "tz": "Asia/Shanghai",
        "now": "2026-11-10T17:30:00+00:00",
        "mqtt": "mqtt://broker.example:1883",
    }
