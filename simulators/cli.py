"""``meterlink-sim``: serve simulated meter buses for test teams.

meterlink-sim run FLEET [--fast] [--speed X] [--start ISO] [--control-port P]
                        [--ground-truth FILE] [--duration S]
meterlink-sim fault METER KIND [--param k=v ...] [--start ISO] [--clear] [--control URL]
meterlink-sim example [PATH]
"""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from dataclasses import replace
from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from simulators.clock import VirtualClock
from simulators.control import ControlServer
from simulators.faults import FAULT_KINDS, FaultError
from simulators.fleet import FleetError, load_fleet
from simulators.simulation import Simulation, SimulationError

DEFAULT_CONTROL = "http://127.0.0.1:8765"


def example_text() -> str:
    return resources.files("simulators").joinpath("fleets/example.toml").read_text("utf-8")


def _instant(text: str) -> datetime:
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise SystemExit(f"error: {text!r} is not an ISO 8601 time") from None
    if when.tzinfo is None:
        raise SystemExit(f"error: {text!r} needs a time zone, e.g. +08:00")
    return when


def cmd_run(args: argparse.Namespace) -> int:
    fleet = load_fleet(args.fleet)
    if args.start:
        fleet = replace(fleet, start=_instant(args.start))
    if args.speed is not None:
        if args.speed < 0:
            raise SystemExit("error: --speed must be >= 0")
        fleet = replace(fleet, speed=args.speed)
    clock = VirtualClock(fleet.start, fleet.speed)
    sim = Simulation(
        fleet, clock=clock, ground_truth=args.ground_truth, fast=True if args.fast else None
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    control: ControlServer | None = None
    try:
        endpoints = sim.start_all()
        port = args.control_port if args.control_port is not None else fleet.control_port
        if port is not None and port >= 0:
            control = ControlServer(sim, endpoints, fleet.control_host, port).start()
        for name, where in endpoints.items():
            meters = len(sim.meters_on(name))
            print(json.dumps({"bus": name, "meters": meters, **where}), flush=True)
        if fleet.speed > 0:  # what an edge following this fleet's time is started with
            print(json.dumps({"virtual_clock": clock.edge_spec()}), flush=True)
        if control is not None:
            print(json.dumps({"control": control.url}), flush=True)
        print(
            f"serving {len(sim.meters)} meters on {len(endpoints)} buses; virtual time "
            f"{clock.now().isoformat()} at x{fleet.speed:g}; Ctrl-C stops",
            file=sys.stderr,
        )
        stop.wait(args.duration)
    finally:
        if control is not None:
            control.stop()
        sim.stop()
    return 0


def _params(pairs: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"error: --param {pair!r}: expected key=value")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def cmd_fault(args: argparse.Namespace) -> int:
    base = args.control.rstrip("/")
    if args.clear:
        url = f"{base}/faults/{args.meter}" + (f"?kind={args.kind}" if args.kind else "")
        req = urllib.request.Request(url, method="DELETE")
    else:
        if not args.kind:
            raise SystemExit(
                "error: give a fault KIND (or --clear); kinds: " + ", ".join(sorted(FAULT_KINDS))
            )
        body: dict[str, Any] = {
            "meter": args.meter,
            "kind": args.kind,
            "params": _params(args.param),
        }
        if args.start:
            body["start"] = _instant(args.start).isoformat()
        req = urllib.request.Request(
            f"{base}/faults",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            print(resp.read().decode())
            return 0
    except urllib.error.HTTPError as exc:
        print(f"error: {json.loads(exc.read() or b'{}').get('error', exc.reason)}", file=sys.stderr)
        return 1
    except urllib.error.URLError as exc:
        print(
            f"error: no simulator control API at {base} ({exc.reason}); start "
            "`meterlink-sim run FLEET` with [control] port set",
            file=sys.stderr,
        )
        return 1


def cmd_example(args: argparse.Namespace) -> int:
    text = example_text()
    if args.path in (None, "-"):
        sys.stdout.write(text)
        return 0
    path = Path(args.path)
    if path.exists() and not args.force:
        raise SystemExit(f"error: {path} exists (use --force to overwrite)")
    path.write_text(text, encoding="utf-8")
    print(f"wrote {path}", file=sys.stderr)
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="meterlink-sim", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the buses of a fleet file")
    run.add_argument("fleet", help="fleet file (TOML); see `meterlink-sim example`")
    run.add_argument("--fast", action="store_true", help="no byte pacing or turnaround")
    run.add_argument("--speed", type=float, help="virtual seconds per real second")
    run.add_argument("--start", help="virtual start instant, ISO 8601 with time zone")
    run.add_argument("--control-port", type=int, help="control API port (-1: none)")
    run.add_argument("--ground-truth", help="ground-truth file (overrides the fleet's)")
    run.add_argument("--duration", type=float, help="stop after this many seconds")
    run.set_defaults(func=cmd_run)
    fault = sub.add_parser("fault", help="inject or clear a fault in a running simulator")
    fault.add_argument("meter", help="archive id of the meter")
    fault.add_argument("kind", nargs="?", help="fault kind: " + ", ".join(sorted(FAULT_KINDS)))
    fault.add_argument("--param", action="append", default=[], help="k=v (repeatable)")
    fault.add_argument("--start", help="when the fault starts (default: now)")
    fault.add_argument("--clear", action="store_true", help="clear the meter's faults")
    fault.add_argument("--control", default=DEFAULT_CONTROL, help="control API URL")
    fault.set_defaults(func=cmd_fault)
    ex = sub.add_parser("example", help="write the commented example fleet")
    ex.add_argument("path", nargs="?", help="file to write (default: stdout)")
    ex.add_argument("--force", action="store_true")
    ex.set_defaults(func=cmd_example)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (FleetError, FaultError, SimulationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
