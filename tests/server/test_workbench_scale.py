"""The workbench at scale (issue 19): the 30-day trend in one grouped query answers what the
day report answers for each of its days (meters installed and removed inside the range,
re-read days, freezes outside a meter's days, a meter moved to another area); a staff
re-read asks every concentrator in one pass (one statement for the commands, one for their
audit rows, one for the request records) with the same commands, audit rows and records
as asking gateway by gateway, and falls back to that when the one pass fails."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import psycopg
import pytest

from server.checks import completeness, reread
from server.db.queries import reports
from server.db.queries.audit_log import verify_chain

from .helpers import add_meters

END = date(2026, 3, 31)
START = END - timedelta(days=29)


def _freeze(conn: psycopg.Connection[Any], meter: str, day: date) -> None:
    conn.execute(
        "INSERT INTO daily_freeze (meter_id, data_date, quantity, value, freeze_ts, source) "
        "VALUES (%s, %s, 'energy_import_total', 1, %s, 'scheduled')",
        (meter, day, datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)),
    )


def test_the_trend_is_the_day_report_of_each_day(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "M1", "address": "000000000001"},
            # installed inside the range, with a freeze from before (not due then)
            {"id": "M2", "address": "000000000002", "installed_on": START + timedelta(days=10)},
            {"id": "M3", "address": "000000000003"},
        ],
        gateway="g1",
        area="A1",
    )
    add_meters(migrated, [{"id": "M4", "address": "000000000004"}], gateway="g2", area="A2")
    with psycopg.connect(migrated) as conn:
        # M3 removed inside the range, freezes after its removal kept (not counted)
        conn.execute("UPDATE meters SET removed_on = %s WHERE id = 'M3'", (END - timedelta(5),))
        for n in range(30):
            day = START + timedelta(days=n)
            if n % 7 != 3:
                _freeze(conn, "M1", day)
            if n >= 5 and n % 4:
                _freeze(conn, "M2", day)
            _freeze(conn, "M3", day)
            if n % 3:
                _freeze(conn, "M4", day)
        # M1's day 3 arrived late after a re-read asked for it while missing; M4's day 1 was
        # asked while it was already read
        _freeze(conn, "M1", START + timedelta(days=3))
        conn.execute(
            "INSERT INTO reread_requests (meter_id, data_date, gateway_id, command_id, "
            "requested_by, missing_when_asked) VALUES ('M1', %s, 'g1', 'c1', 'ops', true), "
            "('M4', %s, 'g2', 'c2', 'ops', false)",
            (START + timedelta(days=3), START + timedelta(days=1)),
        )
        # M4 moved to area A1 in the archive: both count it where it is now
        conn.execute("UPDATE meters SET area_id = 'A1' WHERE id = 'M4'")
        conn.commit()
        for by, key in (("all", None), ("area", "A1"), ("gateway", "g1"), ("area", "A2")):
            trend = reports.trend(conn, START, END, by=by, key=key)
            assert [r["date"] for r in trend] == [START + timedelta(days=n) for n in range(30)]
            for r in trend:
                day = r["date"]
                groups = completeness.period_report(conn, day, day, (by,), detail=True)[by]
                want = next((g for g in groups if key is None or g["key"] == key), None)
                got = (r["due"], r["read"], r["read_first"])
                if want is None:  # no due meter of the group that day
                    assert got == (0, 0, 0), (by, key, day)
                else:
                    assert got == (want["due"], want["read"], want["read_first"]), (by, key, day)
        everything = reports.trend(conn, START, END, by="all", key=None)
        # spot checks against the data: the removed meter leaves, the new one comes
        assert everything[0]["due"] == 3 and everything[-1]["due"] == 3
        assert everything[12]["due"] == 4
        assert sum(r["read"] - r["read_first"] for r in everything) == 1


def _state(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """What a request wrote, command ids replaced by their gateway (they are random)."""
    cmds = {
        i: (gw, by, args)
        for i, gw, by, args in conn.execute(
            "SELECT id, gateway_id, requested_by, args FROM gateway_commands "
            "WHERE status = 'pending' AND requested_by = 'staff'"
        )
    }
    audit = [
        (actor, action, entity, cmds[eid][0] if eid in cmds else eid, before, after)
        for actor, action, entity, eid, before, after in conn.execute(
            "SELECT actor, action, entity, entity_id, before, after FROM audit_log "
            "WHERE action = 'command.queued' ORDER BY chain_seq"
        )
    ]
    requests = sorted(
        (m, d, gw, cmds[c][0] if c in cmds else c, by, missing)
        for m, d, gw, c, by, missing in conn.execute(
            "SELECT meter_id, data_date, gateway_id, command_id, requested_by, "
            "missing_when_asked FROM reread_requests"
        )
    )
    return {"commands": sorted(cmds.values()), "audit": audit, "requests": requests}


def _scene(url: str) -> tuple[list[tuple[str, str, date]], date]:
    day = datetime.now(UTC).date() - timedelta(days=2)
    for g in range(12):
        add_meters(
            url,
            [{"id": f"M{g}-{k}", "address": f"{g:06d}{k:06d}"} for k in range(3)],
            gateway=f"g{g:02d}",
            area=f"A{g % 3}",
        )
    with psycopg.connect(url) as conn:
        # M0-0's day already has its freeze: asked again, not missing when asked
        _freeze(conn, "M0-0", day)
        # M1-1's day is pending with an unanswered command: not asked again
        conn.execute(
            "INSERT INTO gateway_commands (id, gateway_id, name, status, requested_by) "
            "VALUES ('old', 'g01', 'backfill', 'sent', 'ops')"
        )
        conn.execute(
            "INSERT INTO reread_requests (meter_id, data_date, gateway_id, command_id, "
            "requested_by, missing_when_asked) VALUES ('M1-1', %s, 'g01', 'old', 'ops', true)",
            (day,),
        )
        conn.commit()
    items = [(f"M{g}-{k}", f"g{g:02d}", day) for g in range(12) for k in range(3)]
    items += [(f"M{g}-0", f"g{g:02d}", day - timedelta(days=1)) for g in range(0, 12, 2)]
    return items, day


def test_a_staff_request_in_one_pass_writes_what_gateway_by_gateway_does(migrated: str) -> None:
    items, _ = _scene(migrated)
    with psycopg.connect(migrated) as conn:
        conn.execute("SELECT 1")  # in a transaction: request() works in savepoints, undone below
        one = reread.request(
            conn, items, requested_by="staff", per_gateway=len(items), beside_pending=True
        )
        state_one = _state(conn)
        conn.rollback()
        conn.execute("SELECT 1")
        each = reread._request_each(
            conn,
            reread._by_gateway(items),
            requested_by="staff",
            per_gateway=len(items),
            beside_pending=True,
        )
        state_each = _state(conn)
        conn.rollback()
    assert one == each
    assert one.already_pending == {"g01": 1}
    assert sum(one.requested.values()) == len(items) - 1 and len(one.requested) == 12
    assert state_one == state_each
    assert len(state_one["commands"]) == 12 and len(state_one["audit"]) == 12
    assert ("M0-0", items[0][2], "g00", "g00", "staff", False) in state_one["requests"]
    with psycopg.connect(migrated) as conn:
        reread.request(conn, items, requested_by="staff", per_gateway=2, beside_pending=True)
        conn.commit()
        # the audit rows of one statement chain like any others
        assert verify_chain(conn).ok


def test_the_job_in_one_pass_skips_busy_gateways_and_keeps_the_cap(migrated: str) -> None:
    items, _ = _scene(migrated)
    with psycopg.connect(migrated) as conn:
        conn.execute("SELECT 1")  # in a transaction: request() works in savepoints, undone below
        one = reread.request(conn, items, requested_by="reread-job", per_gateway=2)
        conn.rollback()
        conn.execute("SELECT 1")
        each = reread._request_each(
            conn,
            reread._by_gateway(items),
            requested_by="reread-job",
            per_gateway=2,
            beside_pending=False,
        )
        conn.rollback()
    assert one == each
    # g01 has an unanswered backfill: asked nothing; the others two meter-days each
    assert "g01" not in one.requested and set(one.requested.values()) == {2}


def test_a_failed_one_pass_asks_gateway_by_gateway(
    migrated: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    items, _ = _scene(migrated)

    def broken(*_: Any, **__: Any) -> None:
        raise psycopg.errors.DataError("a record the set statement trips on")

    monkeypatch.setattr(reread, "queue_prepared", broken)
    with psycopg.connect(migrated) as conn:
        sent = reread.request(
            conn, items, requested_by="staff", per_gateway=len(items), beside_pending=True
        )
        conn.commit()
        assert sum(sent.requested.values()) == len(items) - 1
        n = conn.execute(
            "SELECT count(*) FROM gateway_commands WHERE requested_by = 'staff'"
        ).fetchone()
        assert n == (12,)
