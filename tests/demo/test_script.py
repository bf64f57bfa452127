"""What the demo asks of the server, against a recording stand-in for the HTTP API: the
archive it writes, the backfill commands it sends and how it reads their answers, the reads
and checks that put the fleet's faults in the archive, and a summary of this run only."""

from __future__ import annotations

import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

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
        self.found: dict[str, int] = {"line_loss": 1, "clock": 0}
        self.answers: dict[str, Any] = {}  # url -> what a GET of it answers

    def put(self, url: str, body: dict[str, Any]) -> Any:
        self.calls.append(("PUT", url, body))
        return body

    def post(self, url: str, body: dict[str, Any]) -> Any:
        self.calls.append(("POST", url, body))
        if url.startswith("/api/checks/run"):
            return {"date": url.rsplit("=", 1)[1], "found": self.found, "failed": {}}
        return {"id": f"cmd-{len(self.calls)}", "status": "pending"}

    def get(self, url: str, **query: Any) -> Any:
        self.calls.append(("GET", url, query))
        if url in self.answers:
            return self.answers[url]
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


def test_history_is_backfill_commands_per_concentrator_of_ten_days_oldest_first() -> None:
    fleet = demo_fleet()
    api = RecordingApi()
    days = [date(2026, 10, 1) + timedelta(days=n) for n in range(25)]
    wanted, ids = script.request_history(api, fleet, days)
    # the meters that keep a freeze history: DL/T 645-2007 and 698.45
    rereadable = [m for m, _ in fleet.meters if m.protocol in REREADABLE_PROTOCOLS]
    assert {m.protocol for m in rereadable} == {"dlt645-2007", "dlt698"}
    assert wanted == 25 * len(rereadable)
    assert len(ids) == len(api.calls) == 3 * 3  # 10 + 10 + 5 days per concentrator
    method, url, body = api.calls[0]
    assert (method, url, body["name"]) == ("POST", "/api/gateways/gw-01/commands", "backfill")
    asked = [i["date"] for i in body["args"]["items"]]
    assert asked == sorted(asked) and set(asked) == {d.isoformat() for d in days[:10]}
    last = api.calls[2][2]["args"]["items"]
    assert {i["date"] for i in last} == {d.isoformat() for d in days[20:]}
    items = sum(len(b["args"]["items"]) for _, _, b in api.calls)
    assert items == wanted


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


def test_partly_answered_and_expired_commands_are_answered() -> None:
    """A backfill that read some of its meter-days ends 'partial' and one never answered
    ends 'expired': the demo must not wait for them (it waited 90 s for every 'partial')."""
    rows = {
        "a": {"status": "partial", "result": {"read": 3, "failed": [{"reason": "timeout"}]}},
        "b": {
            "status": "expired",
            "result": None,
            "args": {"items": [{"meter": "M", "date": "x"}]},
        },
        "c": {"status": "sent", "result": None},
    }
    commands = script.Commands(RecordingApi(rows), ["a", "b", "c"])
    assert commands.answered() == 2
    assert commands.pending == ["c"]
    assert [f["reason"] for f in commands.failed_items()] == [
        "timeout",
        "unanswered (command expired)",
    ]


def test_the_story_reads_every_meter_now_checks_clocks_and_judges_history_and_today() -> None:
    """After the history: every meter is read now (a broken phase shows in its voltages),
    every concentrator's meter clocks are checked (a drifting clock is recorded), and the
    rules run over every day of the history, oldest first, and today."""
    fleet = demo_fleet()
    api = RecordingApi()
    ids = script.read_today(api, fleet)
    posts = [(url, body) for method, url, body in api.calls if method == "POST"]
    reads = [body["args"]["meter"] for _, body in posts if body["name"] == "read_now"]
    assert sorted(reads) == sorted(m.archive_id for m, _ in fleet.meters)
    syncs = [url for url, body in posts if body["name"] == "time_sync"]
    assert syncs == [f"/api/gateways/gw-0{n}/commands" for n in (1, 2, 3)]
    assert len(ids) == len(posts)
    api.calls.clear()
    days = [date(2026, 10, 30), date(2026, 10, 31), date(2026, 11, 1)]
    found = script.run_checks(api, days)
    assert [url for _, url, _ in api.calls] == [
        f"/api/checks/run?date={d.isoformat()}" for d in days
    ]
    assert found == {"line_loss": 3}  # summed over the days, rules with no finding left out


def test_history_is_asked_only_of_meters_that_keep_one() -> None:
    fleet = demo_fleet()
    api = RecordingApi()
    script.request_history(api, fleet, [date(2026, 10, 31)])
    asked = {i["meter"] for _, _, body in api.calls for i in body["args"]["items"]}
    no_history = {m.archive_id for m, _ in fleet.meters if m.protocol not in REREADABLE_PROTOCOLS}
    assert no_history and not asked & no_history
    assert {"dlt645-2007", "dlt698"} <= {m.protocol for m, _ in fleet.meters}
    assert asked == {m.archive_id for m, _ in fleet.meters} - no_history


def test_the_summary_counts_this_run_not_what_earlier_runs_stored(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An earlier run on the same data directory left every freeze in the database; this
    run read nothing (every meter-day failed). The summary says this run read 0, not the
    stored 30 days per meter."""
    fleet = demo_fleet()
    today = date(2026, 11, 1)
    days = [today - timedelta(days=n) for n in range(30, 0, -1)]
    api = RecordingApi()
    stored = {"freezes": [{"data_date": d.isoformat()} for d in days]}
    for m, _ in fleet.meters:
        api.answers[path("meters", m.archive_id, "freeze")] = stored
    api.answers["/api/completeness"] = {
        "groups": [{"key": a.id, "due": 10, "read": 0, "rate": 0.0} for a in fleet.areas]
    }
    api.answers["/api/line-loss"] = {
        "areas": [{"area_id": a.id, "loss": None} for a in fleet.areas]
    }
    api.answers["/api/anomalies"] = {"items": []}
    report = script.RunReport()
    report.ask(fleet, days)
    items = [{"meter": m, "date": d.isoformat()} for m in report.asked for d in days]
    failed = [{**i, "reason": "timeout"} for i in items]
    rows = {"c1": {"status": "error", "args": {"items": items}, "result": {"failed": failed}}}
    commands = script.Commands(RecordingApi(rows), ["c1"])
    commands.answered()
    report.take(commands)
    assert report.totals() == (30 * len(report.asked), 0)
    script.summary(api, fleet, report, today)
    out = capsys.readouterr().out
    for area in fleet.areas:
        row = next(line for line in out.splitlines() if area.id in line)
        asked = sum(report.asked.get(m, 0) for m in (area.master, *area.customers))
        assert f" 0/{asked} " in row, row
    assert f"0 of {30 * len(report.asked)} meter-days" in report.line()


def test_wait_answered_stops_at_a_stop() -> None:
    stop = threading.Event()
    stop.set()
    commands = script.Commands(RecordingApi({"x": {"status": "sent"}}), ["x"])
    script.wait_answered(commands, stop, timeout_s=5)
    assert commands.pending == ["x"]


def test_a_run_stopped_during_the_history_counts_nothing_unanswered_as_read() -> None:
    """Ctrl-C while the history is read: the commands not answered yet read nothing (the
    summary said "2280 of 2280 meter-days read" after 14 s of a 60-day history)."""
    fleet = demo_fleet()
    days = [date(2026, 10, 30), date(2026, 10, 31)]
    report = script.RunReport()
    report.ask(fleet, days)
    first = [{"meter": m, "date": "2026-10-30"} for m in report.asked]
    rows = {
        "a": {"status": "ok", "args": {"items": first}, "result": {"read": 99, "failed": []}},
        "b": {"status": "sent", "args": {"items": []}, "result": None},
    }
    commands = script.Commands(RecordingApi(rows), ["a", "b"])
    commands.answered()
    report.take(commands)
    n = len(report.asked)
    assert report.totals() == (2 * n, n)
    line = report.line()
    assert f"{n} of {2 * n} meter-days of freeze history read ({n} not answered)" in line
    assert "the rules were not run" in line


def test_states_come_from_one_listing_per_concentrator() -> None:
    """Only a command the listing shows answered (or does not list) is fetched, once."""
    rows = {"a": {"status": "ok", "result": {}}, "b": {"status": "sent", "result": None}}
    api = RecordingApi(rows)
    api.answers["/api/gateways/gw-01/commands"] = {
        "items": [{"id": "a", "status": "ok"}, {"id": "b", "status": "sent"}]
    }
    commands = script.Commands(api, ["a", "b"], ["gw-01", "gw-01"])
    assert commands.answered() == 1 and commands.pending == ["b"]
    assert [url for _, url, _ in api.calls] == ["/api/gateways/gw-01/commands", "/api/commands/a"]
    api.calls.clear()
    assert commands.answered() == 1
    assert [url for _, url, _ in api.calls] == ["/api/gateways/gw-01/commands"]
