"""The shared vocabulary: the exact words other parts (SQL checks, configs, JSON) rely on."""

from __future__ import annotations

import pytest

from protocols import model, vocabulary, wire
from protocols.vocabulary import (
    EDGE_PROTOCOL_OF,
    CustomerClass,
    EdgeProtocol,
    MeterProtocol,
    MeterState,
    ReadFailureKind,
    read_failure_kind,
)


def test_the_words_are_the_ones_stored_and_sent() -> None:
    assert list(MeterProtocol) == ["dlt645-2007", "dlt645-1997", "modbus", "dlt698"]
    assert list(EdgeProtocol) == ["2007", "1997", "auto", "modbus", "dlt698"]
    # the meters that keep a freeze history, so a missed day can be re-read (补抄)
    assert vocabulary.REREADABLE_PROTOCOLS == {"dlt645-2007", "dlt698"}
    assert list(MeterState) == ["ok", "failing", "dead"]
    assert list(CustomerClass) == [
        "residential",
        "commercial",
        "industrial",
        "agricultural",
        "other",
    ]
    assert set(ReadFailureKind) == {
        "timeout",
        "wrong_address",
        "bad_reply",
        "error_reply",
        "line",
        "unsupported",
        "dead (backing off)",
    }
    assert vocabulary.FREEZE_HISTORY_DAYS == 62


def test_every_archive_protocol_has_an_edge_word() -> None:
    assert set(EDGE_PROTOCOL_OF) == set(MeterProtocol)
    assert EDGE_PROTOCOL_OF[MeterProtocol.DLT645_1997] == "1997"


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("timeout", ReadFailureKind.TIMEOUT),
        ("error_reply: no_such_data", ReadFailureKind.ERROR_REPLY),
        ("error_reply: exception 2", ReadFailureKind.ERROR_REPLY),
        ("wrong_address", ReadFailureKind.WRONG_ADDRESS),
        ("unsupported", ReadFailureKind.UNSUPPORTED),
        ("something else", None),
        ("", None),
    ],
)
def test_read_failure_kind_of_a_last_error(text: str, kind: ReadFailureKind | None) -> None:
    assert read_failure_kind(text) is kind


def test_model_re_exports_the_vocabulary() -> None:
    assert model.MeterState is MeterState
    assert model.MeterProtocol is MeterProtocol
    assert model.CustomerClass is CustomerClass
    assert model.FREEZE_HISTORY_DAYS == vocabulary.FREEZE_HISTORY_DAYS


def test_wire_meter_states_are_the_vocabulary() -> None:
    assert wire.METER_STATES == frozenset(MeterState)
