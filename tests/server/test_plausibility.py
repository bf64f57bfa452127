"""The plausible ranges as a table of cases (pure: no database): each row says whether a
value of a quantity, sent as a kind, can come from a meter with the given ratings."""

from __future__ import annotations

import pytest

from protocols.model import QUANTITIES
from server.ingest.plausibility import MeterRatings, implausible, limits_for

DLT = MeterRatings("dlt645-2007")
RATED = MeterRatings("dlt645-2007", rated_voltage=220, rated_current=10, phases=3)
CT_PT = MeterRatings(
    "dlt645-2007", rated_voltage=57.7, rated_current=1.5, ct_ratio=40, pt_ratio=100
)
MODBUS = MeterRatings("modbus")
OOP = MeterRatings("dlt698")  # DL/T 698.45: double-long-unsigned, scaler -2

CASES: list[tuple[str, MeterRatings, str, float, str, bool]] = [
    # energy registers: 0 ... the protocol's register maximum
    ("register at its end", DLT, "energy_import_total", 999_999.99, "interval", True),
    ("register past its end", DLT, "energy_import_total", 1_000_000.0, "interval", False),
    ("negative register", DLT, "energy_export_t2", -0.01, "freeze", False),
    ("1e308 freeze", DLT, "energy_import_total", 1e308, "freeze", False),
    ("combined may be negative", DLT, "energy_combined_total", -5_000.0, "freeze", True),
    ("reactive may be negative", DLT, "energy_reactive_2_total", -1.0, "interval", True),
    ("a Modbus float register", MODBUS, "energy_import_total", 12_345_678.9, "interval", True),
    ("Modbus past 1e9", MODBUS, "energy_import_total", 2e9, "interval", False),
    ("698.45 past 645's end", OOP, "energy_import_total", 1_234_567.89, "freeze", True),
    ("698.45 register at its end", OOP, "energy_import_total", 42_949_672.95, "freeze", True),
    ("698.45 past its end", OOP, "energy_import_total", 42_949_673.0, "freeze", False),
    # voltages: 0 ... 2 x rated x PT (1000 V without a rating)
    ("lost phase", RATED, "voltage_a", 0.0, "interval", True),
    ("negative voltage", RATED, "voltage_a", -1.0, "interval", False),
    ("twice rated", RATED, "voltage_b", 440.0, "interval", True),
    ("over twice rated", RATED, "voltage_b", 440.1, "interval", False),
    ("no rating: 1000 V", DLT, "voltage_c", 999.9, "interval", True),
    ("-1,000,000 V", DLT, "voltage_c", -1e6, "interval", False),
    ("primary side behind a PT", CT_PT, "voltage_a", 10_500.0, "interval", True),
    # currents: +-20 x rated x CT
    ("reverse current", RATED, "current_a", -150.0, "interval", True),
    ("over 20 x rated", RATED, "current_a", 200.1, "interval", False),
    ("primary side behind a CT", CT_PT, "current_b", 1_000.0, "interval", True),
    # powers: phases x highest voltage x highest current
    ("export power", RATED, "power_active_total", -200.0, "interval", True),
    ("1e9 kW", RATED, "power_active_total", 1e9, "interval", False),
    ("negative apparent power", RATED, "power_apparent_total", -1.0, "interval", False),
    ("max demand", RATED, "max_demand_import", 30.0, "event", True),
    # power factor, frequency, counters, clock
    ("PF -1", DLT, "pf_total", -1.0, "interval", True),
    ("PF 999", DLT, "pf_total", 999.0, "interval", False),
    ("50 Hz", DLT, "frequency", 49.98, "interval", True),
    ("70 Hz", DLT, "frequency", 70.0, "interval", False),
    ("counter", DLT, "power_down_count", 12.0, "event", True),
    ("negative counter", DLT, "cover_open_count", -1.0, "event", False),
    ("clock a year off", DLT, "clock_offset", -366 * 86_400.0, "clock", True),
    # kinds: only energy registers freeze; a clock check is clock_offset and nothing else
    ("a voltage as a freeze", DLT, "voltage_a", 230.0, "freeze", False),
    ("max demand as a freeze", DLT, "max_demand_import", 3.0, "freeze", False),
    ("clock offset as interval", DLT, "clock_offset", 3.0, "interval", False),
    ("energy as a clock check", DLT, "energy_import_total", 3.0, "clock", False),
]


@pytest.mark.parametrize(
    ("ratings", "quantity", "value", "kind", "ok"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_plausible_ranges(
    ratings: MeterRatings, quantity: str, value: float, kind: str, ok: bool
) -> None:
    why = implausible(limits_for(ratings), quantity, value, kind)
    assert (why is None) == ok, why
    if why is not None:
        assert why.startswith("implausible: ") and quantity in why


def test_every_quantity_has_a_range_and_a_kind() -> None:
    limits = limits_for(DLT)
    assert set(limits) == {q.name for q in QUANTITIES}
    for name, (lo, hi, kinds, why) in limits.items():
        assert lo < hi and kinds and why, name
