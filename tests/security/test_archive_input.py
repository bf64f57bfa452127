"""Every way into the archive holds to one set of rules (server/archive/validate.py), and the
import can neither block the server nor half-import: bad ids, NaN/Infinity/1e308 numbers,
over-long text, a huge CSV cell, a zip-bomb XLSX and too many rows are refused with a report
and nothing imported; a blank cell takes its default; the import runs off the event loop.
A record still referred to is not deleted (a meter with readings: 409, set removed_on); one
bad gateway record does not stop the re-read job for the others."""

from __future__ import annotations

import io
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols.vocabulary import FREEZE_HISTORY_DAYS
from server.api.app import create_app
from server.archive import importer
from server.checks.reread import auto_reread
from server.db.migrate import migrate
from server.ingest.store import Batch, store
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers

METER = {"address": "000000000001", "protocol": "dlt645-2007", "installed_on": "2025-01-01"}


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(client: TestClient, pg_url: str) -> dict[str, str]:
    headers = auth_headers(client, "admin", pg_url)
    client.cookies.clear()
    return headers


def count(url: str, sql: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def nothing_in_the_archive(url: str) -> bool:
    return (
        count(url, "SELECT count(*) FROM meters")
        + count(url, "SELECT count(*) FROM areas")
        + count(url, "SELECT count(*) FROM gateways")
        + count(url, "SELECT count(*) FROM audit_log WHERE entity <> 'user'")
    ) == 0


def send(client: TestClient, method: str, url: str, body: Any, headers: dict[str, str]) -> Any:
    """A JSON body as Python writes it (NaN and Infinity included, as a hostile client
    would send them)."""
    return client.request(
        method,
        url,
        content=json.dumps(body),
        headers={**headers, "Content-Type": "application/json"},
    )


def upload(client: TestClient, headers: dict[str, str], name: str, content: bytes) -> Any:
    return client.post(
        "/api/archive/import", headers=headers, files={"file": (name, content, "text/csv")}
    )


# ------------------------------------------------------------------ the REST API


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("ct_ratio", float("inf")),
        ("ct_ratio", float("nan")),
        ("ct_ratio", 1e308),
        ("pt_ratio", float("-inf")),
        ("pt_ratio", 0),
        ("contracted_kw", 1e308),
        ("contracted_kw", float("nan")),
        ("rated_voltage", float("inf")),
        ("customer_address", "x" * 501),
        ("customer_name", "a\x00b"),
        ("gateway_id", "gw/1"),
        ("area_id", "../../etc/passwd"),
    ],
)
def test_the_api_refuses_what_the_archive_cannot_use(
    client: TestClient, admin: dict[str, str], pg_url: str, field: str, value: Any
) -> None:
    r = send(client, "PUT", "/api/meters/M1", {**METER, field: value}, admin)
    assert r.status_code == 422 and field in r.json()["detail"], r.text
    client.put("/api/meters/M2", json=METER, headers=admin)
    r = send(client, "PATCH", "/api/meters/M2", {field: value}, admin)
    assert r.status_code == 422, r.text
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT id FROM meters").fetchall() == [("M2",)]


def test_the_api_refuses_infinite_area_capacity_and_ids_outside_the_wire_grammar(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    r = client.put("/api/areas/A1", json={"name": "A", "capacity_kva": 1e308}, headers=admin)
    assert r.status_code == 422 and "capacity_kva" in r.json()["detail"]
    assert client.put(f"/api/meters/{'x' * 65}", json=METER, headers=admin).status_code == 400
    for key in ("a:b", "-x", "_x"):
        r = client.put(f"/api/meters/{key}", json=METER, headers=admin)
        assert r.status_code == 422 and "not a valid id" in r.json()["detail"], (key, r.text)
    assert count(pg_url, "SELECT count(*) FROM meters") == 0


def test_the_database_refuses_nan_and_infinite_ratios_too(pg_url: str) -> None:
    migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        for ratio in ("NaN", "Infinity", "1e308"):
            with pytest.raises(psycopg.errors.CheckViolation):
                with conn.transaction():
                    conn.execute(
                        "INSERT INTO meters (id, address, protocol, installed_on, ct_ratio) "
                        "VALUES ('M1', '000000000001', 'dlt645-2007', '2025-01-01', %s)",
                        (ratio,),
                    )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO gateways (id) VALUES ('gw/1')")


# ------------------------------------------------------------------ the import

BAD_IMPORT = (
    "id,address,protocol,installed_on,ct_ratio,pt_ratio,gateway_id,customer_address\n"
    "GOOD1,000000000001,2007,2025-01-01,1,1,gw-1,\n"
    '"<img src=x onerror=alert(1)>",000000000002,2007,2025-01-01,1,1,gw-1,\n'
    "../../etc/passwd,000000000003,2007,2025-01-01,1,1,gw-1,\n"
    f"{'M' * 300},000000000004,2007,2025-01-01,1,1,gw-1,\n"
    "M5,000000000005,2007,2025-01-01,NaN,1,gw-1,\n"
    "M6,000000000006,2007,2025-01-01,1,Infinity,gw-1,\n"
    "M7,000000000007,2007,2025-01-01,1e308,1,gw-1,\n"
    "M8,000000000008,2007,2025-01-01,1,1,gw/+/#,\n"
    f"M9,000000000009,2007,2025-01-01,1,1,gw-1,{'x' * 600}\n"
)


def test_the_import_reports_every_bad_cell_and_imports_nothing(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    r = upload(client, admin, "bad.csv", BAD_IMPORT.encode())
    assert r.status_code == 422, r.text
    errors = {(e["row"], e["column"]): e["reason"] for e in r.json()["detail"]["errors"]}
    assert set(errors) == {
        (3, "id"),
        (4, "id"),
        (5, "id"),
        (6, "ct_ratio"),
        (7, "pt_ratio"),
        (8, "ct_ratio"),
        (9, "gateway_id"),
        (10, "customer_address"),
    }
    assert "not a valid id" in errors[(3, "id")]
    assert "not a finite number" in errors[(6, "ct_ratio")]
    assert "out of range" in errors[(8, "ct_ratio")]
    assert "at most 500" in errors[(10, "customer_address")]
    assert nothing_in_the_archive(pg_url)


def test_a_blank_cell_takes_the_columns_default(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    csv = (
        "id,address,protocol,installed_on,ct_ratio,pt_ratio,phases,customer_class,is_generation\n"
        "M1,000000000001,2007,2025-01-01,,  ,,,\n"
    )
    r = upload(client, admin, "blank.csv", csv.encode())
    assert r.status_code == 200, r.text
    m = client.get("/api/meters/M1", headers=admin).json()
    assert (float(m["ct_ratio"]), float(m["pt_ratio"]), m["phases"]) == (1, 1, 1)
    assert (m["customer_class"], m["is_generation"]) == ("residential", False)


def test_a_huge_csv_cell_is_a_clear_refusal(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    csv = f"id,address,protocol,installed_on,customer_name\nM1,1,2007,2025-01-01,{'x' * 140_000}\n"
    r = upload(client, admin, "huge.csv", csv.encode())
    assert r.status_code == 413 and "longer than 131072 characters" in r.json()["detail"]
    assert nothing_in_the_archive(pg_url)


def zip_bomb(xml_bytes: int) -> bytes:
    """A workbook whose sheet is ``xml_bytes`` of highly compressible XML (rows of one
    repeated cell), like the 236 KB file that expanded to 97 MB."""
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "address", "protocol", "installed_on"])
    buf = io.BytesIO()
    wb.save(buf)
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>'
    body = row * (xml_bytes // len(row))
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", body + b"</sheetData>")
            dst.writestr(item, data, compress_type=zipfile.ZIP_DEFLATED, compresslevel=9)
    return out.getvalue()


def test_a_zip_bomb_xlsx_is_refused_before_parsing(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    bomb = zip_bomb(97_000_000)
    assert len(bomb) < 1_000_000  # under 1 MB on the wire, 97 MB of XML inside
    started = time.monotonic()
    r = upload(client, admin, "bomb.xlsx", bomb)
    took = time.monotonic() - started
    assert r.status_code == 413 and "zip bomb" in r.json()["detail"], r.text
    assert took < 5, took  # refused from the zip directory, not after parsing 97 MB
    assert nothing_in_the_archive(pg_url)


def test_a_real_sized_workbook_passes_the_size_check() -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "address", "protocol", "installed_on", "customer_name", "customer_phone"])
    for i in range(6000):
        ws.append([f"M{i}", f"{i:012d}", "2007", datetime(2025, 1, 1), f"Name {i * 7919 % 99991}",
                   f"138{i * 104729 % 99999999:08d}"])  # fmt: skip
    buf = io.BytesIO()
    wb.save(buf)
    sheet = zipfile.ZipFile(buf).getinfo("xl/worksheets/sheet1.xml")
    assert sheet.file_size > 2**20  # the ratio rule applies to it
    importer.check_xlsx_size(buf)  # no exception
    good, errors = importer.check("a.xlsx", buf)
    assert (good, errors) == (6000, [])


def row_limit_csv(rows: int) -> bytes:
    lines = ["id,address,protocol,installed_on"]
    lines += [f"M{i},{i:012d},2007,2025-01-01" for i in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_reading_stops_at_the_row_limit_without_reading_the_rest() -> None:
    content = row_limit_csv(importer.MAX_ROWS + 100_000)
    f = io.BytesIO(content)
    with pytest.raises(importer.ArchiveTooLarge, match="at most 200000"):
        importer.check("big.csv", f)
    assert f.tell() < len(content) * 0.8  # stopped there, the last 100,000 rows unread


def test_an_import_over_the_row_limit_is_refused(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    r = upload(client, admin, "big.csv", row_limit_csv(importer.MAX_ROWS + 1))
    assert r.status_code == 413 and "more than 200000 rows" in r.json()["detail"]
    assert nothing_in_the_archive(pg_url)


def test_the_import_runs_off_the_event_loop(
    client: TestClient, admin: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    real_check = importer.check
    started = threading.Event()

    def slow_check(name: str, f: Any) -> Any:
        started.set()
        time.sleep(3)  # stands for parsing a large file
        return real_check(name, f)

    monkeypatch.setattr(importer, "check", slow_check)
    csv = b"id,address,protocol,installed_on\nM1,000000000001,2007,2025-01-01\n"
    result: dict[str, Any] = {}

    def run_import() -> None:
        result["import"] = upload(client, admin, "a.csv", csv)

    worker = threading.Thread(target=run_import)
    worker.start()
    assert started.wait(10)
    t0 = time.monotonic()
    assert client.get("/health/live").status_code == 200
    assert client.get("/api/meters", headers=admin).status_code == 200
    answered_in = time.monotonic() - t0
    import_still_running = worker.is_alive()
    worker.join(30)
    assert result["import"].status_code == 200, result["import"].text
    assert import_still_running and answered_in < 1.5, answered_in


def test_every_record_the_import_creates_or_changes_is_audited(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    csv = (
        "id,address,protocol,installed_on,gateway_id,area_id,is_area_master\n"
        "M1,000000000001,2007,2025-01-01,gw-1,TA1,yes\n"
        "M2,000000000002,2007,2025-01-01,gw-1,TA1,no\n"
    )
    assert upload(client, admin, "a.csv", csv.encode()).status_code == 200
    csv2 = csv.replace("2025-01-01,gw-1,TA1,no", "2025-02-01,gw-1,TA1,no")
    assert upload(client, admin, "a.csv", csv2.encode()).json()["updated"] == 2
    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT action, entity_id, actor FROM audit_log WHERE entity <> 'user' ORDER BY id"
        ).fetchall()
    actions = [(a, e) for a, e, _ in rows]
    assert actions[:5] == [
        ("areas.create", "TA1"),
        ("gateways.create", "gw-1"),
        ("meters.create", "M1"),
        ("areas.update", "TA1"),  # its master meter
        ("meters.create", "M2"),
    ]
    assert ("meters.update", "M2") in actions[5:]
    assert {actor for _, _, actor in rows} == {"test-admin"}


# ------------------------------------------------------------------ deleting


def test_a_meter_with_readings_is_never_deleted(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    add_meters(pg_url, [{"id": "M1", "address": "000000000001"}])
    t0 = datetime(2026, 11, 1, 16, 0, tzinfo=UTC)
    with psycopg.connect(pg_url) as conn:
        b = Batch()
        b.add_rows(
            "gw-1",
            "x",
            [("M1", "energy_import_total", t0 + timedelta(days=1), 200.0, "freeze", "sch", ())],
        )
        store(conn, b, tz="Asia/Shanghai")
    r = client.delete("/api/meters/M1", headers=admin)
    assert r.status_code == 409, r.text
    assert "readings" in r.json()["detail"] and "removed_on" in r.json()["detail"]
    r = client.patch("/api/meters/M1", json={"removed_on": "2026-11-20"}, headers=admin)
    assert r.status_code == 200 and r.json()["removed_on"] == "2026-11-20"
    freezes = client.get("/api/meters/M1/freeze?start=2026-11-01&end=2026-11-03", headers=admin)
    assert [f["data_date"] for f in freezes.json()["freezes"]] == ["2026-11-02"]
    assert client.get("/api/meters/M1/latest", headers=admin).json()["values"]
    # the area and the gateway still have the meter: not deleted either, with the reason
    for url, reason in (("/api/areas/A1", "meters"), ("/api/gateways/gw-1", "meters")):
        r = client.delete(url, headers=admin)
        assert r.status_code == 409 and reason in r.json()["detail"], r.text
    assert client.put("/api/org-units/OU", json={"name": "OU"}, headers=admin).status_code == 200
    assert client.put("/api/areas/A2", json={"name": "A2", "org_unit_id": "OU"}, headers=admin)
    r = client.delete("/api/org-units/OU", headers=admin)
    assert r.status_code == 409 and "areas" in r.json()["detail"]
    # what nothing refers to is deleted as before
    assert client.delete("/api/areas/A2", headers=admin).status_code == 204
    assert client.delete("/api/org-units/OU", headers=admin).status_code == 204
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM meters").fetchone() == (1,)
        assert conn.execute(
            "SELECT action FROM audit_log WHERE entity = 'meters' ORDER BY id"
        ).fetchall() == [("meters.update",)]


# ------------------------------------------------------------------ jobs


def test_one_bad_gateway_record_does_not_stop_the_reread_job(pg_url: str) -> None:
    migrate(pg_url)
    with psycopg.connect(pg_url) as conn:
        # an archive stored before the checks: a gateway id no MQTT topic can carry
        conn.execute("ALTER TABLE gateways DROP CONSTRAINT gateways_id_grammar")
        conn.commit()
    add_meters(pg_url, [{"id": "M1", "address": "000000000001"}], gateway="gw/+", area="A1")
    add_meters(pg_url, [{"id": "M2", "address": "000000000002"}], gateway="gw-2", area="A1")
    with psycopg.connect(pg_url) as conn:
        sent = auto_reread(conn, date(2026, 11, 20), per_gateway=100)
        conn.commit()
        assert sent == {"gw-2": FREEZE_HISTORY_DAYS}  # every missing day of the history
        assert conn.execute("SELECT DISTINCT gateway_id FROM gateway_commands").fetchall() == [
            ("gw-2",)
        ]


def test_malformed_xml_inside_a_workbook_is_a_clear_400(
    client: TestClient, admin: dict[str, str], pg_url: str
) -> None:
    import openpyxl

    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["id", "address", "protocol", "installed_on"])
    ws.append(["M1", "000000000001", "2007", "2025-01-01"])
    buf, out = io.BytesIO(), io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for item in src.infolist():
            data = src.read(item)
            if item.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", b"<row><c><v>1</v></row></sheetData>")
            dst.writestr(item, data)
    r = upload(client, admin, "broken.xlsx", out.getvalue())
    assert r.status_code == 400 and "not a readable XLSX" in r.json()["detail"], r.text
    assert nothing_in_the_archive(pg_url)
