"""The demo's fleet tells its story from the first minute: every fault it advertises started
on a past day (so the meters' freeze history holds it), and two areas are read completely
every day, one with the thief (line loss far above the limit) and one plausible."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from simulators.demo.script import keeps_history
from simulators.fleet import FleetError, fleet_from_dict, load_fleet
from simulators.simulation import build_meters

DEMO_FLEET = Path(__file__).resolve().parents[2] / "simulators" / "fleets" / "demo.toml"
NOW = datetime(2026, 12, 2, 11, 0, tzinfo=UTC)  # 19:00 in Shanghai
# what the README says the demo shows, by fault kind (the theft is a meter setting)
ADVERTISED = {"dead", "stopped_register", "phase_break", "clock_drift"}
LINE_LOSS_LIMIT = 0.10  # the line_loss rule's default max_ratio


def test_every_advertised_fault_started_on_a_past_day() -> None:
    fleet = load_fleet(DEMO_FLEET, now=NOW)
    tz = ZoneInfo(fleet.timezone)
    today = NOW.astimezone(tz).date()
    midnight = datetime(today.year, today.month, today.day, tzinfo=tz)
    faults = {f.kind: (m.archive_id, f) for m, _ in fleet.meters for f in m.faults}
    assert ADVERTISED <= set(faults)
    for kind, (meter, fault) in faults.items():
        assert fault.start < midnight, f"{meter}: {kind} starts today, judged tomorrow"
    # a stopped register is judged once its register has stood for the rule's 3 days
    _, stopped = faults["stopped_register"]
    assert stopped.start <= midnight - timedelta(days=4)
    assert any(m.theft_fraction for m, _ in fleet.meters)


def _consumption(fleet_meters: dict[str, object], meter: str, day_start: datetime) -> float:
    m = fleet_meters[meter]
    end = day_start + timedelta(days=1)
    return float(m.primary_energy_at(end) - m.primary_energy_at(day_start))  # type: ignore[attr-defined]


def test_two_areas_are_complete_one_with_the_theft_and_one_plausible() -> None:
    """An area is complete when every meter in it can be read for a past day: a meter
    that keeps a freeze history (the demo asks those only) without a communication fault. The loss a
    complete area shows is the simulator's truth: the thief's area above the line-loss limit,
    the other within it."""
    fleet = load_fleet(DEMO_FLEET, now=NOW)
    specs = {m.archive_id: m for m, _ in fleet.meters}

    def readable(meter: str) -> bool:
        m = specs[meter]
        return keeps_history(m) and not any(f.spec.communication for f in m.faults)

    complete = [a for a in fleet.areas if all(map(readable, (a.master, *a.customers)))]
    assert len(complete) >= 2
    theft = [a for a in complete if a.theft]
    plain = [a for a in complete if not a.theft]
    assert theft and plain
    meters = build_meters(fleet)
    tz = ZoneInfo(fleet.timezone)
    since = {m.archive_id: m.theft_since for m, _ in fleet.meters if m.theft_fraction}
    for back in range(1, 61):  # every day the demo may read back (--days 1..60)
        day = NOW.astimezone(tz).date() - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, tzinfo=tz)
        for area in complete:
            supply = _consumption(meters, area.master, start)
            sales = sum(_consumption(meters, c, start) for c in area.customers)
            loss = (supply - sales) / supply
            stealing = any(since[t] is None or since[t] <= day for t in area.theft)
            if stealing:
                assert loss > LINE_LOSS_LIMIT + 0.03, (area.id, day, loss)
            else:
                assert 0 < loss < LINE_LOSS_LIMIT, (area.id, day, loss)
    # the theft began within the suspects page's default 14-day window, in its recent half
    (thief,) = [t for a in theft for t in a.theft]
    began = since[thief]
    assert began is not None
    assert NOW.astimezone(tz).date() - timedelta(days=7) == began


def _fleet_with_fault(fault: dict[str, object]) -> dict[str, object]:
    return {
        "timezone": "Asia/Shanghai",
        "buses": [{"name": "b"}],
        "meters": [{"archive_id": "M1", "address": "000000000001", "bus": "b", "faults": [fault]}],
    }


def test_days_ago_starts_a_fault_at_local_midnight_days_before_the_fleet_starts() -> None:
    fleet = fleet_from_dict(_fleet_with_fault({"kind": "dead", "days_ago": 3}), now=NOW)
    (fault,) = fleet.meters[0][0].faults
    # 2026-12-02 19:00 in Shanghai: three days before is 2026-11-29 00:00 local
    assert fault.start == datetime(2026, 11, 29, tzinfo=ZoneInfo("Asia/Shanghai"))
    today = fleet_from_dict(_fleet_with_fault({"kind": "dead", "days_ago": 0}), now=NOW)
    assert today.meters[0][0].faults[0].start == datetime(
        2026, 12, 2, tzinfo=ZoneInfo("Asia/Shanghai")
    )


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        (
            {"kind": "dead", "days_ago": 2, "start": "2026-11-01T00:00:00+08:00"},
            "meters[0].faults[0]: give start or days_ago, not both",
        ),
        ({"kind": "dead", "days_ago": -1}, "meters[0].faults[0].days_ago: must be within"),
        ({"kind": "dead", "days_ago": "2"}, "meters[0].faults[0].days_ago"),
    ],
)
def test_bad_days_ago_is_refused_naming_the_field(fault: dict[str, object], message: str) -> None:
    with pytest.raises(FleetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        fleet_from_dict(_fleet_with_fault(fault), now=NOW)


@pytest.mark.parametrize(
    "fleet_file", sorted(DEMO_FLEET.parent.glob("*.toml")), ids=lambda p: p.name
)
def test_every_dlt645_meter_of_a_shipped_fleet_fits_its_registers_all_year(
    fleet_file: Path,
) -> None:
    """A direct-connected meter cannot show 355 kW in XX.XXXX kW: an area master carrying
    that much sits behind a CT (the simulator then registers secondary values). Found when
    the demo logged "102.0428 overflows XX.XXXX" at 21:41 in Shanghai on the TA-003 master.
    Every DL/T 645 meter's largest power, current and demand over a year (sampled every
    35 minutes, so every time of day comes round) must encode in its catalogue's formats."""
    from protocols.dlt645.catalogue import CATALOGUE
    from protocols.dlt645.errors import Dlt645Error

    fleet = load_fleet(fleet_file, now=NOW)
    meters = build_meters(fleet)
    problems = []
    for archive_id, m in meters.items():
        protocol = m.spec.protocol
        if not protocol.startswith("dlt645-"):
            continue
        peak: dict[str, float] = {}
        t = NOW - timedelta(days=365)
        while t < NOW:
            for q, v in m.registers_at(t).items():
                if not q.startswith("energy_") and abs(v) > abs(peak.get(q, 0.0)):
                    peak[q] = v
            t += timedelta(minutes=35)
        version = protocol.removeprefix("dlt645-")
        for item in CATALOGUE:
            if item.version != version or item.history or item.record:
                continue
            for f in item.fields:
                if f.quantity in peak:
                    try:
                        f.format.encode(peak[f.quantity])
                    except Dlt645Error as exc:
                        problems.append(f"{archive_id} {item.di_text}: {exc}")
    assert not problems, problems
