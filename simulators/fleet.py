"""Fleet files: transformer areas, meters, buses and faults, validated into frozen data.

A fleet file is TOML (``meterlink-sim example`` writes a commented one; the package
ships ``example_fleet.toml``). :func:`load_fleet` reads a file, :func:`fleet_from_dict`
takes the same structure from Python. Every error names the field path, e.g.
``areas[2].meters[5].address: must be 12 decimal digits, got '12AB'``. The typed
reading, the bus settings' defaults and ranges (declared once on :class:`BusSpec`) and
the unknown-key errors are the shared engine's, :mod:`protocols.config_schema`, the same
the edge's configuration uses.

Areas (台区): each has an area master meter (总表) whose consumption equals the true
consumption of its customers times ``1 + loss`` (technical loss; negative values model
a master that under-registers); a customer with ``theft_fraction`` registers only part
of what it takes, which raises the area's line loss.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from protocols.config_schema import Table, setting
from protocols.modbus import PROFILES
from protocols.model import DEFAULT_METER_TIMEZONE
from simulators.faults import Fault, FaultError, make_fault
from simulators.meter import PROTOCOLS, MeterError, MeterSpec
from simulators.profiles import LoadKind


class FleetError(ValueError):
    """A fleet file or structure that is not valid; the message names the field."""


#: A ``dlt645`` bus is a DL/T serial line: DL/T 645 meters and DL/T 698.45 meters
#: (``protocol = "dlt698"``, ``esam = true`` for one with an ESAM) share it.
BUS_PROTOCOLS = ("dlt645", "modbus")
DLT645_ENDPOINTS = ("tcp", "pty", "serial")
MODBUS_ENDPOINTS = ("modbus-tcp", "rtu-over-tcp", "pty")


@dataclass(frozen=True)
class BusSpec:
    name: str
    protocol: str = setting("dlt645", choices=BUS_PROTOCOLS)
    endpoint: str = "tcp"  # one of DLT645_ENDPOINTS or MODBUS_ENDPOINTS, by protocol
    host: str = "127.0.0.1"
    port: int = setting(0, lo=0, hi=65535)
    device: str | None = None
    baud: int = setting(2400, lo=300, hi=115200)  # a Modbus bus defaults to 9600
    parity: str = setting("E", choices=("N", "E", "O"))  # a Modbus bus defaults to N
    turnaround_ms: float = setting(50.0, lo=0, hi=5000)
    fast: bool = False
    preamble: int = setting(0, lo=0, hi=4)  # FE bytes in front of DL/T 645 replies


@dataclass(frozen=True)
class AreaSpec:
    id: str
    name: str
    loss: float
    master: str  # archive id of the area master meter
    customers: tuple[str, ...]
    theft: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Fleet:
    seed: int
    timezone: str
    start: datetime
    speed: float
    commissioned: date
    buses: tuple[BusSpec, ...]
    areas: tuple[AreaSpec, ...]
    meters: tuple[tuple[MeterSpec, str], ...]  # (meter, bus name)
    ground_truth: Path | None = None
    control_host: str = "127.0.0.1"
    control_port: int | None = None

    def meter(self, archive_id: str) -> MeterSpec:
        for m, _ in self.meters:
            if m.archive_id == archive_id:
                return m
        raise FleetError(f"no meter {archive_id!r} in the fleet")

    def meters_on(self, bus: str) -> list[MeterSpec]:
        return [m for m, b in self.meters if b == bus]


def load_fleet(path: Path | str, *, now: datetime | None = None) -> Fleet:
    """Read and validate a TOML fleet file. Relative paths in it are relative to it."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise FleetError(f"fleet file {p} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise FleetError(f"fleet file {p} is not valid TOML: {exc}") from exc
    return fleet_from_dict(data, base_dir=p.parent, now=now)


def _table(data: Any, path: str) -> Table:
    return Table(data, path, error=FleetError, name="fleet")


def _instant(value: Any, path: str) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError as exc:
            raise FleetError(f"{path}: not an ISO 8601 date-time: {value!r}") from exc
    if not isinstance(value, datetime):
        raise FleetError(f"{path}: expected a date-time with offset, got {value!r}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise FleetError(f"{path}: date-time {value.isoformat()} needs a UTC offset")
    return value.astimezone(UTC)


def _day(value: Any, path: str) -> date:
    if isinstance(value, str):
        try:
            return date.fromisoformat(value)
        except ValueError as exc:
            raise FleetError(f"{path}: not an ISO date: {value!r}") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise FleetError(f"{path}: expected a date, got {value!r}")


def fleet_from_dict(
    data: Mapping[str, Any], *, base_dir: Path | None = None, now: datetime | None = None
) -> Fleet:
    """Validate a fleet given as plain data (the TOML structure) into a :class:`Fleet`."""
    top = _table(data, "")
    seed = top.get("seed", int, 1)
    tz_name = top.get("timezone", str, DEFAULT_METER_TIMEZONE)
    try:
        ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise FleetError(f"timezone: unknown time zone {tz_name!r}") from exc
    start = (
        _instant(top.get("start", (str, datetime)), "start")
        if "start" in data
        else ((now or datetime.now(UTC)).astimezone(UTC))
    )
    speed = top.number("speed", 0.0, 1e6, 1.0)
    commissioned = (
        _day(top.get("commissioned", (str, date)), "commissioned")
        if "commissioned" in data
        else start.date() - timedelta(days=400)
    )
    if commissioned > start.date():
        raise FleetError("commissioned: must not be after start")
    gt = top.get("ground_truth", str, None)
    ground_truth = (base_dir or Path(".")) / gt if gt else None
    control = top.table("control")
    control_host = control.get("host", str, "127.0.0.1")
    control_port = control.get("port", int, None)
    control.done()

    buses: list[BusSpec] = []
    for i, raw in enumerate(top.tables("buses")):
        buses.append(_bus(_table(raw, f"buses[{i}]")))
    names = [b.name for b in buses]
    for i, n in enumerate(names):
        if names.index(n) != i:
            raise FleetError(f"buses[{i}].name: duplicate bus name {n!r}")
    bus_by_name = {b.name: b for b in buses}

    ctx = _FleetContext(seed, tz_name, commissioned, start, bus_by_name)
    meters: list[tuple[MeterSpec, str]] = []
    areas: list[AreaSpec] = []
    for i, raw in enumerate(top.tables("areas")):
        areas.append(_area(_table(raw, f"areas[{i}]"), ctx, meters))
    for i, raw in enumerate(top.tables("meters")):
        meters.append(_meter(_table(raw, f"meters[{i}]"), ctx, area=None, role="customer"))
    top.done()
    _check_unique(meters)
    return Fleet(
        seed,
        tz_name,
        start,
        speed,
        commissioned,
        tuple(buses),
        tuple(areas),
        tuple(meters),
        ground_truth,
        control_host,
        control_port,
    )


@dataclass
class _FleetContext:
    seed: int
    tz: str
    commissioned: date
    start: datetime
    buses: dict[str, BusSpec]


def _bus(v: Table) -> BusSpec:
    name = v.setting(BusSpec, "name")
    protocol = v.setting(BusSpec, "protocol")
    dlt645 = protocol == "dlt645"
    endpoints = DLT645_ENDPOINTS if dlt645 else MODBUS_ENDPOINTS
    endpoint = v.choice("endpoint", endpoints, endpoints[0])
    spec = BusSpec(
        name=name,
        protocol=protocol,
        endpoint=endpoint,
        **v.settings(BusSpec, "host", "port", "device"),
        baud=v.setting(BusSpec, "baud", default=... if dlt645 else 9600),
        parity=v.setting(BusSpec, "parity", default=... if dlt645 else "N"),
        **v.settings(BusSpec, "turnaround_ms", "fast", "preamble"),
    )
    if endpoint == "serial" and not spec.device:
        raise FleetError(f"{v.path}.device: required for a serial endpoint")
    v.done()
    return spec


def _area(v: Table, ctx: _FleetContext, meters: list[tuple[MeterSpec, str]]) -> AreaSpec:
    area_id = v.get("id", str)
    name = v.get("name", str, area_id)
    loss = v.number("loss", -0.5, 0.9, 0.04)
    start_count = len(meters)
    customers: list[MeterSpec] = []
    for i, raw in enumerate(v.tables("meters")):
        spec, bus = _meter(_table(raw, f"{v.path}.meters[{i}]"), ctx, area=area_id, role="customer")
        meters.append((spec, bus))
        customers.append(spec)
    for i, raw in enumerate(v.tables("generate")):
        for spec, bus in _generate(_table(raw, f"{v.path}.generate[{i}]"), ctx, area_id):
            meters.append((spec, bus))
            customers.append(spec)
    if not customers:
        raise FleetError(f"{v.path}: an area needs at least one customer meter")
    master_spec, master_bus = _meter(
        v.table("master", required=True), ctx, area=area_id, role="master"
    )
    meters.insert(start_count, (master_spec, master_bus))
    v.done()
    return AreaSpec(
        area_id,
        name,
        loss,
        master_spec.archive_id,
        tuple(c.archive_id for c in customers),
        {c.archive_id: c.theft_fraction for c in customers if c.theft_fraction},
    )


def _meter(v: Table, ctx: _FleetContext, *, area: str | None, role: str) -> tuple[MeterSpec, str]:
    archive_id = v.get("archive_id", str)
    address = v.get("address", str)
    if not (len(address) == 12 and address.isdigit()):
        raise FleetError(f"{v.path}.address: must be 12 decimal digits, got {address!r}")
    if address == "999999999999":
        raise FleetError(f"{v.path}.address: 999999999999 is the broadcast address")
    meter, bus = _meter_fields(v, ctx, archive_id, address, area, role)
    v.done()
    return meter, bus


def _meter_fields(
    v: Table, ctx: _FleetContext, archive_id: str, address: str, area: str | None, role: str
) -> tuple[MeterSpec, str]:
    bus_name = v.get("bus", str)
    if bus_name not in ctx.buses:
        raise FleetError(f"{v.path}.bus: no bus named {bus_name!r} (define it under [[buses]])")
    bus = ctx.buses[bus_name]
    protocol = v.choice(
        "protocol", PROTOCOLS, "modbus" if bus.protocol == "modbus" else "dlt645-2007"
    )
    if (protocol == "modbus") != (bus.protocol == "modbus"):
        raise FleetError(
            f"{v.path}.protocol: a {protocol} meter cannot sit on {bus.protocol} bus {bus_name!r}"
        )
    profile = v.get("modbus_profile", str, "ddsu666" if protocol == "modbus" else None)
    if protocol == "modbus" and profile not in PROFILES:
        raise FleetError(
            f"{v.path}.modbus_profile: unknown profile {profile!r} "
            f"(known: {', '.join(sorted(PROFILES))})"
        )
    default_phases = PROFILES[profile].phases if profile else (3 if role == "master" else 1)
    phases = v.integer("phases", 1, 3, default_phases)
    if phases == 2:
        raise FleetError(f"{v.path}.phases: must be 1 or 3")
    load = v.choice(
        "load",
        tuple(k.value for k in LoadKind),
        "industrial" if role == "master" else "residential",
    )
    try:
        faults = tuple(
            _fault(_table(raw, f"{v.path}.faults[{i}]"), ctx, phases)
            for i, raw in enumerate(v.tables("faults"))
        )
        spec = MeterSpec(
            archive_id=archive_id,
            address=address,
            protocol=protocol,
            modbus_profile=profile if protocol == "modbus" else None,
            unit_id=v.integer("unit_id", 1, 247, 1),
            phases=phases,
            load=LoadKind(load),
            daily_kwh=v.number("daily_kwh", 0.5, 1e6, None),
            rated_voltage=v.number("rated_voltage", 50, 1000, 220.0),
            rated_current=v.number("rated_current", 1, 10000, 60.0),
            ct=v.integer("ct", 1, 10000, 1),
            pt=v.integer("pt", 1, 10000, 1),
            timezone=ctx.tz,
            clock_offset_s=v.number("clock_offset_s", -1e7, 1e7, 0.0),
            clock_drift_s_per_day=v.number("clock_drift_s_per_day", -3600, 3600, 0.0),
            commissioned=ctx.commissioned,
            theft_fraction=v.number("theft_fraction", 0.0, 0.95, 0.0),
            theft_since=_theft_since(v, ctx),
            area=area,
            role=role,
            faults=faults,
            esam=v.get("esam", bool, False),
            frame_size=v.integer("frame_size", 64, 8192, None),
        )
    except MeterError as exc:
        raise FleetError(f"{v.path}: {exc}") from exc
    if role == "master" and spec.theft_fraction:
        raise FleetError(f"{v.path}.theft_fraction: an area master meter has no theft")
    return spec, bus_name


def _theft_since(v: Table, ctx: _FleetContext) -> date | None:
    """``theft_days_ago``: the theft began at local midnight that many days before the
    fleet's start day (None: it has been there since commissioning)."""
    days = v.integer("theft_days_ago", 1, MAX_DAYS_AGO, None)
    if days is None:
        return None
    if not v.data.get("theft_fraction"):
        raise FleetError(f"{v.path}.theft_days_ago: needs a theft_fraction above 0")
    return days_before(ctx.start, days, ctx.tz).astimezone(ZoneInfo(ctx.tz)).date()


def _fault(v: Table, ctx: _FleetContext, phases: int) -> Fault:
    """One fault. It starts at ``start`` (an instant), or ``days_ago`` days before the
    fleet's start day at local midnight (a fleet started "now", as the demo's is, keeps
    faults that are already days old: its meters' freeze history shows them), or else
    when the fleet starts."""
    kind = v.get("kind", str)
    if "start" in v.data and "days_ago" in v.data:
        raise FleetError(f"{v.path}: give start or days_ago, not both")
    if "start" in v.data:
        start = _instant(v.get("start", (str, datetime)), f"{v.path}.start")
    elif "days_ago" in v.data:
        start = days_before(ctx.start, v.integer("days_ago", 0, MAX_DAYS_AGO), ctx.tz)
    else:
        start = ctx.start
    params = v.get("params", dict, {})
    v.done()
    try:
        return make_fault(kind, start, params, phases=phases, where=v.path)
    except FaultError as exc:
        raise FleetError(str(exc)) from exc


#: how far back a fault's ``days_ago`` may reach
MAX_DAYS_AGO = 3660


def days_before(start: datetime, days: int, tz: str) -> datetime:
    """Local midnight (in ``tz``) ``days`` days before the local day of ``start``, in UTC."""
    local_day = start.astimezone(ZoneInfo(tz)).date() - timedelta(days=days)
    midnight = datetime(local_day.year, local_day.month, local_day.day, tzinfo=ZoneInfo(tz))
    return midnight.astimezone(UTC)


def _generate(v: Table, ctx: _FleetContext, area: str) -> list[tuple[MeterSpec, str]]:
    """``count`` similar customers: archive ids ``{prefix}{n:06d}`` and addresses from
    ``first_address`` upwards (unit ids from ``first_unit_id`` for Modbus meters)."""
    count = v.integer("count", 1, 100000)
    prefix = v.get("archive_prefix", str, "M")
    first_archive = v.integer("first_archive", 0, 10**9, 1)
    first_address = v.get("first_address", str)
    if not (len(first_address) == 12 and first_address.isdigit()):
        raise FleetError(f"{v.path}.first_address: must be 12 decimal digits")
    first_unit = v.integer("first_unit_id", 1, 247, 1)
    template = {
        k: val
        for k, val in v.data.items()
        if k not in ("count", "archive_prefix", "first_archive", "first_address", "first_unit_id")
    }
    v.used.update(v.data)
    out = []
    for n in range(count):
        item = dict(template)
        item["archive_id"] = f"{prefix}{first_archive + n:06d}"
        item["address"] = f"{int(first_address) + n:012d}"
        if (
            item.get("protocol", ctx.buses.get(str(item.get("bus")), BusSpec("?")).protocol)
            == "modbus"
        ):
            if first_unit + n > 247:
                raise FleetError(f"{v.path}: unit ids run past 247 (count too large)")
            item["unit_id"] = first_unit + n
        out.append(_meter(_table(item, f"{v.path}[{n}]"), ctx, area=area, role="customer"))
    return out


def _check_unique(meters: list[tuple[MeterSpec, str]]) -> None:
    seen_ids: dict[str, int] = {}
    seen_addr: dict[tuple[str, str], str] = {}
    seen_unit: dict[tuple[str, int], str] = {}
    for i, (m, bus) in enumerate(meters):
        if m.archive_id in seen_ids:
            raise FleetError(f"meter {m.archive_id}: archive id used twice")
        seen_ids[m.archive_id] = i
        if m.protocol == "modbus":
            key_u = (bus, m.unit_id)
            if key_u in seen_unit:
                raise FleetError(
                    f"meter {m.archive_id}: unit id {m.unit_id} already used by "
                    f"{seen_unit[key_u]} on bus {bus}"
                )
            seen_unit[key_u] = m.archive_id
        else:
            key = (bus, m.address)
            if key in seen_addr:
                raise FleetError(
                    f"meter {m.archive_id}: address {m.address} already used by "
                    f"{seen_addr[key]} on bus {bus}"
                )
            seen_addr[key] = m.archive_id
