"""A small archive for the workbench tests (issue 19): a supply company with two supply
stations, three areas (one without a unit), three concentrators, nine meters, and the daily
freezes of two days written as the ingest path stores them."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg

D = date(2026, 11, 20)

ORGS = [
    ("CO", "县供电公司", None, "company"),
    ("ST1", "城关供电所", "CO", None),
    ("ST2", "城郊供电所", "CO", "station"),
]
AREAS = [("A1", "一号台区", "ST1"), ("A2", "二号台区", "ST2"), ("A3", "三号台区", None)]
GATEWAYS = [("g1", "A1"), ("g2", "A2"), ("g3", "A3")]
# id, address, gateway, area, protocol, class, name, account, master
METERS = [
    ("M1", "000000000101", "g1", "A1", "dlt645-2007", "commercial", None, None, True),
    ("M2", "000000000102", "g1", "A1", "dlt645-2007", "residential", "张三", "0101234567", False),
    ("M3", "000000000103", "g1", "A1", "dlt645-2007", "residential", "李四", "0101234568", False),
    ("M4", "000000000104", "g1", "A1", "dlt645-1997", "residential", "王五", "0109990001", False),
    ("M5", "000000000105", "g1", "A1", "dlt645-2007", "residential", "赵六", "0109990002", False),
    ("N1", "000000000201", "g2", "A2", "dlt645-2007", "commercial", None, None, True),
    ("N2", "000000000202", "g2", "A2", "modbus", "industrial", "Acme Ltd", "0202000001", False),
    ("P1", "000000000301", "g3", "A3", "dlt645-2007", "residential", "Zhou", "0303000001", False),
    ("P2", "000000000302", "g3", "A3", "dlt645-2007", "residential", "Wu", "0303000002", False),
]
#: (meter, day) -> forward active total; D's misses: M4, M5, N2
REGISTERS: dict[tuple[str, date], float] = {}
for i, (m, *_rest) in enumerate(METERS):
    REGISTERS[(m, D - timedelta(days=1))] = 100.0 + 10 * i
    if m not in ("M4", "M5", "N2"):
        REGISTERS[(m, D)] = 105.0 + 10 * i
REGISTERS[("M1", D)] = 100.0 + 40.0  # the master: 40 kWh into A1


def build(url: str) -> None:
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO org_units (id, name, parent_id, level) VALUES (%s, %s, %s, %s)", ORGS
        )
        cur.executemany("INSERT INTO areas (id, name, org_unit_id) VALUES (%s, %s, %s)", AREAS)
        cur.executemany(
            "INSERT INTO gateways (id, name, area_id, online) VALUES (%s, %s, %s, true)",
            [(g, f"Concentrator {g}", a) for g, a in GATEWAYS],
        )
        cur.executemany(
            "INSERT INTO meters (id, address, gateway_id, area_id, protocol, customer_class, "
            "customer_name, customer_account, is_area_master, installed_on, bus) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, '2025-01-01', 'rs485-1')",
            METERS,
        )
        cur.execute("UPDATE areas SET master_meter_id = 'M1' WHERE id = 'A1'")
        cur.execute("UPDATE areas SET master_meter_id = 'N1' WHERE id = 'A2'")
        put_freezes(cur, REGISTERS)
        conn.commit()


def put_freezes(cur: psycopg.Cursor[Any], registers: dict[tuple[str, date], float]) -> None:
    cur.executemany(
        "INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source) "
        "VALUES (%s, %s, 'energy_import_total', %s, %s, 'scheduled') "
        "ON CONFLICT (meter_id, data_date, quantity) DO UPDATE SET value = excluded.value",
        [
            (m, d, v, datetime(d.year, d.month, d.day, 16, 0, tzinfo=UTC))
            for (m, d), v in registers.items()
        ],
    )
