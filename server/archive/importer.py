"""Archive import from CSV or XLSX (a utility customer system's export): every row is
validated first and the import is all-or-nothing; the report lists every bad cell as
(row, column, reason). Header names are matched case-insensitively, with the usual Chinese
names accepted too (see COLUMNS)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from protocols.vocabulary import CustomerClass

PROTOCOL_ALIASES = {
    "2007": "dlt645-2007",
    "dlt645-2007": "dlt645-2007",
    "645-2007": "dlt645-2007",
    "1997": "dlt645-1997",
    "dlt645-1997": "dlt645-1997",
    "645-1997": "dlt645-1997",
    "modbus": "modbus",
}
CLASSES: tuple[str, ...] = tuple(CustomerClass)
CLASS_ALIASES = {
    "居民": "residential",
    "商业": "commercial",
    "工业": "industrial",
    "农业": "agricultural",
    "其他": "other",
}

# canonical column -> accepted header names
COLUMNS: dict[str, tuple[str, ...]] = {
    "id": ("id", "meter_id", "电表资产号", "资产编号", "表号"),
    "address": ("address", "通信地址", "表地址", "电表地址"),
    "protocol": ("protocol", "规约", "通信规约"),
    "gateway_id": ("gateway_id", "gateway", "集中器", "终端编号"),
    "gateway_since": ("gateway_since", "入集中器日期"),
    "bus": ("bus", "端口", "通道"),
    "area_id": ("area_id", "area", "台区", "台区编号"),
    "customer_class": ("customer_class", "用户类别", "用电类别"),
    "customer_name": ("customer_name", "户名", "用户名称"),
    "customer_phone": ("customer_phone", "电话", "联系电话"),
    "customer_address": ("customer_address", "用电地址", "地址"),
    "phases": ("phases", "相数", "相线"),
    "rated_voltage": ("rated_voltage", "额定电压"),
    "rated_current": ("rated_current", "额定电流"),
    "ct_ratio": ("ct_ratio", "ct变比", "ct"),
    "pt_ratio": ("pt_ratio", "pt变比", "pt"),
    "contracted_kw": ("contracted_kw", "合同容量"),
    "is_generation": ("is_generation", "发电", "光伏"),
    "is_area_master": ("is_area_master", "台区总表", "总表"),
    "installed_on": ("installed_on", "安装日期"),
    "removed_on": ("removed_on", "拆除日期"),
    "modbus_profile": ("modbus_profile",),
    "modbus_unit": ("modbus_unit", "unit_id"),
    "replaces_meter_id": ("replaces_meter_id", "替换表号"),
}
REQUIRED = ("id", "address", "protocol", "installed_on")
NUMERIC = ("rated_voltage", "rated_current", "ct_ratio", "pt_ratio", "contracted_kw")
MAX_ROWS = 200_000


class ArchiveFileError(ValueError):
    """The file cannot be read at all (not CSV/XLSX, no header...)."""


@dataclass
class RowError:
    row: int  # 1-based, the header is row 1
    column: str
    reason: str


def read_table(filename: str, content: bytes) -> list[dict[str, Any]]:
    """Rows as dicts keyed by the file's own headers."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        import openpyxl

        try:
            wb = openpyxl.load_workbook(io.BytesIO(content), read_only=True, data_only=True)
        except Exception as exc:
            raise ArchiveFileError(f"{filename}: not a readable XLSX workbook ({exc})") from None
        ws = wb.worksheets[0]
        rows = list(ws.iter_rows(values_only=True))
        if not rows:
            raise ArchiveFileError(f"{filename}: the first sheet is empty")
        header = [str(h).strip() if h is not None else "" for h in rows[0]]
        return [
            dict(zip(header, r, strict=False))
            for r in rows[1:]
            if any(v not in (None, "") for v in r)
        ]
    if name.endswith(".csv"):
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            try:
                text = content.decode("gb18030")
            except UnicodeDecodeError:
                raise ArchiveFileError(f"{filename}: not UTF-8 or GB18030 text") from None
        reader = csv.DictReader(io.StringIO(text))
        if not reader.fieldnames:
            raise ArchiveFileError(f"{filename}: no header row")
        return [r for r in reader if any((v or "").strip() for v in r.values())]
    raise ArchiveFileError(f"{filename}: expected a .csv or .xlsx file")


def _header_map(headers: list[str]) -> tuple[dict[str, str], list[str]]:
    lookup = {alias.lower(): canon for canon, aliases in COLUMNS.items() for alias in aliases}
    mapping, unknown = {}, []
    for h in headers:
        canon = lookup.get(h.strip().lower())
        if canon is None:
            unknown.append(h)
        else:
            mapping[h] = canon
    return mapping, unknown


def _date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    text = str(value).strip().replace("/", "-")
    return date.fromisoformat(text)


def _bool(value: Any) -> bool:
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "是"):
        return True
    if text in ("0", "false", "no", "n", "否", ""):
        return False
    raise ValueError(f"expected yes/no, got {value!r}")


def validate(rows: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[RowError]]:
    if not rows:
        raise ArchiveFileError("the file has no data rows")
    if len(rows) > MAX_ROWS:
        raise ArchiveFileError(f"{len(rows)} rows: at most {MAX_ROWS} per import")
    mapping, unknown = _header_map(list(rows[0].keys()))
    errors: list[RowError] = [RowError(1, h, "unknown column") for h in unknown if h]
    missing = [c for c in REQUIRED if c not in mapping.values()]
    errors += [RowError(1, c, "required column missing") for c in missing]
    if missing:
        return [], errors
    out: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for n, raw in enumerate(rows, start=2):
        rec: dict[str, Any] = {}
        for header, canon in mapping.items():
            v = raw.get(header)
            rec[canon] = None if v is None or (isinstance(v, str) and not v.strip()) else v
        bad = len(errors)

        def err(col: str, reason: str, n: int = n) -> None:
            errors.append(RowError(n, col, reason))

        for col in REQUIRED:
            if rec.get(col) is None:
                err(col, "required")
        if rec.get("id") is not None:
            rec["id"] = str(rec["id"]).strip()
            if rec["id"] in seen:
                err("id", f"duplicate of row {seen[rec['id']]}")
            seen[rec["id"]] = n
        if rec.get("address") is not None:
            addr = str(rec["address"]).strip()
            addr = addr.zfill(12) if addr.isdigit() else addr
            if not (len(addr) == 12 and addr.isdigit()):
                err("address", f"expected 12 digits, got {rec['address']!r}")
            rec["address"] = addr
        if rec.get("protocol") is not None:
            proto = PROTOCOL_ALIASES.get(str(rec["protocol"]).strip().lower())
            if proto is None:
                err("protocol", f"expected 2007, 1997 or modbus, got {rec['protocol']!r}")
            rec["protocol"] = proto
        cls = rec.get("customer_class")
        if cls is not None:
            cls = CLASS_ALIASES.get(str(cls).strip(), str(cls).strip().lower())
            if cls not in CLASSES:
                err("customer_class", f"expected one of {', '.join(CLASSES)}, got {cls!r}")
            rec["customer_class"] = cls
        else:
            rec["customer_class"] = "residential"
        for col in NUMERIC:
            if rec.get(col) is not None:
                try:
                    rec[col] = float(rec[col])
                    if rec[col] < 0 or (col in ("ct_ratio", "pt_ratio") and rec[col] == 0):
                        raise ValueError("must be positive")
                except (TypeError, ValueError) as exc:
                    err(col, f"not a valid number: {rec[col]!r} ({exc})")
        phases = rec.get("phases")
        if phases is not None:
            text = (
                str(phases).strip().lower().replace("相", "").replace("单", "1").replace("三", "3")
            )
            if text in ("1", "1.0", "3", "3.0"):
                rec["phases"] = int(float(text))
            else:
                err("phases", f"expected 1 or 3 (单相/三相), got {phases!r}")
        else:
            rec["phases"] = 1
        for col in ("installed_on", "removed_on", "gateway_since"):
            if rec.get(col) is not None:
                try:
                    rec[col] = _date(rec[col])
                except ValueError:
                    err(col, f"expected a date YYYY-MM-DD, got {rec[col]!r}")
        if (
            isinstance(rec.get("installed_on"), date)
            and isinstance(rec.get("removed_on"), date)
            and rec["removed_on"] < rec["installed_on"]
        ):
            err("removed_on", "before installed_on")
        for col in ("is_generation", "is_area_master"):
            if rec.get(col) is not None:
                try:
                    rec[col] = _bool(rec[col])
                except ValueError as exc:
                    err(col, str(exc))
        if rec.get("modbus_unit") is not None:
            try:
                rec["modbus_unit"] = int(rec["modbus_unit"])
            except (TypeError, ValueError):
                err("modbus_unit", f"not an integer: {rec['modbus_unit']!r}")
        for col in (
            "gateway_id",
            "area_id",
            "bus",
            "customer_name",
            "customer_phone",
            "customer_address",
            "modbus_profile",
            "replaces_meter_id",
        ):
            if rec.get(col) is not None:
                rec[col] = str(rec[col]).strip()
        if len(errors) == bad:
            out.append(rec)
    return out, errors
