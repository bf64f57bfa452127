"""Why a re-read meter-day was not read, in the clerk's language: the reason a batch item
keeps (the gateway's words for the meter-day, its command's error, or the server's) as a
stable code and its words in zh or en, as :func:`server.checks.completeness.reason_text`
does for the failed list. A text no code knows is kept as it came (a gateway's own
error detail), under the code ``other``."""

from __future__ import annotations

from typing import Literal

from protocols.vocabulary import ReadFailureKind, read_failure_kind

ReasonLang = Literal["zh", "en"]

#: code -> (zh, en); ``{d}`` is the detail after the gateway's ``kind:``
WORDS: dict[str, tuple[str, str]] = {
    "no_freeze_history": ("电表无冻结历史，无法补抄", "the meter keeps no freeze history"),
    "no_reading_back": ("集中器应答中没有该表该日的读数", "no reading came back"),
    "timeout": ("电表不应答（超时）", "meter not answering (timeout)"),
    "wrong_address": ("其他电表应答（地址错误）", "another meter answered (wrong address)"),
    "bad_reply": ("电表应答与请求不符", "the meter's reply does not answer the request"),
    "error_reply": ("电表拒绝（{d}）", "the meter refused ({d})"),
    "line": ("通信端口或线路故障", "the port or the line failed"),
    "unsupported": ("电表不支持该操作", "the meter cannot do this"),
    "backing_off": ("电表连续失败，暂停重试", "meter failing, retries paused"),
    "not_on_gateway": ("不在该集中器档案中", "not on this concentrator"),
    "cancelled": ("已取消（集中器重新加载）", "cancelled (the concentrator reloaded)"),
    "other": ("{d}", "{d}"),
}

#: the server's and the gateway's fixed reason texts -> code
_TEXTS = {
    "the meter keeps no freeze history": "no_freeze_history",
    "no reading came back": "no_reading_back",
    "not on this gateway": "not_on_gateway",
    "cancelled": "cancelled",
}
_KINDS = {
    ReadFailureKind.TIMEOUT: "timeout",
    ReadFailureKind.WRONG_ADDRESS: "wrong_address",
    ReadFailureKind.BAD_REPLY: "bad_reply",
    ReadFailureKind.ERROR_REPLY: "error_reply",
    ReadFailureKind.LINE: "line",
    ReadFailureKind.UNSUPPORTED: "unsupported",
    ReadFailureKind.BACKING_OFF: "backing_off",
}


def reason_code(reason: str) -> str:
    """The code of a batch item's reason text (``other`` for a text no code knows)."""
    if reason in _TEXTS:
        return _TEXTS[reason]
    kind = read_failure_kind(reason)
    return _KINDS[kind] if kind is not None else "other"


def describe(reason: str | None, lang: ReasonLang = "en") -> tuple[str | None, str | None]:
    """``(code, words in lang)`` of a batch item's reason; ``(None, None)`` without one."""
    if not reason:
        return None, None
    code = reason_code(reason)
    detail = reason.partition(":")[2].strip() if code == "error_reply" else reason
    return code, WORDS[code][0 if lang == "zh" else 1].format(d=detail or "–")
