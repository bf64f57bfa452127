"""A small utility for the browser tests (and for looking at the dashboard by hand): one
supply company with two 供电所, two transformer areas with a master meter each, three
concentrators, fourteen meters of all three protocols and several customer classes, 35
days of daily freezes with some meters failing (one for days on end), a register that ran
backwards yesterday, a customer whose meter stopped in an area whose loss rose (a theft
suspect), a load curve with per-phase voltage, current and power for one meter.

``python -m tests.web.seed DATABASE_URL`` seeds a database and exits (for a manual look)."""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from server.checks.rules import run_rules
from server.db.migrate import migrate
from server.db.queries.gateways import log_health
from server.ingest.store import Batch, store

TZ = ZoneInfo("Asia/Shanghai")
DAYS = 35


@dataclass(frozen=True)
class Seeded:
    yesterday: date
    picked: date  # the day with M1's load curve (the day before yesterday)


ORG = [("U1", "城关县供电公司", None), ("S1", "城关供电所", "U1"), ("S2", "东关供电所", "U1")]
AREAS = [("A1", "一号台区", "S1", "AM1"), ("A2", "二号台区", "S2", "AM2")]
GATEWAYS = [("gw-1", "城关1号集中器", "A1", True), ("gw-2", "东关集中器", "A2", True)]
GATEWAYS += [("gw-3", "城关2号集中器", "A1", False)]
# id, gateway, area, protocol, class, customer, master
METERS = [
    ("AM1", "gw-1", "A1", "dlt645-2007", "commercial", "一号台区总表", True),
    ("M1", "gw-1", "A1", "dlt645-2007", "residential", "张三", False),
    ("M2", "gw-1", "A1", "dlt645-2007", "residential", "李四", False),
    ("M3", "gw-1", "A1", "dlt645-1997", "residential", "王五", False),
    ("M4", "gw-1", "A1", "dlt645-2007", "commercial", "城关超市", False),
    ("M5", "gw-1", "A1", "dlt645-2007", "residential", "赵六", False),
    ("M6", "gw-3", "A1", "modbus", "industrial", "城关机械厂", False),
    ("M7", "gw-3", "A1", "dlt645-2007", "residential", "钱七", False),
    ("M8", "gw-1", "A1", "dlt645-1997", "agricultural", "灌溉泵站", False),
    ("AM2", "gw-2", "A2", "dlt645-2007", "commercial", "二号台区总表", True),
    ("N1", "gw-2", "A2", "dlt645-2007", "residential", "孙八", False),
    ("N2", "gw-2", "A2", "dlt645-2007", "residential", "周九", False),
    ("N3", "gw-2", "A2", "dlt645-1997", "commercial", "东关饭店", False),
    ("N4", "gw-2", "A2", "dlt645-2007", "residential", "吴十", False),
]
# the concentrators' last status as the wire carries it (protocols/wire/status.py): buses,
# meters' health, outbox
STATUS = {
    "gw-1": {
        "buses": [
            {
                "name": "rs485-1",
                "ok": True,
                "transactions": 1440,
                "timeouts": 12,
                "checksum_errors": 1,
                "meters_ok": 5,
                "meters_failing": 1,
                "last_error": "timeout",
            }
        ],
        "meters": [
            {
                "meter": "M8",
                "state": "failing",
                "last_ok": None,
                "last_error": "timeout",
                "consecutive_failures": 3,
            }
        ],
        "outbox": {"depth": 3, "oldest_age_s": 40.0, "dropped": 0},
    },
    "gw-2": {
        "buses": [
            {
                "name": "rs485-1",
                "ok": True,
                "transactions": 960,
                "timeouts": 0,
                "checksum_errors": 0,
                "meters_ok": 5,
                "meters_failing": 0,
                "last_error": None,
            }
        ],
        "meters": [],
        "outbox": {"depth": 0, "oldest_age_s": None, "dropped": 0},
    },
}
DAILY = {"M1": 8.0, "M2": 6.0, "M3": 5.0, "M4": 20.0, "M5": 7.0, "M6": 40.0, "M7": 4.0}
DAILY |= {"M8": 12.0, "N1": 6.0, "N2": 5.5, "N3": 25.0, "N4": 4.5}


def failed(meter: str, back: int) -> bool:
    """Whether ``meter`` has no freeze ``back`` days before yesterday (0 = yesterday)."""
    if meter in ("M6", "M7"):  # gw-3 is offline: its meters failed the last four days
        return back < 4
    if meter == "M8":
        return back == 0
    if meter == "N4":  # now and then, never yesterday or the day before
        return back > 6 and back % 3 == 1
    if meter == "M5":
        return back in (0, 9, 10)
    return False


def curve_rows(day: date) -> list[tuple[object, ...]]:
    """M1's day: active power and per-phase voltage, current and power every 15 minutes,
    a clock check and events."""
    t0 = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC)
    rows: list[tuple[object, ...]] = []
    for i in range(96):
        ts = t0 + timedelta(minutes=15 * i)
        p = round(0.4 + 0.05 * (i % 24), 3)
        rows.append(("M1", "power_active_total", ts, p, "interval", "scheduled", ()))
        for k, ph in enumerate("abc"):
            rows.append(
                ("M1", f"voltage_{ph}", ts, 221.0 + k + (i % 5) / 10, "interval", "scheduled", ())
            )
            amps = round(p / 0.66 + k / 10, 3)
            rows.append(("M1", f"current_{ph}", ts, amps, "interval", "scheduled", ()))
            rows.append(
                ("M1", f"power_active_{ph}", ts, round(p / 3, 3), "interval", "scheduled", ())
            )
    rows += [
        ("M1", "clock_offset", t0 + timedelta(hours=12), 4.0, "clock", "scheduled", ()),
        ("M1", "cover_open_count", t0 + timedelta(minutes=30), 1.0, "event", "scheduled", ()),
        ("M1", "power_down_count", t0 + timedelta(minutes=30), 3.0, "event", "scheduled", ()),
    ]
    return rows


def _health_history(conn: psycopg.Connection[Any], yesterday: date) -> None:
    """What the concentrators said over the seeded days, as the status path logs it (the
    failed list judges each day by it, issue 18 item 4): every gateway online from the start;
    gw-3 offline from the day before its meters' first failed day; gw-1's M8 failing with a
    timeout on yesterday's collection day (today)."""

    def local(day: date) -> datetime:
        return datetime(day.year, day.month, day.day, tzinfo=TZ)

    start = local(yesterday - timedelta(days=40))
    for gid, _name, _area, _online in GATEWAYS:
        log_health(conn, gateway_id=gid, at=start, online=True, meters=[])
    log_health(
        conn, gateway_id="gw-3", at=local(yesterday - timedelta(days=3)), online=False, meters=[]
    )
    log_health(
        conn,
        gateway_id="gw-1",
        at=local(yesterday + timedelta(days=1)) + timedelta(minutes=20),
        online=True,
        meters=[("M8", "failing", "timeout")],
    )


def seed(url: str) -> Seeded:
    migrate(url)
    yesterday = datetime.now(TZ).date() - timedelta(days=1)
    with psycopg.connect(url) as conn:
        for oid, name, parent in ORG:
            conn.execute(
                "INSERT INTO org_units (id, name, parent_id) VALUES (%s, %s, %s)",
                (oid, name, parent),
            )
        for aid, name, org, _ in AREAS:
            conn.execute(
                "INSERT INTO areas (id, name, org_unit_id) VALUES (%s, %s, %s)", (aid, name, org)
            )
        for gid, name, area, online in GATEWAYS:
            conn.execute(
                "INSERT INTO gateways (id, name, area_id, online, last_seen, status, status_at,"
                " version) VALUES (%s, %s, %s, %s, now() - interval '5 minutes',"
                " %s::jsonb, now() - interval '5 minutes', '1.4.2')",
                (gid, name, area, online, json.dumps(STATUS[gid]) if gid in STATUS else None),
            )
        _health_history(conn, yesterday)
        for n, (mid, gw, area, proto, cls, name, master) in enumerate(METERS, start=1):
            conn.execute(
                "INSERT INTO meters (id, address, protocol, gateway_id, area_id, customer_class,"
                " customer_name, customer_address, installed_on, is_area_master, ct_ratio,"
                " pt_ratio, phases, modbus_profile, modbus_unit, bus)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                (
                    mid,
                    f"{n:012d}",
                    proto,
                    gw,
                    area,
                    cls,
                    name,
                    f"城关镇幸福路{n}号",
                    yesterday - timedelta(days=DAYS - 1),
                    master,
                    50 if master else 1,
                    1,
                    3 if master or mid == "M1" else 1,
                    "generic" if proto == "modbus" else None,
                    n if proto == "modbus" else None,
                    "rs485-1",
                ),
            )
        for aid, _, _, master in AREAS:
            conn.execute("UPDATE areas SET master_meter_id = %s WHERE id = %s", (master, aid))
        conn.commit()
        rows: list[tuple[object, ...]] = []
        reg = {m[0]: 1000.0 for m in METERS}
        for back in range(DAYS - 1, -1, -1):
            day = yesterday - timedelta(days=back)
            ts = datetime(day.year, day.month, day.day, tzinfo=TZ).astimezone(UTC) + timedelta(
                days=1
            )
            for mid, _, area, *_rest in METERS:
                if mid.startswith("AM"):
                    # the master's register (CT 50): 6 % more than its customers use
                    total = sum(DAILY[m[0]] for m in METERS if m[2] == area and not m[6])
                    reg[mid] += total * 1.06 / 50
                    rows.append((mid, "energy_import_total", ts, round(reg[mid], 2)))
                    continue
                # M2 (A1) and N2 (A2) stop in the last week while their load goes on: A2,
                # whose meters all read, climbs from 6 % to a high loss with N2 the suspect
                stopped = mid in ("M2", "N2") and back < 6
                if not stopped:
                    reg[mid] += DAILY[mid]
                if failed(mid, back):
                    continue
                value = 500.0 if mid == "M2" and back == 0 else reg[mid]  # ran backwards
                rows.append((mid, "energy_import_total", ts, round(value, 2)))
                if mid == "M1":
                    for i, share in enumerate((0.1, 0.3, 0.4, 0.2), start=1):
                        rows.append((mid, f"energy_import_t{i}", ts, round(value * share, 2)))
        full = [(*r, "freeze", "scheduled", ()) for r in rows] + curve_rows(
            yesterday - timedelta(days=1)
        )
        b = Batch()
        for gid, *_ in GATEWAYS:
            mine = {m[0] for m in METERS if m[1] == gid}
            b.add_rows(gid, "seed", [r for r in full if r[0] in mine])
        assert store(conn, b, tz="Asia/Shanghai").quarantined == 0
        for back in range(6, -1, -1):
            run_rules(conn, yesterday - timedelta(days=back), "Asia/Shanghai")
    return Seeded(yesterday=yesterday, picked=yesterday - timedelta(days=1))


if __name__ == "__main__":
    print(seed(sys.argv[1]))
