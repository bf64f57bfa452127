"""Re-reading tells the truth (issue 18, item 3): the job covers the meters' whole 62-day
history (oldest day first, within the per-gateway cap), a staff re-read beside a pending one
asks what is new and says what was already pending (never deleting the earlier record),
"recovered" counts only meter-days that were missing when asked, and a backfill that read
none of its meter-days is not "ok"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
from fastapi.testclient import TestClient

from protocols import wire
from server.checks import reread
from server.gateways import commands as server_commands

from .helpers import add_meters, auth_headers
from .test_checks import freezes, put


def _items(conn: psycopg.Connection[object]) -> list[tuple[str, str, list[tuple[str, str]]]]:
    return [
        (gw, by, [(it["meter"], it["date"]) for it in args["items"]])
        for gw, by, args in conn.execute(
            "SELECT gateway_id, requested_by, args FROM gateway_commands ORDER BY created_at, id"
        )
    ]


def test_the_job_covers_the_whole_history_oldest_first(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}], gateway="gw-1")
    today = datetime.now(UTC).date()
    read = {today - timedelta(days=k): 100.0 - k for k in range(1, 63) if k not in (62, 40, 9)}
    put(migrated, freezes("M1", read, tariffs=False))
    with psycopg.connect(migrated) as conn:
        sent = reread.auto_reread(conn, today, per_gateway=2)
        assert sent == {"gw-1": 2}
        # the two oldest missing days: day 62 leaves the meter's history tomorrow
        assert _items(conn) == [
            (
                "gw-1",
                "reread-job",
                [
                    ("M1", str(today - timedelta(days=62))),
                    ("M1", str(today - timedelta(days=40))),
                ],
            )
        ]
        assert reread.missing_meter_days(conn, today - timedelta(days=62), today) == [
            ("M1", "gw-1", today - timedelta(days=9)),
            ("M1", "gw-1", today),  # not yet due: the job stops at yesterday
        ]


def test_staff_reread_beside_a_pending_one_tells_the_truth(
    client: TestClient, migrated: str
) -> None:
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in (1, 2)],
        gateway="gw-1",
    )
    op = auth_headers(client, "operator", migrated)
    today = datetime.now(UTC).date()
    d1, d2 = (str(today - timedelta(days=k)) for k in (2, 3))
    first = client.post("/api/reread", headers=op, json={"items": [{"meter": "M1", "date": d1}]})
    assert first.status_code == 202 and first.json() == {
        "requested": {"gw-1": 1},
        "already_pending": {},
        "curves_requested": {},  # no day of curve asked (曲线补抄: items of kind curve)
        "curves_already_pending": {},
    }
    again = client.post(
        "/api/reread",
        headers=op,
        json={"items": [{"meter": "M1", "date": d1}, {"meter": "M2", "date": d2}]},
    )
    assert again.status_code == 202
    assert again.json() == {
        "requested": {"gw-1": 1},
        "already_pending": {"gw-1": 1},
        "curves_requested": {},
        "curves_already_pending": {},
    }
    with psycopg.connect(migrated) as conn:
        assert _items(conn) == [
            ("gw-1", "test-operator", [("M1", d1)]),
            ("gw-1", "test-operator", [("M2", d2)]),  # a new command beside the pending one
        ]
        rows = conn.execute(
            "SELECT r.meter_id, r.data_date::text, c.args->'items'->0->>'meter' "
            "FROM reread_requests r JOIN gateway_commands c ON c.id = r.command_id "
            "ORDER BY r.meter_id"
        ).fetchall()
        assert rows == [("M1", d1, "M1"), ("M2", d2, "M2")]  # the earlier record stays
        # the automatic job asks nothing twice and nothing of a busy gateway
        assert reread.auto_reread(conn, today, per_gateway=100, days=3) == {}


def test_recovered_counts_only_meter_days_missing_when_asked(
    client: TestClient, migrated: str
) -> None:
    add_meters(
        migrated,
        [{"id": f"M{i}", "address": f"{i:012d}"} for i in (1, 2)],
        gateway="gw-1",
    )
    op = auth_headers(client, "operator", migrated)
    day = datetime.now(UTC).date() - timedelta(days=2)
    put(migrated, freezes("M1", {day: 10.0}, tariffs=False))  # read already
    r = client.post(
        "/api/reread",
        headers=op,
        json={"items": [{"meter": "M1", "date": str(day)}, {"meter": "M2", "date": str(day)}]},
    )
    assert r.json()["requested"] == {"gw-1": 2}
    with psycopg.connect(migrated) as conn:
        assert reread.recovered(conn, day) == {"requested": 2, "recovered": 0}
    put(migrated, freezes("M2", {day: 7.0}, tariffs=False))  # the re-read answer
    with psycopg.connect(migrated) as conn:
        assert reread.recovered(conn, day) == {"requested": 2, "recovered": 1}


def test_a_backfill_that_read_nothing_is_not_ok(migrated: str) -> None:
    add_meters(migrated, [{"id": "M1", "address": "000000000001"}], gateway="gw-1")
    day = datetime.now(UTC).date() - timedelta(days=2)
    answers = {
        "none": {"read": 0, "failed": [{"meter": "M1", "date": str(day), "reason": "timeout"}]},
        "some": {"read": 1, "failed_count": 2, "failed_by_kind": {"timeout": 2}},
        "all": {"read": 3, "failed": []},
    }
    with psycopg.connect(migrated) as conn:
        ids = {}
        for name in answers:
            ids[name] = server_commands.queue_command(
                conn,
                gateway_id="gw-1",
                name="backfill",
                requested_by="test",
                args={"items": [{"meter": "M1", "date": str(day)}]},
            )
        for name, result in answers.items():
            res = wire.CommandResult(ids[name], "backfill", True, datetime.now(UTC), None, result)
            assert server_commands.record_result(conn, "gw-1", res)
        got = dict(conn.execute("SELECT id, (status, error) FROM gateway_commands").fetchall())
    assert got[ids["none"]] == ("error", "read 0 of 1 meter-days")
    assert got[ids["some"]] == ("partial", "read 1 of 3 meter-days")
    assert got[ids["all"]] == ("ok", None)
