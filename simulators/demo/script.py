"""What the demo does and asks of the server, through the server's HTTP API only.

It signs in as the demo admin, writes the fleet into the archive (areas, concentrators,
meters, area masters), asks each concentrator to backfill the DL/T 645-2007 meters' daily
freezes, follows the progress from the meters' freeze readings and the commands' states,
and prints a summary per area. Starting and stopping things is
:mod:`simulators.demo.stack`'s job; no table, SQL or ingest internals are used here.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from protocols.vocabulary import REREADABLE_PROTOCOLS
from simulators.archive import ORG_UNITS, area_record, meter_record
from simulators.clock import VirtualClock
from simulators.demo.api import ServerApi, path
from simulators.demo.lock import DemoLock, DemoLocked
from simulators.demo.stack import (
    DemoServer,
    admin_password,
    fleet_and_agents,
    free_port,
    gateway_of,
)
from simulators.fleet import Fleet, load_fleet
from simulators.meter import MeterSpec

log = logging.getLogger("meterlink.demo")
console = Console()

#: a command's final states: answered (wholly, partly, not at all) or never answered in time
ANSWERED = ("ok", "partial", "error", "expired")


def load_archive(api: ServerApi, fleet: Fleet, commissioned: date) -> None:
    """The fleet's organisation units, areas, concentrators and meters, written through the
    archive API."""
    for unit, record in ORG_UNITS:
        api.put(path("org-units", unit), record)
    for i, area in enumerate(fleet.areas):
        api.put(path("areas", area.id), area_record(area.name, i))
    for gw in sorted({gateway_of(b.name) for b in fleet.buses}):
        area_id = next((m.area for m, b in fleet.meters if gateway_of(b) == gw), None)
        api.put(path("gateways", gw), {"name": f"Concentrator {gw}", "area_id": area_id})
    for m, bus in fleet.meters:
        api.put(path("meters", m.archive_id), meter_record(m, bus, gateway_of(bus), commissioned))
    for i, area in enumerate(fleet.areas):
        api.put(path("areas", area.id), area_record(area.name, i, area.master))


def keeps_history(m: MeterSpec) -> bool:
    """Whether a meter keeps a daily-freeze history to read back (DL/T 645-2007 and 698.45
    meters do, ``REREADABLE_PROTOCOLS``; DL/T 645-1997 and Modbus meters do not: a
    concentrator keeps their terminal freezes only from the day it runs)."""
    return m.protocol in REREADABLE_PROTOCOLS


#: days of history one backfill command asks (a command per day was 90 commands for the
#: default 30 days, whose traffic and bookkeeping took longer than the reads)
DAYS_PER_COMMAND = 10


def request_history(
    api: ServerApi, fleet: Fleet, days: list[date], days_per_command: int = DAYS_PER_COMMAND
) -> tuple[int, list[str]]:
    """Backfill commands to each concentrator for the meters that keep a freeze history,
    ``days_per_command`` days each, oldest day first (so a day's consumption can be judged
    as soon as it arrives); returns the meter-days asked for and the commands' ids."""
    wanted = 0
    commands: list[str] = []
    by_gw: dict[str, list[str]] = {}
    for m, bus in fleet.meters:
        if keeps_history(m):
            by_gw.setdefault(gateway_of(bus), []).append(m.archive_id)
    for gw, meters in sorted(by_gw.items()):
        for first in range(0, len(days), days_per_command):
            items = [
                {"meter": mid, "date": day.isoformat()}
                for day in days[first : first + days_per_command]
                for mid in meters
            ]
            sent = api.post(
                path("gateways", gw, "commands"), {"name": "backfill", "args": {"items": items}}
            )
            commands.append(str(sent["id"]))
            wanted += len(items)
    return wanted, commands


def read_now(api: ServerApi, fleet: Fleet) -> list[str]:
    """召测 every meter now (its voltages, currents and power: what a broken phase shows);
    returns the commands' ids."""
    ids = []
    for m, bus in fleet.meters:
        sent = api.post(
            path("gateways", gateway_of(bus), "commands"),
            {"name": "read_now", "args": {"meter": m.archive_id}},
        )
        ids.append(str(sent["id"]))
    return ids


def check_clocks(api: ServerApi, fleet: Fleet) -> list[str]:
    """Check every concentrator's meter clocks (校时: each meter's clock offset is recorded,
    then the time is set); returns the commands' ids."""
    ids = []
    for gw in sorted({gateway_of(b) for _, b in fleet.meters}):
        sent = api.post(path("gateways", gw, "commands"), {"name": "time_sync", "args": {}})
        ids.append(str(sent["id"]))
    return ids


def read_today(api: ServerApi, fleet: Fleet) -> list[str]:
    """:func:`read_now` and :func:`check_clocks`: every command the day's reads take."""
    return read_now(api, fleet) + check_clocks(api, fleet)


def run_checks(api: ServerApi, days: list[date]) -> dict[str, int]:
    """The anomaly rules over each day, oldest first; findings per rule, summed."""
    found: Counter[str] = Counter()
    for day in days:
        body = api.post(f"/api/checks/run?date={day.isoformat()}", {})
        found.update({str(k): int(v) for k, v in (body.get("found") or {}).items()})
        for rule, why in (body.get("failed") or {}).items():
            log.error("rule %s failed for %s: %s", rule, day, why)
    return {k: n for k, n in sorted(found.items()) if n}


def freeze_days(api: ServerApi, meter: str, first: date, last: date) -> set[str]:
    """The data dates from ``first`` to ``last`` for which ``meter`` has freeze readings."""
    body = api.get(path("meters", meter, "freeze"), start=first, end=last)
    return {str(f["data_date"]) for f in body["freezes"]}


class Commands:
    """The demo's commands as the server reports them; a finished one is asked once. With
    the concentrators given, the states come from one listing per concentrator (asking
    every pending command on every poll was a few hundred requests a second, which slowed
    the very reads it waited for)."""

    def __init__(self, api: ServerApi, ids: Iterable[str], gateways: Iterable[str] = ()) -> None:
        self.api = api
        self.pending = list(ids)
        self.gateways = sorted(set(gateways))
        self.finished: dict[str, dict[str, Any]] = {}

    def _states(self) -> dict[str, str]:
        """Command id -> status from each concentrator's listing (newest first)."""
        out: dict[str, str] = {}
        for gw in self.gateways:
            body = self.api.get(path("gateways", gw, "commands"), limit=1000)
            out.update({str(c["id"]): str(c["status"]) for c in body["items"]})
        return out

    def answered(self) -> int:
        states = self._states() if self.gateways else {}
        still = []
        for cmd_id in self.pending:
            if states.get(cmd_id, "?") not in (*ANSWERED, "?"):
                still.append(cmd_id)  # listed, not answered yet
                continue
            row = self.api.get(path("commands", cmd_id))
            if row["status"] in ANSWERED:
                self.finished[cmd_id] = row
            else:
                still.append(cmd_id)
        self.pending = still
        return len(self.finished)

    def items_answered(self) -> int:
        """The meter-days (items) of the answered commands: this run's progress, whatever
        earlier runs left in the database."""
        return sum(
            len((row.get("args") or {}).get("items") or []) for row in self.finished.values()
        )

    def failed_items(self) -> list[dict[str, Any]]:
        """Every meter-day the answered backfills did not read (``meter``, ``date``,
        ``reason``); an unanswered or expired command's items are ``unanswered``."""
        out: list[dict[str, Any]] = []
        for row in self.finished.values():
            result = row.get("result") or {}
            if row["status"] == "expired" and not result:
                items = (row.get("args") or {}).get("items") or []
                out += [{**i, "reason": "unanswered (command expired)"} for i in items]
                continue
            out += [f for f in result.get("failed") or [] if isinstance(f, dict)]
        return out

    def failure_reasons(self) -> list[tuple[str, int]]:
        """Why meter-days were not read, most frequent first."""
        reasons: Counter[str] = Counter()
        for row in self.finished.values():
            for failed in (row.get("result") or {}).get("failed") or []:
                reasons[str(failed.get("reason"))] += 1
        return reasons.most_common()


def wait_answered(commands: Commands, stop: threading.Event, timeout_s: float = 60.0) -> None:
    """Until every command is answered (or ``timeout_s``, or a stop)."""
    deadline = time.monotonic() + timeout_s
    while commands.pending and not stop.is_set() and time.monotonic() < deadline:
        commands.answered()
        if commands.pending:
            stop.wait(0.3)


def follow_history(
    api: ServerApi,
    fleet: Fleet,
    *,
    days: list[date],
    today: date,
    wanted: int,
    commands: Commands,
    stop: threading.Event,
) -> None:
    """Progress bars until every command is answered and readings have settled (or 90 s
    without news, or a stop): the meter-days this run's commands answered, and the
    commands."""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        total = len(commands.pending)
        t_hist = progress.add_task(f"meter-days of history, {len(days)} days", total=wanted)
        t_cmd = progress.add_task("backfill commands answered", total=total)
        meters = [m.archive_id for m, _ in fleet.meters if keeps_history(m)]
        last_change, last_seen = time.monotonic(), -1
        while not stop.is_set() and time.monotonic() - last_change < 90:
            answered = commands.answered()
            progress.update(t_hist, completed=commands.items_answered())
            progress.update(t_cmd, completed=answered)
            seen = answered
            if answered >= total:
                # the readings of the last answers may still be on their way to the database
                seen += sum(len(freeze_days(api, m, days[0], days[-1])) for m in meters)
            if seen != last_seen:
                last_change, last_seen = time.monotonic(), seen
            elif answered >= total and time.monotonic() - last_change > 2:
                break
            stop.wait(0.5)


@dataclass
class RunReport:
    """What this run of the demo asked and got (never what earlier runs on the same data
    directory left in the database): the meter-days it asked of the meters' freeze history,
    those its commands answered and those they could not read, the rules' findings over the
    days it checked. A meter-day counts as read only once its command answered."""

    days: list[date] = field(default_factory=list)
    asked: dict[str, int] = field(default_factory=dict)  # meter -> meter-days asked
    answered: dict[str, int] = field(default_factory=dict)  # meter -> meter-days answered
    failed: list[dict[str, Any]] = field(default_factory=list)  # answered, not read
    found: dict[str, int] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    history_s: float | None = None  # seconds from the start until the history was read
    story_s: float | None = None  # ... until the anomalies were in the archive
    checked: bool = False  # the rules ran over the history and today

    def ask(self, fleet: Fleet, days: list[date]) -> None:
        self.days = list(days)
        for m, _ in fleet.meters:
            if keeps_history(m):
                self.asked[m.archive_id] = self.asked.get(m.archive_id, 0) + len(days)

    def take(self, commands: Commands) -> None:
        """The answers of this run's history commands."""
        answered: Counter[str] = Counter()
        for row in commands.finished.values():
            for item in (row.get("args") or {}).get("items") or []:
                answered[str(item.get("meter"))] += 1
        self.answered = dict(answered)
        self.failed = commands.failed_items()

    def read_by_meter(self) -> dict[str, int]:
        """Meter-days read per meter asked: answered minus the failed ones."""
        missed = Counter(str(f.get("meter")) for f in self.failed)
        return {m: max(0, self.answered.get(m, 0) - missed[m]) for m in self.asked}

    def totals(self) -> tuple[int, int]:
        """(meter-days asked, meter-days read) in this run."""
        return sum(self.asked.values()), sum(self.read_by_meter().values())

    def line(self) -> str:
        """One line for the console and the log."""
        asked, read = self.totals()
        unanswered = asked - sum(min(self.answered.get(m, 0), n) for m, n in self.asked.items())
        found = sum(self.found.values())
        took = f" in {self.history_s:.0f} s" if self.history_s is not None else ""
        open_ = f" ({unanswered} not answered)" if unanswered else ""
        story = (
            f"; the archive complete {self.story_s:.0f} s after the start"
            if self.story_s is not None
            else ""
        )
        rules = (
            f"the rules found {found} anomalies over those {len(self.days)} days and today"
            + (f" ({', '.join(f'{r} {n}' for r, n in self.found.items())})" if found else "")
            if self.checked
            else "the rules were not run (stopped before)"
        )
        return (
            f"this run: {read} of {asked} meter-days of freeze history read{open_}{took}"
            f"{story}; {rules}; running {time.monotonic() - self.started:.0f} s"
        )


def summary(api: ServerApi, fleet: Fleet, report: RunReport, today: date) -> None:
    """Per area: this run's history (meter-days read of asked), yesterday's collection
    rate and line loss as the server reports them; then the anomaly archive."""
    yesterday = today - timedelta(days=1)
    rates = {
        str(g["key"]): g for g in api.get("/api/completeness", date=yesterday, by="area")["groups"]
    }
    losses = {str(a["area_id"]): a for a in api.get("/api/line-loss", date=yesterday)["areas"]}
    read_by_meter = report.read_by_meter()
    table = Table(title=f"meterlink demo: what this run collected ({len(report.days)} days)")
    for col in (
        "area",
        "meters",
        "history read, meter-days (this run)",
        f"read on {yesterday}",
        "rate",
        "line loss",
    ):
        table.add_column(col, justify="left" if col == "area" else "right")
    for area in fleet.areas:
        members = [area.master, *area.customers]
        asked = sum(report.asked.get(m, 0) for m in members)
        read = sum(read_by_meter.get(m, 0) for m in members)
        rate = rates.get(area.id, {})
        loss = losses.get(area.id, {})
        figure = loss.get("loss")
        table.add_row(
            area.id,
            str(len(members)),
            f"{read}/{asked}",
            f"{rate.get('read', 0)}/{rate.get('due', len(members))}",
            f"{100 * float(rate['rate']):.1f} %" if rate.get("rate") is not None else "–",
            f"{100 * float(figure):.1f} %" if figure is not None else "– (incomplete)",
        )
    console.print(table)
    no_history = [m.archive_id for m, _ in fleet.meters if not keeps_history(m)]
    if no_history:
        console.print(
            f"{', '.join(no_history)} keep no freeze history (DL/T 645-1997, Modbus): the days "
            "before the demo cannot be read from them, so their area has no line loss then."
        )
    reasons = Counter(str(f.get("reason")) for f in report.failed).most_common()
    if reasons:
        console.print("meter-days not read: " + ", ".join(f"{n} x {r}" for r, n in reasons))
    anomalies(api)


def anomalies(api: ServerApi) -> None:
    """The open anomaly archive, one line per record."""
    rows = api.get("/api/anomalies", limit=500)["items"]
    shown = [a for a in rows if a.get("status") in ("open", "confirmed")]
    table = Table(title=f"anomaly archive: {len(shown)} open records")
    for col in ("rule", "meter / area", "days"):
        table.add_column(col)
    for a in sorted(shown, key=lambda a: (str(a["rule"]), str(a.get("meter_id") or ""))):
        who = a.get("meter_id") or f"area {a.get('area_id')}"
        first, last = a.get("first_date"), a.get("last_date")
        table.add_row(str(a["rule"]), str(who), f"{first} .. {last}" if first != last else first)
    console.print(table)


def tell_story(
    api: ServerApi,
    fleet: Fleet,
    report: RunReport,
    days: list[date],
    today: date,
    stop: threading.Event,
) -> None:
    """Read the history, read every meter now, check the clocks, run the rules over the
    history and today: after this the archive shows every fault the fleet carries."""
    report.ask(fleet, days)
    gateways = [gateway_of(b) for _, b in fleet.meters]
    # the reads of today go first (an edge takes a read-now before a backfill's next item),
    # the clocks are checked once the history is in (the time set moves a meter's freezes)
    now_ids = read_now(api, fleet)
    wanted, ids = request_history(api, fleet, days)
    history = Commands(api, ids, gateways)
    follow_history(api, fleet, days=days, today=today, wanted=wanted, commands=history, stop=stop)
    if stop.is_set():
        history.answered()  # what was answered by the stop, once more
    report.take(history)
    report.history_s = time.monotonic() - report.started
    if stop.is_set():
        return
    with console.status("reading every meter now (召测) and checking the meters' clocks…"):
        wait_answered(Commands(api, now_ids + check_clocks(api, fleet), gateways), stop)
    with console.status("running the anomaly rules over the history and today…"):
        report.found = run_checks(api, [*days, today])
        report.checked = True
    report.story_s = time.monotonic() - report.started


def keep_previous_truth(data_dir: Path) -> Path | None:
    """Move an earlier run's ground truth aside (``ground_truth.previous.jsonl``): the file
    the demo names is this run's faults and meters only, not every run's appended."""
    truth = data_dir / "ground_truth.jsonl"
    if not truth.exists():
        return None
    return truth.replace(data_dir / "ground_truth.previous.jsonl")


def run_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    try:
        lock = DemoLock.acquire(data_dir)
    except DemoLocked as exc:
        console.print(f"[red]{exc}[/]")
        return 3
    with lock:
        if lock.took_over is not None:
            console.print(
                f"[yellow]taking over {lock.path}: the demo that held it (pid "
                f"{lock.took_over}) is not running any more[/]"
            )
        return _run(args, data_dir)


def _run(args: argparse.Namespace, data_dir: Path) -> int:
    logging.basicConfig(
        filename=data_dir / "demo.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    report = RunReport()
    password = admin_password(data_dir)
    server = DemoServer(
        data_dir=data_dir,
        port=free_port(args.port),
        password=password,
        database_url=args.database_url,
        mqtt_url=args.mqtt_url,
    )
    with console.status("starting the database, broker and server…"):
        up = server.start()
    if not up:
        console.print(f"[red]the server did not start; see {data_dir / 'demo.log'}[/]")
        return 1
    mode = (
        ("embedded PostgreSQL" if args.database_url is None else "your database")
        + " + "
        + ("embedded MQTT broker" if args.mqtt_url is None else "your broker")
    )
    console.print(f"[green]server up[/] on {server.base_url} ({mode})")
    clock = VirtualClock(speed=1.0)
    now = clock.now()
    fleet_path = resources.files("simulators").joinpath("fleets/demo.toml")
    with resources.as_file(fleet_path) as fp:
        fleet = load_fleet(fp, now=now)
    previous_truth = keep_previous_truth(data_dir)
    status = 0
    try:
        api = ServerApi(server.base_url)
        api.login("admin", password)
        load_archive(api, fleet, fleet.commissioned)
        with fleet_and_agents(
            fleet,
            clock=clock,
            data_dir=data_dir,
            broker_url=server.mqtt_url,
            mqtt_311=args.mqtt_url is None,
            broker_password=server.broker_password,
        ) as (run, gateways):
            console.print(
                f"[green]{len(fleet.meters)} simulated meters[/] on "
                f"{len(run.urls)} buses, {len(gateways)} concentrators with an edge "
                "agent each"
            )
            today = now.astimezone(ZoneInfo(fleet.timezone)).date()
            if previous_truth is not None:
                console.print(f"(the ground truth of the previous run: {previous_truth})")
            days = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
            tell_story(api, fleet, report, days, today, stop)
            summary(api, fleet, report, today)
            console.print(report.line())
            log.info("%s", report.line())
            console.print(
                f"\nOpen [bold]{server.base_url}/ui/[/] (API: /docs) and "
                "sign in as "
                f"[bold]admin[/] / [bold]{password}[/] (password kept in "
                f"{data_dir / 'admin_password'})."
            )
            console.print(
                f"Meters: `meterlink-sim fault` needs the control API; the ground "
                f"truth of injected faults is in {data_dir / 'ground_truth.jsonl'}."
            )
            remaining = None
            if args.duration is not None:
                remaining = max(0.0, args.duration - (time.monotonic() - report.started))
            console.print(
                "Running; Ctrl-C stops everything."
                if remaining is None
                else f"Running for {remaining:.0f} s more."
            )
            stop.wait(remaining)
    except Exception:
        log.exception("demo failed")
        console.print_exception()
        status = 1
    finally:
        with console.status("stopping…"):
            server.stop()
        console.print(report.line())
        log.info("stopped; %s", report.line())
        console.print("stopped; nothing left running.")
    return status
