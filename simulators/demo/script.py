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
from datetime import date, timedelta
from importlib import resources
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from protocols.vocabulary import REREADABLE_PROTOCOLS
from simulators.archive import meter_record
from simulators.clock import VirtualClock
from simulators.demo.api import ServerApi, path
from simulators.demo.stack import (
    DemoServer,
    admin_password,
    fleet_and_agents,
    free_port,
    gateway_of,
)
from simulators.fleet import Fleet, load_fleet

log = logging.getLogger("meterlink.demo")
console = Console()

ANSWERED = ("ok", "error")


def load_archive(api: ServerApi, fleet: Fleet, commissioned: date) -> None:
    """The fleet's areas, concentrators and meters, written through the archive API."""
    for area in fleet.areas:
        api.put(path("areas", area.id), {"name": area.name})
    for gw in sorted({gateway_of(b.name) for b in fleet.buses}):
        area_id = next((m.area for m, b in fleet.meters if gateway_of(b) == gw), None)
        api.put(path("gateways", gw), {"name": f"Concentrator {gw}", "area_id": area_id})
    for m, bus in fleet.meters:
        api.put(path("meters", m.archive_id), meter_record(m, bus, gateway_of(bus), commissioned))
    for area in fleet.areas:
        api.put(path("areas", area.id), {"name": area.name, "master_meter_id": area.master})


def request_history(api: ServerApi, fleet: Fleet, days: list[date]) -> tuple[int, list[str]]:
    """One backfill command per concentrator and day for its meters that keep a freeze
    history (DL/T 645-2007 and 698.45: ``REREADABLE_PROTOCOLS``); returns the meter-days
    asked for and the commands' ids."""
    wanted = 0
    commands: list[str] = []
    by_gw: dict[str, list[str]] = {}
    for m, bus in fleet.meters:
        if m.protocol in REREADABLE_PROTOCOLS:
            by_gw.setdefault(gateway_of(bus), []).append(m.archive_id)
    for gw, meters in sorted(by_gw.items()):
        for day in days:
            items = [{"meter": mid, "date": day.isoformat()} for mid in meters]
            sent = api.post(
                path("gateways", gw, "commands"), {"name": "backfill", "args": {"items": items}}
            )
            commands.append(str(sent["id"]))
            wanted += len(items)
    return wanted, commands


def freeze_days(api: ServerApi, meter: str, first: date, last: date) -> set[str]:
    """The data dates from ``first`` to ``last`` for which ``meter`` has freeze readings."""
    body = api.get(path("meters", meter, "freeze"), start=first, end=last)
    return {str(f["data_date"]) for f in body["freezes"]}


class Commands:
    """The demo's commands as the server reports them; a finished one is asked once."""

    def __init__(self, api: ServerApi, ids: Iterable[str]) -> None:
        self.api = api
        self.pending = list(ids)
        self.finished: dict[str, dict[str, Any]] = {}

    def answered(self) -> int:
        still = []
        for cmd_id in self.pending:
            row = self.api.get(path("commands", cmd_id))
            if row["status"] in ANSWERED:
                self.finished[cmd_id] = row
            else:
                still.append(cmd_id)
        self.pending = still
        return len(self.finished)

    def failure_reasons(self) -> list[tuple[str, int]]:
        """Why meter-days were not read, most frequent first."""
        reasons: Counter[str] = Counter()
        for row in self.finished.values():
            for failed in (row.get("result") or {}).get("failed") or []:
                reasons[str(failed.get("reason"))] += 1
        return reasons.most_common()


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
    without news, or a stop)."""
    first = days[0]
    meters = [m.archive_id for m, _ in fleet.meters]
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
    ) as progress:
        total = len(commands.pending)
        t_hist = progress.add_task(f"daily freezes, {len(days)} days", total=wanted)
        t_cmd = progress.add_task("backfill commands answered", total=total)
        last_change, last_seen = time.monotonic(), -1
        while not stop.is_set() and time.monotonic() - last_change < 90:
            loaded = sum(len(freeze_days(api, m, first, today)) for m in meters)
            answered = commands.answered()
            if loaded + answered != last_seen:
                last_change, last_seen = time.monotonic(), loaded + answered
            progress.update(t_hist, completed=min(loaded, wanted))
            progress.update(t_cmd, completed=answered)
            settled = time.monotonic() - last_change > 3  # readings still arriving?
            if answered >= total and settled:
                break
            stop.wait(0.5)


def summary(api: ServerApi, first: date, today: date, commands: Commands) -> None:
    """Per area: meters, freeze days loaded since ``first``, and yesterday's read rate."""
    table = Table(title="meterlink demo: what was collected")
    for col in ("area", "meters", "freeze days loaded", "yesterday read", "yesterday rate"):
        table.add_column(col, justify="right" if col != "area" else "left")
    yesterday = (today - timedelta(days=1)).isoformat()
    areas = api.get("/api/areas", limit=1000)["items"]
    for area in sorted(a["id"] for a in areas):
        meters = api.get("/api/meters", area_id=area, limit=1000)["items"]
        if not meters:
            continue
        loaded = [freeze_days(api, m["id"], first, today) for m in meters]
        days = sum(len(d) for d in loaded)
        read = sum(yesterday in d for d in loaded)
        table.add_row(
            area, str(len(meters)), str(days), str(read), f"{100 * read / len(meters):.1f} %"
        )
    console.print(table)
    reasons = commands.failure_reasons()
    if reasons:
        console.print("meter-days not read: " + ", ".join(f"{n} x {r}" for r, n in reasons))


def run_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    data_dir.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(
        filename=data_dir / "demo.log",
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    password = admin_password(data_dir)
    server = DemoServer(
        data_dir=data_dir,
        port=free_port(args.port),
        password=password,
        database_url=args.database_url,
        mqtt_url=args.mqtt_url,
    )
    started = time.monotonic()
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
            days = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
            wanted, ids = request_history(api, fleet, days)
            commands = Commands(api, ids)
            follow_history(
                api, fleet, days=days, today=today, wanted=wanted, commands=commands, stop=stop
            )
            summary(api, days[0], today, commands)
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
                remaining = max(0.0, args.duration - (time.monotonic() - started))
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
        console.print("stopped; nothing left running.")
    return status
