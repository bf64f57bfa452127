"""A report's rows as JSON, CSV (UTF-8 with a byte-order mark, for spreadsheet programs) or
XLSX. Not a router: the report routes call :func:`export` when ``?format=`` asks for a
file."""

from __future__ import annotations

import csv
import io
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


def export(rows: list[dict[str, Any]], fmt: str, name: str) -> Any:
    if fmt == "json":
        return rows
    cols = list(rows[0].keys()) if rows else ["empty"]
    if fmt == "csv":
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if v is None else v) for k, v in r.items()})
        return Response(
            buf.getvalue().encode("utf-8-sig"),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
        )
    wb = openpyxl.Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(cols)
    for r in rows:
        ws.append(
            [
                v if isinstance(v, (int, float, str)) or v is None else str(v)
                for v in (r.get(c) for c in cols)
            ]
        )
    out = io.BytesIO()
    wb.save(out)
    return Response(
        out.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
    )
