"""Edge agent memory and CPU: 256 meters on 8 buses through an hour of virtual time.

Run: ``python -m tests.benchmarks.bench_edge_memory [--hours 1]``

The simulators run in this process (fast mode); the edge runtime (bus workers, read plans,
SQLite outbox) runs in a child process whose peak RSS and CPU time are reported. Target:
RSS <= 60 MB.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import tempfile
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from simulators.clock import VirtualClock
from simulators.harness import edge_config_dict, running_fleet
from tests.benchmarks.fleets import gateway_fleet

START = datetime(2026, 11, 1, 15, 50, tzinfo=UTC)  # 23:50 local: the hour crosses midnight


def edge_child(cfg_dict: dict[str, Any], hours: float, out: Any) -> None:
    from edge.clock import ManualClock
    from edge.config import config_from_dict
    from edge.outbox import Outbox
    from edge.runtime import EdgeRuntime

    cfg = config_from_dict(cfg_dict)
    outbox = Outbox(cfg.outbox.path, cfg.outbox.budget_bytes)
    rt = EdgeRuntime(cfg, sink=outbox.add, clock=ManualClock(START))
    rt.start(plans=False)
    t0 = time.perf_counter()
    fired = rt.run_plans_until(START + timedelta(hours=hours))
    wall = time.perf_counter() - t0
    rt.stop()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    out.put(
        {
            "fired": fired,
            "readings": outbox.depth(),
            "wall_s": wall,
            "cpu_s": usage.ru_utime + usage.ru_stime,
            "max_rss_mb": usage.ru_maxrss / 1024,
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hours", type=float, default=1.0)
    ap.add_argument("--buses", type=int, default=8)
    ap.add_argument("--per-bus", type=int, default=32)
    args = ap.parse_args()
    fleet = gateway_fleet(args.buses, args.per_bus, START, speed=1.0)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running_fleet(fleet, clock=VirtualClock(START, 0.0)) as run,
    ):
        cfg = edge_config_dict(fleet, run.urls, "bench", data_dir=tmp)
        for bus in cfg["bus"]:
            bus["gap_ms"] = 0
            bus["timeout_ms"] = 500
        q: Any = mp.get_context("fork").Queue()
        child = mp.get_context("fork").Process(target=edge_child, args=(cfg, args.hours, q))
        child.start()
        res = q.get(timeout=3600)
        child.join()
    meters = args.buses * args.per_bus
    print(
        f"{meters} meters on {args.buses} buses, {args.hours:g} h of virtual time: "
        f"{res['fired']} plan firings, {res['readings']} readings committed to the outbox"
    )
    print(
        f"edge process: peak RSS {res['max_rss_mb']:.1f} MB (target <= 60 MB), CPU "
        f"{res['cpu_s']:.1f} s over {res['wall_s']:.1f} s of wall time"
    )


if __name__ == "__main__":
    main()
