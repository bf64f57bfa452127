"""A demo stopped while its edges still have backfills queued (Ctrl-C during the history)
leaves no command unanswered: each dropped backfill is answered as not run, so the server
records it at once instead of keeping it "sent" (and its meter-days asked) until it expires
an hour or more later; the running one answers with what it read."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.commands import NOT_RUN, CommandHandler
from edge.outbox import Outbox
from protocols import wire

NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "o.sqlite", clock=ManualClock(NOW))
    yield box
    box.close()


def test_backfills_dropped_at_stop_are_answered_as_not_run(outbox: Outbox) -> None:
    started, release = threading.Event(), threading.Event()

    class Runtime:
        def backfill(self, items: Any) -> dict[str, Any]:
            started.set()
            release.wait(10)
            return {
                "read": 0,
                "failed": [{"meter": "M1", "date": "2026-12-01", "reason": "cancelled"}],
            }

    runtime, sent = Runtime(), []
    handler = CommandHandler(lambda: runtime, outbox, sent.append, clock=ManualClock(NOW))
    items = [{"meter": "M1", "date": "2026-12-01"}]
    for n in range(3):
        handler.handle(
            wire.encode_command(
                wire.Command(f"b{n}", wire.CommandName.BACKFILL, NOW, {"items": items})
            )
        )
    assert started.wait(10)
    handler.close()  # the agent stops: b0 runs, b1 and b2 are dropped
    dropped = [wire.decode_result(p) for p in sent]
    assert [(r.id, r.ok, r.error) for r in dropped] == [
        ("b1", False, NOT_RUN),
        ("b2", False, NOT_RUN),
    ]
    release.set()  # the running one ends (its bus stopped) and answers with what it read
    deadline = threading.Event()
    for _ in range(100):
        if len(sent) == 3:
            break
        deadline.wait(0.05)
    last = wire.decode_result(sent[-1])
    assert last.id == "b0" and last.ok and last.result["failed"][0]["reason"] == "cancelled"


def test_a_backfill_answers_the_meter_days_it_read_not_its_readings(tmp_path: Path) -> None:
    """The demo's history command for one concentrator and day: the server records
    "read N of M meter-days" from the answer's ``read``, which counted readings (a dozen per
    freeze: "read 130 of 133 meter-days" for 16 meters, 3 of them dead)."""
    from edge.config import config_from_dict
    from edge.runtime import EdgeRuntime
    from protocols.wire import BackfillItem
    from simulators.clock import VirtualClock
    from simulators.demo.stack import edge_config
    from simulators.fleet import load_fleet
    from simulators.harness import running_fleet
    from tests.demo.test_fleet import DEMO_FLEET

    now = datetime.now(UTC)
    fleet = load_fleet(DEMO_FLEET, now=now)
    with running_fleet(fleet, clock=VirtualClock(now, speed=1.0)) as run:
        cfg = edge_config(fleet, run, "gw-03", data_dir=tmp_path, broker_url="mqtt://127.0.0.1:9")
        runtime = EdgeRuntime(config_from_dict(cfg), sink=lambda readings: None)
        runtime.start(plans=False)
        try:
            day = now.date() - timedelta(days=3)
            meters = [m.archive_id for m, b in fleet.meters if b == "gw-03-rs485-1"]
            res = runtime.backfill([BackfillItem(m, day) for m in meters])
        finally:
            runtime.stop()
    failed = {f["meter"] for f in res["failed"]}  # type: ignore[union-attr]
    assert failed == {"F-DEAD", "F-OLD97"}  # dead; keeps no freeze history
    assert res["read"] == len(meters) - 2
    assert res["readings"] > 5 * res["read"]  # type: ignore[operator]
