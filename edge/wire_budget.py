"""Can a read plan fit its interval on a bus? The arithmetic, shown to the operator.

Per transaction the line carries the request and the reply at ``bits per byte / baud``
seconds a byte (11 bits for 8E1), plus the meter's turnaround and our gap between frames.
DL/T 645-2007 requests are 4 FE + 12 envelope + 4 DI bytes; replies 12 + 4 DI + data (no
preamble assumed). Modbus RTU requests are 8 bytes; replies 5 + 2 per register.
DL/T 698.45 exchanges are counted from the frames themselves: the GET-Request-NormalList the
reader sends (:func:`edge.meters.dlt698_driver.plan_oads`), and the codec's own response to
it with every element present (the types of the catalogue are fixed-size, so the length
does not depend on the values); each event counter is one record read of its last event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from protocols import dlt645 as d
from protocols import dlt698
from protocols.modbus import get_profile, plan_reads

from .config import BusConfig, ConfigError, EdgeConfig, PlanConfig
from .meters.dlt698_driver import EVENT_SEQUENCE, EVENT_START, EVENT_TABLES, plan_oads


@dataclass(frozen=True)
class Budget:
    bus: str
    plan: str
    transactions: int
    bytes_on_line: int
    seconds: float
    interval_s: float

    @property
    def fits(self) -> bool:
        return self.seconds <= self.interval_s

    def explain(self, bus: BusConfig) -> str:
        per_byte = bus.bits_per_byte / bus.baud
        return (
            f"bus {self.bus}, plan {self.plan}: {self.transactions} transactions, "
            f"{self.bytes_on_line} bytes x {bus.bits_per_byte} bits / {bus.baud} baud = "
            f"{self.bytes_on_line * per_byte:.1f} s on the line + {self.transactions} x "
            f"({bus.turnaround_ms} ms turnaround + {bus.gap_ms} ms gap) = "
            f"{self.seconds:.1f} s of {self.interval_s:.0f} s "
            f"({100 * self.seconds / self.interval_s:.0f} %)"
        )


def _dlt645_exchange(version: str, entries: list[d.DataItem]) -> tuple[int, int]:
    di_len = 4 if version == "2007" else 2
    n = len(entries)
    return n, sum(4 + 12 + di_len + 12 + di_len + e.nbytes for e in entries)


_SAMPLE_TIME = datetime(2026, 1, 1)


def _sample(oad: int) -> dlt698.Data:
    """A datum of ``oad``'s type and shape as a meter answers it (values do not change the
    length: the catalogue's types are fixed-size)."""
    obj = dlt698.object_def(oad)
    if obj.oi == 0x4000:
        return dlt698.dts(_SAMPLE_TIME)
    if obj.oi == 0x4001:
        return dlt698.octets(bytes(6))
    if obj.oi == 0x4002:
        return dlt698.octets(bytes(8))

    def one() -> dlt698.Data:
        if obj.kind == "demand":
            return dlt698.structure(dlt698.Data(dlt698.T(obj.type), 0), dlt698.dts(_SAMPLE_TIME))
        return dlt698.Data(dlt698.T(obj.type), 0)

    if obj.kind in ("array", "demand") and not oad & 0xFF:
        return dlt698.array(*(one() for _ in obj.quantities))
    return one()


def dlt698_exchanges(
    address: str, quantities: tuple[str, ...] | list[str]
) -> list[tuple[int, int]]:
    """(request bytes, reply bytes) of each exchange the 698.45 reader makes to read
    ``quantities`` from the meter at ``address``."""
    oads, other = plan_oads(list(quantities))
    out = []
    if oads:
        wire = (
            dlt698.build_get(address, oads[0])
            if len(oads) == 1
            else dlt698.build_get_list(address, oads)
        )
        req = dlt698.parse_request(wire)
        reply = dlt698.build_get_response(
            req, [dlt698.ResultNormal(o, _sample(o)) for o in oads], own_address=address
        )
        out.append((len(wire), len(reply)))
    for q in other:
        if q not in EVENT_TABLES:
            continue
        columns = [dlt698.format_oad(EVENT_SEQUENCE), dlt698.format_oad(EVENT_START)]
        wire = dlt698.build_get_record(address, EVENT_TABLES[q], dlt698.Rsd.last(1), columns)
        req = dlt698.parse_request(wire)
        reply = dlt698.build_get_record_response(
            req,
            EVENT_TABLES[q],
            [EVENT_SEQUENCE, EVENT_START],
            [[dlt698.dlu(0), dlt698.dts(_SAMPLE_TIME)]],
            own_address=address,
        )
        out.append((len(wire), len(reply)))
    return out


def budget(bus: BusConfig, plan: PlanConfig) -> Budget:
    transactions = line_bytes = 0
    for m in bus.meters:
        if m.protocol == "dlt698":
            exchanges = dlt698_exchanges(m.address, plan.quantities)
            transactions += len(exchanges)
            line_bytes += sum(a + b for a, b in exchanges)
            continue
        if m.protocol == "modbus":
            assert m.profile is not None
            reads = plan_reads(
                get_profile(m.profile),
                [q for q in plan.quantities if q in get_profile(m.profile).quantities],
            )
            transactions += len(reads)
            line_bytes += sum(8 + 5 + 2 * r.count for r in reads)
            continue
        version = "1997" if m.protocol == "1997" else "2007"
        entries = []
        wanted = set()
        for q in plan.quantities:
            try:
                wanted.add(d.by_quantity(q, version).di)  # type: ignore[arg-type]
            except d.RequestError:
                continue
        blocks = [e for e in d.items(version) if e.is_block and e.history == 0]  # type: ignore[arg-type]
        covered: set[int] = set()
        for block in blocks:
            if len(wanted & set(block.members)) >= 2:
                entries.append(block)
                covered |= set(block.members)
        entries += [d.item(di, version) for di in wanted - covered]  # type: ignore[arg-type]
        t, b = _dlt645_exchange(version, entries)
        transactions += t
        line_bytes += b
    seconds = (
        line_bytes * bus.bits_per_byte / bus.baud
        + transactions * (bus.turnaround_ms + bus.gap_ms) / 1000
    )
    return Budget(bus.name, plan.name, transactions, line_bytes, seconds, plan.every_min * 60)


def check_budgets(config: EdgeConfig) -> list[tuple[BusConfig, Budget]]:
    """Every bus's interval budgets; a plan that cannot fit raises ConfigError with the sums."""
    out = []
    for bus in config.buses:
        for plan in config.plans:
            if plan.kind != "interval":
                continue
            b = budget(bus, plan)
            if not b.fits:
                raise ConfigError(
                    f"plan {plan.name} cannot fit its {plan.every_min}-minute "
                    f"interval: {b.explain(bus)}"
                )
            out.append((bus, b))
    return out
