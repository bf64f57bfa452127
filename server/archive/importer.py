"""Archive import from CSV or XLSX (a utility customer system's export): every row is
validated first and the import is all-or-nothing; the report lists every bad cell as
(row, column, reason). Header names are matched case-insensitively, with the usual Chinese
names accepted too (see COLUMNS). Ids, numbers and text follow the rules every way into the
archive follows (:mod:`server.archive.validate`); a blank cell takes the column's default
(:data:`DEFAULTS`).

The file is read as a stream, never loaded whole: a CSV through :mod:`csv` over the file,
an XLSX through openpyxl's read-only mode, after its zip members' sizes are checked
(:data:`MAX_XLSX_UNCOMPRESSED`, :data:`MAX_XLSX_RATIO`: a small file that expands to
hundreds of megabytes of XML is refused before parsing). Reading stops past
:data:`MAX_ROWS` rows. A CSV cell longer than the csv module's field limit (131,072
characters) is a clear error, not a crash. The caller runs all of this off the event loop.

:func:`check` is the first pass (the report); :func:`records` the second (what to write).
"""

from __future__ import annotations

import codecs
import csv
import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from typing import IO, Any, Final

from protocols.vocabulary import CustomerClass

from . import validate as v

PROTOCOL_ALIASES = {
    "2007": "dlt645-2007",
    "dlt645-2007": "dlt645-2007",
    "645-2007": "dlt645-2007",
    "1997": "dlt645-1997",
    "dlt645-1997": "dlt645-1997",
    "645-1997": "dlt645-1997",
    "modbus": "modbus",
    "dlt698": "dlt698",
    "698": "dlt698",
    "698.45": "dlt698",
    "dl/t 698.45": "dlt698",
    "dlt698.45": "dlt698",
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
    "customer_account": ("customer_account", "account", "户号", "用户编号"),
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
#: what a blank cell means (columns not named here are left empty)
DEFAULTS: Final[dict[str, Any]] = {
    "customer_class": "residential",
    "phases": 1,
    "ct_ratio": 1.0,
    "pt_ratio": 1.0,
    "is_generation": False,
    "is_area_master": False,
}
MAX_ROWS: Final = 200_000
#: an XLSX's zip members may expand to this much in all (a 200,000-row sheet is ~150 MB)
MAX_XLSX_UNCOMPRESSED: Final = 256 * 1024 * 1024
#: and no member over 1 MiB may expand more than this many times (real sheets: 10-20)
MAX_XLSX_RATIO: Final = 100
#: how many bad cells the report lists (it counts them all)
MAX_REPORTED: Final = 1000


class ArchiveFileError(ValueError):
    """The file cannot be read at all (not CSV/XLSX, no header...)."""


class ArchiveTooLarge(ArchiveFileError):
    """The file is over a limit (rows, or an XLSX's expanded size)."""


@dataclass
class RowError:
    row: int  # 1-based, the header is row 1
    column: str  # the canonical column (or an unknown heading as the file has it)
    reason: str
    header: str = ""  # the column's heading as the file names it (what the clerk sees)


def _encoding(f: IO[bytes]) -> str:
    """UTF-8 (with or without BOM) or GB18030, found by decoding the file in chunks."""
    for name in ("utf-8-sig", "gb18030"):
        f.seek(0)
        decoder = codecs.getincrementaldecoder(name)()
        try:
            while chunk := f.read(1 << 20):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            continue
        return name
    raise ArchiveFileError("not UTF-8 or GB18030 text")


def _csv_rows(f: IO[bytes]) -> Iterator[list[Any]]:
    encoding = _encoding(f)
    f.seek(0)
    text = io.TextIOWrapper(f, encoding=encoding, newline="")
    reader = csv.reader(text)
    try:
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                limit = csv.field_size_limit()
                if "field limit" in str(exc):
                    raise ArchiveTooLarge(
                        f"line {reader.line_num}: a cell longer than {limit} characters "
                        f"(the longest text the archive keeps is {max(v.TEXT_LIMITS.values())})"
                    ) from None
                raise ArchiveFileError(
                    f"line {reader.line_num}: cannot be read as CSV ({exc})"
                ) from None
            yield row
    finally:
        text.detach()  # the caller owns the file


def check_xlsx_size(f: IO[bytes]) -> None:
    """Refuse a workbook whose members expand past the limits, before any XML is parsed."""
    try:
        members = zipfile.ZipFile(f).infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveFileError(f"not a readable XLSX workbook ({exc})") from None
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNCOMPRESSED:
        raise ArchiveTooLarge(
            f"the workbook expands to {total / 2**20:.0f} MiB: at most "
            f"{MAX_XLSX_UNCOMPRESSED // 2**20} MiB"
        )
    for m in members:
        if m.file_size > 2**20 and m.file_size > MAX_XLSX_RATIO * max(m.compress_size, 1):
            raise ArchiveTooLarge(
                f"{m.filename} expands from {m.compress_size} to {m.file_size} bytes "
                f"(more than {MAX_XLSX_RATIO} times): refused as a likely zip bomb"
            )


def _xlsx_rows(f: IO[bytes]) -> Iterator[list[Any]]:
    import openpyxl

    check_xlsx_size(f)
    f.seek(0)
    try:
        wb = openpyxl.load_workbook(f, read_only=True, data_only=True)
    except Exception as exc:
        raise ArchiveFileError(f"not a readable XLSX workbook ({exc})") from None
    try:
        if not wb.worksheets:
            raise ArchiveFileError("the workbook has no sheet")
        rows = wb.worksheets[0].iter_rows(values_only=True)
        while True:
            try:
                row = next(rows)
            except StopIteration:
                return
            except Exception as exc:  # malformed XML inside a well-formed zip
                raise ArchiveFileError(f"not a readable XLSX workbook ({exc})") from None
            yield list(row)
    finally:
        wb.close()


def table_rows(filename: str, f: IO[bytes]) -> Iterator[list[Any]]:
    """The file's rows as lists (the header first), read as a stream; stops with
    :class:`ArchiveTooLarge` past :data:`MAX_ROWS` data rows."""
    name = filename.lower()
    if name.endswith(".xlsx"):
        rows = _xlsx_rows(f)
    elif name.endswith(".csv"):
        rows = _csv_rows(f)
    else:
        raise ArchiveFileError(f"{filename}: expected a .csv or .xlsx file")
    try:
        for n, row in enumerate(rows):
            if n > MAX_ROWS:
                raise ArchiveTooLarge(f"more than {MAX_ROWS} rows: at most {MAX_ROWS} per import")
            yield row
    except ArchiveFileError as exc:
        if str(exc).startswith(filename):
            raise
        raise type(exc)(f"{filename}: {exc}") from None


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


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _check_row(rec: dict[str, Any], n: int, seen: dict[str, int], errors: list[RowError]) -> bool:
    """Check and convert one row's cells in place (blank cells take their default);
    appends a RowError per bad cell and says whether the row is good."""
    bad = len(errors)

    def err(col: str, reason: str) -> None:
        errors.append(RowError(n, col, reason if len(reason) <= 300 else reason[:300] + "..."))

    for col in list(rec):
        if _blank(rec[col]):
            rec[col] = DEFAULTS.get(col)
    for col in REQUIRED:
        if rec.get(col) is None:
            err(col, "required")
    for col in list(rec):
        value = rec[col]
        if value is None or col in DEFAULTS and value is DEFAULTS[col]:
            continue
        try:
            rec[col] = _convert(col, value)
        except ValueError as exc:
            err(col, str(exc))
    if isinstance(rec.get("id"), str):
        if rec["id"] in seen:
            err("id", f"duplicate of row {seen[rec['id']]}")
        else:
            seen[rec["id"]] = n
    if (
        isinstance(rec.get("installed_on"), date)
        and isinstance(rec.get("removed_on"), date)
        and rec["removed_on"] < rec["installed_on"]
    ):
        err("removed_on", "before installed_on")
    return len(errors) == bad


def _convert(col: str, value: Any) -> Any:
    """One cell's value as stored, or ValueError with the reason."""
    if col == "address":
        addr = str(value).strip()
        addr = addr.zfill(12) if addr.isdigit() else addr
        if not (len(addr) == 12 and addr.isdigit()):
            raise ValueError(f"expected 12 digits, got {str(value)[:40]!r}")
        return addr
    if col == "protocol":
        proto = PROTOCOL_ALIASES.get(str(value).strip().lower())
        if proto is None:
            raise ValueError(f"expected 2007, 1997, 698.45 or modbus, got {str(value)[:40]!r}")
        return proto
    if col == "customer_class":
        cls = CLASS_ALIASES.get(str(value).strip(), str(value).strip().lower())
        if cls not in CLASSES:
            raise ValueError(f"expected one of {', '.join(CLASSES)}, got {cls[:40]!r}")
        return cls
    if col == "phases":
        text = str(value).strip().lower().replace("相", "").replace("单", "1").replace("三", "3")
        if text not in ("1", "1.0", "3", "3.0"):
            raise ValueError(f"expected 1 or 3 (单相/三相), got {str(value)[:40]!r}")
        return int(float(text))
    if col in ("installed_on", "removed_on", "gateway_since"):
        try:
            return _date(value)
        except ValueError:
            raise ValueError(f"expected a date YYYY-MM-DD, got {str(value)[:40]!r}") from None
    if col in ("is_generation", "is_area_master"):
        return _bool(value)
    if col == "modbus_unit":
        try:
            unit = int(str(value).strip())
        except ValueError:
            raise ValueError(f"not an integer: {str(value)[:40]!r}") from None
        if not 1 <= unit <= 247:
            raise ValueError(f"{unit} is not a Modbus unit (1-247)")
        return unit
    return v.cell(col, value)


def _checked(filename: str, f: IO[bytes], errors: list[RowError]) -> Iterator[dict[str, Any]]:
    """The file's good records (canonical columns), streamed; bad cells go to ``errors``."""
    rows = table_rows(filename, f)
    header_row = next(rows, None)
    if header_row is None:
        raise ArchiveFileError(f"{filename}: no header row")
    header = [str(h).strip() if h is not None else "" for h in header_row]
    mapping, unknown = _header_map([h for h in header if h])
    errors += [RowError(1, h, "unknown column") for h in unknown]
    missing = [c for c in REQUIRED if c not in mapping.values()]
    errors += [RowError(1, c, "required column missing") for c in missing]
    if missing:
        return
    columns = [(i, mapping[h]) for i, h in enumerate(header) if h in mapping]
    heading = {canon: h for h, canon in mapping.items()}
    seen: dict[str, int] = {}
    data = 0
    for n, row in enumerate(rows, start=2):
        if all(_blank(x) for x in row):
            continue
        data += 1
        rec = {canon: (row[i] if i < len(row) else None) for i, canon in columns}
        bad = len(errors)
        if _check_row(rec, n, seen, errors):
            yield rec
        for e in errors[bad:]:
            e.header = heading.get(e.column, e.column)
    if data == 0:
        raise ArchiveFileError(f"{filename}: the file has no data rows")


def template_headers(lang: str) -> list[str]:
    """The header row of an empty import file: every column the import reads, in COLUMNS'
    order, by its canonical name (``en``) or its usual Chinese name (``zh``; the first
    Chinese alias, which the import matches back to the same column)."""
    if lang != "zh":
        return list(COLUMNS)
    return [next((a for a in aliases if not a.isascii()), col) for col, aliases in COLUMNS.items()]


def check(filename: str, f: IO[bytes]) -> tuple[int, list[RowError]]:
    """First pass: how many good rows, and every bad cell."""
    errors: list[RowError] = []
    good = sum(1 for _ in _checked(filename, f, errors))
    return good, errors


def records(filename: str, f: IO[bytes]) -> Iterator[dict[str, Any]]:
    """Second pass, after :func:`check` found nothing wrong: the records to write."""
    f.seek(0)
    errors: list[RowError] = []
    for rec in _checked(filename, f, errors):
        if errors:
            break
        yield rec
    if errors:
        raise ArchiveFileError(f"{filename}: changed between reading and writing")
