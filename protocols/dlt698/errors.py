"""The one exception tree of the DL/T 698.45 codec.

Three kinds of failure are kept apart on purpose (as in :mod:`protocols.dlt645.errors`):

* :class:`RequestError` — *we* asked for something that cannot be put on the wire (a
  malformed address, a value that does not fit its type, an unknown object for a
  builder that needs the catalogue). Retrying will not help.
* :class:`FrameError` — *the peer* sent bytes that are not a valid frame, APDU or A-XDR
  datum, or a valid answer that does not answer our request. Retrying may help.
* :class:`DarError` — neither: the meter understood us and refused with a DAR code
  (数据访问结果). The parsers *return* DAR codes as data; :meth:`raise_for_dar` and the
  client helpers raise this for callers who prefer an exception.
"""

from __future__ import annotations

from typing import Final


class Dlt698Error(Exception):
    """Base class of every error raised by :mod:`protocols.dlt698`."""


class RequestError(Dlt698Error, ValueError):
    """We built a bad request, or a value cannot be encoded."""


class FrameError(Dlt698Error):
    """The peer sent bytes that are not a valid frame, APDU or datum, or not an answer."""


class UnknownObjectError(RequestError, KeyError):
    """No catalogue entry for an OI/OAD or quantity (also a KeyError)."""

    def __str__(self) -> str:  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


#: DAR (Data-Access-Result) codes of DL/T 698.45, with the names this codebase uses.
DAR_NAMES: Final[dict[int, str]] = {
    0: "success",
    1: "hardware_fault",  # 硬件失效
    2: "temporary_failure",  # 暂时失效
    3: "read_write_denied",  # 拒绝读写
    4: "object_undefined",  # 对象未定义
    5: "object_class_inconsistent",  # 对象接口类不符合
    6: "object_unavailable",  # 对象不存在
    7: "type_unmatched",  # 类型不匹配
    8: "scope_of_access_violated",  # 越界
    9: "data_block_unavailable",  # 数据块不可用
    10: "long_get_aborted",  # 分帧传输已取消
    11: "no_long_get_in_progress",  # 不处于分帧传输状态
    12: "long_write_aborted",  # 块写取消
    13: "no_long_write_in_progress",  # 不存在块写状态
    14: "data_block_number_invalid",  # 数据块序号无效
    15: "password_error_or_unauthorized",  # 密码错/未授权
    16: "baud_rate_unchangeable",  # 通信速率不能更改
    17: "year_zone_count_exceeded",  # 年时区数超
    18: "day_period_count_exceeded",  # 日时段数超
    19: "tariff_count_exceeded",  # 费率数超
    20: "security_authentication_mismatch",  # 安全认证不匹配
    21: "repeated_recharge",  # 重复充值
    22: "esam_verification_failed",  # ESAM 验证失败
    23: "security_authentication_failed",  # 安全认证失败
    24: "customer_number_mismatch",  # 客户编号不匹配
    25: "recharge_count_error",  # 充值次数错误
    26: "purchase_exceeds_hoarding",  # 购电超囤积
    27: "address_abnormal",  # 地址异常
    28: "symmetric_decryption_error",  # 对称解密错误
    29: "asymmetric_decryption_error",  # 非对称解密错误
    30: "signature_error",  # 签名错误
    31: "meter_suspended",  # 电能表挂起
    32: "time_tag_invalid",  # 时间标签无效
    33: "request_timeout",  # 请求超时
    34: "esam_p1p2_incorrect",  # ESAM 的 P1P2 不正确
    35: "esam_lc_error",  # ESAM 的 LC 错误
    36: "comparison_failed",  # 比对失败
    255: "other_reason",  # 其它
}


def dar_name(code: int) -> str:
    """The name of a DAR code (``"object_unavailable"``), ``"dar_XX"`` if unknown."""
    return DAR_NAMES.get(code, f"dar_{code:02X}")


class DarError(Dlt698Error):
    """A meter refused an object with a DAR code (``code``, ``name``, ``target``)."""

    def __init__(self, code: int, target: str = "", address: str = "") -> None:
        self.code = code
        self.name = dar_name(code)
        self.target = target
        self.address = address
        where = f" {target}" if target else ""
        who = f"meter {address}" if address else "meter"
        super().__init__(f"{who} refused{where}: DAR {code} ({self.name})")


def raise_for_dar(code: int | None, target: str = "", address: str = "") -> None:
    """Raise :class:`DarError` unless ``code`` is None or 0 (success)."""
    if code:
        raise DarError(code, target, address)
