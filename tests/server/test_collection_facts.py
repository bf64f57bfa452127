"""The collection facts (``collection_month``, migration 0930) and the reports that count
them give the same answers as counting the raw rows (issue 19, scale): after every kind of
write the facts' triggers see (freezes stored by ingestion and by hand, repeats, deletes,
an UPDATE that moves a freeze, re-read requests asked, asked again and deleted, TRUNCATE),
the table equals the bits computed from ``daily_freeze`` and ``reread_requests``, and the
day and month reports of every grouping, the drill-down and the trend equal a count in Python
over the raw rows with the archive's due days. Both database flavours."""

from __future__ import annotations

import io
import random
import threading
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from server.api.app import create_app
from server.checks import completeness, reread
from server.db.queries import reports
from tests.conftest import Broker

from .conftest import settings_for
from .helpers import add_meters, auth_headers
from .test_checks import TZ, freeze_ts, put

TODAY = datetime.now(ZoneInfo(TZ)).date()  # the utility's day, as the reports' yesterday
LAST = TODAY - timedelta(days=1)
FIRST = (LAST - timedelta(days=70)).replace(day=1)  # three months or so, whole ones first
DAYS = [FIRST + timedelta(days=i) for i in range((LAST - FIRST).days + 1)]
MID = DAYS[len(DAYS) // 2]

METERS: list[dict[str, Any]] = [
    {"id": "C1", "address": "000000000101"},
    {"id": "C2", "address": "000000000102", "customer_class": "commercial"},
    {"id": "C3", "address": "000000000103", "installed_on": MID.isoformat()},
    {"id": "C4", "address": "000000000104", "protocol": "modbus"},
]
METERS_B: list[dict[str, Any]] = [
    {"id": "C5", "address": "000000000105", "protocol": "dlt645-1997"},
    {"id": "C6", "address": "000000000106", "installed_on": (LAST + timedelta(days=5)).isoformat()},
    {"id": "C7", "address": "000000000107"},  # removed mid-range (below)
    {"id": "C8", "address": "000000000108"},  # leaves its concentrator (below)
]
IDS = [m["id"] for m in METERS + METERS_B]
QUANTITIES = ("energy_import_total", "energy_export_total")


def archive(url: str) -> None:
    add_meters(url, METERS, gateway="GW-A", area="AR-A")
    add_meters(url, METERS_B, gateway="GW-B", area="AR-B")
    with psycopg.connect(url) as conn:
        conn.execute("INSERT INTO org_units (id, name, level) VALUES ('ST1', 'st', 'station')")
        conn.execute("UPDATE areas SET org_unit_id = 'ST1' WHERE id = 'AR-A'")
        conn.execute("UPDATE meters SET removed_on = %s WHERE id = 'C7'", (MID,))
        conn.execute("UPDATE meters SET gateway_id = NULL WHERE id = 'C8'")


def raw(
    conn: psycopg.Connection[Any],
) -> tuple[set[tuple[str, date]], dict[tuple[str, date], bool]]:
    read = {
        (m, d)
        for m, d in conn.execute(
            "SELECT meter_id, data_date FROM daily_freeze WHERE quantity = 'energy_import_total'"
        )
    }
    asked = {
        (m, d): bool(x)
        for m, d, x in conn.execute(
            "SELECT meter_id, data_date, missing_when_asked FROM reread_requests"
        )
    }
    return read, asked


def expected_bits(conn: psycopg.Connection[Any]) -> dict[tuple[date, str], tuple[int, int]]:
    read, asked = raw(conn)
    out: dict[tuple[date, str], list[int]] = {}
    for m, d in read:
        bits = out.setdefault((d.replace(day=1), m), [0, 0])
        bits[0] |= 1 << (d.day - 1)
        if not asked.get((m, d), False):
            bits[1] |= 1 << (d.day - 1)
    return {k: (r, f) for k, (r, f) in out.items()}


def stored_bits(conn: psycopg.Connection[Any]) -> dict[tuple[date, str], tuple[int, int]]:
    return {
        (mo, m): (r, f)
        for mo, m, r, f in conn.execute(
            "SELECT month, meter_id, read_bits, first_bits FROM collection_month"
        )
        if r or f  # a row whose freezes all went may stay, empty
    }


def check_facts(conn: psycopg.Connection[Any], step: str) -> None:
    assert stored_bits(conn) == expected_bits(conn), step


def due_days(conn: psycopg.Connection[Any], s: date, e: date) -> dict[str, list[date]]:
    out = {}
    for mid, gw, inst, rem in conn.execute(
        "SELECT id, gateway_id, installed_on, removed_on FROM meters"
    ):
        if gw is None:
            continue
        days = [
            s + timedelta(days=i)
            for i in range((e - s).days + 1)
            if inst <= s + timedelta(days=i) and (rem is None or s + timedelta(days=i) < rem)
        ]
        if days:
            out[mid] = days
    return out


def per_meter(conn: psycopg.Connection[Any], s: date, e: date) -> dict[str, tuple[int, int, int]]:
    """meter -> (due days, read days, first-pass days), counted from the raw rows."""
    read, asked = raw(conn)
    out = {}
    for m, days in due_days(conn, s, e).items():
        r = [d for d in days if (m, d) in read]
        out[m] = (len(days), len(r), sum(1 for d in r if not asked.get((m, d), False)))
    return out


def check_reports(conn: psycopg.Connection[Any], step: str) -> None:
    attrs = {
        mid: {"all": "all", "area": a, "gateway": g, "protocol": p, "customer_class": c, "org": o}
        for mid, a, g, p, c, o in conn.execute(
            "SELECT m.id, m.area_id, m.gateway_id, m.protocol, m.customer_class, a.org_unit_id "
            "FROM meters m LEFT JOIN areas a ON a.id = m.area_id"
        )
    }
    periods = [(LAST, LAST), (MID, MID), (FIRST, FIRST + timedelta(days=27)), (MID, LAST)]
    periods += [(d.replace(day=1), d) for d in (FIRST, LAST)]
    # across the removal of C7 and the installation of C3, and the whole month of them
    periods += [(MID - timedelta(days=10), MID + timedelta(days=10))]
    periods += [(MID.replace(day=1), (MID.replace(day=1) + timedelta(days=31)).replace(day=1))]
    for s, e in periods:
        truth = per_meter(conn, s, e)
        got = completeness.period_report(conn, s, e, tuple(completeness.PERIOD_GROUPS), detail=True)
        for grp, rows in got.items():
            want: dict[Any, list[int]] = {}
            for m, (due, rd, first) in truth.items():
                k = attrs[m][grp]
                acc = want.setdefault(k, [0, 0, 0])
                acc[0], acc[1], acc[2] = acc[0] + due, acc[1] + rd, acc[2] + first
            if grp == "all" and not want:
                want["all"] = [0, 0, 0]
            have = {r["key"]: [r["due"], r["read"], r["read_first"]] for r in rows}
            assert have == want, (step, s, e, grp)
        rows, total = reports.group_meters(
            conn, s, e, by="all", key=None, read=None, curves_tz=None, limit=100, offset=0
        )
        assert total == len(truth), (step, s, e)
        assert {
            r["meter_id"]: (r["due_days"], r["read_days"], r["read_first_days"]) for r in rows
        } == truth, (step, s, e)
        for by, key in (("area", "AR-A"), ("org", "ST1"), ("protocol", "modbus")):
            rows, _ = reports.group_meters(
                conn, s, e, by=by, key=key, read=False, curves_tz=None, limit=100, offset=0
            )
            assert {r["meter_id"] for r in rows} == {
                m for m, (due, rd, _) in truth.items() if attrs[m][by] == key and rd < due
            }, (step, s, e, by)
    # months side by side: each month as the month's own report gives it
    spans = [(m, min(LAST, month_end(m))) for m in sorted({d.replace(day=1) for d in DAYS})]
    fields = ("due", "read", "read_first", "rate", "rate_first", "below_threshold")
    for by in completeness.PERIOD_GROUPS:
        totals, groups = completeness.months_report(conn, spans, by)
        for s, e in spans:
            each = completeness.period_report(conn, s, e, ("all", by), detail=True)
            assert totals[s] == {k: each["all"][0][k] for k in fields}, (step, by, s)
            want_groups = {r["key"]: {k: r[k] for k in fields} for r in each[by]}
            assert groups[s] == ({} if by == "all" else want_groups), (step, by, s)
    for by, key in (("all", None), ("area", "AR-B"), ("org", "ST1")):
        items = reports.trend(conn, FIRST, LAST, by=by, key=key)
        read, asked = raw(conn)
        days = due_days(conn, FIRST, LAST)
        want_trend = []
        for d in DAYS:
            due = [m for m, ds in days.items() if d in ds and (key is None or attrs[m][by] == key)]
            rd = [m for m in due if (m, d) in read]
            first = [m for m in rd if not asked.get((m, d), False)]
            want_trend.append((d, len(due), len(rd), len(first)))
        assert [(r["date"], r["due"], r["read"], r["read_first"]) for r in items] == want_trend, (
            step,
            by,
        )


def month_end(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


def sql_freezes(conn: psycopg.Connection[Any], rows: list[tuple[str, date, str]]) -> None:
    """Freezes stored by hand, as ingestion's statement does (repeats are ignored)."""
    conn.execute(
        "INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source) "
        "SELECT m, d, q, 1.0, d + interval '16 hours', 'scheduled' "
        "FROM unnest(%s::text[], %s::date[], %s::text[]) AS x(m, d, q) "
        "ON CONFLICT (meter_id, data_date, quantity) DO NOTHING",
        ([r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows]),
    )


def test_facts_and_reports_equal_the_raw_rows_after_every_kind_of_write(migrated: str) -> None:
    rng = random.Random(20261203)
    archive(migrated)
    with psycopg.connect(migrated) as conn:
        conn.autocommit = True
        check_facts(conn, "empty")
        check_reports(conn, "empty")
        # ingestion: the meters on a concentrator, most days, both quantities
        gw_meters = [m for m in IDS if m not in ("C8",)]
        rows: list[tuple[Any, ...]] = []
        for m in gw_meters:
            inst = next(x.get("installed_on") for x in METERS + METERS_B if x["id"] == m)
            for i, d in enumerate(DAYS):
                if (inst and d < date.fromisoformat(inst)) or (m == "C7" and d >= MID):
                    continue  # ingestion quarantines those (by hand below)
                if rng.random() < 0.25:
                    continue
                rows.append(
                    (m, "energy_import_total", freeze_ts(d), 100.0 + i, "freeze", "scheduled", ())
                )
                rows.append(
                    (m, "energy_export_total", freeze_ts(d), 1.0 + i, "freeze", "scheduled", ())
                )
        put(migrated, rows)
        put(migrated, rows[: len(rows) // 3])  # repeats change nothing
        check_facts(conn, "ingested")
        # by hand: days before installation, after removal, of a meter off every concentrator
        sql_freezes(
            conn,
            [(m, rng.choice(DAYS), rng.choice(QUANTITIES)) for m in IDS for _ in range(12)]
            + [
                (m, MID + timedelta(days=i), "energy_import_total")
                for m in ("C7", "C8", "C6")
                for i in range(12)
            ]
            + [("C3", MID - timedelta(days=i), "energy_import_total") for i in range(1, 12)],
        )
        check_facts(conn, "by hand")
        check_reports(conn, "by hand")
        # re-reads asked: some days missing when asked, some already read (as the API asks)
        asked = [(m, rng.choice(DAYS), "GW-A", f"cmd-{i}") for i, m in enumerate(IDS * 4)]
        reread._record(conn, asked, requested_by="test")
        check_facts(conn, "asked")
        # the asked days read back (a freeze now, missing when asked: not on the first pass)
        sql_freezes(conn, [(m, d, "energy_import_total") for m, d, _, _ in asked[::2]])
        check_facts(conn, "read back")
        check_reports(conn, "read back")
        # asked again (missing_when_asked follows the freeze as it is now), and withdrawn
        reread._record(conn, asked[::3], requested_by="test")
        conn.execute("DELETE FROM reread_requests WHERE meter_id = ANY(%s)", (["C1", "C5"],))
        check_facts(conn, "asked again")
        # retention and corrections: freezes deleted, one moved to another day and meter
        conn.execute("DELETE FROM daily_freeze WHERE data_date < %s", (FIRST + timedelta(days=9),))
        conn.execute("DELETE FROM daily_freeze WHERE meter_id = 'C2' AND data_date > %s", (MID,))
        moved = conn.execute(
            "SELECT meter_id, data_date FROM daily_freeze WHERE quantity = 'energy_import_total' "
            "AND meter_id = 'C4' ORDER BY data_date LIMIT 1"
        ).fetchone()
        assert moved is not None
        conn.execute(
            "UPDATE daily_freeze SET meter_id = 'C2', data_date = %s "
            "WHERE meter_id = %s AND data_date = %s AND quantity = 'energy_import_total'",
            (LAST, moved[0], moved[1]),
        )
        conn.execute("UPDATE daily_freeze SET value = value + 1")  # values: nothing changes
        check_facts(conn, "deleted and moved")
        check_reports(conn, "deleted and moved")
        # an archive edit needs nothing from the facts: due days come from the archive
        conn.execute("UPDATE meters SET area_id = 'AR-B', gateway_id = 'GW-B' WHERE id = 'C1'")
        conn.execute("UPDATE meters SET gateway_id = 'GW-A' WHERE id = 'C8'")
        check_reports(conn, "archive edited")
        conn.execute("TRUNCATE reread_requests")
        check_facts(conn, "re-reads truncated")
        conn.execute("TRUNCATE daily_freeze CASCADE")
        check_facts(conn, "freezes truncated")
        check_reports(conn, "freezes truncated")


def test_a_site_migrated_with_freezes_gets_its_facts(migrated: str) -> None:
    """Migration 0930's backfill: a database that stored freezes and re-reads before the
    facts existed (here: with the triggers off) gets the same bits as one that had them."""
    archive(migrated)
    mig = Path(__file__).parents[2] / "server/db/migrations/0930_collection_month.sql"
    with psycopg.connect(migrated) as conn:
        conn.autocommit = True
        conn.execute("ALTER TABLE daily_freeze DISABLE TRIGGER USER")
        conn.execute("ALTER TABLE reread_requests DISABLE TRIGGER USER")
        sql_freezes(conn, [(m, d, "energy_import_total") for m in IDS for d in DAYS[::3]])
        reread._record(conn, [(m, DAYS[3], "GW-A", "c") for m in IDS], requested_by="t")
        reread._record(conn, [(m, DAYS[4], "GW-A", "c") for m in IDS], requested_by="t")
        sql_freezes(conn, [(m, DAYS[4], "energy_import_total") for m in IDS])
        assert stored_bits(conn) == {}
        conn.execute("ALTER TABLE daily_freeze ENABLE TRIGGER USER")
        conn.execute("ALTER TABLE reread_requests ENABLE TRIGGER USER")
        conn.execute(mig.read_text(encoding="utf-8"))
        want = expected_bits(conn)
        assert want and stored_bits(conn) == want
        assert any(r != f for r, f in want.values())  # the re-read days are not first-pass
        check_reports(conn, "migrated")


def test_the_dashboard_trend_and_the_report_trend_agree(
    migrated: str, mqtt_broker: Broker, tmp_path: Path
) -> None:
    """``/api/completeness/trend`` (the older endpoint) counts as the report's trend does."""
    archive(migrated)
    with psycopg.connect(migrated) as conn:
        conn.autocommit = True
        sql_freezes(conn, [(m, d, "energy_import_total") for m in IDS for d in DAYS[-20::2]])
    app = create_app(settings_for(migrated, mqtt_broker.url, tmp_path), services=[])
    with TestClient(app) as client:
        h = auth_headers(client, "viewer", migrated)
        old = client.get("/api/completeness/trend", params={"days": 30}, headers=h)
        new = client.get("/api/reports/collection/trend", params={"days": 30}, headers=h)
        assert old.status_code == new.status_code == 200, (old.text, new.text)
        days, items = old.json()["days"], new.json()["items"]
        assert [(d["date"], d["due"], d["read"], d["rate"]) for d in days] == [
            (i["date"], i["due"], i["read"], i["rate"]) for i in items
        ]
        assert any(d["read"] for d in days) and any(d["read"] < d["due"] for d in days)


def test_writers_at_once_neither_deadlock_nor_lose_a_bit(migrated: str) -> None:
    """Ingest-like inserts, deletes and re-read requests on the same meters and month at the
    same time, each a statement of its own: the facts' rows are locked in key order, so no
    statement deadlocks another, and the facts end equal to the raw rows."""
    archive(migrated)
    month_days = [d for d in DAYS if d.replace(day=1) == LAST.replace(day=1)] or DAYS[-5:]
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def work(kind: int) -> None:
        rng = random.Random(kind)
        try:
            with psycopg.connect(migrated, autocommit=True) as conn:
                start.wait()
                for _ in range(40):
                    ids = IDS[:]
                    rng.shuffle(ids)
                    d = rng.choice(month_days)
                    if kind == 0:
                        sql_freezes(conn, [(m, d, "energy_import_total") for m in ids])
                    elif kind == 1:
                        conn.execute(
                            "DELETE FROM daily_freeze WHERE meter_id = ANY(%s) AND data_date = %s",
                            (ids[:5], d),
                        )
                    else:
                        asked = [(m, d, "GW-A", "c") for m in ids]
                        reread._record(conn, asked, requested_by="t")
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    with psycopg.connect(migrated) as conn:
        check_facts(conn, "after the writers")


def test_months_side_by_side_through_the_api(
    migrated: str, mqtt_broker: Broker, tmp_path: Path
) -> None:
    """``/api/reports/collection/months``: each month's cell is what that month's report
    says (by area, and the archive's line), the change is the last month's rate against
    the one before, a month not over counts its closed days; the file has a pair of rate
    columns per month with the month in the header, as percentages; clear 422s."""
    archive(migrated)
    with psycopg.connect(migrated) as conn:
        conn.autocommit = True
        sql_freezes(conn, [(m, d, "energy_import_total") for m in IDS for d in DAYS[::3]])
        sql_freezes(conn, [(m, d, "energy_import_total") for m in IDS[:3] for d in DAYS[1::3]])
    app = create_app(settings_for(migrated, mqtt_broker.url, tmp_path), services=[])
    firsts = [LAST.replace(day=1)]
    for _ in range(2):
        firsts.insert(0, (firsts[0] - timedelta(days=1)).replace(day=1))
    names = [f"{m:%Y-%m}" for m in firsts]
    fields = ("due", "read", "read_first", "rate", "rate_first", "below_threshold")
    with TestClient(app) as client:
        h = auth_headers(client, "viewer", migrated)
        r = client.get(
            "/api/reports/collection/months", params={"by": "area", "months": 3}, headers=h
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert [p["month"] for p in body["periods"]] == names
        assert body["periods"][-1]["end"] == LAST.isoformat()
        assert body["periods"][0]["complete"] and body["periods"][0]["start"] == str(firsts[0])
        assert [i["key"] for i in body["items"]] == ["AR-A", "AR-B"] and body["total"] == 2
        for k, name in enumerate(names):
            month = client.get(
                "/api/reports/collection",
                params={"period": "month", "month": name, "by": "area", "limit": 100},
                headers=h,
            ).json()
            want = {i["key"]: {f: i[f] for f in fields} for i in month["items"]}
            got = {i["key"]: {f: i["months"][k][f] for f in fields} for i in body["items"]}
            assert got == want, name
            assert {f: body["summary"]["months"][k][f] for f in fields} == {
                f: month["summary"][f] for f in fields
            }
        for item in body["items"]:
            rates = [m["rate"] for m in item["months"]]
            assert item["change"] == round(rates[-1] - rates[-2], 6)
        assert any(m["read"] < m["due"] for i in body["items"] for m in i["months"])
        # as a file: the months' rate pairs, headed in the language, as percentages
        r = client.get(
            "/api/reports/collection/months",
            params={"by": "area", "months": 3, "format": "csv", "lang": "zh"},
            headers=h,
        )
        assert r.status_code == 200, r.text
        head, *lines = r.content.decode("utf-8-sig").strip().splitlines()
        assert head.split(",") == [
            "分组",
            "名称",
            *[f"{m} {w}" for m in names for w in ("首抄成功率", "成功率")],
            "环比变化",
        ]
        assert len(lines) == 2 and lines[0].startswith("AR-A,") and "%" in lines[0]
        r = client.get(
            "/api/reports/collection/months",
            params={"by": "org", "months": 2, "format": "xlsx", "lang": "en"},
            headers=h,
        )
        ws = load_workbook(io.BytesIO(r.content)).active
        heads = [c.value for c in ws[2]]
        assert heads[2:6] == [f"{m} {w}" for m in names[1:] for w in ("first pass", "rate")]
        assert ws.cell(3, 6).number_format == "0.00%"
        for params, why in (
            ({"end": "2026-13"}, "month: expected YYYY-MM"),
            ({"end": f"{TODAY + timedelta(days=40):%Y-%m}"}, "has no closed day yet"),
            ({"months": 1}, "months"),
            ({"months": 13}, "months"),
            ({"by": "meter"}, "by"),
            ({"month": "2026-01"}, "month"),
        ):
            r = client.get("/api/reports/collection/months", params=params, headers=h)
            assert r.status_code == 422 and why in r.text, (params, r.text)
