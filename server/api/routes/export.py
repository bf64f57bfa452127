"""Any table the API lists, as a report file: CSV or XLSX with headers in the request's
language. Not a router: a list route hands its rows to :func:`listing` (JSON page or file)
or :func:`export` (a report's rows as a file), one mechanism for every table.

What a file holds:

* **XLSX**: a title row (what, the data date or range, the filters, when it was exported and
  in which time zone), the header row frozen below it with a filter, one column per field
  with a width from its contents, number formats (rates as percentages, kWh with two
  decimals, whole counts, dates and local times as dates and times).
* **CSV**: the same header row and values (UTF-8 with a byte-order mark, so spreadsheet
  programs read Chinese correctly; rates as ``98.12%``, which they read as numbers), no title
  row (a CSV is read by programs too).
* **XLSX text**: control characters XML cannot carry are shown as U+FFFD.
* **Values**: numbers rounded (kWh and plain numbers to 2 decimals, rates to 4, so no
  ``447.5100000000093``), instants in the utility's time zone
  (``METERLINK_UTILITY_TIMEZONE``) without microseconds, yes/no and known codes (statuses,
  rules, customer classes) in the language, nested values (a rule's parameters, a command's
  arguments) as readable ``key: value`` text, never Python's dict text.
* **Language**: ``?lang=zh|en``; without it the ``Accept-Language`` header decides (``zh``
  for any ``zh*`` first, English for other languages; Chinese when the header is absent).
  A field :data:`COLUMNS` does not know keeps its code as header in both languages (and the
  OpenAPI test names none such for the tables that export).

Every text value that a spreadsheet program would take for a formula (it begins with ``=``,
``+``, ``-``, ``@``, a tab or a carriage return) is written as text whatever its source (the
archive import, anomaly comments, a gateway's ``last_error`` over MQTT): with a leading
apostrophe in CSV (OWASP's advice for CSV injection), as a string cell marked "quote
prefix" in XLSX (the value itself stays as it was). Numbers, negative ones too, stay numbers.
"""

from __future__ import annotations

import csv
import io
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, tzinfo
from decimal import Decimal
from typing import Annotated, Any, Literal

import psycopg
from fastapi import Depends, HTTPException, Query, Request
from fastapi.responses import Response
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter

from server.audit import record_export
from server.auth.roles import Principal
from server.checks.rule_table import RULES

from ..actor import current_actor
from ..contract import Page
from ..deps import ClockDep, SettingsDep

Format = Literal["json", "csv", "xlsx"]
Lang = Literal["zh", "en"]
Row = dict[str, Any]

CSV = "text/csv"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
#: the most rows one file carries (the whole filtered table, not a page of it)
MAX_EXPORT_ROWS = 200_000

# for the OpenAPI document of a route that can answer with a file
FILE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {
            CSV: {"schema": {"type": "string"}},
            XLSX: {"schema": {"type": "string", "format": "binary"}},
        },
        "description": "the page as JSON, or with ?format=csv|xlsx the whole filtered table "
        f"(at most {MAX_EXPORT_ROWS:,} rows) as a file with headers in ?lang=zh|en",
    }
}

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

# how a column's values are written: its rounding and its XLSX number format
Kind = Literal["text", "int", "kwh", "number", "percent", "date", "datetime", "bool", "code"]
FORMATS: dict[str, str] = {
    "int": "0",
    "kwh": "#,##0.00",
    "number": "0.00",
    "percent": "0.00%",
    "date": "yyyy-mm-dd",
    "datetime": "yyyy-mm-dd hh:mm:ss",
}
DIGITS = {"kwh": 2, "number": 2, "percent": 4}


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    kind: Kind = "text"


#: every field a listed table has, by its key: headers in both languages and the kind
COLUMNS: dict[str, Column] = {
    # identities and archive
    "id": Column("编号", "ID"),
    "meter_id": Column("电表", "Meter"),
    "meter": Column("电表", "Meter"),
    "area_id": Column("台区", "Area"),
    "gateway_id": Column("集中器", "Concentrator"),
    "org_unit_id": Column("供电单位", "Organisation unit"),
    "org_id": Column("供电单位", "Organisation unit"),
    "parent_id": Column("上级单位", "Parent unit"),
    "name": Column("名称", "Name"),
    "address": Column("表地址", "Meter address"),
    "protocol": Column("规约", "Protocol"),
    "modbus_profile": Column("Modbus 型号", "Modbus profile"),
    "modbus_unit": Column("Modbus 站号", "Modbus unit", "int"),
    "bus": Column("通道", "Bus"),
    "customer_class": Column("用户类别", "Customer class", "code"),
    "customer_name": Column("用户名称", "Customer name"),
    "customer_phone": Column("联系电话", "Phone"),
    "customer_address": Column("用电地址", "Customer address"),
    "phases": Column("相数", "Phases", "int"),
    "rated_voltage": Column("额定电压 (V)", "Rated voltage (V)", "number"),
    "rated_current": Column("额定电流 (A)", "Rated current (A)", "number"),
    "ct_ratio": Column("CT 变比", "CT ratio", "number"),
    "pt_ratio": Column("PT 变比", "PT ratio", "number"),
    "contracted_kw": Column("合同容量 (kW)", "Contracted power (kW)", "number"),
    "capacity_kva": Column("容量 (kVA)", "Capacity (kVA)", "number"),
    "master_meter_id": Column("台区总表", "Area master meter"),
    "is_generation": Column("发电表", "Generation meter", "bool"),
    "is_area_master": Column("台区总表", "Area master meter", "bool"),
    "installed_on": Column("安装日期", "Installed on", "date"),
    "removed_on": Column("拆除日期", "Removed on", "date"),
    "replaces_meter_id": Column("替换的电表", "Replaces meter"),
    "gateway_since": Column("接入集中器日期", "On the concentrator since", "date"),
    "updated_at": Column("更新时间", "Updated at", "datetime"),
    "updated_by": Column("更新人", "Updated by"),
    # gateways
    "online": Column("在线", "Online", "bool"),
    "known": Column("已建档", "In the archive", "bool"),
    "last_seen": Column("最后通信", "Last seen", "datetime"),
    "status_at": Column("状态时间", "Status at", "datetime"),
    "version": Column("版本", "Version"),
    "gateway_online": Column("集中器在线", "Concentrator online", "bool"),
    "meter_state": Column("电表状态", "Meter state"),
    "last_error": Column("最近错误", "Last error"),
    # collection
    "date": Column("数据日期", "Data date", "date"),
    "data_date": Column("数据日期", "Data date", "date"),
    "key": Column("分组", "Group"),
    "grp": Column("分组方式", "Grouping"),
    "due": Column("应抄", "Due", "int"),
    "read": Column("已抄", "Read", "int"),
    "rate": Column("成功率", "Success rate", "percent"),
    "below_threshold": Column("低于阈值", "Below threshold", "bool"),
    "last_good_date": Column("最后成功日期", "Last good date", "date"),
    "last_good_value": Column("最后示值 (kWh)", "Last good value (kWh)", "kwh"),
    "last_good_ts": Column("最后示值时间", "Last good reading at", "datetime"),
    "last_good_kind": Column("最后示值来源", "Last good reading from", "code"),
    "quarantine_reason": Column("隔离原因", "Quarantine reason"),
    "cause": Column("失败原因", "Cause", "code"),
    "reread_command": Column("补抄命令", "Re-read command"),
    "reread_status": Column("补抄状态", "Re-read status", "code"),
    "reason": Column("原因", "Reason", "code"),
    "meters": Column("电表数", "Meters", "int"),
    "points": Column("点数", "Points", "int"),
    "expected": Column("应有点数", "Expected points", "int"),
    "complete": Column("完整电表数", "Complete meters", "int"),
    "curve_rereadable": Column("可补抄曲线电表数", "Curves re-readable", "int"),
    "implausible": Column("不合理读数", "Implausible", "int"),
    "supply": Column("供电量 (kWh)", "Supply (kWh)", "kwh"),
    "sales": Column("售电量 (kWh)", "Sales (kWh)", "kwh"),
    "loss": Column("线损率", "Loss rate", "percent"),
    # anomalies
    "rule": Column("规则", "Rule", "code"),
    "first_date": Column("首次日期", "First date", "date"),
    "last_date": Column("最近日期", "Last date", "date"),
    "params": Column("参数", "Parameters"),
    "evidence": Column("证据", "Evidence"),
    "status": Column("状态", "Status", "code"),
    "comment": Column("备注", "Comment"),
    "first_seen": Column("首次发现", "First seen", "datetime"),
    "last_seen_at": Column("最近发现", "Last seen", "datetime"),
    # readings, ingestion
    "quantity": Column("数据项", "Quantity"),
    "ts": Column("时间", "Time", "datetime"),
    "value": Column("值", "Value", "number"),
    "unit": Column("单位", "Unit"),
    "kind": Column("类型", "Kind"),
    "source": Column("来源", "Source"),
    "quality": Column("质量标志", "Quality"),
    "received_at": Column("接收时间", "Received at", "datetime"),
    "readings": Column("读数条数", "Readings", "int"),
    "first_ts": Column("最早时间", "First time", "datetime"),
    "last_ts": Column("最晚时间", "Last time", "datetime"),
    "last_received": Column("最近接收", "Last received", "datetime"),
    "batch_id": Column("批次", "Batch"),
    "topic": Column("主题", "Topic"),
    "payload": Column("报文", "Payload"),
    "payload_size": Column("报文字节数", "Payload bytes", "int"),
    "payload_sha256": Column("报文 SHA-256", "Payload SHA-256"),
    # commands, jobs, users, audit
    "args": Column("参数", "Arguments"),
    "requested_by": Column("发起人", "Requested by"),
    "created_at": Column("创建时间", "Created at", "datetime"),
    "sent_at": Column("下发时间", "Sent at", "datetime"),
    "finished_at": Column("完成时间", "Finished at", "datetime"),
    "expired_at": Column("超时时间", "Expired at", "datetime"),
    "result": Column("结果", "Result"),
    "error": Column("错误", "Error"),
    "job": Column("任务", "Job"),
    "started_at": Column("开始时间", "Started at", "datetime"),
    "outcome": Column("结果", "Outcome", "code"),
    "detail": Column("详情", "Detail"),
    "username": Column("用户名", "User name"),
    "role": Column("角色", "Role", "code"),
    "display_name": Column("显示名", "Display name"),
    "active": Column("启用", "Active", "bool"),
    "last_login_at": Column("最近登录", "Last sign-in", "datetime"),
    "at": Column("时间", "Time", "datetime"),
    "actor": Column("操作人", "Actor"),
    "action": Column("操作", "Action"),
    "entity": Column("对象类型", "Record type"),
    "entity_id": Column("对象", "Record"),
    "before": Column("修改前", "Before"),
    "after": Column("修改后", "After"),
    # the workbench (issue 19)
    "org_name": Column("供电单位名称", "Organisation unit name"),
    "area_name": Column("台区名称", "Area name"),
    "gateway_name": Column("集中器名称", "Concentrator name"),
    "level": Column("层级", "Level", "code"),
    "gateways": Column("集中器数", "Concentrators", "int"),
    "threshold": Column("阈值", "Threshold", "percent"),
    "read_first": Column("首次抄读", "Read first pass", "int"),
    "rate_first": Column("首抄成功率", "First-pass rate", "percent"),
    "curve_points": Column("曲线点数", "Curve points", "int"),
    "curve_expected": Column("应有曲线点数", "Curve points expected", "int"),
    "curve_rate": Column("曲线完整率", "Curve completeness", "percent"),
    "curves_complete": Column("曲线完整电表数", "Complete curves", "int"),
    "previous": Column("上期", "Previous period"),
    "change": Column("环比变化", "Change", "percent"),
    "change_first": Column("首抄环比变化", "First-pass change", "percent"),
    "code": Column("原因代码", "Reason code"),
    "reason_text": Column("原因说明", "Reason detail"),
    "reason_code": Column("原因代码", "Reason code"),
    "rereadable": Column("可补抄", "Re-readable", "bool"),
    "consecutive_days": Column("连续失败天数", "Consecutive failed days", "int"),
    "reread": Column("补抄请求", "Re-read request"),
    "customer_account": Column("用户户号", "Customer account"),
    "outbox_depth": Column("待发送条数", "Outbox depth", "int"),
    "outbox_oldest_age_s": Column("最早待发送 (秒)", "Oldest in outbox (s)", "number"),
    "outbox_dropped": Column("丢弃条数", "Dropped", "int"),
    "failing_meters": Column("故障电表数", "Failing meters", "int"),
    "loss_rate": Column("线损率", "Loss rate", "percent"),
    "blocking": Column("阻碍计算的电表", "Blocking meters", "int"),
    "score": Column("嫌疑分", "Suspicion score", "number"),
    "signals": Column("迹象", "Signals"),
    "recent_kwh_per_day": Column("近期日均 (kWh)", "Recent kWh per day", "kwh"),
    "baseline_kwh_per_day": Column("基期日均 (kWh)", "Baseline kWh per day", "kwh"),
    "drop_kwh_per_day": Column("日均下降 (kWh)", "Drop kWh per day", "kwh"),
    "assigned_to": Column("处理人", "Assigned to"),
    "assigned_at": Column("指派时间", "Assigned at", "datetime"),
    "assigned_by": Column("指派人", "Assigned by"),
    "days": Column("天数", "Days", "int"),
    "read_days": Column("已抄天数", "Days read", "int"),
    "read_first_days": Column("首抄成功天数", "Days read first pass", "int"),
    "command_id": Column("命令", "Command"),
    "command_status": Column("命令状态", "Command status", "code"),
    "matched": Column("匹配项", "Matched"),
    "register": Column("示值", "Register", "kwh"),
    "register_before": Column("前一日示值", "Register the day before", "kwh"),
    "why": Column("原因", "Why"),
    "offset_s": Column("时钟偏差 (秒)", "Clock offset (s)", "number"),
    "due_days": Column("应抄天数", "Days due", "int"),
    "online_rate": Column("在线率", "Online rate", "percent"),
    "type": Column("类型", "Type"),
    "period": Column("周期", "Period", "code"),
    "org_unit_name": Column("供电单位名称", "Organisation unit name"),
    # concentrators serving several areas, search results (issue 19 gaps)
    "areas": Column("服务台区", "Areas served"),
    "home_area_id": Column("所属台区", "Home area"),
    "meters_all": Column("全部电表数", "Meters in every area", "int"),
    "q": Column("查询", "Search"),
    "requested_at": Column("请求时间", "Requested at", "datetime"),
    # filters shown in the title row
    "start": Column("起始日期", "From", "date"),
    "end": Column("截止日期", "To", "date"),
    "by": Column("分组方式", "Grouping", "code"),
}

#: codes shown as words: (zh, en) per value, by column
CODES: dict[str, dict[str, tuple[str, str]]] = {
    "status": {
        "open": ("待处理", "open"),
        "confirmed": ("已确认", "confirmed"),
        "dismissed": ("已排除", "dismissed"),
        "closed": ("已关闭", "closed"),
        # a gateway command: pending = queued, not yet sent to the concentrator; sent =
        # sent, its answer awaited (a re-read batch's items take their command's word)
        "pending": ("待下发", "not yet sent"),
        "sent": ("进行中", "sent, awaiting answer"),
        "ok": ("成功", "ok"),
        "partial": ("部分成功", "partial"),
        "error": ("失败", "error"),
        "expired": ("超时", "expired"),
        # line loss
        "high": ("高损", "high loss"),
        "negative": ("负损", "negative loss"),
        "not_computable": ("不可计算", "not computable"),
        "normal": ("正常", "normal"),
    },
    "reason": {
        "concentrator_offline": ("集中器离线", "concentrator offline"),
        "meter_not_answering": ("电表不应答", "meter not answering"),
        "wrong_answers": ("应答错误", "wrong answers"),
        "not_rereadable": ("无法补抄", "cannot be re-read"),
        "archive_problem": ("档案问题", "archive problem"),
        "other": ("其他", "other"),
        # the failed list's reason codes (server.checks.completeness.failed_meters)
        "never_read": ("安装后从未抄到", "never read since installed"),
        "quarantined": ("读数被隔离", "reading quarantined"),
        "no_reading": ("未收到读数", "no reading received"),
    },
    "level": {"company": ("供电单位", "company"), "station": ("供电所", "station")},
    "period": {"day": ("日", "day"), "month": ("月", "month")},
    "customer_class": {
        "residential": ("居民", "residential"),
        "commercial": ("商业", "commercial"),
        "industrial": ("工业", "industrial"),
        "agricultural": ("农业", "agricultural"),
        "other": ("其他", "other"),
    },
    "rule": {r.name: (r.label_zh, r.label_en) for r in RULES},
    "role": {
        "viewer": ("查看员", "viewer"),
        "operator": ("操作员", "operator"),
        "admin": ("管理员", "admin"),
    },
    "by": {
        "all": ("全部", "all"),
        "area": ("台区", "area"),
        "gateway": ("集中器", "concentrator"),
        "protocol": ("规约", "protocol"),
        "customer_class": ("用户类别", "customer class"),
        "org": ("供电单位", "organisation"),
    },
}
CODES["reread_status"] = CODES["status"]
CODES["cause"] = CODES["reason"]
CODES["last_good_kind"] = {
    "freeze": ("日冻结", "daily freeze"),
    "register": ("示值", "register read"),
}
CODES["command_status"] = CODES["status"]
CODES["outcome"] = {
    "ok": ("成功", "ok"),
    "partial": ("部分成功", "partial"),
    **CODES["status"],
    # a re-read batch's items
    "read": ("已抄到", "read"),
    "failed": ("未抄到", "failed"),
    "not_rereadable": ("不可补抄", "not re-readable"),
}

WORDS: dict[str, tuple[str, str]] = {
    "yes": ("是", "yes"),
    "no": ("否", "no"),
    "exported": ("导出时间", "exported"),
    "filters": ("筛选", "filters"),
    "rows": ("行数", "rows"),
}


def looks_like_formula(value: object) -> bool:
    """A text value a spreadsheet program would evaluate (numbers never are text)."""
    return isinstance(value, str) and value.startswith(FORMULA_STARTS)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    return f"'{value}" if looks_like_formula(value) else value


# --- the request: format, language, time zone ------------------------------------------


def language(accept: str | None) -> Lang:
    """The language an ``Accept-Language`` header asks for: ``zh`` when its most wanted
    language is any ``zh*``, English for another one, Chinese without the header."""
    if not accept or not accept.strip():
        return "zh"
    best: tuple[float, int, str] | None = None
    for i, part in enumerate(accept.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            k, _, v = p.strip().partition("=")
            if k == "q":
                try:
                    q = float(v)
                except ValueError:
                    q = 0.0
        if tag and q > 0 and (best is None or (q, -i) > (best[0], best[1])):
            best = (q, -i, tag.strip().lower())
    if best is None or best[2] == "*":
        return "zh"
    return "zh" if best[2].startswith("zh") else "en"


@dataclass(frozen=True)
class Output:
    """What the caller asked for: JSON or a file, in which language and time zone."""

    format: Format
    lang: Lang
    tz: tzinfo
    now: datetime


def output(
    request: Request,
    settings: SettingsDep,
    clock: ClockDep,
    format: Annotated[
        Format, Query(description="json (default), or csv/xlsx for the whole table as a file")
    ] = "json",
    lang: Annotated[
        Lang | None,
        Query(
            description="the language of the file's headers and of any words the answer "
            "carries (default: from Accept-Language, zh for zh*, zh without it)"
        ),
    ] = None,
) -> Output:
    chosen = lang or language(request.headers.get("accept-language"))
    return Output(format, chosen, settings.tz, clock.now())


Out = Annotated[Output, Depends(output)]


# --- values ------------------------------------------------------------------------------


def _column(key: str) -> Column:
    """The field's column; ``field@suffix`` (a field repeated per month, say) is the
    field's kind, its header given by the route's labels."""
    return COLUMNS.get(key) or COLUMNS.get(key.partition("@")[0]) or Column(key, key)


Labels = Mapping[str, tuple[str, str]]


def header(key: str, lang: Lang, labels: Labels | None = None) -> str:
    if labels and key in labels:
        return labels[key][0 if lang == "zh" else 1]
    c = _column(key)
    return c.zh if lang == "zh" else c.en


def _word(word: str, lang: Lang) -> str:
    zh, en = WORDS[word]
    return zh if lang == "zh" else en


def _round(value: float | Decimal, digits: int | None) -> float | int:
    if isinstance(value, Decimal):
        value = float(value)
    if not math.isfinite(value):
        return value
    if digits is None:  # a number of a column not known: at most 4 decimals
        digits = 4
    out = round(value, digits)
    return int(out) if out == int(out) and abs(out) < 2**53 and digits == 0 else out


def local(value: datetime, tz: tzinfo) -> datetime:
    """An instant as the utility's local wall time, to the second, without a zone (a
    spreadsheet cell has none; the title row names the zone)."""
    if value.tzinfo is not None:
        value = value.astimezone(tz)
    return value.replace(tzinfo=None, microsecond=0)


def readable(value: Any, lang: Lang) -> str:
    """A nested value as text a person reads: ``key: value; ...`` for objects, a comma list
    for lists."""
    if isinstance(value, dict):
        return "; ".join(
            f"{header(k, lang)}: {_code(k, v, lang) if isinstance(v, str) else readable(v, lang)}"
            for k, v in value.items()
        )
    if isinstance(value, (list, tuple)):
        return ", ".join(readable(v, lang) for v in value)
    if isinstance(value, bool):
        return _word("yes" if value else "no", lang)
    if isinstance(value, float | Decimal):
        return _text_number(_round(value, None))
    if value is None:
        return ""
    return str(value)


def _code(key: str, value: str, lang: Lang) -> str:
    """A known code as its word in the language, any other text as it is."""
    words = CODES.get(key, {}).get(value)
    return value if words is None else words[0 if lang == "zh" else 1]


def _text_number(value: float | int) -> str:
    if isinstance(value, float) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return str(value)


def cell_value(key: str, value: Any, out: Output) -> Any:
    """A value as the file holds it: a number, a local date or time, or text."""
    if value is None:
        return None
    kind = _column(key).kind
    if isinstance(value, bool):
        return _word("yes" if value else "no", out.lang)
    if isinstance(value, int):
        return value
    if isinstance(value, float | Decimal):
        return _round(value, 0 if kind == "int" else DIGITS.get(kind))
    if isinstance(value, datetime):
        return local(value, out.tz)
    if isinstance(value, date | time):
        return value
    if isinstance(value, str):
        return _code(key, value, out.lang) if kind == "code" else value
    return readable(value, out.lang)


def _number_format(key: str, value: Any) -> str | None:
    if isinstance(value, datetime):
        return FORMATS["datetime"]
    if isinstance(value, date):
        return FORMATS["date"]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    kind = _column(key).kind
    if kind in FORMATS and kind not in ("date", "datetime"):
        return FORMATS[kind]
    return "0" if isinstance(value, int) else None


def _csv_text(key: str, value: Any) -> Any:
    """A value as CSV text: rates as percentages (``98.12%``, which spreadsheet programs read
    as the number), times without the zone, numbers without float noise."""
    if isinstance(value, float | int) and not isinstance(value, bool):
        if _column(key).kind == "percent":
            return f"{value * 100:.2f}%"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return _text_number(value)
    return value


def _width(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, datetime):
        return 19
    if isinstance(value, date):
        return 10
    text = str(value)
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text[:200])


# --- files -------------------------------------------------------------------------------


def columns_of(rows: Sequence[Row], preferred: Sequence[str] = ()) -> list[str]:
    """The columns of the rows, in the rows' order (``preferred`` first when given)."""
    cols: list[str] = [c for c in preferred]
    seen = set(cols)
    for r in rows[:1000]:
        for k in r:
            if k not in seen:
                seen.add(k)
                cols.append(k)
    return cols or ["id"]


def title_of(what: tuple[str, str], scope: Mapping[str, Any], out: Output, rows: int) -> str:
    """The title row: what, for which date and filters, when exported (local time, zone)."""
    name = what[0] if out.lang == "zh" else what[1]
    parts = [name]
    shown = [
        f"{header(k, out.lang)} {readable(cell_value(k, v, out), out.lang)}"
        for k, v in scope.items()
        if v is not None and v != ""
    ]
    if shown:
        sep = "；" if out.lang == "zh" else "; "
        parts.append(sep.join(shown))
    tzname = getattr(out.tz, "key", str(out.tz))
    stamp = local(out.now, out.tz).strftime("%Y-%m-%d %H:%M:%S")
    parts.append(f"{_word('exported', out.lang)} {stamp} ({tzname})")
    parts.append(f"{_word('rows', out.lang)} {rows:,}")
    return "  |  ".join(parts)


def render(
    rows: Sequence[Row],
    out: Output,
    *,
    name: str,
    what: tuple[str, str],
    scope: Mapping[str, Any],
    columns: Sequence[str] = (),
    labels: Labels | None = None,
) -> Response:
    """The rows as a CSV or XLSX file (see the module's docstring)."""
    cols = columns_of(rows, columns)
    heads = [header(c, out.lang, labels) for c in cols]
    values = [[cell_value(c, r.get(c), out) for c in cols] for r in rows]
    filename = f"{name}-{out.lang}"
    if out.format == "csv":
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow([csv_cell(h) for h in heads])
        for vs in values:
            w.writerow([_csv_text(c, csv_cell(v)) for c, v in zip(cols, vs, strict=True)])
        return Response(
            buf.getvalue().encode("utf-8-sig"),
            media_type=CSV,
            headers={"Content-Disposition": f'attachment; filename="{filename}.csv"'},
        )
    return Response(
        xlsx(cols, heads, values, title_of(what, scope, out, len(rows)), out.lang),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="{filename}.xlsx"'},
    )


TITLE_FONT = Font(bold=True, size=13)
HEAD_FONT = Font(bold=True)
HEAD_FILL = PatternFill("solid", fgColor="DDEBF7")
WRAP = Alignment(vertical="top")


def xlsx(
    cols: Sequence[str],
    heads: Sequence[str],
    values: Iterable[Sequence[Any]],
    title: str,
    lang: Lang,
) -> bytes:
    """One sheet: the title row, the header row (frozen, with a filter), the values with
    their number formats, columns as wide as their contents (at most 60 characters)."""
    rows = values if isinstance(values, list) else list(values)
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("报表" if lang == "zh" else "Report")
    widths = [_width(h) for h in heads]
    for vs in rows[:5000]:  # a sample is enough to size the columns
        for i, v in enumerate(vs):
            widths[i] = max(widths[i], _width(v))
    for i, w in enumerate(widths, start=1):
        ws.column_dimensions[get_column_letter(i)].width = min(60, max(8, w + 2))
    ws.freeze_panes = "A3"
    last = get_column_letter(len(cols))
    ws.auto_filter.ref = f"A2:{last}{len(rows) + 2}"
    t = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", title))
    t.font = TITLE_FONT
    ws.append([t])
    head_cells = []
    for h in heads:
        c = WriteOnlyCell(ws, value=ILLEGAL_CHARACTERS_RE.sub("\ufffd", h))
        c.font = HEAD_FONT
        c.fill = HEAD_FILL
        if looks_like_formula(h):
            c.data_type = "s"
        head_cells.append(c)
    ws.append(head_cells)
    formats: dict[tuple[int, type], str | None] = {}
    for vs in rows:
        line: list[Any] = []
        for i, v in enumerate(vs):
            if v is None:
                line.append(None)
                continue
            if isinstance(v, str):
                # control characters XML cannot carry (a gateway's text, a payload) are shown
                # as the replacement character
                v = ILLEGAL_CHARACTERS_RE.sub("\ufffd", v)
                if looks_like_formula(v):
                    c = WriteOnlyCell(ws, value=v)
                    c.data_type = "s"  # text, not the formula openpyxl would make of it
                    c.quotePrefix = True  # and Excel keeps it text when the cell is edited
                    line.append(c)
                else:
                    line.append(v)
                continue
            key = (i, type(v))
            if key not in formats:
                formats[key] = _number_format(cols[i], v)
            fmt = formats[key]
            if fmt is None:
                line.append(v)
            else:
                c = WriteOnlyCell(ws, value=v)
                c.number_format = fmt
                line.append(c)
        ws.append(line)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


# --- the one mechanism every list uses ---------------------------------------------------

Fetch = Callable[[int, int], tuple[list[Row], int]]


def at_hand(rows: Sequence[Row]) -> Fetch:
    """The :data:`Fetch` of rows already all at hand (filtered on the server): a page is
    their slice, the total their number."""
    return lambda limit, offset: (list(rows[offset : offset + limit]), len(rows))


def export(
    conn: psycopg.Connection[Any],
    principal: Principal,
    out: Output,
    rows: Sequence[Row],
    *,
    report: str,
    what: tuple[str, str],
    scope: Mapping[str, Any],
    columns: Sequence[str] = (),
    labels: Labels | None = None,
) -> Response:
    """A report's rows as the file ``out`` asks for, the export audited (who, which report
    and filters, how many rows, which personal details it carried)."""
    if out.format == "json":
        raise ValueError("export() is for files; answer JSON with the route's model")
    record_export(
        conn,
        actor=current_actor(principal),
        report=report,
        fmt=out.format,
        rows=list(rows),
        filters=dict(scope),
    )
    day = scope.get("date")
    name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{report}-{day}" if day else report)[:100]
    return render(rows, out, name=name, what=what, scope=scope, columns=columns, labels=labels)


def listing(
    conn: psycopg.Connection[Any],
    principal: Principal,
    out: Output,
    page: Page,
    fetch: Fetch,
    *,
    report: str,
    what: tuple[str, str],
    scope: Mapping[str, Any],
    columns: Sequence[str] = (),
    labels: Labels | None = None,
    extra: Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None = None,
) -> Any:
    """A list route's answer: the page ``{"items", "total", "limit", "offset"}`` (and
    ``extra``), or with ``?format=csv|xlsx`` the whole filtered table as a file (paging
    ignored; 422 beyond :data:`MAX_EXPORT_ROWS` rows: narrow the filters). ``extra`` may be
    a function, called after ``fetch`` (for fields the fetch finds out)."""
    if out.format == "json":
        items, total = fetch(page.limit, page.offset)
        more = extra() if callable(extra) else extra
        return {
            "items": items,
            "total": int(total),
            "limit": page.limit,
            "offset": page.offset,
            **(more or {}),
        }
    rows, total = fetch(MAX_EXPORT_ROWS, 0)
    if total > MAX_EXPORT_ROWS:
        raise HTTPException(
            422,
            f"format: {total:,} rows match, more than the {MAX_EXPORT_ROWS:,} a file may "
            "carry; narrow the filters",
        )
    return export(
        conn,
        principal,
        out,
        rows,
        report=report,
        what=what,
        scope=scope,
        columns=columns,
        labels=labels,
    )
