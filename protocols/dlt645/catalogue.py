"""The data-identifier catalogue, as data: what each DI holds and how to code it.

Every :class:`DataItem` names one DI of one version, its canonical quantity (the names
of :mod:`protocols.model`, plus a few extra ones listed in :data:`EXTRA_QUANTITIES`),
its unit and its fields in wire order. Simple items have one field; composite items
(max demand + its time, a daily-freeze energy record) and block reads (DI0 = ``FF``)
have several, and block entries list their member DIs in order.

``DataItem.encode`` (meter role) and ``DataItem.decode`` (master role) are the same code
on both sides, so a simulated meter and the gateway cannot drift apart.

DIs are integers printed high byte first: ``0x02010100`` (2007) or ``0x9010`` (1997).
On the wire they travel low byte first (then +0x33 like all data): ``0x02010100`` ->
``00 01 01 02`` -> ``33 34 34 35``; 1997 ``0x9010`` -> ``10 90`` -> ``43 C3``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from ..vocabulary import FREEZE_HISTORY_DAYS
from .control import Version
from .errors import FrameError, RequestError, UnknownItemError
from .formats import Format, Value, calendar, digits, number


@dataclass(frozen=True, slots=True)
class Field:
    """One value inside an item: its quantity, format and unit."""

    quantity: str
    format: Format
    unit: str | None


@dataclass(frozen=True, slots=True)
class DataItem:
    """One data identifier of one version (see the module docstring)."""

    di: int
    version: Version
    name: str
    quantity: str
    unit: str | None
    fields: tuple[Field, ...]
    members: tuple[int, ...] = ()  # block reads: member DIs in order
    history: int = 0  # n-th last freeze for 0506xxnn, 0 for current values
    record: bool = False  # an event record: an all-00 time means "none" (see decode)

    @property
    def di_text(self) -> str:
        """The DI printed high byte first: ``00010000`` or ``9010``."""
        return format_di(self.di, self.version)

    @property
    def di_bytes(self) -> bytes:
        """The DI as it travels (low byte first, before +0x33)."""
        return di_to_bytes(self.di, self.version)

    @property
    def nbytes(self) -> int:
        """Length of the item's data (without the DI)."""
        return sum(f.format.nbytes for f in self.fields)

    @property
    def format(self) -> Format:
        """The format of the first (often only) field."""
        return self.fields[0].format

    @property
    def signed(self) -> bool:
        return any(f.format.signed for f in self.fields)

    @property
    def is_block(self) -> bool:
        return bool(self.members)

    @property
    def quantities(self) -> tuple[str, ...]:
        """Quantity of each field, in wire order."""
        return tuple(f.quantity for f in self.fields)

    @property
    def member_items(self) -> tuple[DataItem, ...]:
        """Catalogue entries of the block's members, in order."""
        return tuple(item(di, self.version) for di in self.members)

    def encode(self, values: Value | Sequence[Value]) -> bytes:
        """Values (one per field; a bare value for one-field items) -> item bytes."""
        seq: Sequence[object]
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            seq = (values,)
        else:
            seq = values
        if len(seq) != len(self.fields):
            raise RequestError(
                f"{self.di_text} ({self.name}) takes {len(self.fields)} value(s), got {len(seq)}"
            )
        try:
            return b"".join(
                bytes(f.format.nbytes)
                if v is None and self.record and f.format.kind == "datetime"
                else f.format.encode(v)
                for f, v in zip(self.fields, seq, strict=True)
            )
        except RequestError as exc:
            raise RequestError(f"{self.di_text} ({self.name}): {exc}") from exc

    def decode(self, raw: bytes) -> tuple[Value | None, ...]:
        """Item bytes (without DI, 0x33 removed) -> one value per field.

        In a block, a member the meter does not have is filled with ``FF`` bytes (a
        single-phase meter answering the voltage block ``0201FF00``: phase A, then
        ``FF FF`` ``FF FF`` for B and C, before +0x33): that member decodes to None, the
        others as usual. ``FF`` is never valid packed BCD, so nothing real is lost.

        In an event record (``record``), a time of all ``00`` bytes is None: a meter fills a
        record of an event that never happened with zeros, and an event still going on
        (a cover still open) has no end time yet.
        """
        if len(raw) != self.nbytes:
            raise FrameError(
                f"{self.di_text} ({self.name}) needs {self.nbytes} data bytes, got {len(raw)}"
            )
        out: list[Value | None] = []
        pos = 0
        for f in self.fields:
            size = f.format.nbytes
            chunk = raw[pos : pos + size]
            pos += size
            if self.record and f.format.kind == "datetime" and not any(chunk):
                out.append(None)  # no such event / not ended
                continue
            try:
                out.append(f.format.decode(chunk))
            except FrameError as exc:
                # checked only after a failure, so the usual reply costs nothing more
                if self.members and chunk.count(0xFF) == size:
                    out.append(None)  # an absent member
                    continue
                raise FrameError(f"{self.di_text} ({self.name}): {exc}") from exc
        return tuple(out)

    def decode_lenient(self, raw: bytes) -> tuple[tuple[Value | None, ...], str | None]:
        """A DL/T 645-1997 block as real meters send it -> (values, what was skipped).

        Some 1997 meters end a block with the delimiter ``AA`` (before +0x33) or send
        bytes after the members (a vendor's extra items); some send fewer members. Members
        are decoded in order as far as the bytes go; a member cut short or undecodable
        is None; whatever is left over is described in the second element (None when
        the reply was exactly the block). Byte layout, e.g. ``B61F`` (3 x XXX V)::

            20 02 | 19 02 | 21 02 | AA          -> (220, 219, 221), "delimiter AA"
            20 02 | 19 02 | 21 02 | 11 22 33    -> (220, 219, 221), "3 extra bytes ..."
        """
        if len(raw) == self.nbytes:
            try:
                return self.decode(raw), None
            except FrameError:
                pass
        body = raw
        notes: list[str] = []
        if body.endswith(b"\xaa") and len(body) != self.nbytes:
            body = body[:-1]
            notes.append("delimiter AA after the members")
        out: list[Value | None] = []
        pos = 0
        for f in self.fields:
            size = f.format.nbytes
            chunk = body[pos : pos + size]
            pos += size
            if len(chunk) < size or chunk.count(0xFF) == size or chunk.count(0xAA) == size:
                out.append(None)
                continue
            if self.record and f.format.kind == "datetime" and not any(chunk):
                out.append(None)  # no such event / not ended
                continue
            try:
                out.append(f.format.decode(chunk))
            except FrameError as exc:
                out.append(None)
                notes.append(f"{f.quantity} undecodable ({exc})")
        if len(body) < self.nbytes:
            notes.append(f"{self.nbytes - len(body)} bytes of members missing")
        elif len(body) > self.nbytes:
            extra = body[self.nbytes :]
            notes.append(f"{len(extra)} extra bytes after the members skipped: {extra.hex(' ')}")
        return tuple(out), "; ".join(notes) or None


def di_length(version: Version) -> int:
    """Bytes a DI takes: 4 in 2007, 2 in 1997."""
    return 4 if version == "2007" else 2


def format_di(di: int, version: Version) -> str:
    return f"{di:0{2 * di_length(version)}X}"


def di_to_bytes(di: int, version: Version) -> bytes:
    """DI -> wire order (low byte first); RequestError if it does not fit the version."""
    size = di_length(version)
    if not isinstance(di, int) or isinstance(di, bool) or not 0 <= di < 1 << (8 * size):
        raise RequestError(f"DI {di!r} does not fit {size} bytes ({version})")
    return di.to_bytes(size, "little")


def parse_di(text: str | int, version: Version | None = None) -> int:
    """``"0001FF00"`` / ``"9010"`` / ``0x9010`` -> int; RequestError if malformed."""
    if isinstance(text, int) and not isinstance(text, bool):
        return text
    if not isinstance(text, str):
        raise RequestError(f"bad DI {text!r}")
    cleaned = text.strip().replace(" ", "").replace("_", "").upper().removeprefix("0X")
    want = {None: (4, 8), "2007": (8,), "1997": (4,)}[version]
    try:
        if len(cleaned) not in want:
            raise ValueError
        return int(cleaned, 16)
    except ValueError:
        raise RequestError(f"bad DI {text!r}") from None


# -- table building helpers ---------------------------------------------------------------

ENERGY: Final[Format] = number("XXXXXX.XX")
ENERGY_SIGNED: Final[Format] = number("XXXXXX.XX", signed=True)
COUNT: Final[Format] = number("XXXXXX")
TARIFFS: Final[tuple[str, ...]] = ("total", "t1", "t2", "t3", "t4")
PHASES: Final[tuple[str, ...]] = ("a", "b", "c")

#: Quantity names used here that :mod:`protocols.model` does not (yet) define.
EXTRA_QUANTITIES: Final[tuple[str, ...]] = (
    "energy_combined_t1",
    "energy_combined_t2",
    "energy_combined_t3",
    "energy_combined_t4",
    "energy_reactive_import_total",
    "max_demand_import_time",
    "meter_date",
    "meter_time",
    "meter_address",
    "meter_number",
    "freeze_time",
    # block / record entries (their fields carry the member quantities)
    "energy_combined_block",
    "energy_import_block",
    "energy_export_block",
    "voltage_block",
    "current_block",
    "power_active_block",
    "pf_block",
    "freeze_energy_import",
    "freeze_energy_export",
    # cost-control (prepayment, 费控) meters and meter constants
    "energy_remaining",
    "energy_overdraft",
    "money_remaining",
    "money_overdraft",
    "purchase_count",
    "money_purchased_total",
    "meter_constant_active",
    "meter_constant_reactive",
    # the last cover-open record (03300D01)
    "cover_open_record",
    "cover_open_start",
    "cover_open_end",
    *(
        f"cover_open_{when}_{q}"
        for when in ("before", "after")
        for q in (
            "energy_import_total",
            "energy_export_total",
            *(f"energy_reactive_q{k}_total" for k in range(1, 5)),
        )
    ),
)


def _one(
    di: int, version: Version, name: str, quantity: str, fmt: Format, unit: str | None
) -> DataItem:
    return DataItem(di, version, name, quantity, unit, (Field(quantity, fmt, unit),))


def _block(
    di: int, version: Version, name: str, quantity: str, members: Sequence[DataItem]
) -> DataItem:
    fields = tuple(f for m in members for f in m.fields)
    return DataItem(
        di, version, name, quantity, members[0].unit, fields, tuple(m.di for m in members)
    )


def _with_block(
    singles: Sequence[DataItem], di: int, version: Version, name: str, quantity: str
) -> tuple[DataItem, ...]:
    return (*singles, _block(di, version, name, quantity, singles))


# -- DL/T 645-2007 ------------------------------------------------------------------------


def _energy_2007(prefix: int, base: str, label: str, fmt: Format) -> tuple[DataItem, ...]:
    singles = [
        _one(
            prefix << 16 | k << 8, "2007", f"{label} active energy, {t}", f"{base}_{t}", fmt, "kWh"
        )
        for k, t in enumerate(TARIFFS)
    ]
    return _with_block(
        singles,
        prefix << 16 | 0xFF00,
        "2007",
        f"{label} active energy block (total + T1..T4)",
        f"{base}_block",
    )


def _phases_2007(
    group: int,
    base: str,
    label: str,
    fmt: Format,
    unit: str | None,
    with_total: bool,
    block_quantity: str,
) -> tuple[DataItem, ...]:
    singles = []
    if with_total:
        singles.append(
            _one(0x02000000 | group << 16, "2007", f"{label}, total", f"{base}_total", fmt, unit)
        )
    for k, ph in enumerate(PHASES, start=1):
        singles.append(
            _one(
                0x02000000 | group << 16 | k << 8,
                "2007",
                f"{label}, phase {ph.upper()}",
                f"{base}_{ph}",
                fmt,
                unit,
            )
        )
    return _with_block(
        singles, 0x02000000 | group << 16 | 0xFF00, "2007", f"{label} block", block_quantity
    )


def _freezes_2007() -> tuple[DataItem, ...]:
    rows: list[DataItem] = []
    stamp = calendar("YYMMDDhhmm")
    for n in range(1, 63):
        rows.append(
            DataItem(
                0x05060000 | n,
                "2007",
                f"daily freeze time, {n}. last",
                "freeze_time",
                None,
                (Field("freeze_time", stamp, None),),
                history=n,
            )
        )
        for group, base, label in (
            (1, "energy_import", "forward"),
            (2, "energy_export", "reverse"),
        ):
            fields = tuple(Field(f"{base}_{t}", ENERGY, "kWh") for t in TARIFFS)
            rows.append(
                DataItem(
                    0x05060000 | group << 8 | n,
                    "2007",
                    f"daily freeze {label} active energy, {n}. last",
                    f"freeze_{base}",
                    "kWh",
                    fields,
                    history=n,
                )
            )
    return tuple(rows)


#: Cost-control (费控, prepayment) meters' items and the meter constants. DL/T 645-2007
#: appendix A; the identifiers and formats as public implementations use them (a
#: prepayment client's table: 00900100/00900101 remaining/overdraft energy, 00900200/
#: 00900201 remaining/overdraft money "4 bytes xxxxxx.xx", 03330201 purchase count
#: "2 bytes", 03330601 cumulative purchase money "4 bytes"; meter firmware tables list
#: 04000409/0400040A as the active/reactive pulse constants, 3 bytes).
COST_CONTROL_2007: Final[tuple[DataItem, ...]] = (
    _one(0x00900100, "2007", "remaining energy", "energy_remaining", ENERGY, "kWh"),
    _one(0x00900101, "2007", "overdraft energy", "energy_overdraft", ENERGY, "kWh"),
    _one(0x00900200, "2007", "remaining money", "money_remaining", ENERGY, "yuan"),
    _one(0x00900201, "2007", "overdraft money", "money_overdraft", ENERGY, "yuan"),
    _one(
        0x03330201,
        "2007",
        "purchase count after the last purchase",
        "purchase_count",
        number("XXXX"),
        None,
    ),
    _one(
        0x03330601,
        "2007",
        "cumulative purchased money after the last purchase",
        "money_purchased_total",
        ENERGY,
        "yuan",
    ),
    _one(0x04000409, "2007", "active constant", "meter_constant_active", COUNT, "imp/kWh"),
    _one(0x0400040A, "2007", "reactive constant", "meter_constant_reactive", COUNT, "imp/kvarh"),
)


#: The last (上1次) cover-open record, 03300D01, 60 bytes: when the cover was opened and
#: closed (YYMMDDhhmmss each, all zero while still open or never opened), then forward
#: and reverse active and the four quadrants' reactive energy totals before the opening and
#: after the closing (XXXXXX.XX each). DL/T 645-2007 appendix A's event records; the layout
#: as public meter and terminal firmware sources read it (a concentrator's 开表盖记录
#: structure: start[6], end[6], 6 x 4 bytes before, 6 x 4 after; a client library's
#: test "开表盖记录 60 字节"), 03300D02..0A the 2nd..10th last. The count is 03300D00.
COVER_OPEN_RECORD_2007: Final[DataItem] = DataItem(
    0x03300D01,
    "2007",
    "last cover-open record (opened, closed, energies before and after)",
    "cover_open_record",
    None,
    (
        Field("cover_open_start", calendar("YYMMDDhhmmss"), None),
        Field("cover_open_end", calendar("YYMMDDhhmmss"), None),
        *(
            Field(
                f"cover_open_{when}_{q}",
                ENERGY,
                "kvarh" if "reactive" in q else "kWh",
            )
            for when in ("before", "after")
            for q in (
                "energy_import_total",
                "energy_export_total",
                *(f"energy_reactive_q{k}_total" for k in range(1, 5)),
            )
        ),
    ),
    record=True,
)


CATALOGUE_2007: Final[tuple[DataItem, ...]] = (
    *_energy_2007(0x0000, "energy_combined", "combined", ENERGY_SIGNED),
    *_energy_2007(0x0001, "energy_import", "forward", ENERGY),
    *_energy_2007(0x0002, "energy_export", "reverse", ENERGY),
    _one(
        0x00030000,
        "2007",
        "combined reactive energy 1, total",
        "energy_reactive_1_total",
        ENERGY_SIGNED,
        "kvarh",
    ),
    _one(
        0x00040000,
        "2007",
        "combined reactive energy 2, total",
        "energy_reactive_2_total",
        ENERGY_SIGNED,
        "kvarh",
    ),
    DataItem(
        0x01010000,
        "2007",
        "forward active max demand and its time",
        "max_demand_import",
        "kW",
        (
            Field("max_demand_import", number("XX.XXXX"), "kW"),
            Field("max_demand_import_time", calendar("YYMMDDhhmm"), None),
        ),
    ),
    *_phases_2007(0x01, "voltage", "voltage", number("XXX.X"), "V", False, "voltage_block"),
    *_phases_2007(
        0x02, "current", "current", number("XXX.XXX", signed=True), "A", False, "current_block"
    ),
    *_phases_2007(
        0x03,
        "power_active",
        "active power",
        number("XX.XXXX", signed=True),
        "kW",
        True,
        "power_active_block",
    ),
    _one(
        0x02040000,
        "2007",
        "reactive power, total",
        "power_reactive_total",
        number("XX.XXXX", signed=True),
        "kvar",
    ),
    _one(
        0x02050000,
        "2007",
        "apparent power, total",
        "power_apparent_total",
        number("XX.XXXX"),
        "kVA",
    ),
    *_phases_2007(0x06, "pf", "power factor", number("X.XXX", signed=True), None, True, "pf_block"),
    _one(0x02800002, "2007", "grid frequency", "frequency", number("XX.XX"), "Hz"),
    _one(0x03110000, "2007", "power-down count", "power_down_count", COUNT, None),
    _one(0x03300D00, "2007", "meter-cover open count", "cover_open_count", COUNT, None),
    COVER_OPEN_RECORD_2007,
    _one(0x04000101, "2007", "meter date and weekday", "meter_date", calendar("YYMMDDWW"), None),
    _one(0x04000102, "2007", "meter time", "meter_time", calendar("hhmmss"), None),
    _one(0x04000401, "2007", "communication address", "meter_address", digits(12), None),
    _one(0x04000402, "2007", "meter number", "meter_number", digits(12), None),
    *_freezes_2007(),
    *COST_CONTROL_2007,
)


# -- DL/T 645-1997 ------------------------------------------------------------------------


def _energy_1997(base_di: int, base: str, label: str, unit: str) -> tuple[DataItem, ...]:
    singles = [
        _one(base_di + k, "1997", f"{label}, {t}", f"{base}_{t}", ENERGY, unit)
        for k, t in enumerate(TARIFFS)
    ]
    return _with_block(
        singles, base_di | 0xF, "1997", f"{label} block (total + T1..T4)", f"{base}_block"
    )


def _phases_1997(
    base_di: int,
    base: str,
    label: str,
    fmt: Format,
    unit: str | None,
    with_total: bool,
    block_quantity: str,
) -> tuple[DataItem, ...]:
    singles = []
    if with_total:
        singles.append(_one(base_di, "1997", f"{label}, total", f"{base}_total", fmt, unit))
    for k, ph in enumerate(PHASES, start=1):
        singles.append(
            _one(base_di + k, "1997", f"{label}, phase {ph.upper()}", f"{base}_{ph}", fmt, unit)
        )
    return _with_block(singles, base_di | 0xF, "1997", f"{label} block", block_quantity)


CATALOGUE_1997: Final[tuple[DataItem, ...]] = (
    *_energy_1997(0x9010, "energy_import", "forward active energy", "kWh"),
    *_energy_1997(0x9020, "energy_export", "reverse active energy", "kWh"),
    _one(
        0x9110,
        "1997",
        "forward reactive energy, total",
        "energy_reactive_import_total",
        ENERGY,
        "kvarh",
    ),
    *_phases_1997(0xB610, "voltage", "voltage", number("XXX"), "V", False, "voltage_block"),
    *_phases_1997(0xB620, "current", "current", number("XX.XX"), "A", False, "current_block"),
    *_phases_1997(
        0xB630, "power_active", "active power", number("XX.XXXX"), "kW", True, "power_active_block"
    ),
    *_phases_1997(0xB650, "pf", "power factor", number("X.XXX"), None, True, "pf_block"),
    _one(0xC010, "1997", "meter date and weekday", "meter_date", calendar("YYMMDDWW"), None),
    _one(0xC011, "1997", "meter time", "meter_time", calendar("hhmmss"), None),
    _one(0xC032, "1997", "meter number", "meter_number", digits(12), None),
)

CATALOGUE: Final[tuple[DataItem, ...]] = CATALOGUE_2007 + CATALOGUE_1997

_BY_DI: Final[dict[tuple[Version, int], DataItem]] = {(i.version, i.di): i for i in CATALOGUE}
_BY_QUANTITY: Final[dict[tuple[Version, str], DataItem]] = {}
for _entry in CATALOGUE:  # first (current, non-history) entry wins
    _BY_QUANTITY.setdefault((_entry.version, _entry.quantity), _entry)
assert len(_BY_DI) == len(CATALOGUE), "duplicate DI in the catalogue"


def find_item(di: int, version: Version = "2007") -> DataItem | None:
    """The catalogue entry for ``di`` in ``version``, or None."""
    return _BY_DI.get((version, di))


def item(di: int | str, version: Version = "2007") -> DataItem:
    """The catalogue entry for ``di`` (int or printed text); UnknownItemError if absent."""
    key = parse_di(di, version)
    found = _BY_DI.get((version, key))
    if found is None:
        raise UnknownItemError(f"no {version} catalogue entry for DI {format_di(key, version)}")
    return found


def items(version: Version | None = None) -> tuple[DataItem, ...]:
    """All entries of ``version`` (both versions when None), in table order."""
    if version is None:
        return CATALOGUE
    return CATALOGUE_2007 if version == "2007" else CATALOGUE_1997


def by_quantity(quantity: str, version: Version = "2007") -> DataItem:
    """The current-value entry whose quantity is ``quantity``; UnknownItemError if none."""
    found = _BY_QUANTITY.get((version, quantity))
    if found is None:
        raise UnknownItemError(f"no {version} catalogue entry for quantity {quantity!r}")
    return found


def freeze_items(n: int) -> tuple[DataItem, DataItem, DataItem]:
    """The 2007 daily-freeze entries (time, forward energy, reverse energy) of the n-th
    last freeze, n = 1..62."""
    if not 1 <= n <= FREEZE_HISTORY_DAYS:
        raise RequestError(f"daily freeze index must be 1..{FREEZE_HISTORY_DAYS}, got {n}")
    return (item(0x05060000 | n), item(0x05060100 | n), item(0x05060200 | n))


def quantities(version: Version | None = None) -> Iterable[str]:
    """Every field quantity named by the catalogue."""
    seen: dict[str, None] = {}
    for entry in items(version):
        for q in entry.quantities:
            seen.setdefault(q, None)
    return tuple(seen)
