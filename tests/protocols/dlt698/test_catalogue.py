"""The object catalogue: data, mapped onto the model's quantities like DL/T 645's."""

from __future__ import annotations

from datetime import datetime

import pytest

from protocols import dlt645
from protocols import dlt698 as d
from protocols.model import QUANTITY_BY_NAME


def test_every_quantity_is_known() -> None:
    for obj in d.CATALOGUE:
        for q in obj.quantities:
            assert q in QUANTITY_BY_NAME or q in d.EXTRA_QUANTITIES, (obj.oad_text, q)
    assert not set(d.EXTRA_QUANTITIES) & set(QUANTITY_BY_NAME)


def test_model_units_agree_after_conversion() -> None:
    for obj in d.CATALOGUE:
        for q in obj.quantities:
            model = QUANTITY_BY_NAME.get(q)
            if model is not None and model.unit is not None:
                assert (obj.quantity_unit or obj.unit) == model.unit, (obj.oad_text, q)


def test_one_entry_per_oad() -> None:
    oads = [o.oad for o in d.CATALOGUE]
    assert len(oads) == len(set(oads))


def test_readings_have_the_dlt645_shape() -> None:
    """The quantities a DL/T 645 meter yields for the daily plan are readable here too."""
    wanted = {
        "energy_import_total",
        "energy_import_t1",
        "energy_export_total",
        "energy_reactive_1_total",
        "energy_reactive_2_total",
        "max_demand_import",
        "voltage_a",
        "current_b",
        "power_active_total",
        "power_reactive_total",
        "pf_total",
        "frequency",
    }
    have_645 = {i.quantity for i in dlt645.CATALOGUE} | {
        f.quantity for i in dlt645.CATALOGUE for f in i.fields
    }
    have_698 = {q for o in d.CATALOGUE for q in o.quantities}
    assert wanted - {"max_demand_import"} <= have_645
    assert wanted - {"max_demand_import"} <= have_698
    assert d.oad_of_quantity("max_demand_import") == 0x10100201


@pytest.mark.parametrize(
    ("quantity", "oad"),
    [
        ("energy_import_total", 0x00100201),
        ("energy_import_t4", 0x00100205),
        ("energy_export_total", 0x00200201),
        ("voltage_b", 0x20000202),
        ("current_c", 0x20010203),
        ("power_active_total", 0x20040201),
        ("pf_a", 0x200A0202),
        ("frequency", 0x200F0200),
        ("meter_time", 0x40000200),
        ("meter_address", 0x40010200),
        ("freeze_time", 0x20210200),
    ],
)
def test_quantity_to_oad(quantity: str, oad: int) -> None:
    assert d.oad_of_quantity(quantity) == oad
    assert d.find_object(oad) is not None


def test_unknown_objects() -> None:
    assert d.find_object(0xF2010201) is None
    with pytest.raises(d.UnknownObjectError, match="F2010200"):
        d.object_def("F2010200")
    with pytest.raises(KeyError):
        d.oad_of_quantity("no_such_quantity")
    assert d.values_of(0xF2010201, d.lu(7)) == [7]  # unknown: unscaled


def test_scaling_and_model_values() -> None:
    power = d.object_def("20040200")
    assert power.scale(15000) == 1500.0 and power.to_model(1500.0) == 1.5
    assert power.unscale(1500.0) == 15000
    assert power.scaler_unit == (-1, 27)
    energy = d.object_def("00100200")
    assert energy.scaler_unit == (-2, 33)
    data = d.array(*(d.dlu(x) for x in (123456, 1, 2, 3, 4, 5, 6)))  # more tariffs than named
    assert d.values_of(0x00100200, data) == [1234.56, 0.01, 0.02, 0.03, 0.04, 0.05, 0.06]
    assert [q for q, _ in d.model_values(0x00100200, data)] == [
        "energy_import_total",
        "energy_import_t1",
        "energy_import_t2",
        "energy_import_t3",
        "energy_import_t4",
    ]
    assert d.model_values(0x40000200, d.dts(datetime(2026, 1, 2, 3, 4, 5))) == [
        ("meter_time", datetime(2026, 1, 2, 3, 4, 5))
    ]
    assert d.model_values(0x40010200, d.octets("000000000001")) == [
        ("meter_address", "000000000001")
    ]
    assert d.model_values(0x20000200, d.array(d.lu(2201), d.null(), d.null())) == [
        ("voltage_a", 220.1)
    ]
