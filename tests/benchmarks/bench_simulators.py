"""Simulator benchmark: pacing accuracy against the wire, and how many meters one process serves.

Run: ``python -m tests.benchmarks.bench_simulators [--buses 32] [--per-bus 32] [--seconds 10]``

1. Pacing: a paced 2400-baud bus (8E1, 11 bits a byte, 50 ms turnaround). Each transaction's
   time from sending the request to the reply's last byte is compared with the wire floor,
   (request bytes + reply bytes) x 11 / baud + turnaround; and the reply's own byte rate
   with baud / 11. Target: within 5 %.
2. Capacity: ``buses x per-bus`` meters in fast mode in this process; one client process per
   8 buses hammers every bus with block reads; prints transactions/s, this process's CPU
   per transaction and the headroom against what a real schedule needs (every meter's
   10 items each 15 minutes).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import socket
import statistics
import time
from datetime import UTC, datetime
from typing import Any

from protocols import dlt645 as d
from simulators.clock import VirtualClock
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation

START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


def fleet(buses: int, per_bus: int, fast: bool) -> Any:
    areas = []
    for b in range(buses):
        areas.append(
            {
                "id": f"A{b:02d}",
                "loss": 0.04,
                "master": {
                    "archive_id": f"M{b:02d}",
                    "address": f"{900000 + b:012d}",
                    "bus": f"bus{b:02d}",
                    "phases": 3,
                    "load": "industrial",
                },
                "generate": [
                    {
                        "count": per_bus - 1,
                        "archive_prefix": f"C{b:02d}-",
                        "first_address": f"{b * 1000 + 1:012d}",
                        "bus": f"bus{b:02d}",
                    }
                ],
            }
        )
    return fleet_from_dict(
        {
            "seed": 1,
            "start": START.isoformat(),
            "speed": 1.0,
            "commissioned": "2026-01-01",
            "buses": [
                {"name": f"bus{b:02d}", "fast": fast, "turnaround_ms": 50, "baud": 2400}
                for b in range(buses)
            ],
            "areas": areas,
        }
    )


def transact(sock: socket.socket, dec: d.StreamDecoder, wire: bytes) -> d.Frame:
    sock.sendall(wire)
    while True:
        chunk = sock.recv(512)
        if not chunk:
            raise ConnectionError("simulator closed the connection")
        frames = dec.feed(chunk)
        if frames:
            return frames[0]


def pacing(samples: int) -> None:
    f = fleet(1, 2, fast=False)
    with Simulation(f, clock=VirtualClock(START, 1.0)) as sim:
        host, port = sim.serve_dlt645_tcp("bus00", fast=False, turnaround_ms=50)
        ratios, rates = [], []
        with socket.create_connection((host, port)) as s:
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            dec = d.StreamDecoder(accept="replies")
            req = d.build_read("000000000001", "0001FF00")
            for _ in range(samples):
                t0 = time.perf_counter()
                s.sendall(req)
                first = last = None
                got = b""
                while not dec.feed(chunk := s.recv(512)):
                    now = time.perf_counter()
                    first = first or now
                    got += chunk
                last = time.perf_counter()
                got += chunk
                reply_len = len(got)
                floor = (len(req) + reply_len) * 11 / 2400 + 0.050
                ratios.append((last - t0) / floor)
                if first is not None:
                    rates.append((reply_len - 1) / (last - first))
        bps = 2400 / 11
        print(
            f"pacing: transaction time / wire floor = {statistics.median(ratios):.3f} "
            f"(median of {samples}, min {min(ratios):.3f}, max {max(ratios):.3f})"
        )
        if rates:
            r = statistics.median(rates)
            print(
                f"pacing: reply byte rate {r:.1f} B/s vs baud/11 = {bps:.1f} B/s -> {r / bps:.3f}"
            )


def client(port_list: list[int], addresses: dict[int, list[str]], seconds: float, out: Any) -> None:
    socks = []
    for port in port_list:
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        socks.append((s, d.StreamDecoder(accept="replies"), addresses[port]))
    done = 0
    i = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for s, dec, addrs in socks:
            transact(s, dec, d.build_read(addrs[i % len(addrs)], "0001FF00"))
            done += 1
        i += 1
    out.put(done)


def capacity(buses: int, per_bus: int, seconds: float) -> None:
    f = fleet(buses, per_bus, fast=True)
    with Simulation(f, clock=VirtualClock(START, 1.0), fast=True) as sim:
        ports: dict[int, list[str]] = {}
        for b in f.buses:
            _, port = sim.serve_dlt645_tcp(b.name, fast=True)
            ports[port] = [m.address for m in f.meters_on(b.name)]
        plist = list(ports)
        groups = [plist[i : i + 8] for i in range(0, len(plist), 8)]
        q: Any = mp.get_context("fork").Queue()
        cpu0 = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        procs = [
            mp.get_context("fork").Process(target=client, args=(g, ports, seconds, q))
            for g in groups
        ]
        for p in procs:
            p.start()
        total = sum(q.get() for _ in procs)
        for p in procs:
            p.join()
        wall = time.perf_counter() - t0
        cpu1 = resource.getrusage(resource.RUSAGE_SELF)
        cpu = (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime)
    meters = buses * per_bus
    need = meters * 10 / 900  # 10 items per meter every 15 minutes
    print(
        f"capacity: {meters} meters on {buses} buses, fast mode, one process: "
        f"{total / wall:,.0f} transactions/s over {wall:.1f} s; simulator CPU "
        f"{cpu / wall * 100:.0f} % of one core, {cpu / total * 1e6:.0f} us per transaction"
    )
    print(
        f"capacity: a 15-minute schedule of 10 items per meter needs {need:,.1f} "
        f"transactions/s -> headroom x{total / wall / need:,.0f}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buses", type=int, default=32)
    ap.add_argument("--per-bus", type=int, default=32)
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--samples", type=int, default=20)
    args = ap.parse_args()
    pacing(args.samples)
    capacity(args.buses, args.per_bus, args.seconds)


if __name__ == "__main__":
    main()
