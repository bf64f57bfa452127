"""Chaos run: a simulated fleet lives through virtual days while edge agents, server processes
and the broker are killed with ``kill -9`` at random moments and the database is restarted;
at the end, exact accounting.

Everything is on loopback and bounded: the run stops by itself after ``days`` virtual days
(``speed`` virtual seconds per real second) plus a settling phase with a deadline.

* The simulated meters (DL/T 645-2007, one bus per concentrator) run in this process, on a
  virtual clock; the edge agents run as ``meterlink-edge run --virtual-clock`` subprocesses on
  the same time, with the outbox journal on (a copy of every reading they committed).
* Two ``meterlink-server`` processes share the readings (a shared subscription); a private
  Mosquitto without persistence is the broker (a killed broker forgets everything it held);
  the database is a PostgreSQL the run may restart (the private TimescaleDB server of
  ``deploy/scripts/timescaledb.sh``), in a database of its own, dropped afterwards.
* Chaos: every few real seconds one of edge / server / broker / database is killed (the
  database: stopped and started) and brought back after a short while.
* Then the chaos stops, the re-reading of every missing meter-day is requested as the server's
  job does, and the run waits until every gateway has delivered what it committed.

Accounting (each a problem if it fails):

* every reading an edge committed (its journal) is stored exactly once with the same value;
  nothing is stored that no edge committed; no reading conflicts, no dead letters;
* after the re-reading, the meter-days read (the success rate of every day) equal the
  simulators' ground truth: the meter-days whose freeze a meter put on the line cleanly.

Full run (a documented command; the README gives the figures):

    python -m tests.reliability.chaos --gateways 4 --meters-per-gateway 16 --days 7

CI runs a reduced size (tests/reliability/test_chaos.py).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from protocols.wire import reading_from_dict
from server.checks import completeness, reread
from server.db.migrate import migrate
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.harness import edge_config_dict, running_fleet
from tests.accuracy.scenario import Delivered, gateway_of, load_archive, read_set
from tests.conftest import free_port

REPO = Path(__file__).resolve().parents[2]
TZ_NAME = "Asia/Shanghai"
TZ = ZoneInfo(TZ_NAME)
REPLY_TIMEOUT_MS = 300  # every edge's bus reply timeout; the ground truth judges by it
TIMESCALE_SCRIPT = REPO / "deploy" / "scripts" / "timescaledb.sh"

Key = tuple[str, str, datetime, bool]  # meter, quantity, timestamp, a freeze


@dataclass
class Outcome:
    gateways: int
    meters: int
    days: int
    seconds: float = 0.0
    kills: dict[str, int] = field(default_factory=dict)
    committed: int = 0  # distinct readings the edges committed (before the cut-off)
    stored: int = 0  # readings stored for the run's meters (before the cut-off)
    conflicts: int = 0
    dead_letters: int = 0
    truth_meter_days: int = 0
    uncertain_meter_days: int = 0  # left out of the comparison (a reply near the timeout)
    read_before_reread: int = 0
    read_after_reread: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if k != "problems"} | {
            "problems": len(self.problems)
        }


# --------------------------------------------------------------------------- processes


class Service:
    """One process of the run: started, killed with SIGKILL, started again."""

    def __init__(
        self, name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None
    ) -> None:
        self.name, self.argv = name, argv
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_dir / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            env=self.env,
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()
        self.starts += 1

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.proc = None

    def check_alive(self) -> str | None:
        if self.proc is not None and self.proc.poll() is not None:
            return f"{self.name} exited by itself with {self.proc.returncode} (see {self.log_path})"
        return None


def wait_port(port: int, timeout: float = 20.0) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {timeout} s")


def toml(data: dict[str, Any]) -> str:
    """Just enough TOML for an edge configuration (tables, arrays of tables, scalars)."""

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, str):
            return json.dumps(v)
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        raise TypeError(f"no TOML for {v!r}")

    def table(d: dict[str, Any], path: str, out: list[str]) -> None:
        for k, v in d.items():
            if not isinstance(v, dict) and not (
                isinstance(v, list) and v and isinstance(v[0], dict)
            ):
                out.append(f"{k} = {scalar(v)}")
        for k, v in d.items():
            sub = f"{path}.{k}" if path else k
            if isinstance(v, dict):
                out.append(f"\n[{sub}]")
                table(v, sub, out)
            elif isinstance(v, list) and v and isinstance(v[0], dict):
                for item in v:
                    out.append(f"\n[[{sub}]]")
                    table(item, sub, out)

    lines: list[str] = []
    table(data, "", lines)
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- the fleet


def build_fleet(gateways: int, per_gw: int, start: datetime) -> dict[str, Any]:
    buses, areas = [], []
    for g in range(gateways):
        bus = f"gw{g:02d}-rs485-0"
        buses.append({"name": bus, "fast": True})
        areas.append(
            {
                "id": f"A{g:02d}",
                "loss": 0.04,
                "master": {
                    "archive_id": f"M{g:02d}",
                    "address": f"{900000 + g:012d}",
                    "bus": bus,
                    "phases": 3,
                    "load": "industrial",
                },
                "meters": [
                    {
                        "archive_id": f"C{g:02d}{i:04d}",
                        "address": f"{g * 10000 + i + 1:012d}",
                        "bus": bus,
                    }
                    for i in range(per_gw - 1)
                ],
            }
        )
    return {
        "seed": 23,
        "timezone": TZ_NAME,
        "start": start.isoformat(),
        "speed": 0.0,
        "commissioned": (start.date() - timedelta(days=90)).isoformat(),
        "buses": buses,
        "areas": areas,
    }


def read_outbox(path: Path, before: datetime) -> tuple[dict[Key, float], int, list[str]]:
    """(journal before the cut-off, outbox rows before the cut-off, problems), read-only."""
    journal: dict[Key, float] = {}
    problems: list[str] = []
    pending = 0
    if not path.exists():
        return journal, pending, problems
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        for (body,) in conn.execute("SELECT body FROM journal"):
            r = reading_from_dict(json.loads(body))
            if r.ts >= before:
                continue
            key = (r.meter, r.quantity, r.ts, r.kind.value == "freeze")
            if key in journal and journal[key] != r.value:
                problems.append(
                    f"the edge committed {key} twice with different values "
                    f"{journal[key]} and {r.value}"
                )
            journal[key] = r.value
        for (body,) in conn.execute("SELECT body FROM outbox"):
            if reading_from_dict(json.loads(body)).ts < before:
                pending += 1
    finally:
        conn.close()
    return journal, pending, problems


# --------------------------------------------------------------------------- the run


def timescale_restarter() -> Callable[[], None]:
    def restart() -> None:
        for cmd in ("stop", "start"):
            subprocess.run(
                ["bash", str(TIMESCALE_SCRIPT), cmd],
                check=True,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                timeout=180,
            )

    return restart


def run(
    admin_url: str,
    *,
    gateways: int = 2,
    per_gw: int = 12,
    days: int = 2,
    speed: float = 1440.0,
    chaos_every: tuple[float, float] = (4.0, 9.0),
    restart_db: Callable[[], None] | None = None,
    seed: int = 1,
    work_dir: Path | None = None,
    settle_s: float = 300.0,
    log: Callable[[str], None] = print,
) -> Outcome:
    t0 = time.monotonic()
    rng = random.Random(seed)
    tmp = Path(work_dir or tempfile.mkdtemp(prefix="meterlink-chaos-"))
    tmp.mkdir(parents=True, exist_ok=True)
    out = Outcome(gateways, gateways * per_gw, days)
    name = f"chaos_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as c:
        c.execute(f'CREATE DATABASE "{name}"')
    url = psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    services: list[Service] = []
    try:
        migrate(url)
        today = datetime.now(TZ).date()
        first = today - timedelta(days=days + 2)
        last = first + timedelta(days=days - 1)
        start = datetime.combine(first, datetime.min.time(), TZ) + timedelta(minutes=1)
        cutoff = start + timedelta(days=days, minutes=30)  # the last freeze read is in
        fleet = fleet_from_dict(build_fleet(gateways, per_gw, start.astimezone(UTC)))
        clock = VirtualClock(start.astimezone(UTC), speed)
        epoch = time.time()
        with running_fleet(fleet, clock=clock, fast=True) as fr:
            # judged against the reply timeout every edge below is given
            delivered = Delivered(fr.sim, dict.fromkeys(fr.sim.meters, REPLY_TIMEOUT_MS / 1000))
            fr.sim.on_clean_reply(delivered)
            with psycopg.connect(url) as c:
                load_archive(c, fleet, {}, fleet.commissioned)

            broker_port = free_port()
            conf = tmp / "mosquitto.conf"
            conf.write_text(
                f"listener {broker_port} 127.0.0.1\nallow_anonymous true\n"
                "max_queued_messages 0\npersistence false\n"
            )
            mosquitto = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
            broker = Service("broker", [mosquitto, "-c", str(conf)], tmp)
            broker_url = f"mqtt://127.0.0.1:{broker_port}"
            servers = [
                Service(
                    f"server{i}",
                    [sys.executable, "-m", "server.cli", "run"],
                    tmp,
                    {
                        "METERLINK_DATABASE_URL": url,
                        "METERLINK_MQTT_URL": broker_url,
                        "METERLINK_HTTP_PORT": str(free_port()),
                        "METERLINK_JOBS_ENABLED": "false",
                        "METERLINK_MQTT_CLIENT_ID": f"chaos-server-{i}",
                        "METERLINK_DATA_DIR": str(tmp / f"server{i}"),
                        "METERLINK_INGEST_BATCH_MS": "50",
                        "METERLINK_POOL_MAX": "4",
                    },
                )
                for i in range(2)
            ]
            edges = []
            spec = f"{start.astimezone(UTC).isoformat()},{epoch},{speed}"
            for bus in fleet.buses:
                gw = gateway_of(bus.name)
                cfg = edge_config_dict(
                    fleet,
                    fr.urls,
                    gw,
                    buses=[bus.name],
                    broker_url=broker_url,
                    data_dir=str(tmp / gw),
                )
                cfg["broker"].update(
                    {"batch_ms": 100, "receipt_timeout_s": 5, "client_id": f"chaos-{gw}"}
                )
                cfg["outbox"] = {"journal": True}
                cfg["metrics"] = {"listen": ""}
                for b in cfg["bus"]:
                    b.update({"timeout_ms": REPLY_TIMEOUT_MS, "gap_ms": 0})
                cfg["plan"] = [
                    {
                        "name": "interval",
                        "kind": "interval",
                        "every_min": 15,
                        "quantities": ["energy_import_total", "voltage_a"],
                    },
                    {"name": "daily_freeze", "kind": "daily_freeze", "at": "00:05"},
                ]
                path = tmp / f"{gw}.toml"
                path.write_text(toml(cfg))
                edges.append(
                    Service(
                        f"edge-{gw}",
                        [
                            sys.executable,
                            "-m",
                            "edge.cli",
                            "run",
                            str(path),
                            "--virtual-clock",
                            spec,
                        ],
                        tmp,
                    )
                )
            services = [broker, *servers, *edges]
            broker.start()
            wait_port(broker_port)
            for s in (*servers, *edges):
                s.start()

            # ---------------------------------------------------------------- chaos
            kills: Counter[str] = Counter()
            end = epoch + days * 86400 / speed + 1800 / speed
            kinds = ["edge", "server", "broker"] + (["database"] if restart_db else [])
            while time.time() < end:
                time.sleep(rng.uniform(*chaos_every))
                if time.time() >= end:
                    break
                kind = rng.choice(kinds)
                if kind == "database":
                    assert restart_db is not None
                    restart_db()
                    kills["database restarts"] += 1
                    continue
                victim = {
                    "edge": lambda: rng.choice(edges),
                    "server": lambda: rng.choice(servers),
                    "broker": lambda: broker,
                }[kind]()
                victim.kill9()
                kills[f"{kind} kill -9"] += 1
                time.sleep(rng.uniform(0.2, 2.0))
                victim.start()
                if victim is broker:
                    wait_port(broker_port)
            out.kills = dict(kills)
            log(f"  chaos over after {time.monotonic() - t0:.0f} s: {dict(kills)}")
            for s in services:
                if (why := s.check_alive()) is not None:
                    out.problems.append(why)
                    s.start()

            # ------------------------------------------------------- settle, re-read
            conn = psycopg.connect(url, autocommit=True)  # after the database restarts

            def settled(deadline: float) -> tuple[dict[Key, float], int]:
                while True:
                    journal: dict[Key, float] = {}
                    pending = 0
                    for gw_edge in edges:
                        gw = gw_edge.name.removeprefix("edge-")
                        j, p, probs = read_outbox(tmp / gw / "outbox.sqlite", cutoff)
                        journal.update(j)
                        pending += p
                        out.problems.extend(probs)
                    busy = conn.execute(
                        "SELECT count(*) FROM gateway_commands WHERE status IN ('pending', 'sent')"
                    ).fetchone()
                    if (
                        pending == 0 and busy is not None and busy[0] == 0
                    ) or time.monotonic() > deadline:
                        return journal, pending + (busy[0] if busy else 0)
                    time.sleep(1.0)

            _, left = settled(time.monotonic() + settle_s)
            before = read_set(conn, first, last)
            out.read_before_reread = len(before)
            with conn.transaction():
                missing = reread.missing_meter_days(conn, first, last)
                reread.request(conn, missing, requested_by="chaos", per_gateway=10**6)
            log(f"  settled ({left} undelivered); re-reading {len(missing)} meter-days")
            journal, left = settled(time.monotonic() + settle_s)
            if left:
                out.problems.append(
                    f"{left} readings or commands still undelivered after "
                    f"{settle_s:.0f} s of settling"
                )
            _account(
                out,
                conn,
                journal,
                cutoff,
                fleet,
                delivered.days,
                delivered.uncertain(),
                first,
                last,
            )
            for s in services:
                if (why := s.check_alive()) is not None:
                    out.problems.append(why)
            conn.close()
    finally:
        for s in reversed(services):
            s.stop()
        try:
            with psycopg.connect(admin_url, autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except psycopg.Error as exc:
            log(f"  could not drop {name}: {exc}")
    out.seconds = round(time.monotonic() - t0, 1)
    return out


def _account(
    out: Outcome,
    conn: psycopg.Connection[Any],
    journal: dict[Key, float],
    cutoff: datetime,
    fleet: Any,
    truth_days: set[tuple[str, date]],
    uncertain: set[tuple[str, date]],
    first: date,
    last: date,
) -> None:
    ids = [m.archive_id for m, _ in fleet.meters]
    stored = {
        (m, q, ts, f): v
        for m, q, ts, v, f in conn.execute(
            "SELECT meter_id, quantity, ts, value, false FROM readings WHERE meter_id = ANY(%s) "
            "AND ts < %s UNION ALL SELECT meter_id, quantity, freeze_ts, value, true "
            "FROM daily_freeze WHERE meter_id = ANY(%s) AND freeze_ts < %s",
            (ids, cutoff, ids, cutoff),
        )
    }
    out.committed, out.stored = len(journal), len(stored)
    missing = sorted(set(journal) - set(stored))
    extra = sorted(set(stored) - set(journal))
    changed = sorted(k for k in set(journal) & set(stored) if journal[k] != stored[k])
    for k in missing[:10]:
        out.problems.append(f"committed by an edge but not stored: {k}")
    for k in extra[:10]:
        out.problems.append(f"stored but no edge committed it: {k}")
    for k in changed[:10]:
        out.problems.append(f"stored with another value: {k} {stored[k]} != {journal[k]}")
    if len(missing) > 10 or len(extra) > 10 or len(changed) > 10:
        out.problems.append(
            f"in all: {len(missing)} missing, {len(extra)} extra, {len(changed)} changed"
        )
    row = conn.execute(
        "SELECT (SELECT count(*) FROM reading_conflicts), (SELECT count(*) FROM dead_letters)"
    ).fetchone()
    out.conflicts, out.dead_letters = (row[0], row[1]) if row else (0, 0)
    if out.conflicts:
        out.problems.append(f"{out.conflicts} reading conflicts")
    if out.dead_letters:
        out.problems.append(f"{out.dead_letters} dead letters")
        for topic, reason, size, head in conn.execute(
            "SELECT topic, reason, octet_length(payload), "
            "encode(substring(payload from 1 for 300), 'escape') "
            "FROM dead_letters ORDER BY id LIMIT 5"
        ).fetchall():  # what and why, so a failed run says it
            out.problems.append(f"  dead letter on {topic}: {reason} ({size} B: {head!r})")
    truth = {(m, d) for m, d in truth_days if first <= d <= last}
    # meter-days only a reply near the edges' timeout carried: left out on both sides
    unsure = {(m, d) for m, d in uncertain if first <= d <= last}
    got = read_set(conn, first, last)
    out.truth_meter_days, out.read_after_reread = len(truth), len(got)
    out.uncertain_meter_days = len(unsure)
    for m, d in sorted(truth - got)[:10]:
        out.problems.append(f"{m} {d}: the meter delivered its freeze, not stored")
    for m, d in sorted(got - truth - unsure)[:10]:
        out.problems.append(f"{m} {d}: stored, but the meter never delivered it")
    for n in range((last - first).days + 1):
        day = first + timedelta(days=n)
        rate = completeness.success_rate(conn, day)[0]
        want = sum(1 for _, d in truth if d == day)
        left_out = sum(1 for _, d in unsure if d == day)
        stored_left_out = sum(1 for m, d in unsure if d == day and (m, d) in got)
        if (rate["due"], rate["read"] - stored_left_out) != (len(ids), want):
            out.problems.append(
                f"{day}: success rate {rate['read']}/{rate['due']}, ground truth {want}/{len(ids)}"
                f" ({left_out} uncertain meter-days left out)"
            )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--gateways", type=int, default=4)
    ap.add_argument("--meters-per-gateway", type=int, default=16)
    ap.add_argument("--days", type=int, default=7)
    ap.add_argument(
        "--speed",
        type=float,
        default=1440.0,
        help="virtual seconds per real second (1440: a day in a minute)",
    )
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument(
        "--database-url",
        default=os.environ.get("METERLINK_TEST_TIMESCALE_URL"),
        help="a server the run may restart (default: the private TimescaleDB)",
    )
    ap.add_argument("--no-database-restarts", action="store_true")
    args = ap.parse_args(argv)
    if not args.database_url:
        ap.error("--database-url or METERLINK_TEST_TIMESCALE_URL is required")
    restart = None if args.no_database_restarts else timescale_restarter()
    out = run(
        args.database_url,
        gateways=args.gateways,
        per_gw=args.meters_per_gateway,
        days=args.days,
        speed=args.speed,
        restart_db=restart,
        seed=args.seed,
    )
    print(json.dumps(out.summary(), indent=1, default=str))
    for p in out.problems:
        print("PROBLEM:", p)
    return 1 if out.problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
