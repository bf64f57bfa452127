"""Formula injection in exports, against the real app on PostgreSQL: text that a spreadsheet
program would evaluate (``=``, ``+``, ``-``, ``@``, tab, CR at the start) is written as text
in CSV and XLSX whatever its source — an anomaly comment through the API, a meter's
``last_error`` in a gateway status as it arrives over MQTT — and numbers, negative ones
too, stay numbers."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import openpyxl
import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols import wire
from server.api.app import create_app
from server.db.migrate import migrate
from server.gateways.status import record_status
from tests.conftest import Broker
from tests.server.conftest import settings_for
from tests.server.helpers import add_meters, auth_headers

PAYLOADS = [
    '=HYPERLINK("http://evil.example/","x")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(1+1)",
    "\t=1+1",
    "\r=1+1",
]
D = date(2026, 11, 20)


@pytest.fixture
def client(pg_url: str, mqtt_broker: Broker, tmp_path: Path) -> Iterator[TestClient]:
    migrate(pg_url)
    app = create_app(settings_for(pg_url, mqtt_broker.url, tmp_path), services=[])
    app.state.database_url = pg_url
    with TestClient(app) as c:
        yield c


def _csv_rows(body: bytes) -> list[dict[str, str]]:
    text = body.decode("utf-8-sig")
    return list(csv.DictReader(io.StringIO(text, newline="")))


def _as_read_back(text: str) -> str:
    """XML turns a stored CR into LF when the workbook is read: the same text."""
    return text.replace("\r", "\n")


def _xlsx_rows(body: bytes) -> list[dict[str, object]]:
    wb = openpyxl.load_workbook(io.BytesIO(body))
    ws = wb.active
    assert ws is not None
    cells = list(ws.iter_rows())
    formulas = [c.coordinate for row in cells for c in row if c.data_type == "f"]
    assert formulas == [], f"formula cells in the export: {formulas}"
    header = [str(c.value) for c in cells[0]]
    return [dict(zip(header, (c.value for c in row), strict=True)) for row in cells[1:]]


def _anomalies(url: str, n: int) -> list[int]:
    with psycopg.connect(url) as conn:
        ids = []
        for i in range(n):  # one ongoing anomaly per area and rule
            conn.execute("INSERT INTO areas (id, name) VALUES (%s, 'area')", (f"A{i}",))
            row = conn.execute(
                "INSERT INTO anomalies (rule, area_id, first_date, last_date, evidence) "
                "VALUES ('line_loss', %s, %s, %s, %s) RETURNING id",
                (f"A{i}", D, D, json.dumps({"loss_kwh": -12.5})),
            ).fetchone()
            assert row is not None
            ids.append(int(row[0]))
        return ids


def test_anomaly_comments_are_text_in_csv_and_xlsx(client: TestClient, pg_url: str) -> None:
    op = auth_headers(client, "operator", pg_url)
    ids = _anomalies(pg_url, len(PAYLOADS))
    for aid, payload in zip(ids, PAYLOADS, strict=True):
        body = {"status": "confirmed", "comment": payload}
        r = client.post(f"/api/anomalies/{aid}/status", json=body, headers=op)
        assert r.status_code == 200, r.text
    by_id = dict(zip(ids, PAYLOADS, strict=True))

    got = client.get("/api/anomalies?format=csv&limit=100", headers=op)
    assert got.status_code == 200
    rows = _csv_rows(got.content)
    assert len(rows) == len(PAYLOADS)
    for row in rows:
        assert row["comment"] == "'" + by_id[int(row["id"])]  # the apostrophe makes it text
        assert not row["comment"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert row["id"].isdigit()  # numbers are written as they were

    got = client.get("/api/anomalies?format=xlsx&limit=100", headers=op)
    assert got.status_code == 200
    for row in _xlsx_rows(got.content):
        # unchanged, in a text cell
        assert row["comment"] == _as_read_back(by_id[int(str(row["id"]))])
        assert isinstance(row["id"], int)


def test_gateway_last_error_from_mqtt_is_text_and_negative_numbers_stay_numbers(
    client: TestClient, pg_url: str
) -> None:
    viewer = auth_headers(client, "viewer", pg_url)
    meters = [{"id": f"M{i}", "address": f"{i:012d}"} for i in range(len(PAYLOADS))]
    add_meters(pg_url, meters, gateway="gw-1")
    # the status payload as a gateway publishes it, decoded by the server's own decoder
    payload = wire.encode_status(
        wire.GatewayStatus(
            "gw-1",
            True,
            datetime(2026, 11, 20, 6, tzinfo=UTC),
            meters=tuple(
                wire.MeterHealth(m["id"], "failing", last_error=p)
                for m, p in zip(meters, PAYLOADS, strict=True)
            ),
        )
    )
    with psycopg.connect(pg_url) as conn:
        assert record_status(conn, wire.decode_status(payload)) is None
        # a last good reading with a negative value (a signed register): a number
        conn.execute(
            "INSERT INTO daily_freeze (meter_id, quantity, data_date, value, freeze_ts, source) "
            "SELECT id, 'energy_import_total', %s, -7.25, now(), 'scheduled' FROM meters",
            (date(2026, 11, 19),),
        )
    by_meter = {m["id"]: p for m, p in zip(meters, PAYLOADS, strict=True)}

    got = client.get(f"/api/failed-meters?date={D}&format=csv", headers=viewer)
    assert got.status_code == 200, got.text
    rows = _csv_rows(got.content)
    assert {r["meter_id"] for r in rows} == set(by_meter)
    for row in rows:
        assert row["last_error"] == "'" + by_meter[row["meter_id"]]
        assert row["last_good_value"] == "-7.25"  # a number, not neutralised
        assert row["reason"] == "meter_not_answering"
        assert row["reason_text"].startswith("meter not answering (")

    got = client.get(f"/api/failed-meters?date={D}&format=xlsx", headers=viewer)
    assert got.status_code == 200
    rows_x = _xlsx_rows(got.content)
    assert len(rows_x) == len(PAYLOADS)
    for row in rows_x:
        assert row["last_error"] == _as_read_back(by_meter[str(row["meter_id"])])
        assert row["last_good_value"] == -7.25
