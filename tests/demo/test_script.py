"""What the demo asks of the server, against a recording stand-in for the HTTP API: the
archive it writes, the backfill commands it sends and how it reads their answers."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from protocols.vocabulary import REREADABLE_PROTOCOLS
from simulators.demo import script
from simulators.demo.api import path
from simulators.fleet import Fleet, load_fleet

DEMO_FLEET = Path(__file__).resolve().parents[2] / "simulators" / "fleets" / "demo.toml"


class RecordingApi:
    """Answers like the server would, keeps every call."""

    def __init__(self, commands: dict[str, dict[str, Any]] | None = None) -> None:
        self.calls: list[tuple[str, str, Any]] = []
        self.commands = commands or {}

    def put(self, url: str, body: dict[str, Any]) -> Any:
        self.calls.append(("PUT", url, body))
        return body

    def post(self, url: str, body: dict[str, Any]) -> Any:
        self.calls.append(("POST", url, body))
        return {"id": f"cmd-{len(self.calls)}", "status": "pending"}

    def get(self, url: str, **query: Any) -> Any:
        self.calls.append(("GET", url, query))
        return self.commands[url.rsplit("/", 1)[1]]


def demo_fleet() -> Fleet:
    return load_fleet(DEMO_FLEET, now=datetime(2026, 11, 1, 4, 0, tzinfo=UTC))


def test_the_archive_is_written_through_the_archive_api() -> None:
    fleet = demo_fleet()
    api = RecordingApi()
    script.load_archive(api, fleet, date(2025, 1, 1))
    urls = [url for _, url, _ in api.calls]
    assert all(method == "PUT" for method, _, _ in api.calls)
    assert urls.count(path("areas", fleet.areas[0].id)) == 2  # created, then its master
    assert {u for u in urls if u.startswith("/api/gateways/")} == {
        "/api/gateways/gw-01",
        "/api/gateways/gw-02",
        "/api/gateways/gw-03",
    }
    meters = {url: body for _, url, body in api.calls if url.startswith("/api/meters/")}
    assert len(meters) == len(fleet.meters) == 48  # 7 of them DL/T 698.45 (TA-004)
    master = fleet.areas[0].master
    body = meters[path("meters", master)]
    assert body["is_area_master"] is True and body["installed_on"] == "2025-01-01"
    assert body["gateway_id"] == "gw-01"
    last_area = api.calls[-len(fleet.areas)]
    assert last_area[2]["master_meter_id"] == master


def test_history_is_one_backfill_command_per_concentrator_and_day() -> None:
    fleet = demo_fleet()
    api = RecordingApi()
    days = [date(2026, 10, 30), date(2026, 10, 31)]
    wanted, ids = script.request_history(api, fleet, days)
    # the meters that keep a freeze history: DL/T 645-2007 and 698.45
    rereadable = [m for m, _ in fleet.meters if m.protocol in REREADABLE_PROTOCOLS]
    assert {m.protocol for m in rereadable} == {"dlt645-2007", "dlt698"}
    assert wanted == 2 * len(rereadable)
    assert len(ids) == len(api.calls) == 2 * 3
    method, url, body = api.calls[0]
    assert (method, url, body["name"]) == ("POST", "/api/gateways/gw-01/commands", "backfill")
    assert {i["date"] for i in body["args"]["items"]} == {"2026-10-30"}


def test_commands_are_asked_until_answered_and_their_failures_counted() -> None:
    failed = {"failed": [{"reason": "timeout"}, {"reason": "timeout"}, {"reason": "nak"}]}
    rows = {
        "a": {"status": "ok", "result": failed},
        "b": {"status": "sent", "result": None},
        "c": {"status": "error", "result": {"failed": [{"reason": "nak"}, {"reason": "nak"}]}},
    }
    api = RecordingApi(rows)
    commands = script.Commands(api, ["a", "b", "c"])
    assert commands.answered() == 2
    assert commands.pending == ["b"]
    api.calls.clear()
    rows["b"] = {"status": "ok", "result": {}}
    assert commands.answered() == 3
    assert [url for _, url, _ in api.calls] == ["/api/commands/b"]  # a and c not asked again
    assert commands.failure_reasons() == [("nak", 3), ("timeout", 2)]
