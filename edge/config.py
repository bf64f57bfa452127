"""The edge agent's one configuration object: a TOML file, validated, with env overrides.

Every error names the field path and what is wrong, e.g.
``bus[1].meter[3].address: expected 12 digits, got '12AB'``. Environment variables
``METERLINK_EDGE_<SECTION>_<KEY>`` override scalar keys of ``[gateway]``, ``[broker]``,
``[outbox]`` and ``[metrics]`` (e.g. ``METERLINK_EDGE_BROKER_URL``). Secrets are never in
the file: the broker password comes from ``password_env`` (a variable's name) or
``password_file``, and is hidden from ``repr``.

Each setting's default and range is declared once, on its dataclass field
(:func:`protocols.config_schema.setting`), and read through the shared
:class:`protocols.config_schema.Table`; this module keeps what the settings mean together
(ports, secrets, ids used twice, plans).
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocols.config_schema import Table, declared, default_of, setting
from protocols.modbus import PROFILES
from protocols.model import DEFAULT_METER_TIMEZONE, QUANTITY_BY_NAME
from protocols.wire import ID_RULE, WireError, check_gateway_id, is_id

PROTOCOLS = ("2007", "1997", "auto", "modbus", "dlt698")
#: The protocols of a serial DL/T line (a 698.45 meter may share a bus with 645 meters).
DLT_PROTOCOLS = ("2007", "1997", "auto", "dlt698")
PARITIES = ("N", "E", "O")
PLAN_KINDS = ("interval", "daily_freeze", "clock_check", "events")
BAUD_RATES = (300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
DEFAULT_BUDGET_MB = 256

DEFAULT_INTERVAL_QUANTITIES = (
    "energy_import_total",
    "energy_import_t1",
    "energy_import_t2",
    "energy_import_t3",
    "energy_import_t4",
    "energy_export_total",
    "voltage_a",
    "voltage_b",
    "voltage_c",
    "current_a",
    "current_b",
    "current_c",
    "power_active_total",
    "pf_total",
)


class ConfigError(ValueError):
    """A configuration that cannot be used; the message names the field."""


@dataclass(frozen=True)
class GatewayConfig:
    id: str
    timezone: str = DEFAULT_METER_TIMEZONE
    data_dir: Path = Path("var/edge")

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True)
class BrokerConfig:
    url: str = setting("mqtt://127.0.0.1:1883")
    root: str = setting("meterlink")
    client_id: str = ""
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    protocol: str = setting("auto", choices=("auto", "5", "3.1.1"))
    keepalive_s: int = setting(30, lo=5, hi=3600)
    batch_max: int = setting(1000, lo=1, hi=20000)
    batch_ms: int = setting(500, lo=0, hi=60000)
    # "receipt": a reading leaves the outbox when the server's receipt says it is committed;
    # "puback": when the broker acknowledges it (only for a broker that is itself durable)
    delivery: str = setting("receipt", choices=("receipt", "puback"))
    receipt_timeout_s: int = setting(120, lo=5, hi=86400)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or "127.0.0.1"

    @property
    def port(self) -> int:
        parts = urlsplit(self.url)
        return parts.port or (8883 if parts.scheme == "mqtts" else 1883)

    @property
    def tls(self) -> bool:
        return urlsplit(self.url).scheme == "mqtts"


@dataclass(frozen=True)
class OutboxConfig:
    path: Path
    budget_bytes: int = DEFAULT_BUDGET_MB * 1024 * 1024
    journal: bool = setting(False)  # keep a copy of every committed reading (test benches)


@dataclass(frozen=True)
class MeterConfig:
    id: str
    address: str
    protocol: str = setting("auto", choices=PROTOCOLS)
    profile: str | None = None
    unit: int = setting(1, lo=1, hi=247)
    # DL/T 698.45 only: the meter holds an ESAM and answers frozen data only through
    # SECURITY (plaintext + RN asked, plaintext + MAC answered; such readings are flagged
    # ``unverified``)
    esam: bool = setting(False)


@dataclass(frozen=True)
class BusConfig:
    name: str
    port: str
    baud: int = setting(2400, lo=300, hi=115200)
    parity: str = setting("E", choices=PARITIES)
    bytesize: int = setting(8, lo=7, hi=8)
    stopbits: int = setting(1, lo=1, hi=2)
    timeout_ms: int = setting(1000, lo=50, hi=60000)
    gap_ms: int = setting(20, lo=0, hi=10000)
    # the meters' expected response delay, for the wire budget
    turnaround_ms: int = setting(50, lo=0, hi=2000)
    meters: tuple[MeterConfig, ...] = ()

    @property
    def bits_per_byte(self) -> int:
        return 1 + self.bytesize + (0 if self.parity == "N" else 1) + self.stopbits


@dataclass(frozen=True)
class PlanConfig:
    name: str
    kind: str = setting(choices=PLAN_KINDS)
    every_min: int = setting(15, lo=1, hi=1440)
    at: str = "00:05"  # daily plans: local time of day
    quantities: tuple[str, ...] = ()
    threshold_s: float = 60.0  # clock check: drift that triggers a broadcast time


@dataclass(frozen=True)
class EdgeConfig:
    gateway: GatewayConfig
    broker: BrokerConfig
    outbox: OutboxConfig
    metrics_listen: str | None
    buses: tuple[BusConfig, ...]
    plans: tuple[PlanConfig, ...]

    def meter(self, meter_id: str) -> tuple[BusConfig, MeterConfig]:
        for bus in self.buses:
            for m in bus.meters:
                if m.id == meter_id:
                    return bus, m
        raise KeyError(meter_id)


def _table(data: Any, path: str) -> Table:
    return Table(data, path, error=ConfigError, name="configuration")


# the keys an environment override must turn into integers (budget_mb is the file's name
# for OutboxConfig.budget_bytes)
_INTEGER_KEYS = frozenset(
    {n for cls in (BrokerConfig, OutboxConfig) for n, d in declared(cls).items() if d.type is int}
    | {"budget_mb"}
)


def _apply_env(data: dict[str, Any], env: Mapping[str, str]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in data.items()}
    for section in ("gateway", "broker", "outbox", "metrics"):
        prefix = f"METERLINK_EDGE_{section.upper()}_"
        for name, value in env.items():
            if not name.startswith(prefix):
                continue
            key = name[len(prefix) :].lower()
            table = out.setdefault(section, {})
            current = table.get(key)
            if isinstance(current, bool):
                table[key] = value.lower() in ("1", "true", "yes")
            elif isinstance(current, int) or key in _INTEGER_KEYS:
                try:
                    table[key] = int(value)
                except ValueError:
                    raise ConfigError(f"{name}: expected an integer, got {value!r}") from None
            else:
                table[key] = value
    return out


def load_config(path: Path | str, env: Mapping[str, str] | None = None) -> EdgeConfig:
    """Read, override from the environment, and validate a configuration file."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"configuration file {p} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration file {p} is not valid TOML: {exc}") from None
    return config_from_dict(data, env=os.environ if env is None else env, base_dir=p.parent)


def config_from_dict(
    data: Mapping[str, Any], *, env: Mapping[str, str] | None = None, base_dir: Path | None = None
) -> EdgeConfig:
    top = _table(_apply_env(dict(data), env or {}), "")
    base = base_dir or Path(".")

    g = top.table("gateway", required=True)
    try:
        gw_id = check_gateway_id(g.get("id", str))
    except WireError as exc:
        raise ConfigError(f"gateway.id: {exc}") from None
    tz = g.setting(GatewayConfig, "timezone")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"gateway.timezone: unknown time zone {tz!r}") from None
    data_dir = base / g.get("data_dir", str, str(default_of(GatewayConfig, "data_dir")))
    g.done()
    gateway = GatewayConfig(gw_id, tz, data_dir)

    broker = _broker(top.table("broker"), gw_id, base, env or {})
    o = top.table("outbox")
    opath = o.get("path", str, "")
    budget_mb = o.integer("budget_mb", 1, 1_000_000, DEFAULT_BUDGET_MB)
    journal = o.setting(OutboxConfig, "journal")
    o.done()
    outbox = OutboxConfig(
        base / opath if opath else data_dir / "outbox.sqlite", budget_mb * 1024 * 1024, journal
    )
    m = top.table("metrics")
    listen = m.get("listen", str, "")
    m.done()
    if listen and (":" not in listen or not listen.rsplit(":", 1)[1].isdigit()):
        raise ConfigError(f"metrics.listen: expected host:port or empty, got {listen!r}")

    buses = tuple(_bus(_table(raw, f"bus[{i}]"), i) for i, raw in enumerate(top.tables("bus")))
    if not buses:
        raise ConfigError("bus: at least one [[bus]] is required")
    _unique([b.name for b in buses], "bus", "name")
    ids: dict[str, str] = {}
    for b in buses:
        for mc in b.meters:
            if mc.id in ids:
                raise ConfigError(
                    f"meter {mc.id}: archive id used twice (buses {ids[mc.id]} and {b.name})"
                )
            ids[mc.id] = b.name
    plans = tuple(_plan(_table(raw, f"plan[{i}]")) for i, raw in enumerate(top.tables("plan")))
    if not plans:
        plans = default_plans()
    _unique([p.name for p in plans], "plan", "name")
    top.done()
    return EdgeConfig(gateway, broker, outbox, listen or None, buses, plans)


def default_plans() -> tuple[PlanConfig, ...]:
    return (
        PlanConfig("interval", "interval", 15, quantities=DEFAULT_INTERVAL_QUANTITIES),
        PlanConfig("daily_freeze", "daily_freeze", at="00:05"),
        PlanConfig("clock_check", "clock_check", at="12:00", threshold_s=60.0),
        PlanConfig(
            "events", "events", at="00:30", quantities=("power_down_count", "cover_open_count")
        ),
        # the day's maximum demand, read before the meter's own midnight resets it
        PlanConfig("demand", "events", at="23:50", quantities=("max_demand_import",)),
    )


def _unique(names: list[str], table: str, key: str) -> None:
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise ConfigError(f"{table}[{i}].{key}: duplicate {n!r}")


def _broker(b: Table, gw_id: str, base: Path, env: Mapping[str, str]) -> BrokerConfig:
    url = b.setting(BrokerConfig, "url")
    parts = urlsplit(url)
    if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
        raise ConfigError(
            f"broker.url: expected mqtt://host:port or mqtts://host:port, got {url!r}"
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ConfigError(f"broker.url: bad port in {url!r}") from None
    password = None
    pw_env = b.get("password_env", str, "")
    pw_file = b.get("password_file", str, "")
    if "password" in b.data:
        raise ConfigError(
            "broker.password: never put a secret in the file; use password_env or password_file"
        )
    if pw_env:
        if pw_env not in env:
            raise ConfigError(f"broker.password_env: environment variable {pw_env} is not set")
        password = env[pw_env]
    elif pw_file:
        try:
            password = (base / pw_file).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(
                f"broker.password_file: cannot read {pw_file}: {exc.strerror}"
            ) from None

    def path(key: str) -> Path | None:
        value: str = b.get(key, str, "")
        if not value:
            return None
        p: Path = base / value
        if not p.is_file():
            raise ConfigError(f"broker.{key}: no such file {p}")
        return p

    cfg = BrokerConfig(
        url=url,
        root=b.setting(BrokerConfig, "root"),
        client_id=b.get("client_id", str, "") or f"meterlink-edge-{gw_id}",
        username=b.get("username", str, "") or None,
        password=password,
        ca_file=path("ca_file"),
        cert_file=path("cert_file"),
        key_file=path("key_file"),
        **b.settings(
            BrokerConfig,
            "protocol",
            "keepalive_s",
            "batch_max",
            "batch_ms",
            "delivery",
            "receipt_timeout_s",
        ),
    )
    b.done()
    if (cfg.cert_file is None) != (cfg.key_file is None):
        raise ConfigError("broker.cert_file and broker.key_file go together")
    return cfg


def _bus(b: Table, i: int) -> BusConfig:
    name = b.get("name", str)
    port = b.get("port", str)
    if not (
        port.startswith(("socket://", "modbus-tcp://", "rfc2217://", "loop://", "/"))
        or port.upper().startswith("COM")
    ):
        raise ConfigError(
            f"bus[{i}].port: expected a device path, socket://host:port or "
            f"modbus-tcp://host:port, got {port!r}"
        )
    baud = b.setting(BusConfig, "baud")
    if baud not in BAUD_RATES:
        raise ConfigError(f"bus[{i}].baud: {baud} is not a standard rate")
    spec: dict[str, Any] = dict(
        name=name,
        port=port,
        baud=baud,
        **b.settings(
            BusConfig, "parity", "bytesize", "stopbits", "timeout_ms", "gap_ms", "turnaround_ms"
        ),
    )
    meters = []
    for j, raw in enumerate(b.tables("meter")):
        meters.append(_meter(_table(raw, f"bus[{i}].meter[{j}]")))
    b.done()
    if not meters:
        raise ConfigError(f"bus[{i}].meter: a bus needs at least one [[bus.meter]]")

    def key(mc: MeterConfig) -> object:
        return mc.unit if mc.protocol == "modbus" else mc.address

    seen: dict[Any, str] = {}
    for mc in meters:
        if key(mc) in seen:
            raise ConfigError(
                f"bus[{i}]: meters {seen[key(mc)]} and {mc.id} share "
                f"{'unit id' if mc.protocol == 'modbus' else 'address'} "
                f"{key(mc)}"
            )
        seen[key(mc)] = mc.id
    kinds = {mc.protocol == "modbus" for mc in meters}
    if len(kinds) > 1:
        raise ConfigError(f"bus[{i}]: Modbus and DL/T 645 / 698.45 meters cannot share one bus")
    if port.startswith("modbus-tcp://") and kinds != {True}:
        raise ConfigError(f"bus[{i}].port: modbus-tcp:// carries only Modbus meters")
    return BusConfig(meters=tuple(meters), **spec)


def _meter(m: Table) -> MeterConfig:
    mid = m.get("id", str)
    if not is_id(mid):  # it names the meter on the wire and in the archive
        raise ConfigError(f"{m.path}.id: {mid!r} is not a valid meter id: use {ID_RULE}")
    protocol = m.setting(MeterConfig, "protocol")
    address = str(m.get("address", (str, int), "000000000000"))
    if protocol != "modbus" and not (len(address) == 12 and address.isdigit()):
        raise ConfigError(f"{m.path}.address: expected 12 digits, got {address!r}")
    profile = m.get("profile", str, None)
    if protocol == "modbus":
        if profile is None:
            raise ConfigError(
                f"{m.path}.profile: required for a Modbus meter "
                f"(one of {', '.join(sorted(PROFILES))})"
            )
        if profile not in PROFILES:
            raise ConfigError(
                f"{m.path}.profile: unknown {profile!r} (one of {', '.join(sorted(PROFILES))})"
            )
    elif profile is not None:
        raise ConfigError(f"{m.path}.profile: only Modbus meters have a profile")
    unit = m.setting(MeterConfig, "unit")
    esam = m.setting(MeterConfig, "esam")
    if esam and protocol != "dlt698":
        raise ConfigError(
            f'{m.path}.esam: only DL/T 698.45 meters (protocol = "dlt698") are read '
            f"through an ESAM, this meter is {protocol!r}"
        )
    m.done()
    return MeterConfig(mid, address, protocol, profile, unit, esam)


def _plan(p: Table) -> PlanConfig:
    name = p.get("name", str)
    kind = p.setting(PlanConfig, "kind")
    every = p.setting(PlanConfig, "every_min")
    if kind == "interval" and 1440 % every:
        raise ConfigError(f"{p.path}.every_min: {every} does not divide a day")
    at = p.setting(PlanConfig, "at")
    hh, _, mm = at.partition(":")
    if not (hh.isdigit() and mm.isdigit() and int(hh) < 24 and int(mm) < 60):
        raise ConfigError(f"{p.path}.at: expected HH:MM, got {at!r}")
    quantities = tuple(p.get("quantities", list, []))
    for q in quantities:
        if q not in QUANTITY_BY_NAME:
            raise ConfigError(f"{p.path}.quantities: unknown quantity {q!r}")
    if kind == "interval" and not quantities:
        quantities = DEFAULT_INTERVAL_QUANTITIES
    threshold = float(p.setting(PlanConfig, "threshold_s"))
    p.done()
    return PlanConfig(name, kind, every, at, quantities, threshold)
