"""A clerk's decision sticks for the days it covered (issue 18, item 5): running the checks
again for those days (after a re-read, a rule change, the incremental run) never brings a
dismissed or closed record back as a new open one; a later day still opens one."""

from __future__ import annotations

from datetime import timedelta

import psycopg

from server.checks import rules

from .helpers import add_meters
from .test_checks import TZ, D, days, freezes, put


def _records(conn: psycopg.Connection[object]) -> list[tuple[object, ...]]:
    return conn.execute(
        "SELECT status, first_date, last_date FROM anomalies WHERE rule = 'line_loss' ORDER BY id"
    ).fetchall()


def test_a_decision_sticks_for_the_days_it_covered(migrated: str) -> None:
    add_meters(
        migrated,
        [
            {"id": "MASTER", "address": "000000000900", "is_area_master": True},
            {"id": "C1", "address": "000000000001"},
            {"id": "C2", "address": "000000000002"},
        ],
        area="A1",
    )
    # the master registers less than its customers every day: negative line loss
    rows = (
        freezes("MASTER", days(6, 100, 15))
        + freezes("C1", days(6, 100, 10))
        + freezes("C2", days(6, 100, 10))
    )
    nxt = D + timedelta(days=1)
    rows += freezes("MASTER", {nxt: 100 + 15 * 7}) + freezes("C1", {nxt: 170.0})
    rows += freezes("C2", {nxt: 170.0})
    put(migrated, rows)
    prev = D - timedelta(days=1)
    with psycopg.connect(migrated) as conn:
        rules.run_rules(conn, prev, TZ)
        rules.run_rules(conn, D, TZ)
        assert _records(conn) == [("open", prev, D)]
        conn.execute("UPDATE anomalies SET status = 'dismissed', comment = 'meter swapped'")
        for day in (prev, D, prev):  # the checks run again for the days decided
            rules.run_rules(conn, day, TZ)
        assert _records(conn) == [("dismissed", prev, D)]
        conn.execute("UPDATE anomalies SET status = 'closed'")
        rules.run_rules(conn, D, TZ)
        assert _records(conn) == [("closed", prev, D)]
        rules.run_rules(conn, nxt, TZ)  # a day the decision did not cover
        assert _records(conn) == [("closed", prev, D), ("open", nxt, nxt)]
