"""``meterlink-edge``: the gateway agent and the field tools.

meterlink-edge run CONFIG
meterlink-edge check-config CONFIG          validate; each bus's wire budget; the outbox path
meterlink-edge discover --port URL [--baud 2400] [--parity E] [--protocol 2007|1997|dlt698|both|all]
meterlink-edge discover --port URL --modbus [--units 1-247]
meterlink-edge read --port URL --address ADDR [--protocol 2007|1997|auto|dlt698] ITEM ...
meterlink-edge read --port URL --protocol modbus --profile NAME --unit N QUANTITY ...
meterlink-edge example                      print a commented configuration
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from importlib import resources
from pathlib import Path
from zoneinfo import ZoneInfo

from protocols import dlt645 as d
from protocols import dlt698
from protocols.modbus import PROFILES
from protocols.model import QUANTITY_BY_NAME

from .agent import run
from .clock import ScaledClock
from .config import BusConfig, ConfigError, MeterConfig, load_config
from .discover import Family, discover_dlt645, discover_modbus, modbus_snippet, snippet
from .meters.dlt645_driver import Dlt645Driver
from .meters.dlt698_driver import Dlt698Driver
from .meters.errors import ReadError
from .meters.modbus_driver import ModbusDriver
from .outbox import outbox_path_problem
from .transports import SerialTransport, TransportError
from .wire_budget import budget


def cmd_run(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    clock = None
    if args.virtual_clock:
        try:
            clock = ScaledClock.parse(args.virtual_clock)
        except ValueError as exc:
            raise ConfigError(f"--virtual-clock: {exc}") from None
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    run(config, clock=clock, stop_event=stop, config_path=Path(args.config))
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    print(
        f"gateway {config.gateway.id}: {len(config.buses)} buses, "
        f"{sum(len(b.meters) for b in config.buses)} meters, broker {config.broker.url}"
    )
    bad = False
    for bus in config.buses:
        for plan in config.plans:
            if plan.kind != "interval":
                continue
            b = budget(bus, plan)
            print(("OK    " if b.fits else "TOO BIG ") + b.explain(bus))
            bad |= not b.fits
    problem = outbox_path_problem(config.outbox.path)
    if problem is None:
        print(f"OK    outbox {config.outbox.path}")
    else:
        print(f"NOT AN OUTBOX {problem}: set [outbox] path to a new file or move this one away")
    return 1 if bad or problem else 0


def cmd_discover(args: argparse.Namespace) -> int:
    if args.modbus:
        lo, _, hi = args.units.partition("-")
        bus = BusConfig(
            "scan",
            args.port,
            baud=args.baud,
            parity=args.parity,
            timeout_ms=args.timeout_ms,
            meters=(MeterConfig("scan", "0", "modbus", "sdm120", 1),),
        )
        drv = ModbusDriver(bus)

        def probe(unit: int) -> bool:
            if not drv.client.connected and not drv.client.connect():
                raise SystemExit(f"error: cannot connect to {args.port}")
            try:
                # any answer, an exception reply included, means a device has this unit id
                drv.client.read_input_registers(0, count=1, device_id=unit)
                return True
            except Exception:  # noqa: BLE001 - no answer from this unit
                return False

        units = discover_modbus(probe, range(int(lo), int(hi or lo) + 1))
        drv.close()
        print(f"# {len(units)} Modbus meters on {args.port}: unit ids {units}")
        print(modbus_snippet(units, PROFILES))
        return 0
    searches: dict[str, tuple[Family, ...]] = {
        "both": ("2007", "1997"),
        "all": ("2007", "1997", "698"),
        "dlt698": ("698",),
        "2007": ("2007",),
        "1997": ("1997",),
    }
    versions = searches[args.protocol]
    transport = SerialTransport(args.port, baud=args.baud, parity=args.parity)
    found: dict[str, list[str]] = {}
    try:
        for version in versions:
            found[version] = discover_dlt645(
                transport,
                timeout_s=args.timeout_ms / 1000,
                progress=(lambda s: print(s, file=sys.stderr)) if args.verbose else None,
                version=version,
            )
    finally:
        transport.close()
    for name, addresses in found.items():
        title = "DL/T 698.45" if name == "698" else f"DL/T 645-{name}"
        print(f"# {len(addresses)} {title} meters on {args.port}")
    for name, addresses in found.items():
        if addresses:
            print(snippet(addresses, protocol="dlt698" if name == "698" else name))
    return 0


def cmd_read_modbus(args: argparse.Namespace) -> int:
    if args.profile not in PROFILES:
        raise SystemExit(f"error: --profile is one of {', '.join(sorted(PROFILES))}")
    meter = MeterConfig("cli", "0", "modbus", args.profile, args.unit)
    bus = BusConfig(
        "cli",
        args.port,
        baud=args.baud,
        parity=args.parity,
        timeout_ms=args.timeout_ms,
        meters=(meter,),
    )
    drv = ModbusDriver(bus)
    offered = PROFILES[args.profile].quantities
    status = 0
    try:
        wanted = [q for q in args.items if q in offered]
        values, _ = drv.read(meter, wanted) if wanted else ({}, [])
        for name in args.items:
            if name not in offered:
                error = f"profile {args.profile} has no quantity {name!r}"
                print(json.dumps({"item": name, "error": error}))
                status = 1
                continue
            quantity = QUANTITY_BY_NAME.get(name)
            unit = quantity.unit if quantity else None
            print(json.dumps({"item": name, "values": [values[name]], "unit": unit}))
    except ReadError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    finally:
        drv.close()
    return status


def cmd_read_698(args: argparse.Namespace) -> int:
    """Quantity names or OADs (8 hex digits) from one DL/T 698.45 meter, one JSON line each."""
    meter = MeterConfig("cli", args.address, "dlt698")
    transport = SerialTransport(args.port, baud=args.baud, parity=args.parity)
    drv = Dlt698Driver(transport, timeout_s=args.timeout_ms / 1000, tz=ZoneInfo(args.timezone))
    status = 0
    try:
        for name in args.items:
            try:
                oad = dlt698.oad_of_quantity(name) if name in QUANTITY_BY_NAME else name
                reply = drv.ask(meter, dlt698.build_get(meter.address, oad)).raise_for_error()
                code = dlt698.parse_oad(oad)
                values = reply.values(code)
                print(
                    json.dumps(
                        {
                            "item": dlt698.format_oad(code),
                            "name": dlt698.name_of(code),
                            "values": values,
                            "unit": dlt698.unit_of(code),
                        },
                        ensure_ascii=False,
                        default=str,
                    )
                )
            except (ReadError, dlt698.Dlt698Error) as exc:
                print(json.dumps({"item": name, "error": str(exc)}, ensure_ascii=False))
                status = 1
    finally:
        transport.close()
    return status


def cmd_read(args: argparse.Namespace) -> int:
    if args.protocol == "modbus":
        return cmd_read_modbus(args)
    if args.address is None:
        raise SystemExit("error: --address is required for a DL/T 645 or 698.45 meter")
    if args.protocol == "dlt698":
        return cmd_read_698(args)
    meter = MeterConfig("cli", args.address, args.protocol)
    transport = SerialTransport(args.port, baud=args.baud, parity=args.parity)
    drv = Dlt645Driver(transport, timeout_s=args.timeout_ms / 1000, tz=ZoneInfo(args.timezone))
    status = 0
    try:
        version = drv.version(meter)
        for name in args.items:
            try:
                if name in QUANTITY_BY_NAME:
                    entry = d.by_quantity(name, version)
                else:
                    entry = d.item(name, version)
                values = drv.read_item(meter, entry)
                print(
                    json.dumps(
                        {
                            "item": entry.di_text,
                            "name": entry.name,
                            "values": [
                                v
                                if v is None or isinstance(v, (int, float, str))
                                else v.isoformat()
                                for v in values
                            ],
                            "unit": entry.unit,
                        },
                        ensure_ascii=False,
                    )
                )
            except (ReadError, d.RequestError) as exc:
                print(json.dumps({"item": name, "error": str(exc)}))
                status = 1
    except ReadError as exc:
        print(json.dumps({"error": str(exc)}))
        return 1
    finally:
        transport.close()
    return status


def cmd_example(args: argparse.Namespace) -> int:
    sys.stdout.write(resources.files("edge").joinpath("example.toml").read_text("utf-8"))
    return 0


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="meterlink-edge", description=__doc__.splitlines()[0])
    ap.add_argument("-v", "--verbose", action="store_true")
    sub = ap.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the agent")
    r.add_argument("config")
    r.add_argument(
        "--virtual-clock",
        metavar="START,EPOCH,SPEED",
        help="test benches only: run on simulated time (the same three numbers as "
        "the simulated fleet's), e.g. 2026-11-01T00:00:00+08:00,1763900000,600",
    )
    r.set_defaults(func=cmd_run)
    c = sub.add_parser("check-config", help="validate a configuration, print wire budgets")
    c.add_argument("config")
    c.set_defaults(func=cmd_check)
    for name, func, text in (
        ("discover", cmd_discover, "find unknown meters on a bus"),
        ("read", cmd_read, "read items from one meter now"),
    ):
        p = sub.add_parser(name, help=text)
        p.add_argument("--port", required=True, help="device or socket://host:port")
        p.add_argument("--baud", type=int, default=2400)
        p.add_argument("--parity", default="E", choices=["N", "E", "O"])
        p.add_argument("--timeout-ms", type=int, default=1000)
        p.set_defaults(func=func)
        if name == "discover":
            p.add_argument("--modbus", action="store_true", help="scan Modbus unit ids")
            p.add_argument("--units", default="1-247")
            p.add_argument(
                "--protocol",
                default="both",
                choices=["2007", "1997", "dlt698", "both", "all"],
                help="protocols to search for (each is a search of its own): both = DL/T "
                "645-2007 and -1997, all = those and DL/T 698.45",
            )
        else:
            p.add_argument("--address", help="12-digit meter address (DL/T 645 / 698.45)")
            p.add_argument(
                "--protocol", default="auto", choices=["2007", "1997", "auto", "modbus", "dlt698"]
            )
            p.add_argument("--profile", help="Modbus meter model: " + ", ".join(sorted(PROFILES)))
            p.add_argument("--unit", type=int, default=1, help="Modbus unit id")
            p.add_argument("--timezone", default="Asia/Shanghai")
            p.add_argument("items", nargs="+", help="quantity names or data identifiers")
    e = sub.add_parser("example", help="print a commented configuration")
    e.set_defaults(func=cmd_example)
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"configuration error: {exc}", file=sys.stderr)
        return 2
    except TransportError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
