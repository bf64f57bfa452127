"""``meterlink demo``: the whole system on one machine with nothing installed.

It starts an embedded PostgreSQL and MQTT broker (or uses the ones you name), the server, a
simulated fleet of three concentrators (DL/T 645-2007, DL/T 645-1997 and Modbus meters in
three transformer areas, with faults), and an edge agent per concentrator; then asks the
gateways to read 30 days of history from the meters' daily freezes, with progress bars, and
prints where to sign in. Ctrl-C (or ``--duration``) stops everything and leaves nothing
running. This is the one place that wires edge, server and simulators together.
"""

from __future__ import annotations

import argparse
import logging
import os
import secrets
import signal
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

log = logging.getLogger("meterlink.demo")
console = Console()


def _admin_password(data_dir: Path) -> str:
    path = data_dir / "admin_password"
    if path.exists():
        return path.read_text().strip()
    pw = secrets.token_urlsafe(12)
    path.write_text(pw + "\n")
    path.chmod(0o600)
    return pw


def _free_port(preferred: int) -> int:
    import socket

    with socket.socket() as s:
        if s.connect_ex(("127.0.0.1", preferred)) != 0:
            return preferred
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gateway_of(bus: str) -> str:
    return bus.split("-rs485")[0].split("-modbus")[0]


def load_archive(pool: Any, fleet: Any, commissioned: date) -> None:
    from server.db.queries import archive as q

    with pool.connection() as conn, conn.transaction():
        for area in fleet.areas:
            q.upsert(conn, "areas", area.id, {"name": area.name}, actor="demo")
        for gw in sorted({gateway_of(b.name) for b in fleet.buses}):
            area = next((m.area for m, b in fleet.meters if gateway_of(b) == gw), None)
            q.upsert(
                conn, "gateways", gw, {"name": f"Concentrator {gw}", "area_id": area}, actor="demo"
            )
        for m, bus in fleet.meters:
            cls = {
                "residential": "residential",
                "commercial": "commercial",
                "industrial": "industrial",
                "irrigation": "agricultural",
            }[m.load.value]
            q.upsert(
                conn,
                "meters",
                m.archive_id,
                {
                    "address": m.address,
                    "protocol": m.protocol,
                    "modbus_profile": m.modbus_profile,
                    "modbus_unit": m.unit_id if m.protocol == "modbus" else None,
                    "gateway_id": gateway_of(bus),
                    "bus": bus,
                    "area_id": m.area,
                    "customer_class": cls,
                    "ct_ratio": m.ct,
                    "pt_ratio": m.pt,
                    "is_area_master": m.role == "master",
                    "installed_on": commissioned,
                    "rated_voltage": m.rated_voltage,
                    "rated_current": m.rated_current,
                },
                actor="demo",
            )
        for area in fleet.areas:
            conn.execute(
                "UPDATE areas SET master_meter_id = %s WHERE id = %s", (area.master, area.id)
            )


def request_history(pool: Any, fleet: Any, days: list[date]) -> int:
    from server.gateways.commands import queue_command

    wanted = 0
    with pool.connection() as conn, conn.transaction():
        by_gw: dict[str, list[str]] = {}
        for m, bus in fleet.meters:
            if m.protocol == "dlt645-2007":
                by_gw.setdefault(gateway_of(bus), []).append(m.archive_id)
        for gw, meters in sorted(by_gw.items()):
            for day in days:
                items = [{"meter": mid, "date": day.isoformat()} for mid in meters]
                queue_command(
                    conn, gateway_id=gw, name="backfill", args={"items": items}, requested_by="demo"
                )
                wanted += len(items)
    return wanted


def count(pool: Any, sql: str, params: tuple[Any, ...] = ()) -> int:
    with pool.connection() as conn:
        row = conn.execute(sql, params).fetchone()
    return int(row[0]) if row and row[0] is not None else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="meterlink", description="meterlink: the whole system on one machine"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="run server, simulated fleet and edge agents")
    demo.add_argument("--duration", type=float, help="stop after this many seconds")
    demo.add_argument("--days", type=int, default=30, help="days of history to load")
    demo.add_argument("--data-dir", default="var/demo")
    demo.add_argument("--port", type=int, default=8080, help="HTTP port (a free one if taken)")
    demo.add_argument(
        "--database-url",
        default=os.environ.get("METERLINK_DATABASE_URL"),
        help="use this PostgreSQL/TimescaleDB instead of an embedded one",
    )
    demo.add_argument(
        "--mqtt-url",
        default=os.environ.get("METERLINK_MQTT_URL"),
        help="use this broker instead of an embedded one",
    )
    args = ap.parse_args(argv)
    if not 1 <= args.days <= 60:
        console.print("[red]--days must be within 1..60 (the meters keep 62 days)[/]")
        return 2
    return run_demo(args)


def run_demo(args: argparse.Namespace) -> int:
    import uvicorn

    from edge.agent import Agent
    from edge.config import config_from_dict
    from server.api.app import create_app
    from server.settings import Settings
    from simulators.clock import VirtualClock
    from simulators.fleet import load_fleet
    from simulators.harness import edge_config_dict, running_fleet

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
    password = _admin_password(data_dir)
    port = _free_port(args.port)
    settings = Settings(
        database_url=args.database_url,
        mqtt_url=args.mqtt_url,
        data_dir=data_dir / "server",
        http_port=port,
        admin_password=password,  # type: ignore[arg-type]
    )
    app = create_app(settings)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    )
    server_thread = threading.Thread(target=server.run, name="demo-server", daemon=True)
    agents: list[Agent] = []
    started = time.monotonic()
    with console.status("starting the database, broker and server…"):
        server_thread.start()
        while not server.started and server_thread.is_alive():
            time.sleep(0.1)
    if not server.started:
        console.print(f"[red]the server did not start; see {data_dir / 'demo.log'}[/]")
        return 1
    mode = (
        ("embedded PostgreSQL" if args.database_url is None else "your database")
        + " + "
        + ("embedded MQTT broker" if args.mqtt_url is None else "your broker")
    )
    console.print(f"[green]server up[/] on http://127.0.0.1:{port} ({mode})")
    pool, mqtt_url = app.state.pool, app.state.mqtt_url
    now = datetime.now(UTC)
    fleet_path = resources.files("simulators").joinpath("fleets/demo.toml")
    with resources.as_file(fleet_path) as fp:
        fleet = load_fleet(fp, now=now)
    clock = VirtualClock(now, 1.0)
    status = 0
    try:
        with running_fleet(
            fleet, clock=clock, fast=True, ground_truth=data_dir / "ground_truth.jsonl"
        ) as run:
            load_archive(pool, fleet, fleet.commissioned)
            gateways = sorted({gateway_of(b) for b in run.urls})
            for gw in gateways:
                buses = [b for b in run.urls if gateway_of(b) == gw]
                cfg = edge_config_dict(
                    fleet,
                    run.urls,
                    gw,
                    buses=buses,
                    broker_url=mqtt_url,
                    data_dir=str(data_dir / "edge" / gw),
                )
                for bus in cfg["bus"]:
                    bus["timeout_ms"] = 500
                    bus["gap_ms"] = 0
                cfg["metrics"] = {"listen": ""}
                if args.mqtt_url is None:
                    cfg["broker"]["protocol"] = "3.1.1"  # amqtt speaks MQTT 3.1.1 only
                agent = Agent(config_from_dict(cfg), status_every_s=15)
                agent.start()
                agents.append(agent)
            console.print(
                f"[green]{len(fleet.meters)} simulated meters[/] on "
                f"{len(run.urls)} buses, {len(gateways)} concentrators with an edge "
                "agent each"
            )
            today = now.astimezone(fleet_tz(fleet)).date()
            days = [today - timedelta(days=n) for n in range(args.days, 0, -1)]
            wanted = request_history(pool, fleet, days)
            first = days[0]
            with Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                TextColumn("{task.completed}/{task.total}"),
                TimeElapsedColumn(),
                console=console,
            ) as progress:
                t_hist = progress.add_task(f"daily freezes, {args.days} days", total=wanted)
                t_cmd = progress.add_task(
                    "backfill commands answered",
                    total=count(pool, "SELECT count(*) FROM gateway_commands"),
                )
                last_change, last_seen = time.monotonic(), -1
                while not stop.is_set() and time.monotonic() - last_change < 90:
                    loaded = count(
                        pool,
                        "SELECT count(DISTINCT (meter_id, data_date)) FROM "
                        "daily_freeze WHERE data_date >= %s",
                        (first,),
                    )
                    answered = count(
                        pool,
                        "SELECT count(*) FROM gateway_commands WHERE status IN ('ok', 'error')",
                    )
                    if loaded + answered != last_seen:
                        last_change, last_seen = time.monotonic(), loaded + answered
                    progress.update(t_hist, completed=min(loaded, wanted))
                    progress.update(t_cmd, completed=answered)
                    settled = time.monotonic() - last_change > 3  # readings still arriving?
                    if answered >= progress.tasks[1].total and settled:  # type: ignore[operator]
                        break
                    stop.wait(0.5)
            summary(pool, fleet, first, today)
            console.print(
                f"\nOpen [bold]http://127.0.0.1:{port}/ui/[/] (API: /docs) and "
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
            for agent in agents:
                try:
                    agent.stop()
                except Exception:
                    log.exception("stopping an edge agent failed")
            server.should_exit = True
            server_thread.join(60)
        console.print("stopped; nothing left running.")
    return status


def fleet_tz(fleet: Any) -> Any:
    from zoneinfo import ZoneInfo

    return ZoneInfo(fleet.timezone)


def summary(pool: Any, fleet: Any, first: date, today: date) -> None:
    table = Table(title="meterlink demo: what was collected")
    for col in ("area", "meters", "freeze days loaded", "yesterday read", "yesterday rate"):
        table.add_column(col, justify="right" if col != "area" else "left")
    yesterday = today - timedelta(days=1)
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT a.id, count(DISTINCT m.id), "
            "count(DISTINCT (f.meter_id, f.data_date)) FILTER (WHERE f.data_date >= %s), "
            "count(DISTINCT f.meter_id) FILTER (WHERE f.data_date = %s) "
            "FROM areas a JOIN meters m ON m.area_id = a.id "
            "LEFT JOIN daily_freeze f ON f.meter_id = m.id GROUP BY a.id ORDER BY a.id",
            (first, yesterday),
        ).fetchall()
    for area, meters, days, read in rows:
        table.add_row(
            area,
            str(meters),
            str(days),
            str(read),
            f"{100 * read / meters:.1f} %" if meters else "-",
        )
    console.print(table)
    with pool.connection() as conn:
        reasons = conn.execute(
            "SELECT f->>'reason', count(*) FROM gateway_commands, "
            "jsonb_array_elements(coalesce(result->'failed', '[]'::jsonb)) f "
            "WHERE name = 'backfill' GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    if reasons:
        console.print("meter-days not read: " + ", ".join(f"{n} x {r}" for r, n in reasons))


if __name__ == "__main__":
    sys.exit(main())
