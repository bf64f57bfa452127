"""Compact history (issue 20): every read path gives the same answer before and after
compaction, late readings for a compacted day merge by the same rules as in the hot table,
and compaction run beside ingestion loses and doubles nothing. Both database flavours."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.api.app import create_app
from server.checks import completeness, rules
from server.cli import main as server_cli
from server.db.compact import compact, min_scale
from server.db.migrate import migrate
from server.db.partitions import drop_old
from server.ingest.store import Batch, store
from tests.conftest import Broker, _fresh_database

from .conftest import settings_for
from .helpers import add_meters, auth_headers
from .test_checks import freezes

TZ = "Asia/Shanghai"
ZONE = ZoneInfo(TZ)
SLOT = timedelta(minutes=15)
METERS = ("M1", "M2", "M3")
# the first of four data days, three weeks back: inside the retention, outside the hot window
D0 = datetime.now(ZONE).date() - timedelta(days=21)
DAYS = [D0 + timedelta(days=i) for i in range(4)]
QUANTITIES = (
    "energy_import_total",
    "power_active_total",
    "power_active_a",
    "voltage_a",
    "voltage_b",
    "voltage_c",
    "current_a",
    "current_b",
    "current_c",
)
FLOAT32_TENTH = 0.10000000149011612  # 0.1 as a float32 register holds it: no exact scale


def day_start(d: date) -> datetime:
    return datetime.combine(d, time.min, ZONE).astimezone(UTC)


def dataset() -> list[tuple[Any, ...]]:
    """Four days of curves of three meters: several quantities and resolutions, negative
    and register-sized values, gaps, quality flags, other sources, a value with no exact
    scale, a voltage loss, events and clock checks, daily freezes."""
    rows: list[tuple[Any, ...]] = []
    for mi, m in enumerate(METERS):
        for di, d in enumerate(DAYS):
            t0 = day_start(d)
            for k in range(96):
                ts = t0 + k * SLOT
                if di == 1 and 10 <= k <= 12:
                    continue  # a gap in every curve of the day
                if mi == 2 and di == 2 and k > 60:
                    continue  # M3 stopped reporting in the afternoon
                qual: tuple[str, ...] = ()
                src = "scheduled"
                if k % 17 == 5:
                    qual = ("late",)
                if k % 23 == 7:
                    qual = ("late", "degraded")
                if k % 29 == 3:
                    src = "backfill"
                energy = round(999900.0 + mi * 3 + di * 2.5 + k * 0.07, 2)
                if mi == 1:
                    energy = round(1234.5 + di * 24 + k * 0.25, 2)
                if not (mi == 0 and di == 3 and k == 0):  # M1's register missed midnight
                    rows.append((m, "energy_import_total", ts, energy, "interval", src, qual))
                power = round((k % 40) * 0.0123 - (0.5 if mi == 2 else 0), 4)
                rows.append((m, "power_active_total", ts, power, "interval", "scheduled", ()))
                pa = FLOAT32_TENTH if k == 40 else round(k * 0.001, 3)
                rows.append((m, "power_active_a", ts, pa, "interval", "scheduled", ()))
                for x in "abc":
                    v = round(220.1 + (k % 7) * 0.1, 1)
                    if mi == 0 and di == 2 and x == "a" and 20 <= k <= 30:
                        v = 50.0  # a voltage loss with current flowing
                    rows.append((m, f"voltage_{x}", ts, v, "interval", "scheduled", ()))
                    c = round(1.5 + (k % 5) * 0.125, 3)
                    rows.append((m, f"current_{x}", ts, c, "interval", "scheduled", ()))
            at3 = t0 + timedelta(hours=3)
            rows.append((m, "cover_open_count", at3, float(di), "event", "scheduled", ()))
            at3 += timedelta(seconds=7)
            rows.append((m, "clock_offset", at3, 2.0, "clock", "scheduled", ()))
            # an interval reading off the 15-minute grid (a re-read at 07:07:30): residue
            off = t0 + timedelta(hours=7, minutes=7, seconds=30)
            rows.append((m, "voltage_b", off, 220.3, "interval", "reread", ()))
        days = [D0 - timedelta(1), *DAYS]
        totals = {d: 1000.0 + mi * 100 + i * 12.5 for i, d in enumerate(days)}
        if m == "M2":  # register still on the last day while power flows: stopped
            totals[DAYS[3]] = totals[DAYS[2]]
        if m == "M3":  # no consumption for days and no load: zero consumption
            totals = dict.fromkeys(totals, 1200.0)
        if m == "M1":  # no freeze for the last two days: the failed list's last good reading
            del totals[DAYS[2]], totals[DAYS[3]]  # is then its register's interval value
        rows += freezes(m, totals)
    return rows


def iso(ts: datetime) -> str:
    """A UTC timestamp as the API writes it."""
    return ts.isoformat().replace("+00:00", "Z")


def put(url: str, rows: list[tuple[Any, ...]]) -> int:
    with psycopg.connect(url) as conn:
        b = Batch()
        for i in range(0, len(rows), 5000):
            b.add_rows("gw-1", f"b{i}", rows[i : i + 5000])
        res = store(conn, b, tz=TZ)
        assert res.quarantined == 0
        return res.inserted


def setup_db(url: str) -> None:
    migrate(url)
    add_meters(url, [{"id": m, "address": f"00000000000{i}"} for i, m in enumerate(METERS)])
    with psycopg.connect(url) as conn:
        conn.execute(
            "UPDATE meters SET phases = 3, rated_voltage = 220, rated_current = 10, "
            "installed_on = %s",
            (D0 - timedelta(days=30),),
        )


def hot_storage(conn: psycopg.Connection[Any], upto: datetime) -> list[str]:
    """The hot table's partitions (plain PostgreSQL) or chunks (TimescaleDB) that end at or
    before ``upto`` (a one-day chunk is aligned in UTC: the one holding the last compacted
    local day's end also holds the next day's start, and goes the night after)."""
    if conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone():
        sql = (
            "SELECT chunk_name FROM timescaledb_information.chunks "
            "WHERE hypertable_name = 'readings' AND range_end <= %s ORDER BY range_start"
        )
    else:
        sql = (
            "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
            "WHERE i.inhparent = 'readings'::regclass AND (regexp_match(pg_get_expr("
            "c.relpartbound, c.oid), 'TO \\(''([^'']*)''\\)'))[1]::timestamptz <= %s "
            "ORDER BY 1"
        )
    return [r[0] for r in conn.execute(sql, (upto,)).fetchall()]


def compact_all(url: str, before: date) -> dict[str, Any]:
    with psycopg.connect(url, autocommit=True) as conn:
        res = compact(conn, before, TZ, chunk=2)
    assert res is not None
    return res.as_dict()


def snapshot(client: TestClient, headers: dict[str, str], url: str) -> dict[str, Any]:
    """Every read path's answer."""
    out: dict[str, Any] = {}

    def get(path: str, **params: Any) -> Any:
        r = client.get(path, params=params, headers=headers)
        assert r.status_code == 200, (path, params, r.text)
        return r.json() if "json" in r.headers.get("content-type", "") else r.text

    start = day_start(D0).isoformat()
    end = day_start(DAYS[-1] + timedelta(days=1)).isoformat()
    for m in METERS:
        for q in QUANTITIES:
            out[f"curve {m} {q}"] = get(f"/api/meters/{m}/curve", start=start, end=end, quantity=q)
        out[f"latest {m}"] = get(f"/api/meters/{m}/latest")
        out[f"freeze {m}"] = get(f"/api/meters/{m}/freeze", start=str(D0), end=str(DAYS[-1]))
        for d in DAYS:
            out[f"readings {m} {d}"] = get(f"/api/meters/{m}/readings", date=str(d), limit=5000)
        out[f"events {m}"] = get(
            f"/api/meters/{m}/events", date=str(DAYS[-1]), days=len(DAYS), limit=5000
        )
        out[f"readings page {m}"] = get(
            f"/api/meters/{m}/readings",
            date=str(DAYS[1]),
            quantity="energy_import_total",
            limit=7,
            offset=30,
        )
    gw = get("/api/concentrators/gw-1", date=str(DAYS[-1]))
    out["concentrator events"] = (gw["events"], gw["clock_offsets"])
    for d in DAYS:
        for by in ("all", "area"):
            out[f"completeness {d} {by}"] = get("/api/completeness", date=str(d), by=by)
            out[f"curve completeness {d} {by}"] = get("/api/curve-completeness", date=str(d), by=by)
        out[f"completeness csv {d}"] = get("/api/completeness", date=str(d), format="csv")
        out[f"failed {d}"] = get("/api/failed-meters", date=str(d))
        out[f"failed csv {d}"] = get("/api/failed-meters", date=str(d), format="csv")
        out[f"workbench failed {d}"] = get("/api/workbench/failed", date=str(d))
        out[f"report {d}"] = get("/api/reports/collection", date=str(d))
        out[f"report meters {d}"] = get("/api/reports/collection/meters", date=str(d))
        out[f"line loss {d}"] = get("/api/line-loss", date=str(d))
        out[f"line loss areas {d}"] = get("/api/line-loss/areas", date=str(d))
    with psycopg.connect(url) as conn:
        for d in DAYS:
            out[f"curve completeness fn {d}"] = completeness.curve_completeness(conn, d, TZ)
            out[f"rules {d}"] = rules.run_rules(conn, d, TZ).found
        conn.commit()
        out["anomalies"] = conn.execute(
            "SELECT rule, meter_id, area_id, first_date, last_date, evidence FROM anomalies "
            "ORDER BY rule, meter_id, first_date"
        ).fetchall()
        out["conflicts"] = conn.execute(
            "SELECT meter_id, quantity, ts, stored_value, new_value, kind FROM "
            "reading_conflicts ORDER BY meter_id, quantity, ts, new_value"
        ).fetchall()
        out["check queue"] = conn.execute(
            "SELECT meter_id, data_date FROM check_queue ORDER BY 1, 2"
        ).fetchall()
    return out


def without_arrival(snap: dict[str, Any]) -> dict[str, Any]:
    """The snapshot without arrival times (two databases store one batch at two moments)."""
    out = dict(snap)
    for k, v in snap.items():
        if k.startswith(("readings", "events")):
            out[k] = {**v, "items": [{**i, "received_at": None} for i in v["items"]]}
    return out


def diff(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    return [k for k in sorted(a.keys() | b.keys()) if a.get(k) != b.get(k)]


@pytest.fixture(params=["postgres", "timescale"])
def twins(request: pytest.FixtureRequest) -> Iterator[tuple[str, str]]:
    """Two fresh databases of one flavour: one is compacted, the other stays as it was."""
    admin = request.getfixturevalue(
        "pg_admin_url" if request.param == "postgres" else "timescale_admin_url"
    )
    a = _fresh_database(admin, f"mltest_{request.param[:2]}a")
    b = _fresh_database(admin, f"mltest_{request.param[:2]}b")
    urls = (next(a), next(b))
    yield urls
    for g in (a, b):
        for _ in g:
            pass


def test_every_read_path_same_before_and_after(
    twins: tuple[str, str], mqtt_broker: Broker, tmp_path: Path
) -> None:
    url_a, url_b = twins
    for url in twins:
        setup_db(url)
        put(url, dataset())
        # repeats: one the same, one with another value (a conflict), before compaction
        put(url, [("M1", "energy_import_total", day_start(DAYS[0]) + 4 * SLOT, 999900.28,
                   "interval", "scheduled", ()),
                  ("M1", "energy_import_total", day_start(DAYS[0]) + 5 * SLOT, 1.0,
                   "interval", "scheduled", ())])  # fmt: skip
    app_a = create_app(settings_for(url_a, mqtt_broker.url, tmp_path / "a"), services=[])
    app_b = create_app(settings_for(url_b, mqtt_broker.url, tmp_path / "b"), services=[])
    with TestClient(app_a) as ca, TestClient(app_b) as cb:
        ha, hb = auth_headers(ca, "viewer", url_a), auth_headers(cb, "viewer", url_b)
        before_a = snapshot(ca, ha, url_a)
        found = {k: v for k, v in before_a.items() if k.startswith("rules")}
        # the dataset makes the per-point, load and event rules find something
        assert found[f"rules {DAYS[2]}"]["voltage_loss"] == 1
        assert found[f"rules {DAYS[3]}"]["stopped"] == 1
        assert found[f"rules {DAYS[3]}"]["zero_consumption"] == 1
        assert found[f"rules {DAYS[1]}"]["cover_open"] == 3
        # M1's last good reading is its register's interval value (compacted below): the
        # day's last one, and for day 2 that of 23:45 (the next day's row starts at the
        # day's close but has no midnight value)
        last = {d: {i["meter_id"]: i for i in before_a[f"failed {d}"]["items"]} for d in DAYS}
        assert set(last[DAYS[3]]) == set(last[DAYS[2]]) == {"M1"}
        good = [(last[d]["M1"]["last_good_ts"], last[d]["M1"]["last_good_value"],
                 last[d]["M1"]["last_good_kind"]) for d in DAYS[2:]]  # fmt: skip
        assert good == [
            (iso(day_start(DAYS[3]) - SLOT), round(999900.0 + 5 + 95 * 0.07, 2),
             "interval"),
            (iso(day_start(DAYS[3]) + 95 * SLOT), round(999900.0 + 7.5 + 95 * 0.07, 2),
             "interval"),
        ]  # fmt: skip
        assert before_a[f"report meters {DAYS[2]}"]["items"][0]["curve_points"] == 96
        res = compact_all(url_a, DAYS[-1] + timedelta(days=1))
        # 3 meters x 4 days x 9 quantities x 96 slots, less the gaps, less the 4 float32 values
        stored = 3 * 4 * 9 * 96 - 3 * 9 * 3 - 9 * 35 - 3 * 4 - 1
        # the residue: float32 values, events, clock checks and off-grid readings (12 each)
        assert res["readings"] == stored and res["residue"] == 4 * 12, res
        with psycopg.connect(url_a) as conn:
            hot = conn.execute("SELECT count(*) FROM readings").fetchone()
            cold = conn.execute(
                "SELECT kind, count(*) FROM readings_cold GROUP BY 1 ORDER BY 1"
            ).fetchall()
            rows = conn.execute("SELECT count(*), sum(scale) FROM readings_compact").fetchone()
            parts = hot_storage(conn, day_start(DAYS[-1] + timedelta(days=1)))
            every = hot_storage(conn, datetime.max.replace(tzinfo=UTC))
        assert hot == (0,)  # every compacted day left the hot table...
        assert parts == []  # ...whose emptied partitions or chunks were dropped
        assert res["dropped"] != [] and len(every) <= 1  # (a chunk straddling the edge)
        assert cold == [("clock", 12), ("event", 12), ("interval", 24)]
        with psycopg.connect(url_a) as conn:  # each compacted event stored once (0920)
            copies = conn.execute("SELECT count(*) FROM meter_events").fetchone()
        assert copies == (0,)
        assert rows is not None and rows[0] == 3 * 4 * 9
        after_a = snapshot(ca, ha, url_a)
        assert diff(before_a, after_a) == []
        # idempotent: a second run moves nothing and changes nothing
        again = compact_all(url_a, DAYS[-1] + timedelta(days=1))
        assert again["readings"] == 0 and again["rows"] == 0
        assert diff(before_a, snapshot(ca, ha, url_a)) == []

        # late readings for compacted days, on both databases: the gap filled, a repeat, a
        # conflict, a value with no exact scale, a duplicate within the batch
        t1 = day_start(DAYS[1])
        late = [
            ("M1", "energy_import_total", t1 + 10 * SLOT, 999903.2, "interval", "backfill", ()),
            ("M1", "energy_import_total", t1 + 11 * SLOT, 999903.27, "interval", "backfill",
             ("late",)),
            ("M1", "voltage_a", t1 + 12 * SLOT, 219.9, "interval", "backfill", ()),
            ("M2", "energy_import_total", t1 + 20 * SLOT, 1263.5, "interval", "scheduled", ()),
            ("M2", "energy_import_total", t1 + 21 * SLOT, 99.0, "interval", "scheduled", ()),
            ("M2", "power_active_a", t1 + 10 * SLOT, FLOAT32_TENTH, "interval", "backfill", ()),
            ("M3", "current_b", t1 + 11 * SLOT, 2.25, "interval", "backfill", ()),
            ("M3", "current_b", t1 + 11 * SLOT, 2.5, "interval", "backfill", ()),
            ("M1", "power_active_a", day_start(DAYS[0]) + 40 * SLOT, 0.5, "interval",
             "scheduled", ()),
            # residue: a new event, a repeated clock check, a clock check with another
            # value (a conflict), an off-grid reading new and one repeated with another
            # value, an on-grid value where a float32 one is stored (a conflict)
            ("M2", "cover_open_count", t1 + timedelta(hours=5), 9.0, "event", "scheduled",
             ()),
            ("M1", "clock_offset", t1 + timedelta(hours=3, seconds=7), 2.0, "clock",
             "scheduled", ()),
            ("M3", "clock_offset", t1 + timedelta(hours=3, seconds=7), 3.0, "clock",
             "scheduled", ()),
            ("M3", "voltage_b", t1 + timedelta(hours=9, seconds=1), 220.4, "interval",
             "reread", ()),
            ("M2", "voltage_b", t1 + timedelta(hours=7, minutes=7, seconds=30), 220.5,
             "interval", "reread", ()),
            ("M3", "power_active_a", t1 + 40 * SLOT, 0.5, "interval", "scheduled", ()),
        ]  # fmt: skip
        before_late = snapshot(cb, hb, url_b)
        assert put(url_a, late) == put(url_b, late) == 7
        after_b = snapshot(cb, hb, url_b)
        assert diff(before_late, after_b) != []  # the late readings changed answers
        assert diff(without_arrival(snapshot(ca, ha, url_a)), without_arrival(after_b)) == []
        with psycopg.connect(url_a) as conn:
            hot_late = conn.execute("SELECT count(*) FROM readings").fetchone()
            cold_late = conn.execute(
                "SELECT kind, count(*) FROM readings_cold GROUP BY 1 ORDER BY 1"
            ).fetchall()
            parts = hot_storage(conn, day_start(DAYS[-1] + timedelta(days=1)))
        # the late residue went to readings_cold: no compacted day's hot storage came back
        assert hot_late == (0,) and parts == []
        assert cold_late == [("clock", 12), ("event", 13), ("interval", 26)]
        conflicts = {}
        for url in twins:
            with psycopg.connect(url) as conn:
                conflicts[url] = conn.execute(
                    "SELECT meter_id, quantity, ts, stored_value, new_value, kind "
                    "FROM reading_conflicts ORDER BY 1, 2, 3, 5"
                ).fetchall()
        # the same conflicts, whether the day was compacted or not
        assert conflicts[url_a] == conflicts[url_b] and len(conflicts[url_a]) == 7
        # compaction after late readings: still the same answers
        snap = snapshot(ca, ha, url_a)
        compact_all(url_a, DAYS[-1] + timedelta(days=1))
        assert diff(snap, snapshot(ca, ha, url_a)) == []

        # retention: compact rows of whole days before the cutoff go, later ones stay
        with psycopg.connect(url_a) as conn:
            cutoff = day_start(DAYS[2])
            now = cutoff + timedelta(days=1095)
            dropped = drop_old(conn, 1095, now)
            left = conn.execute("SELECT min(day_start), count(*) FROM readings_compact").fetchone()
            kept = conn.execute(
                "SELECT count(*) FROM readings_between(%s, %s)",
                (day_start(DAYS[2]), day_start(DAYS[-1] + timedelta(days=1))),
            ).fetchone()
        assert dropped and dropped[0].startswith("readings_compact: ")
        assert left is not None and left[0] == day_start(DAYS[2]) and left[1] == 3 * 2 * 9
        with psycopg.connect(url_b) as conn:
            ref = conn.execute(
                "SELECT count(*) FROM readings WHERE ts >= %s AND ts < %s",
                (day_start(DAYS[2]), day_start(DAYS[-1] + timedelta(days=1))),
            ).fetchone()
        assert kept == ref
        # the events of the removed days go back to meter_events, which keeps events past
        # the readings' retention: every event as on the database never compacted
        events = "SELECT meter_id, quantity, ts, value, gateway_id FROM meter_events_all "
        with psycopg.connect(url_a) as ka, psycopg.connect(url_b) as kb:
            assert (
                ka.execute(events + "ORDER BY 1, 2, 3").fetchall()
                == kb.execute(events + "ORDER BY 1, 2, 3").fetchall()
            )
            back = ka.execute("SELECT count(*) FROM meter_events WHERE ts < %s", (cutoff,))
            assert back.fetchone() == (3 * 2 * 2 + 1,)  # two days of event and clock, one late


def test_min_scale_is_exact() -> None:
    assert min_scale(999999.99) == 2
    assert min_scale(220.1) == 1
    assert min_scale(-0.5) == 1
    assert min_scale(0.0123) == 4
    assert min_scale(3.0) == 0
    assert min_scale(FLOAT32_TENTH) is None
    assert min_scale(-0.0) is None  # the sign of a zero would be lost
    assert min_scale(2.0**60) is None  # beyond what a float8 holds as an integer


def test_compaction_beside_ingestion_loses_and_doubles_nothing(migrated: str) -> None:
    """Late readings for the days being compacted arrive while compaction runs: each is
    stored once, in the hot table or a compact row, with its value."""
    url = migrated
    meters = [f"C{i:03d}" for i in range(40)]
    add_meters(url, [{"id": m, "address": f"{i:012d}"} for i, m in enumerate(meters)])
    d = D0
    t0 = day_start(d)
    first = [
        (m, "energy_import_total", t0 + k * SLOT, round(100 + k * 0.25, 2), "interval",
         "scheduled", ())
        for m in meters for k in range(0, 96, 2)
    ]  # fmt: skip
    clock = t0 + timedelta(hours=3, seconds=7)
    put(url, first + [(m, "clock_offset", clock, 2.0, "clock", "scheduled", ()) for m in meters])
    late = [
        (m, "energy_import_total", t0 + k * SLOT, round(100 + k * 0.25, 2), "interval",
         "backfill", ())
        for m in meters for k in range(0, 96)  # odd slots new, even ones repeats
    ]  # fmt: skip
    # residue beside them: the clock check repeated, a new event, a new off-grid reading
    for i, m in enumerate(meters):
        late.insert(i * 99, (m, "clock_offset", clock, 2.0, "clock", "scheduled", ()))
        late.insert(i * 99 + 50, (m, "cover_open_count", t0 + timedelta(hours=5), 1.0,
                                  "event", "scheduled", ()))  # fmt: skip
        late.insert(i * 99 + 98, (m, "voltage_a", t0 + timedelta(hours=6, seconds=1), 221.5,
                                  "interval", "reread", ()))  # fmt: skip
    errors: list[BaseException] = []

    def ingest() -> None:
        try:
            for i in range(0, len(late), 97):
                put(url, late[i : i + 97])
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)

    th = threading.Thread(target=ingest)
    th.start()
    with psycopg.connect(url, autocommit=True) as conn:
        compact(conn, d + timedelta(days=1), TZ, chunk=3)
    th.join()
    assert not errors
    with psycopg.connect(url, autocommit=True) as conn:
        compact(conn, d + timedelta(days=1), TZ, chunk=7)  # what arrived after a chunk
        got = conn.execute(
            "SELECT meter_id, ts, value, count(*) OVER (PARTITION BY meter_id, quantity, ts) "
            "FROM readings_between(%s, %s) WHERE quantity = 'energy_import_total' "
            "ORDER BY 1, 2",
            (t0, t0 + timedelta(days=1)),
        ).fetchall()
        residue = conn.execute(
            "SELECT quantity, count(*), count(DISTINCT meter_id), sum(value) FROM "
            "readings_between(%s, %s) WHERE quantity <> 'energy_import_total' "
            "GROUP BY 1 ORDER BY 1",
            (t0, t0 + timedelta(days=1)),
        ).fetchall()
        cold = conn.execute("SELECT count(*) FROM readings_cold").fetchone()
        conflicts = conn.execute("SELECT count(*) FROM reading_conflicts").fetchone()
        hot = conn.execute("SELECT count(*) FROM readings").fetchone()
    assert [(m, ts, v) for m, ts, v, _ in got] == [
        (m, t0 + k * SLOT, round(100 + k * 0.25, 2)) for m in meters for k in range(96)
    ]
    assert {n for *_, n in got} == {1}
    n = len(meters)
    assert residue == [
        ("clock_offset", n, n, 2.0 * n),
        ("cover_open_count", n, n, 1.0 * n),
        ("voltage_a", n, n, 221.5 * n),
    ]
    assert cold == (3 * n,)
    assert conflicts == (0,) and hot == (0,)


def test_compact_command(migrated: str, capsys: pytest.CaptureFixture[str]) -> None:
    add_meters(migrated, [{"id": "X1", "address": "000000000009"}])
    put(migrated, [("X1", "voltage_a", day_start(D0) + k * SLOT, 230.5, "interval",
                    "scheduled", ()) for k in range(96)])  # fmt: skip
    env = {"METERLINK_DATABASE_URL": migrated}
    with pytest.MonkeyPatch.context() as mp:
        for k, v in env.items():
            mp.setenv(k, v)
        tomorrow = datetime.now(ZONE).date() + timedelta(days=1)
        assert server_cli(["compact", "--before", str(tomorrow)]) == 2
        assert "only closed days" in capsys.readouterr().err
        assert server_cli(["compact", "--before", "2026-13-01"]) == 2
        assert server_cli(["compact"]) == 0  # default: older than the hot window
        out = capsys.readouterr().out
        assert "96 readings of 1 meters" in out
        with psycopg.connect(migrated) as conn:
            n = conn.execute(
                "SELECT count(*), sum(value) FROM readings_between(%s, %s)",
                (day_start(D0), day_start(D0 + timedelta(days=1))),
            ).fetchone()
            timescale = conn.execute(
                "SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'"
            ).fetchone()
            chunks = (
                conn.execute(
                    "SELECT count(*) FROM timescaledb_information.chunks "
                    "WHERE hypertable_name = 'readings'"
                ).fetchone()
                if timescale
                else None
            )
        assert n == (96, 96 * 230.5)
        if timescale:  # the week's chunk was left empty: dropped, not kept as empty pages
            assert chunks == (0,) and "_hyper_" in out
        assert server_cli(["compact"]) == 0
        assert "0 readings" in capsys.readouterr().out


def test_migration_0920_drops_the_compacted_events_copies(migrated: str) -> None:
    """A site compacted before migration 0920 holds each compacted event twice; the
    migration deletes the meter_events copy where readings_cold holds the same value, and
    the events read the same before and after."""
    sql = (Path(__file__).parents[2] / "server/db/migrations/0920_events_once.sql").read_text()
    t = day_start(D0)
    cold = [
        ("M1", "cover_open_count", t, 1.0, "event"),
        ("M1", "clock_offset", t, 2.0, "clock"),
        ("M1", "voltage_b", t, 220.3, "interval"),
    ]
    copies = [
        ("M1", "cover_open_count", t, 1.0),  # a copy: goes
        ("M1", "clock_offset", t, 3.0),  # another value (kept, as the events read it)
        ("M1", "cover_open_count", t + timedelta(days=9), 2.0),  # a hot event: stays
    ]
    events = "SELECT meter_id, quantity, ts, value FROM meter_events_all ORDER BY 1, 2, 3"
    with psycopg.connect(migrated) as conn:
        for m, q, ts, v, k in cold:
            conn.execute(
                "INSERT INTO readings_cold (meter_id, quantity, ts, value, kind, source) "
                "VALUES (%s, %s, %s, %s, %s, 'scheduled')",
                (m, q, ts, v, k),
            )
        for m, q, ts, v in copies:
            conn.execute(
                "INSERT INTO meter_events (meter_id, quantity, ts, value) VALUES (%s, %s, %s, %s)",
                (m, q, ts, v),
            )
        before = conn.execute(events).fetchall()
        conn.execute(sql)
        after = conn.execute(events).fetchall()
        left = conn.execute("SELECT quantity, value FROM meter_events ORDER BY 1, 2").fetchall()
    assert before == after and len(after) == 3
    assert left == [("clock_offset", 3.0), ("cover_open_count", 2.0)]
