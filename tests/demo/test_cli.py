"""The ``meterlink`` command line without starting anything: help, and a clear message with
the pip command when the server's extra is not installed."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from importlib.machinery import ModuleSpec

import pytest

from simulators.demo import cli
from simulators.fleet import load_fleet
from tests.demo.test_script import DEMO_FLEET


def test_demo_help_lists_the_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["demo", "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    for option in ("--duration", "--days", "--data-dir", "--port", "--database-url", "--mqtt-url"):
        assert option in out


def test_demo_help_counts_the_meters_and_areas_of_the_demo_fleet(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "400")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    fleet = load_fleet(DEMO_FLEET, now=datetime(2026, 11, 1, 4, 0, tzinfo=UTC))
    words = {4: "four", 3: "three", 5: "five"}
    assert f"({len(fleet.meters)} DL/T 645, DL/T 698.45 and Modbus meters" in out
    assert f"in {words[len(fleet.areas)]} areas)" in out


def test_demo_help_shows_the_default_of_every_option(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    with pytest.raises(SystemExit):
        cli.main(["demo", "--help"])
    out = capsys.readouterr().out
    blocks = re.split(r"\n  (?=-)", out.split("options:", 1)[1])
    flags = ("--duration", "--days", "--data-dir", "--port", "--database-url", "--mqtt-url")
    for flag in flags:
        (block,) = [b for b in blocks if b.startswith(flag + " ")]
        assert "default:" in " ".join(block.split()), f"{flag} does not say its default: {block}"
    assert "(default: 30)" in out and "(default: var/demo)" in out and "(default: 8080)" in out
    assert "run until Ctrl-C" in out


def test_without_the_server_extra_the_demo_names_the_pip_command(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def find_spec(name: str) -> ModuleSpec | None:
        return None if name in ("fastapi", "uvicorn") else ModuleSpec(name, None)

    monkeypatch.setattr(cli, "find_spec", find_spec)
    assert cli.missing_modules() == ["fastapi", "uvicorn"]
    assert cli.main(["demo", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "missing: fastapi, uvicorn" in err
    assert "pip install 'meterlink[server,sim]'" in err


def test_days_out_of_range_is_refused_before_anything_starts(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert cli.main(["demo", "--days", "61"]) == 2
    assert "--days must be within 1..60" in capsys.readouterr().out
