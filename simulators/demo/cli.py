"""The ``meterlink`` console entry: argument parsing and the check for optional extras.

It owns the command line only; what runs is in :mod:`simulators.demo.stack` and what is
asked of the server is in :mod:`simulators.demo.script`. The imports of those rooms wait
until the extras they need (the ``server`` and ``sim`` extras) are known to be installed,
so a base install prints the pip command instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from importlib.util import find_spec

# the modules the demo needs beyond the base install, and the extra that brings each
NEEDED = (
    ("fastapi", "server"),
    ("uvicorn", "server"),
    ("psycopg", "server"),
    ("psycopg_pool", "server"),
    ("pydantic_settings", "server"),
    ("rich", "sim"),
)
INSTALL_HINT = "pip install 'meterlink[server,sim]'"


def missing_modules() -> list[str]:
    """The optional modules the demo needs that this environment lacks."""
    return [name for name, _extra in NEEDED if find_spec(name) is None]


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="meterlink", description="meterlink: the whole system on one machine"
    )
    sub = ap.add_subparsers(dest="command", required=True)
    demo = sub.add_parser(
        "demo",
        help="run server, simulated fleet and edge agents",
        description=(
            "Start an embedded database and broker (or use yours), the server, the simulated "
            "fleet of simulators/fleets/demo.toml (48 DL/T 645, DL/T 698.45 and Modbus meters "
            "in four areas) and an edge agent per concentrator; read the meters' freeze "
            "history, read every meter now, run the anomaly rules, print what this run "
            "collected, and keep running for the dashboard."
        ),
    )
    demo.add_argument(
        "--duration",
        type=float,
        help="stop after this many seconds from the start (default: run until Ctrl-C)",
    )
    demo.add_argument(
        "--days",
        type=int,
        default=30,
        help="days of freeze history to read, 1..60 (default: %(default)s)",
    )
    demo.add_argument(
        "--data-dir",
        default="var/demo",
        help="where the database, broker secret, edges' outboxes, log and admin password "
        "live; one demo at a time per directory (default: %(default)s)",
    )
    demo.add_argument(
        "--port",
        type=int,
        default=8080,
        help="HTTP port, a free one if taken (default: %(default)s)",
    )
    demo.add_argument(
        "--database-url",
        default=os.environ.get("METERLINK_DATABASE_URL"),
        help="use this PostgreSQL/TimescaleDB instead of an embedded one (default: "
        "$METERLINK_DATABASE_URL, else an embedded PostgreSQL in the data dir"
        + (", now set" if os.environ.get("METERLINK_DATABASE_URL") else "")
        + ")",
    )
    demo.add_argument(
        "--mqtt-url",
        default=os.environ.get("METERLINK_MQTT_URL"),
        help="use this broker instead of an embedded one (default: $METERLINK_MQTT_URL, "
        "else an embedded MQTT broker on a free loopback port"
        + (", now set" if os.environ.get("METERLINK_MQTT_URL") else "")
        + ")",
    )
    return ap


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    missing = missing_modules()
    if missing:
        print(
            f"meterlink demo needs the server and sim extras (missing: {', '.join(missing)}).\n"
            f"Install them with: {INSTALL_HINT}",
            file=sys.stderr,
        )
        return 2
    from simulators.demo.script import console, run_demo  # needs the extras checked above

    if not 1 <= args.days <= 60:
        console.print("[red]--days must be within 1..60 (the meters keep 62 days)[/]")
        return 2
    return run_demo(args)


if __name__ == "__main__":
    sys.exit(main())
