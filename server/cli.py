"""``meterlink-server``: the central service.

    meterlink-server run [--config FILE]          API + ingestion + jobs (uvicorn)
    meterlink-server migrate [--config FILE]      apply database migrations and exit
    meterlink-server create-user NAME ROLE        password from METERLINK_NEW_PASSWORD or a prompt
    meterlink-server broker-password GATEWAY      the gateway's password on the embedded broker
    meterlink-server audit-verify [--config FILE] check the audit log's hash chain (exit 1: broken)
    meterlink-server compact [--before YYYY-MM-DD] move closed days before the date (default:
                                                  older than the hot window) into the compact
                                                  history; safe to repeat or interrupt

Settings come from METERLINK_* environment variables and an optional TOML file. With no
database or broker URL, an embedded PostgreSQL and MQTT broker are started.
"""

from __future__ import annotations

import argparse
import getpass
import logging
import os
import sys
from datetime import date, timedelta

import psycopg
import uvicorn
from pydantic import ValidationError

from protocols.wire import ID_RULE, is_id

from .api.app import create_app
from .auth.users import UserError, create_user
from .broker_acl import SERVER_USER
from .broker_credentials import BrokerCredentials
from .clock import SystemClock
from .db.compact import compact
from .db.migrate import migrate
from .db.queries.audit_log import verify_chain
from .embedded import EmbeddedPostgres
from .settings import Settings


def load_settings(path: str | None) -> Settings:
    return Settings.from_file(path) if path else Settings()


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    uvicorn.run(
        create_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_level="info",
        # X-Forwarded-For/-Proto are believed from these addresses only (the TLS proxy)
        proxy_headers=True,
        forwarded_allow_ips=settings.trusted_proxies,
    )
    return 0


def cmd_migrate(args: argparse.Namespace, settings: Settings) -> int:
    pg = None
    url = settings.database_url
    if url is None:
        pg = EmbeddedPostgres(settings.data_dir)
        url = pg.start()
    try:
        applied = migrate(url)
        print("applied: " + (", ".join(applied) or "nothing (up to date)"))
    finally:
        if pg is not None:
            pg.stop()
    return 0


def cmd_compact(args: argparse.Namespace, settings: Settings) -> int:
    today = SystemClock().now().astimezone(settings.tz).date()
    if args.before is None:
        before = today - timedelta(days=settings.hot_days)
    else:
        try:
            before = date.fromisoformat(args.before)
        except ValueError:
            print(f"--before: expected YYYY-MM-DD, got {args.before!r}", file=sys.stderr)
            return 2
        if before > today:
            print(
                f"--before {before}: only closed days can be compacted (today is {today} "
                f"in {settings.utility_timezone})",
                file=sys.stderr,
            )
            return 2
    pg = None
    url = settings.database_url
    if url is None:
        pg = EmbeddedPostgres(settings.data_dir)
        url = pg.start()
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            res = compact(conn, before, settings.utility_timezone)
    finally:
        if pg is not None:
            pg.stop()
    if res is None:
        print("another compaction is running; nothing done", file=sys.stderr)
        return 1
    print(
        f"compacted before {res.before}: {res.readings} readings of {res.meters} meters into "
        f"{res.rows} rows in {res.seconds} s; {res.repeats} repeats, {res.conflicts} "
        f"conflicts; {res.residue} readings moved to readings_cold (other kinds, off the "
        f"15-minute grid or not exact as a scaled integer); emptied and dropped: "
        f"{', '.join(res.dropped) or 'nothing'}"
    )
    return 0


def cmd_create_user(args: argparse.Namespace, settings: Settings) -> int:
    if settings.database_url is None:
        print(
            "error: set METERLINK_DATABASE_URL (the embedded database runs only with the server)",
            file=sys.stderr,
        )
        return 2
    password = os.environ.get("METERLINK_NEW_PASSWORD") or getpass.getpass("password: ")
    migrate(settings.database_url)
    with psycopg.connect(settings.database_url) as conn:
        try:
            create_user(
                conn,
                actor="cli",
                username=args.name,
                password=password,
                role=args.role,
                now=SystemClock().now(),
            )
        except UserError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        conn.commit()
    print(f"created {args.role} {args.name}")
    return 0


def cmd_broker_password(args: argparse.Namespace, settings: Settings) -> int:
    """Print a gateway's password on the embedded broker (for its edge configuration)."""
    gateway = args.gateway
    if gateway == SERVER_USER or not is_id(gateway):
        print(
            f"error: {gateway!r} is not a gateway id ({ID_RULE}; not {SERVER_USER!r})",
            file=sys.stderr,
        )
        return 2
    if settings.mqtt_url is not None:
        print(
            "note: METERLINK_MQTT_URL is set: this password is for the embedded broker only; "
            "your broker has its own users (deploy/mosquitto/add-gateway.sh)",
            file=sys.stderr,
        )
    print(BrokerCredentials.load_or_create(settings.data_dir).password(gateway))
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    """Recompute the audit log's hash chain: OK with the count and the chain's last hash
    (keep it somewhere else to notice a rewritten chain later), or the first broken row."""
    if settings.database_url is None:
        print(
            "error: set METERLINK_DATABASE_URL (the embedded database runs only with the server)",
            file=sys.stderr,
        )
        return 2
    with psycopg.connect(settings.database_url) as conn:
        report = verify_chain(conn)
        if report.ok and args.expect:
            seq, _, want = args.expect.partition(":")
            row = conn.execute(
                "SELECT encode(row_hash, 'hex') FROM audit_log WHERE chain_seq = %s",
                (int(seq) if seq.isdigit() else -1,),
            ).fetchone()
            if row is None or row[0] != want.lower():
                print(
                    f"BROKEN: chain position {seq} has hash {row[0] if row else 'none'}, "
                    f"not {want}: the chain was rewritten"
                )
                return 1
    if not report.ok:
        print(f"BROKEN after {report.rows} rows: {report.problem}")
        return 1
    print(
        f"OK: {report.rows} audit rows chained; last hash {report.rows}:{report.head_hash or '-'}"
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="meterlink-server", description=__doc__.splitlines()[0])
    ap.add_argument("--config", help="TOML settings file")
    sub = ap.add_subparsers(dest="command", required=True)
    sub.add_parser("run").set_defaults(func=cmd_run)
    sub.add_parser("migrate").set_defaults(func=cmd_migrate)
    cu = sub.add_parser("create-user")
    cu.add_argument("name")
    cu.add_argument("role", choices=["viewer", "operator", "admin"])
    cu.set_defaults(func=cmd_create_user)
    bp = sub.add_parser("broker-password", help="print a gateway's password on the embedded broker")
    bp.add_argument("gateway", help="the gateway id (its user name on the broker)")
    bp.set_defaults(func=cmd_broker_password)
    av = sub.add_parser("audit-verify", help="check the audit log's hash chain")
    av.add_argument(
        "--expect",
        metavar="POSITION:HASH",
        help="also check that this row (as an earlier run printed it) still has this hash",
    )
    av.set_defaults(func=cmd_audit_verify)
    cp = sub.add_parser("compact", help="move closed days into the compact history")
    cp.add_argument(
        "--before",
        metavar="YYYY-MM-DD",
        help="compact the days before this one (default: today minus METERLINK_HOT_DAYS)",
    )
    cp.set_defaults(func=cmd_compact)
    args = ap.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(args.config)
    except (ValidationError, ValueError) as exc:
        print(f"settings error: {exc}", file=sys.stderr)
        return 2
    return int(args.func(args, settings))


if __name__ == "__main__":
    sys.exit(main())
