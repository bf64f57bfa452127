"""The shape of the ``protocols.wire`` package: small rooms, one public surface."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from protocols import wire

WIRE_DIR = Path(wire.__file__).parent
MAX_LINES = 300


@pytest.mark.parametrize("path", sorted(WIRE_DIR.glob("*.py")), ids=lambda p: p.name)
def test_no_wire_module_over_300_lines(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (at most {MAX_LINES})"


def test_every_public_name_resolves_from_the_package() -> None:
    assert len(set(wire.__all__)) == len(wire.__all__)
    for name in wire.__all__:
        assert getattr(wire, name) is not None, name


ROOMS = ("codec", "topics", "readings", "rows", "security", "status", "commands", "receipts")


@pytest.mark.parametrize("module", ROOMS)
def test_every_room_imports_alone(module: str) -> None:
    importlib.import_module(f"protocols.wire.{module}")


def test_topic_table_covers_every_channel_once() -> None:
    assert [spec.channel for spec in wire.TOPICS] == list(wire.Channel)
    assert all(spec.qos == 1 for spec in wire.TOPICS)
    assert wire.topic("gw-1", wire.Channel.RECEIPT) == "meterlink/v1/gw/gw-1/receipt"


def test_package_docstring_lists_every_channel() -> None:
    doc = wire.__doc__ or ""
    for channel in wire.Channel:
        assert f"{{gateway}}/{channel.value} " in doc, channel
