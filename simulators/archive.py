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
