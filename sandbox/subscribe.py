"""`subscribeMessage.send`: one-time subscription credits and the per-type value rules (47003).

The rules follow the table "订阅消息参数值内容限制说明" of the sendMessage doc.
A key's type is its name without trailing digits (`thing3` -> `thing`).
Callers hold the sandbox lock.
"""

from __future__ import annotations

import re
import time
from typing import Any

from .context import Sandbox
from .errors import WeChatError

_CJK = "\u3400-\u4dbf\u4e00-\u9fff"
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HAS_CJK = re.compile(f"[{_CJK}]")
_CJK_ONLY = re.compile(f"^[{_CJK}]+$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
_LETTER = re.compile(r"^[A-Za-z]+$")
_ASCII_VISIBLE = re.compile(r"^[\x20-\x7e]+$")
_PHONE = re.compile(r"^[0-9+\-() ]+$")
_AMOUNT = re.compile(r"^[¥￥$]?\d{1,10}(\.\d{1,2})?元?$")
_DATE = r"\d{4}(-\d{1,2}-\d{1,2}|/\d{1,2}/\d{1,2}|年\d{1,2}月\d{1,2}日)"
_CLOCK = r"([01]?\d|2[0-3]):[0-5]\d(:[0-5]\d)?"
_TIME_POINT = re.compile(f"^({_DATE}\\s*)?{_CLOCK}$")
_DATE_POINT = re.compile(f"^{_DATE}(\\s*{_CLOCK})?$")

MINIPROGRAM_STATES = ("developer", "trial", "formal")
LANGS = ("zh_CN", "en_US", "zh_HK", "zh_TW")


def _range_of(pattern: re.Pattern, value: str) -> bool:
    """time/date values may be a single point or a range `a~b`."""
    parts = [part.strip() for part in value.split("~")]
    return len(parts) <= 2 and all(pattern.match(part) for part in parts)


def _check_name(value: str) -> str | None:
    if _HAS_CJK.search(value):  # mixed names count as Chinese names
        return None if len(value) <= 10 else "exceeds 10 chinese characters"
    return None if len(value) <= 20 else "exceeds 20 letters"


# type -> function(value) -> reason it is invalid, or None
RULES = {
    "thing": lambda v: None if len(v) <= 20 else "exceeds 20 characters",
    "number": lambda v: None if len(v) <= 32 and _NUMBER.match(v) else "must be a number (<=32)",
    "letter": lambda v: None if len(v) <= 32 and _LETTER.match(v) else "must be letters (<=32)",
    "symbol": lambda v: None if len(v) <= 5 and not any(c.isalnum() for c in v) else "bad symbol",
    "character_string": lambda v: (
        None if len(v) <= 32 and _ASCII_VISIBLE.match(v) else "must be <=32 letters/digits/symbols"
    ),
    "time": lambda v: None if _range_of(_TIME_POINT, v) else "must be a 24h time",
    "date": lambda v: None if _range_of(_DATE_POINT, v) else "must be a date",
    "amount": lambda v: None if _AMOUNT.match(v) else "must be an amount like ¥12.50",
    "phone_number": lambda v: None if len(v) <= 17 and _PHONE.match(v) else "bad phone number",
    "car_number": lambda v: None if len(v) <= 8 else "exceeds 8 characters",
    "name": _check_name,
    "phrase": lambda v: None if len(v) <= 5 and _CJK_ONLY.match(v) else "must be <=5 chinese chars",
}


def key_type(key: str) -> str:
    return key.rstrip("0123456789")


def check_template_keys(keys: list[str]) -> None:
    """Raise ValueError when a template declares a key of an unknown type."""
    for key in keys:
        if key_type(key) not in RULES or key_type(key) == key:
            raise ValueError(
                f"bad template key {key!r}: expected <type><digits>, types {list(RULES)}"
            )


def _check_data(keys: list[str], data: Any) -> None:
    if not isinstance(data, dict):
        raise WeChatError(47003, "argument invalid! data is not an object")
    for key in keys:
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        if not isinstance(value, str) or not value:
            raise WeChatError(47003, f"argument invalid! data.{key}.value is empty")
        reason = "contains control characters" if _CONTROL.search(value) else None
        reason = reason or RULES[key_type(key)](value)
        if reason:
            raise WeChatError(47003, f"argument invalid! data.{key}.value {reason}")


def _check_page(sb: Sandbox, page: Any) -> None:
    pages = sb.settings.get("pages")
    if page is None or pages is None:
        return
    path = str(page).split("?", 1)[0].lstrip("/")
    if path not in pages:
        raise WeChatError(41030, "invalid page")


def send(sb: Sandbox, body: Any) -> dict[str, Any]:
    """Validate like the platform does, spend one credit, record the message."""
    wx = sb.state.wechat
    if not isinstance(body, dict):
        raise WeChatError(47001, "data format error")
    touser = body.get("touser")
    if not touser or touser not in wx.known_openids:
        raise WeChatError(40003, "invalid openid")
    template_id = body.get("template_id")
    keys = wx.templates.get(template_id) if isinstance(template_id, str) else None
    if keys is None:
        raise WeChatError(40037, "invalid template_id")
    _check_data(keys, body.get("data"))
    _check_page(sb, body.get("page"))
    state = body.get("miniprogram_state", "formal")
    if state not in MINIPROGRAM_STATES:
        raise WeChatError(47003, "argument invalid! miniprogram_state")
    lang = body.get("lang", "zh_CN")
    if lang not in LANGS:
        raise WeChatError(47003, "argument invalid! lang")
    if wx.credits[(touser, template_id)] <= 0:
        raise WeChatError(43101, "user refuse to accept the msg")
    wx.credits[(touser, template_id)] -= 1
    msgid = sb.state.ids.take("subscribe_msgid")
    wx.messages.append(
        {
            "msgid": msgid,
            "touser": touser,
            "template_id": template_id,
            "page": body.get("page"),
            "data": body.get("data"),
            "miniprogram_state": state,
            "lang": lang,
            "sent_at": time.time(),
        }
    )
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}
