"""Commands from the server: each answered once, stamped with the agent's clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from edge.clock import ManualClock
from edge.commands import CommandHandler
from edge.outbox import Outbox
from edge.runtime import CommandRefused
from protocols import wire

NOW = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)  # far from the host's time on purpose


class FakeRuntime:
    def __init__(self) -> None:
        self.syncs = 0

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
