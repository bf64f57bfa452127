"""The configuration is validated with errors that name the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from edge.config import ConfigError, config_from_dict, default_plans, load_config

BASE: dict[str, Any] = {
    "gateway": {"id": "gw-1"},
    "bus": [
        {
            "name": "b1",
            "port": "socket://127.0.0.1:4001",
            "meter": [{"id": "M1", "address": "000000000001", "protocol": "2007"}],
        }
    ],
}


def with_change(path: list[Any], value: Any) -> dict[str, Any]:
    import copy

    data = copy.deepcopy(BASE)
    target = data
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return data


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ["bus", 0, "meter", 0, "address"],
            "12AB",
            r"bus\[0\]\.meter\[0\]\.address: expected 12 digits",
        ),
        (["bus", 0, "baud"], 2401, r"bus\[0\]\.baud: 2401 is not a standard rate"),
        (["bus", 0, "parity"], "X", r"bus\[0\]\.parity: must be one of"),
        (["bus", 0, "port"], "tcp:4001", r"bus\[0\]\.port: expected a device path"),
        (["bus", 0, "meter", 0, "protocol"], "2009", r"protocol: must be one of"),
        (["bus", 0, "meter", 0, "colour"], "red", r"bus\[0\]\.meter\[0\]\.colour: unknown key"),
        (["gateway", "id"], "gw/1", r"gateway\.id"),
        (["gateway", "timezone"], "Mars/Base", r"gateway\.timezone: unknown time zone"),
        (["broker"], {"url": "http://x"}, r"broker\.url: expected mqtt://"),
        (["broker"], {"password": "s3cret"}, r"broker\.password: never put a secret"),
        (["plan"], [{"name": "p", "kind": "interval", "every_min": 7}], r"every_min: 7 does not"),
        (["plan"], [{"name": "p", "kind": "interval", "quantities": ["volts"]}], "volts"),
        # text the wire, the logs and the database could not carry (issue 16)
        (["bus", 0, "meter", 0, "id"], "M\x001", r"meter\[0\]\.id: text contains a NUL"),
        (["bus", 0, "meter", 0, "id"], "M 1", r"meter\[0\]\.id: 'M 1' is not a valid meter id"),
        (["bus", 0, "meter", 0, "id"], "M" * 65, r"meter\[0\]\.id: .* is not a valid meter id"),
        (["bus", 0, "name"], "b\ud800", r"bus\[0\]\.name: text is not valid Unicode"),
    ],
)
def test_errors_name_the_field(path: list[Any], value: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict(with_change(path, value))


def test_modbus_meter_needs_a_known_profile() -> None:
    data = with_change(
        ["bus", 0, "meter", 0], {"id": "P", "protocol": "modbus", "profile": "abc123"}
    )
    with pytest.raises(ConfigError, match="profile: unknown 'abc123'"):
        config_from_dict(data)


def test_duplicate_addresses_and_ids() -> None:
    data = with_change(
        ["bus", 0, "meter"],
        [{"id": "M1", "address": "000000000001"}, {"id": "M2", "address": "000000000001"}],
    )
    with pytest.raises(ConfigError, match="share address"):
        config_from_dict(data)


def test_env_overrides_and_secrets_from_env(tmp_path: Path) -> None:
    data = with_change(["broker"], {"username": "gw-1", "password_env": "GW_PW"})
    cfg = config_from_dict(
        data, env={"GW_PW": "s3cret", "METERLINK_EDGE_BROKER_URL": "mqtt://10.0.0.1:1884"}
    )
    assert cfg.broker.password == "s3cret"
    assert cfg.broker.port == 1884 and cfg.broker.host == "10.0.0.1"
    assert "s3cret" not in repr(cfg)
    with pytest.raises(ConfigError, match="GW_PW is not set"):
        config_from_dict(data, env={})


def test_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[gateway\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def test_shipped_example_is_valid() -> None:
    example = Path(__file__).resolve().parents[2] / "edge" / "example.toml"
    cfg = load_config(example, env={"METERLINK_EDGE_PASSWORD": "x"})
    assert [p.kind for p in cfg.plans] == [
        "interval",
        "daily_freeze",
        "clock_check",
        "events",
        "events",
    ]
    assert cfg.plans == default_plans()  # the example shows the defaults


def test_a_plan_that_cannot_fit_is_refused_with_the_arithmetic() -> None:
    from edge.wire_budget import check_budgets

    meters = [{"id": f"M{i}", "address": f"{i:012d}", "protocol": "2007"} for i in range(1, 33)]
    data = with_change(
        ["bus", 0], {"name": "slow", "port": "/dev/ttyS9", "baud": 1200, "meter": meters}
    )
    data["plan"] = [{"name": "fast", "kind": "interval", "every_min": 1}]
    cfg = config_from_dict(data)
    with pytest.raises(
        ConfigError,
        match=r"cannot fit its 1-minute interval: .* bytes x 11 "
        r"bits / 1200 baud = .* s of 60 s",
    ):
        check_budgets(cfg)
