"""A report's rows as JSON, CSV (UTF-8 with a byte-order mark, for spreadsheet programs) or
XLSX. Not a router: the report routes call :func:`export` when ``?format=`` asks for a
file.

Every text value that a spreadsheet program would take for a formula (it begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is written as text whatever its source (the
archive import, anomaly comments, a gateway's ``last_error`` over MQTT): with a leading
apostrophe in CSV (OWASP's advice for CSV injection), as a string cell marked "quote
prefix" in XLSX (openpyxl would make a formula cell of any string starting with ``=``; the
value itself stays as it was). Numbers, negative ones too, stay numbers.
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any, Literal

import openpyxl
from fastapi.responses import Response

Format = Literal["json", "csv", "xlsx"]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# for the OpenAPI document of a route that can answer with a file
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "the report as JSON, or as a CSV or XLSX file with ?format=",
    }
}


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def looks_like_formula(value: object) -> bool:
    """A text value a spreadsheet program would evaluate (numbers never are text)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    return f"'{value}" if looks_like_formula(value) else value


def xlsx_value(value: Any) -> Any:
    """What openpyxl is given: numbers (Decimal included) and text as they are, anything
    else (dates, lists) as text."""
    if value is None or isinstance(value, (int, float, Decimal, str)):
        return value
    return str(value)


def export(rows: list[dict[str, Any]], fmt: str, name: str) -> Any:
    if fmt == "json":
        return rows
    cols = list(rows[0].keys()) if rows else ["empty"]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writerow({c: csv_cell(c) for c in cols})
        for r in rows:
            w.writerow({k: csv_cell(v) for k, v in r.items()})
        return Response(
            buf.getvalue().encode("utf-8-sig"),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    table: list[list[Any]] = [list(cols), *([r.get(c) for c in cols] for r in rows)]
    for values in table:
        ws.append([xlsx_value(v) for v in values])
        for col, value in enumerate(values, start=1):
            if looks_like_formula(value):
                cell = ws.cell(row=ws.max_row, column=col)
                cell.data_type = "s"  # text, not the formula openpyxl made of it
                cell.quotePrefix = True  # and Excel keeps it text when the cell is edited
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
