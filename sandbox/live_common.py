"""Small rules shared by the live-room, goods and media stand-ins. Callers hold the sandbox lock."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .times import CST

QUOTA_ERRMSG = "reach max api daily quota limit"


class WeChatErrorWithData(WeChatError):
    """An errcode answer that carries extra fields, e.g. 300036 with `qrcode_url`."""

    def __init__(self, errcode: int, errmsg: str, **extra: Any):
        super().__init__(errcode, errmsg)
        self.extra = extra

    def body(self) -> dict:
        return {**super().body(), **self.extra}


def text_width(text: str) -> int:
    """Length as the live docs count it: "1个汉字相当于2个字符" (a Chinese character is 2)."""
    return sum(1 if ord(char) < 128 else 2 for char in text)


def is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def body_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WeChatError(47001, "data format error")
    return body


def required_int(body: dict[str, Any], key: str) -> int:
    value = body.get(key)
    if not is_int(value):
        raise WeChatError(200002, f"invalid args, {key} must be a number")
    return value


def spend_quota(
    sb: Sandbox, api: str, limit_key: str, errcode: int = 45009, errmsg: str = QUOTA_ERRMSG
) -> None:
    """Count one call against a daily quota; quotas reset at midnight China time, as WeChat's."""
    day = datetime.fromtimestamp(sb.wechat_now(), CST).date().isoformat()
    used = sb.state.wxa.quota_used
    if used[(api, day)] >= int(sb.settings[limit_key]):
        raise WeChatError(errcode, errmsg)
    used[(api, day)] += 1
