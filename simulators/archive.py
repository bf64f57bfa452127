"""A fleet's meters as archive records: the body of the server's ``PUT /api/meters/{id}``.

One owner for what the archive must know of a simulated meter, so whoever writes a
fleet into a server (the demo, a test bench) keeps every field that changes how its
readings are judged: ``phases`` (a three-phase master taken for a single-phase meter is
judged flying and overrun against a third of its capacity) and the CT and PT ratios (the
simulated meter registers the secondary side, the server multiplies by them).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from simulators.meter import MeterSpec

# the fleet's load kinds as the archive's customer classes
CUSTOMER_CLASS = {
    "residential": "residential",
    "commercial": "commercial",
    "industrial": "industrial",
    "irrigation": "agricultural",
}


def meter_record(m: MeterSpec, bus: str, gateway_id: str, installed_on: date) -> dict[str, Any]:
    """The archive record of meter ``m`` on ``bus`` of concentrator ``gateway_id``."""
    return {
        "address": m.address,
        "protocol": m.protocol,
        "modbus_profile": m.modbus_profile,
        "modbus_unit": m.unit_id if m.protocol == "modbus" else None,
        "gateway_id": gateway_id,
        "bus": bus,
        "area_id": m.area,
        "customer_class": CUSTOMER_CLASS[m.load.value],
        "phases": m.phases,
        "ct_ratio": m.ct,
        "pt_ratio": m.pt,
        "is_area_master": m.role == "master",
        "installed_on": installed_on.isoformat(),
        "rated_voltage": m.rated_voltage,
        "rated_current": m.rated_current,
    }


#: the simulated fleets' organisation: one supply company (供电单位) and two supply stations
#: (供电所) under it; the fleet's areas are shared out between the stations
ORG_UNITS: tuple[tuple[str, dict[str, Any]], ...] = (
    ("ORG-COUNTY", {"name": "县供电公司", "parent_id": None, "level": "company"}),
    ("ORG-ST-1", {"name": "城关供电所", "parent_id": "ORG-COUNTY", "level": "station"}),
    ("ORG-ST-2", {"name": "城郊供电所", "parent_id": "ORG-COUNTY", "level": "station"}),
)
STATIONS = ("ORG-ST-1", "ORG-ST-2")


def area_record(name: str, index: int, master: str | None = None) -> dict[str, Any]:
    """The archive record of the fleet's ``index``-th area: its name, its supply station
    (alternating between :data:`STATIONS`) and, once its meters exist, its master meter."""
    out: dict[str, Any] = {"name": name, "org_unit_id": STATIONS[index % len(STATIONS)]}
    if master is not None:
        out["master_meter_id"] = master
    return out
