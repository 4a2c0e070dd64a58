"""The platforms' order message pushes (api-facts §7.5): verifying a push's signature over the
raw body, reading which shop's which order it names, and the reply each platform takes as
success. Only what to re-read is taken from a push, never an order's state.

Douyin: POST a JSON array of `{tag, msg_id, data (JSON text)}`, headers `app-id` and
`event-sign = md5_hex(app_key + raw_body + app_secret)`; answer `{"code": 0, "msg": "success"}`;
tag "0" is the test push sent when the URL is saved.
Youzan: POST one JSON message, header `Event-Sign = md5_hex(client_id + raw_body +
client_secret)` (and `Event-Type`); `kdt_id` the shop, `msg` URL-encoded JSON with `tid`; answer
HTTP 200 with `"msg": "success"`.
Taobao's TMC (binary WebSocket frames), Pinduoduo's message WebSocket and JD's JMQ are not
received: those shops stay on the pulls.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote

from backend.timeutil import SHANGHAI

PUSHING = ("douyin", "youzan")
REPLIES = {
    "douyin": {"code": 0, "msg": "success"},
    "youzan": {"code": 0, "msg": "success"},
}


class BadPush(Exception):
    """A push we refuse: unsigned, wrongly signed or unreadable."""


@dataclass(frozen=True)
class PushedChange:
    """One message: (platform, message id) is unique; `at` (naive UTC) when the platform says
    the order changed, if it says."""

    platform: str
    message_id: str
    shop_key: str
    order_id: str
    event: str
    at: datetime | None


def _md5_matches(key: str, raw: bytes, secret: str, given: str | None) -> bool:
    if not given:
        return False
    expected = hashlib.md5(key.encode() + raw + secret.encode()).hexdigest()
    return hmac.compare_digest(expected, given.strip().lower())


def _utc(unix) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(unix), UTC).replace(tzinfo=None)
    except (TypeError, ValueError, OverflowError):
        return None


def parse(platform: str, headers, raw: bytes, key: str, secret: str) -> list[PushedChange]:
    """The changes a push names, once its signature checks out (BadPush otherwise)."""
    if platform == "douyin":
        if headers.get("app-id") != key or not _md5_matches(
            key, raw, secret, headers.get("event-sign")
        ):
            raise BadPush("event-sign 校验失败")
        return _douyin(raw)
    if platform == "youzan":
        if not _md5_matches(key, raw, secret, headers.get("Event-Sign")):
            raise BadPush("Event-Sign 校验失败")
        return _youzan(raw)
    raise BadPush(f"{platform} 不推送消息")


def _douyin(raw: bytes) -> list[PushedChange]:
    try:
        messages = json.loads(raw)
        changes = []
        for message in messages:
            if str(message["tag"]) == "0":  # the test push when the URL is saved
                continue
            data = json.loads(message["data"])
            changes.append(
                PushedChange(
                    platform="douyin",
                    message_id=str(message["msg_id"]),
                    shop_key=str(data["shop_id"]),
                    order_id=str(data["p_id"]),
                    event=str(message["tag"]),
                    at=_utc(data.get("update_time") or data.get("pay_time")),
                )
            )
        return changes
    except (ValueError, KeyError, TypeError) as error:
        raise BadPush(f"消息无法解析：{error}") from None


def _youzan(raw: bytes) -> list[PushedChange]:
    try:
        message = json.loads(raw)
        if message.get("test"):
            return []
        msg = json.loads(unquote(message["msg"]))
        at = None
        if msg.get("update_time"):
            local = datetime.strptime(msg["update_time"], "%Y-%m-%d %H:%M:%S")
            at = local.replace(tzinfo=SHANGHAI).astimezone(UTC).replace(tzinfo=None)
        return [
            PushedChange(
                platform="youzan",
                message_id=str(message["id"]),
                shop_key=str(message["kdt_id"]),
                order_id=str(msg["tid"]),
                event=str(message["type"]),
                at=at,
            )
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise BadPush(f"消息无法解析：{error}") from None
