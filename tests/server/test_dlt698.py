"""DL/T 698.45 meters on the server (issue 21): the archive takes the protocol (API, CSV
import, the database's own check), completeness counts them per protocol, and a missed day
is re-readable: the re-read job asks their gateway, the failed list never calls the day
lost. Against the real PostgreSQL of the test environment."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

from protocols.vocabulary import REREADABLE_PROTOCOLS, MeterProtocol
from server.checks import completeness, reread
from server.ingest.store import Batch, store

from .helpers import add_meters, auth_headers

D = date(2026, 11, 10)
TZ = "Asia/Shanghai"


def freeze_row(meter: str, day: date, value: float, flags: tuple[str, ...] = ()) -> tuple[Any, ...]:
    ts = datetime(day.year, day.month, day.day, 16, 0, tzinfo=UTC)  # local midnight after
    return (meter, "energy_import_total", ts, value, "freeze", "scheduled", flags)


def test_the_rereadable_protocols_are_one_table() -> None:
    assert REREADABLE_PROTOCOLS == {MeterProtocol.DLT645_2007, MeterProtocol.DLT698}


def test_a_missed_698_day_is_counted_and_asked_again(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "O1", "address": "000000006981", "protocol": "dlt698"},
            {"id": "O2", "address": "000000006982", "protocol": "dlt698"},
            {"id": "P1", "address": "000000000101", "protocol": "modbus"},
        ],
        gateway="gw-698",
        area="A698",
    )
    with psycopg.connect(migrated) as conn:
        b = Batch()
        # O1 holds an ESAM: its freeze came as SECURITY plaintext + MAC, not verified
        b.add_rows("gw-698", "seed", [freeze_row("O1", D, 1234.5, ("unverified",))])
        assert store(conn, b, tz=TZ).quarantined == 0
        assert conn.execute(
            "SELECT quality FROM daily_freeze WHERE meter_id = 'O1' AND data_date = %s", (D,)
        ).fetchone() == (["unverified"],)  # the archive keeps the flag
        whole = completeness.report(conn, D)
        by_protocol = {r["key"]: (r["read"], r["due"]) for r in whole["protocol"]}
        assert by_protocol["dlt698"] == (1, 2)
        failed = {r["meter_id"]: r for r in completeness.failed_meters(conn, D)}
        assert failed["O2"]["reason"] == "never_read"  # it keeps a freeze history
        assert failed["O2"]["rereadable"] is True
        assert "cannot be re-read" not in failed["O2"]["reason_text"]
        assert failed["P1"]["reason"] == "not_rereadable"
        assert "cannot be re-read" in failed["P1"]["reason_text"]
        missing = reread.missing_meter_days(conn, D, D)
        assert missing == [("O2", "gw-698", D)]  # the Modbus meter is never asked
        asked = reread.auto_reread(conn, D + timedelta(days=1), per_gateway=100, days=1)
        assert asked == {"gw-698": 1}
        (args,) = conn.execute(
            "SELECT args FROM gateway_commands WHERE gateway_id = 'gw-698' AND name = 'backfill'"
        ).fetchone() or (None,)
        assert args["items"] == [{"meter": "O2", "date": D.isoformat()}]


def test_the_archive_takes_dlt698_by_api_and_import(client: TestClient) -> None:
    admin = auth_headers(client, "admin", str(client.app.state.database_url))  # type: ignore[attr-defined]
    body = {"address": "000000006981", "protocol": "dlt698", "installed_on": "2025-01-01"}
    r = client.put("/api/meters/O1", json=body, headers=admin)
    assert r.status_code == 200, r.text
    assert client.get("/api/meters/O1", headers=admin).json()["protocol"] == "dlt698"
    bad = client.put("/api/meters/O9", json={**body, "protocol": "698"}, headers=admin)
    assert bad.status_code == 422  # the API takes the canonical value only
    csv = (
        "电表资产号,表地址,规约,安装日期\n"
        "O2,000000006982,698.45,2025-01-01\n"
        "O3,000000006983,DL/T 698.45,2025-01-01\n"
        "O4,000000006984,dlt699,2025-01-01\n"
    )
    r = client.post(
        "/api/archive/import", headers=admin, files={"file": ("m.csv", csv.encode(), "text/csv")}
    )
    assert r.status_code == 422
    errors = r.json()["detail"]["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(4, "protocol")]
    assert "698.45" in errors[0]["reason"]
    r = client.post(
        "/api/archive/import",
        headers=admin,
        files={"file": ("m.csv", csv.rsplit("O4", 1)[0].encode(), "text/csv")},
    )
    assert r.status_code == 200, r.text
    assert client.get("/api/meters/O3", headers=admin).json()["protocol"] == "dlt698"


def test_the_database_itself_accepts_dlt698_and_nothing_else(migrated: str) -> None:
    add_meters(migrated, [{"id": "O1", "address": "000000006981", "protocol": "dlt698"}])
    with pytest.raises(psycopg.errors.CheckViolation):
        add_meters(migrated, [{"id": "X1", "address": "000000000001", "protocol": "dlt699"}])
