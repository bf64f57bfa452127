"""A simulated fleet with CT/PT-connected area masters, written into the archive by the
demo's archive building through the real API, its daily freezes stored through ingest and
judged by the real rules: the masters keep phases and ratios, and each area's line loss
is the simulator's true technical loss (not 95 % because the meter registered the
primary side and the server multiplied by the CT again)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
import pytest
from fastapi.testclient import TestClient

from server.checks import rules
from simulators.clock import VirtualClock
from simulators.demo import script
from simulators.fleet import fleet_from_dict
from simulators.simulation import Simulation

from .helpers import auth_headers
from .test_checks import put

TZ = ZoneInfo("Asia/Shanghai")
D = date(2026, 11, 10)
START = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)


class ClientApi:
    """The demo's ServerApi over a TestClient."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers

    def put(self, url: str, body: dict[str, Any]) -> Any:
        r = self.client.put(url, json=body, headers=self.headers)
        assert r.status_code in (200, 201), (url, r.text)
        return r.json()


def area(n: int, loss: float, ct: int, pt: int) -> dict[str, Any]:
    return {
        "id": f"TA-{n}",
        "loss": loss,
        "master": {
            "archive_id": f"M{n}",
            "address": f"{n:06d}000000",
            "bus": "GW01-rs485-1",
            "phases": 3,
            "ct": ct,
            "pt": pt,
        },
        "meters": [
            {
                "archive_id": f"C{n}-{k}",
                "address": f"{n:06d}{k:06d}",
                "bus": "GW01-rs485-1",
                "load": ("residential", "commercial", "industrial")[k % 3],
                "phases": 3 if k % 3 == 2 else 1,
            }
            for k in range(1, 7)
        ],
    }


def fleet() -> Any:
    return fleet_from_dict(
        {
            "seed": 18,
            "start": START.isoformat(),
            "speed": 0.0,
            "commissioned": "2026-06-01",
            "buses": [{"name": "GW01-rs485-1", "fast": True}],
            "areas": [area(1, 0.04, 20, 1), area(2, 0.06, 5, 10)],
        }
    )


def freeze_rows(sim: Simulation, meter: str, day: date) -> list[tuple[Any, ...]]:
    """The meter's registers at the local midnight that closes ``day``."""
    at = datetime.combine(day + timedelta(days=1), datetime.min.time(), TZ)
    regs = sim.meter(meter).registers_at(at)
    names = ["energy_import_total", *(f"energy_import_t{i}" for i in range(1, 5))]
    return [(meter, q, at, regs[q], "freeze", "scheduled", ()) for q in names]


def test_ct_pt_masters_keep_their_archive_and_the_true_line_loss(client: TestClient) -> None:
    migrated = str(client.app.state.database_url)  # type: ignore[attr-defined]
    f = fleet()
    script.load_archive(
        ClientApi(client, auth_headers(client, "admin", migrated)), f, f.commissioned
    )
    viewer = auth_headers(client, "viewer", migrated)
    for n, ct, pt in ((1, 20, 1), (2, 5, 10)):
        got = client.get(f"/api/meters/M{n}", headers=viewer).json()
        ratios = (float(got["ct_ratio"]), float(got["pt_ratio"]))
        assert (got["phases"], *ratios) == (3, ct, pt), got
    with Simulation(f, clock=VirtualClock(START, 0.0), fast=True) as sim:
        rows: list[tuple[Any, ...]] = []
        for m, _ in f.meters:
            for day in (D - timedelta(days=1), D):
                rows += freeze_rows(sim, m.archive_id, day)
        # the masters register the secondary side: 1/20 and 1/50 of the line's energy
        line = sim.meter("M1").primary_energy_at(datetime(2026, 11, 10, tzinfo=TZ))
        shown = sim.meter("M1").registers_at(datetime(2026, 11, 10, tzinfo=TZ))
        assert shown["energy_import_total"] == pytest.approx(line / 20, abs=0.011)
    put(migrated, rows)
    with psycopg.connect(migrated) as conn:
        loss = {r["area_id"]: r["loss"] for r in rules.line_loss(conn, D)}
        rules.run_rules(conn, D, "Asia/Shanghai")
        found = conn.execute("SELECT rule, coalesce(meter_id, area_id) FROM anomalies").fetchall()
    assert loss["TA-1"] == pytest.approx(0.04 / 1.04, abs=0.005), loss
    assert loss["TA-2"] == pytest.approx(0.06 / 1.06, abs=0.005), loss
    assert found == []  # no false line loss, no flying or overrun three-phase master
