"""The configuration engine shared by the edge's configuration and the fleet files: typed
getters that name the path, declared settings, unknown keys. Pure: no files."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from protocols.config_schema import REQUIRED, SchemaError, Table, declared, default_of, setting


class MyError(ValueError):
    pass


@dataclass(frozen=True)
class Port:
    name: str
    baud: int = setting(2400, lo=300, hi=115200)
    parity: str = setting("E", choices=("N", "E", "O"))
    gap_s: float = setting(0.5, lo=0.0, hi=10.0)
    fast: bool = setting(False)
    device: str | None = None


def table(data: Any, path: str = "buses[1]") -> Table:
    return Table(data, path, error=MyError)


def test_declared_settings_keep_type_default_and_rule() -> None:
    d = declared(Port)
    assert d["baud"].type is int and d["baud"].default == 2400
    assert (d["baud"].rule.lo, d["baud"].rule.hi) == (300, 115200)
    assert d["parity"].rule.choices == ("N", "E", "O")
    assert d["device"].type is str and d["device"].default is None
    assert d["name"].default is REQUIRED
    assert default_of(Port, "gap_s") == 0.5
    assert Port("p").baud == 2400  # the dataclass itself has the same default


def test_settings_read_with_their_declared_defaults() -> None:
    t = table({"name": "p", "gap_s": 2})
    values = t.settings(Port, "name", "baud", "parity", "gap_s", "fast", "device")
    assert values == {
        "name": "p",
        "baud": 2400,
        "parity": "E",
        "gap_s": 2.0,
        "fast": False,
        "device": None,
    }
    assert isinstance(values["gap_s"], float)
    t.done()
    assert table({}).setting(Port, "baud", default=9600) == 9600


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        ({"baud": 2401000}, "baud", "buses[1].baud: must be within 300..115200, got 2401000"),
        ({"baud": "fast"}, "baud", "buses[1].baud: expected an integer, got 'fast'"),
        ({"baud": True}, "baud", "buses[1].baud: expected an integer, got a boolean"),
        ({"parity": "X"}, "parity", "buses[1].parity: must be one of N, E, O, got 'X'"),
        ({"gap_s": 11}, "gap_s", "buses[1].gap_s: must be within 0.0..10.0, got 11.0"),
        ({"fast": 1}, "fast", "buses[1].fast: expected true/false, got 1"),
        ({}, "name", "buses[1].name: required"),
    ],
)
def test_errors_name_the_path_and_use_the_callers_class(
    data: dict[str, Any], name: str, message: str
) -> None:
    with pytest.raises(MyError) as err:
        table(data).setting(Port, name)
    assert str(err.value) == message


def test_unknown_keys_are_named_with_their_path() -> None:
    t = table({"name": "p", "colour": "red", "baud": 1200})
    t.settings(Port, "name", "baud")
    with pytest.raises(MyError, match=r"^buses\[1\]\.colour: unknown key$"):
        t.done()
    top = Table({"x": 1}, "")
    with pytest.raises(SchemaError, match="^x: unknown key$"):
        top.done()


def test_sub_tables_and_arrays_of_tables() -> None:
    t = Table({"broker": {"url": "mqtt://x"}, "bus": [{"name": "a"}]}, "", error=MyError)
    broker = t.table("broker")
    assert broker.path == "broker" and broker.get("url", str) == "mqtt://x"
    assert t.tables("bus") == [{"name": "a"}]
    assert t.table("metrics").data == {}
    with pytest.raises(MyError, match="^gateway: required$"):
        t.table("gateway", required=True)
    with pytest.raises(MyError, match=r"^bus\[0\]: expected a table, got list$"):
        Table([], "bus[0]", error=MyError)


def test_a_choice_given_as_a_number_is_read_as_its_digits() -> None:
    assert table({"protocol": 2007}).choice("protocol", ("2007", "1997")) == "2007"
