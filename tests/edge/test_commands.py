"""Commands from the server: each answered once, stamped with the agent's clock."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.commands import RESULT_BUDGET_BYTES, CommandHandler, fit_result
from edge.meters.errors import FailureKind, ReadError
from edge.outbox import Outbox
from edge.runtime import CommandRefused
from protocols import wire
from protocols.dlt645 import ERROR_BITS
from protocols.wire import codec

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # far from the host's time on purpose


class FakeRuntime:
    def __init__(self, backfill_result: dict[str, Any] | None = None) -> None:
        self.syncs = 0
        self.backfill_result = backfill_result or {}

    def backfill(self, items: Any) -> dict[str, Any]:
        return self.backfill_result

    def time_sync(self, bus: str | None = None) -> dict[str, Any]:
        self.syncs += 1
        return {"buses": {bus or "b1": {"max_offset_s": 0.5, "time_set": False}}}

    def read_now(self, meter: str, quantities: Any = None) -> list[Any]:
        raise CommandRefused(f"no meter {meter!r} on this gateway")


@pytest.fixture
def outbox(tmp_path: Path) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "o.sqlite", clock=ManualClock(NOW))
    yield box
    box.close()


def command(name: wire.CommandName, cmd_id: str = "c1", **args: Any) -> bytes:
    return wire.encode_command(wire.Command(cmd_id, name, NOW, args))


def test_results_carry_the_agent_clock_and_a_repeat_is_not_run_again(outbox: Outbox) -> None:
    runtime, sent = FakeRuntime(), []
    handler = CommandHandler(lambda: runtime, outbox, sent.append, clock=ManualClock(NOW))
    handler.handle(command(wire.CommandName.TIME_SYNC, bus="b1"))
    handler.handle(command(wire.CommandName.TIME_SYNC, bus="b1"))
    first, again = (wire.decode_result(p) for p in sent)
    assert (
        first.ok and first.finished_at == NOW and first.result["buses"]["b1"]["time_set"] is False
    )
    assert again.ok and again.result == {"duplicate": True} and again.finished_at == NOW
    assert runtime.syncs == 1


def test_refused_and_malformed_commands_are_answered_with_an_error(outbox: Outbox) -> None:
    sent: list[bytes] = []
    handler = CommandHandler(FakeRuntime, outbox, sent.append, clock=ManualClock(NOW))
    handler.handle(command(wire.CommandName.READ_NOW, "c2", meter="ZZZ"))
    handler.handle(b'{"id": "c3", "command": "self_destruct"}')
    refused, malformed = (wire.decode_result(p) for p in sent)
    assert not refused.ok and refused.error == "no meter 'ZZZ' on this gateway"
    assert (
        not malformed.ok and malformed.id == "c3" and "malformed command" in (malformed.error or "")
    )
    assert refused.finished_at == malformed.finished_at == NOW


def test_the_outbox_stamps_with_its_clock(tmp_path: Path) -> None:
    from .test_outbox import readings

    clock = ManualClock(NOW)
    box = Outbox(tmp_path / "o.sqlite", clock=clock)
    try:
        box.add(readings(3))
        clock.advance(90)
        assert box.oldest_age_s() == pytest.approx(90)
    finally:
        box.close()


# ---------------------------------------------------------------------------- bounded results


def worst_backfill_result() -> dict[str, Any]:
    """A 10,000-item backfill where every meter-day fails with the longest reason a meter
    can give (every error bit) and every meter id is as long as the id rules allow."""
    reason = ReadError("m", FailureKind.ERROR_REPLY, bits=[e.name for e in ERROR_BITS]).reason
    failed = [
        {
            "meter": f"M{i}".ljust(64, "x"),
            "date": (date(2026, 1, 1) + timedelta(days=i % 62)).isoformat(),
            "reason": reason if i % 2 else FailureKind.TIMEOUT.value,
        }
        for i in range(wire.MAX_COMMAND_ITEMS)
    ]
    return {"read": 0, "failed": failed}


def test_the_worst_backfill_result_is_summarised_under_the_budget(outbox: Outbox) -> None:
    worst = worst_backfill_result()
    full = wire.encode_result(wire.CommandResult("c" * 64, "backfill", True, NOW, None, worst))
    # measured: 2,210,196 bytes in full (under the 4 MiB limit only because commands carry at
    # most 10,000 items of valid ids), against a 262,144-byte budget
    assert len(full) > RESULT_BUDGET_BYTES == wire.MAX_PAYLOAD_BYTES // 16
    sent: list[bytes] = []
    handler = CommandHandler(
        lambda: FakeRuntime(worst), outbox, sent.append, clock=ManualClock(NOW)
    )
    items = [{"meter": f["meter"], "date": f["date"]} for f in worst["failed"]]
    handler.handle(command(wire.CommandName.BACKFILL, "c-worst", items=items))
    assert handler.wait_idle(30)
    (payload,) = sent
    assert len(payload) < 1024  # measured: 253 bytes
    res = wire.decode_result(payload)
    assert res.ok and res.id == "c-worst"
    assert res.result == {
        "read": 0,
        "failed_count": 10_000,
        "failed_by_kind": {"error_reply": 5_000, "timeout": 5_000},
        "detail_dropped": {"bytes": len(codec.dump(worst)), "budget": 262_144},
    }


def test_a_long_error_is_cut_to_what_the_wire_takes(outbox: Outbox) -> None:
    class Wordy(FakeRuntime):
        def time_sync(self, bus: str | None = None) -> dict[str, Any]:
            raise CommandRefused("no " * 5_000)

    sent: list[bytes] = []
    handler = CommandHandler(Wordy, outbox, sent.append, clock=ManualClock(NOW))
    handler.handle(command(wire.CommandName.TIME_SYNC, "c-wordy"))
    res = wire.decode_result(sent[0])  # the wire refuses errors over 2,000 characters
    assert not res.ok and res.error is not None
    assert len(res.error) == 1000 and res.error.endswith("…")


def test_a_result_within_the_budget_is_kept_whole() -> None:
    one = {"meter": "M1", "date": "2026-01-01", "reason": "timeout"}
    small = {"read": 3, "failed": [one] * 10}  # 561 bytes encoded
    assert fit_result(small) == small and fit_result(small, budget=561) == small
    assert fit_result(small, budget=560) == {
        "read": 3,
        "failed_count": 10,
        "failed_by_kind": {"timeout": 10},
        "detail_dropped": {"bytes": 561, "budget": 560},
    }
    # what still does not fit is replaced by its size
    huge = fit_result({"values": {f"q{i}": i for i in range(100)}}, budget=50)
    assert huge["values"] is None and huge["values_bytes"] > 50


def test_a_running_backfill_does_not_hold_other_commands(outbox: Outbox) -> None:
    """A backfill can take hours of line time: it runs on its own thread, and a time sync
    arriving meanwhile is answered at once."""
    release = threading.Event()

    class Slow(FakeRuntime):
        def backfill(self, items: Any) -> dict[str, Any]:
            release.wait(10)
            return {"read": len(items), "failed": []}

    runtime, sent = Slow(), []
    handler = CommandHandler(lambda: runtime, outbox, sent.append, clock=ManualClock(NOW))
    items = [{"meter": "M1", "date": "2031-05-05"}]
    handler.handle(command(wire.CommandName.BACKFILL, "c-long", items=items))
    handler.handle(command(wire.CommandName.TIME_SYNC, "c-sync"))
    assert [wire.decode_result(p).id for p in sent] == ["c-sync"]
    assert not handler.wait_idle(0.1)
    release.set()
    assert handler.wait_idle(10)
    assert [wire.decode_result(p).id for p in sent] == ["c-sync", "c-long"]
    assert wire.decode_result(sent[1]).result == {"read": 1, "failed": []}
    handler.close()
