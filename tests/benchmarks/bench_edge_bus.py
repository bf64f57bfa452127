"""Edge bus efficiency: one read cycle of 32 meters x 10 items on a paced 2400-baud bus
(8E1, 11 bits a byte, 50 ms meter turnaround), against the wire floor and against the PyPI
``dlt645`` client reading the same items from the same simulated bus, in one run.

A second bus of DL/T 698.45 meters (issue 21) is read the same way and reported against
its own wire floor: one GET-Request-NormalList per meter carries all ten items.

Run: ``python -m tests.benchmarks.bench_edge_bus [--meters 32] [--only dlt645|dlt698]``

The wire floor is what the line itself needs for the traffic we caused: every byte the
simulated line carried (requests + replies) x 11 / 2400 s, plus the meters' turnaround for
each transaction. Ours uses block reads where the meter has them (five energy registers in
one exchange), so it also needs fewer transactions than a client that reads item by item.
"""

from __future__ import annotations

import argparse
import time
from datetime import UTC, datetime

from edge.bus import BusWorker, Job, JobKind
from edge.clock import ManualClock
from edge.config import config_from_dict
from edge.meters.reader import Dlt645Reader
from edge.metrics import EdgeMetrics
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation

ITEMS = (
    "energy_import_total",
    "energy_import_t1",
    "energy_import_t2",
    "energy_import_t3",
    "energy_import_t4",
    "energy_export_total",
    "voltage_a",
    "current_a",
    "power_active_total",
    "pf_total",
)
DIS = (
    0x00010000,
    0x00010100,
    0x00010200,
    0x00010300,
    0x00010400,
    0x00020000,
    0x02010100,
    0x02020100,
    0x02030000,
    0x02060000,
)
START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--meters", type=int, default=32)
    ap.add_argument("--only", choices=["dlt645", "dlt698"], default=None)
    args = ap.parse_args()
    if args.only != "dlt645":
        bench_698(args.meters)
    if args.only == "dlt698":
        return
    fleet = fleet_from_dict(
        {
            "seed": 3,
            "start": START.isoformat(),
            "speed": 1.0,
            "commissioned": "2026-01-01",
            "buses": [{"name": "b", "baud": 2400, "turnaround_ms": 50, "fast": False}],
            "meters": [
                {"archive_id": f"M{i:02d}", "address": f"{i + 1:012d}", "bus": "b"}
                for i in range(args.meters)
            ],
        }
    )
    with Simulation(fleet, clock=VirtualClock(START, 1.0)) as sim:
        host, port = sim.serve_dlt645_tcp("b", fast=False, turnaround_ms=50)
        endpoint = sim.endpoints["b"]
        cfg = config_from_dict(
            {
                "gateway": {"id": "bench"},
                "bus": [
                    {
                        "name": "b",
                        "port": f"socket://{host}:{port}",
                        "baud": 2400,
                        "gap_ms": 0,
                        "timeout_ms": 1000,
                        "meter": [
                            {"id": m.archive_id, "address": m.address, "protocol": "2007"}
                            for m, _ in fleet.meters
                        ],
                    }
                ],
            }
        )
        got: list[object] = []
        worker = BusWorker(
            cfg.buses[0],
            sink=got.extend,
            clock=ManualClock(START),
            tz_name="Asia/Shanghai",
            metrics=EdgeMetrics(),
        )
        worker.start()
        b0, o0 = endpoint.bytes_in, endpoint.bytes_out
        t0 = time.perf_counter()
        assert isinstance(worker.reader, Dlt645Reader)
        tx0 = worker.reader.stats.transactions
        worker.submit(Job(JobKind.READ, list(cfg.buses[0].meters), START, ITEMS)).result(600)
        ours = time.perf_counter() - t0
        tx = worker.reader.stats.transactions - tx0
        line_bytes = endpoint.bytes_in - b0 + endpoint.bytes_out - o0
        readings = len(got)
        # 10 % of the meters dead: they fail three reads, then back off; measure the cycle
        # once the backoff holds and compare with the healthy one
        dead = [m.archive_id for m, _ in fleet.meters][::10][: max(1, args.meters // 10)]
        for mid in dead:
            sim.inject(mid, "dead")
        cycles = []
        for _ in range(4):
            t1 = time.perf_counter()
            worker.submit(Job(JobKind.READ, list(cfg.buses[0].meters), START, ITEMS)).result(900)
            cycles.append(time.perf_counter() - t1)
        for mid in dead:
            sim.clear(mid)
        worker.stop()
        floor = line_bytes * 11 / 2400 + tx * 0.050
        print(
            f"ours: {args.meters} meters x {len(ITEMS)} items = {readings} readings in "
            f"{ours:.1f} s, {tx} transactions, {line_bytes} bytes on the line"
        )
        print(
            f"wire floor for that traffic: {floor:.1f} s -> ratio {ours / floor:.3f} "
            "(target <= 1.05)"
        )
        healthy_share = ours * (args.meters - len(dead)) / args.meters
        print(
            f"{len(dead)} of {args.meters} meters dead: cycles "
            f"{', '.join(f'{c:.1f}' for c in cycles)} s (timeouts until they are marked "
            f"dead, then skipped); steady cycle {cycles[-1]:.1f} s against "
            f"{healthy_share:.1f} s for the same live meters when all were healthy: "
            f"{100 * (cycles[-1] / healthy_share - 1):+.1f} % (target <= +10 %)"
        )
        from edge.discover import discover_dlt645
        from edge.transports import SerialTransport

        t2 = time.perf_counter()
        tr = SerialTransport(f"socket://{host}:{port}")
        found = discover_dlt645(tr, timeout_s=0.5)
        tr.close()
        print(
            f"discovery of {args.meters} unknown meters at 2400 baud: found {len(found)} in "
            f"{time.perf_counter() - t2:.1f} s (target: 32 in 600 s)"
        )
        try:
            import dlt645
        except ImportError:
            print("peer: PyPI dlt645 not installed")
            return
        client = dlt645.MeterClientService.new_tcp_client(host, port, timeout=2)
        client.connect()
        b0, o0 = endpoint.bytes_in, endpoint.bytes_out
        t0 = time.perf_counter()
        ok = 0
        for m, _ in fleet.meters:
            client.set_address(bytes.fromhex(m.address)[::-1].hex())  # it wants wire order
            for di in DIS:
                item = client.read_00(di) if di >> 24 == 0 else client.read_02(di)
                ok += item is not None
        peer = time.perf_counter() - t0
        peer_bytes = endpoint.bytes_in - b0 + endpoint.bytes_out - o0
        client.disconnect()
        peer_floor = peer_bytes * 11 / 2400 + len(DIS) * args.meters * 0.050
        print(
            f"peer dlt645 client: {ok} of {args.meters * len(DIS)} items in {peer:.1f} s, "
            f"{peer_bytes} bytes; its own wire-floor ratio {peer / peer_floor:.3f}; "
            f"ours takes {ours / peer:.2f}x its time for the same readings"
        )


def bench_698(meters: int) -> None:
    """One read cycle of ``meters`` DL/T 698.45 meters x the same ten items on a paced
    2400-baud bus, against the wire floor of the traffic it caused."""
    fleet = fleet_from_dict(
        {
            "seed": 3,
            "start": START.isoformat(),
            "speed": 1.0,
            "commissioned": "2026-01-01",
            "buses": [{"name": "o", "baud": 2400, "turnaround_ms": 50, "fast": False}],
            "meters": [
                {
                    "archive_id": f"O{i:02d}",
                    "address": f"{i + 1:012d}",
                    "bus": "o",
                    "protocol": "dlt698",
                    "phases": 3,
                }
                for i in range(meters)
            ],
        }
    )
    with Simulation(fleet, clock=VirtualClock(START, 1.0)) as sim:
        host, port = sim.serve_dlt645_tcp("o", fast=False, turnaround_ms=50)
        endpoint = sim.endpoints["o"]
        cfg = config_from_dict(
            {
                "gateway": {"id": "bench"},
                "bus": [
                    {
                        "name": "o",
                        "port": f"socket://{host}:{port}",
                        "baud": 2400,
                        "gap_ms": 0,
                        "timeout_ms": 1000,
                        "meter": [
                            {"id": m.archive_id, "address": m.address, "protocol": "dlt698"}
                            for m, _ in fleet.meters
                        ],
                    }
                ],
            }
        )
        got: list[object] = []
        worker = BusWorker(
            cfg.buses[0],
            sink=got.extend,
            clock=ManualClock(START),
            tz_name="Asia/Shanghai",
            metrics=EdgeMetrics(),
        )
        worker.start()
        # a first cycle opens the TCP line; the measured one is the second
        worker.submit(Job(JobKind.READ, list(cfg.buses[0].meters), START, ITEMS)).result(600)
        got.clear()
        b0, o0 = endpoint.bytes_in, endpoint.bytes_out
        tx0 = worker.reader.stats.transactions
        t0 = time.perf_counter()
        worker.submit(Job(JobKind.READ, list(cfg.buses[0].meters), START, ITEMS)).result(600)
        ours = time.perf_counter() - t0
        tx = worker.reader.stats.transactions - tx0
        line_bytes = endpoint.bytes_in - b0 + endpoint.bytes_out - o0
        worker.stop()
        floor = line_bytes * 11 / 2400 + tx * 0.050
        print(
            f"DL/T 698.45: {meters} meters x {len(ITEMS)} items = {len(got)} readings in "
            f"{ours:.1f} s, {tx} transactions, {line_bytes} bytes on the line; wire floor "
            f"{floor:.1f} s -> ratio {ours / floor:.3f} (target <= 1.05)"
        )


if __name__ == "__main__":
    main()
