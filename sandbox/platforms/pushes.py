"""Message pushes of the Douyin and Youzan stand-ins (api-facts §7.5): when an order of a shop is
created, paid or changed, the platform POSTs a message to the app's push URL.

Douyin: a JSON array `[{"tag": "101", "msg_id": "...", "data": "<JSON text>"}, ...]` (several
messages per POST, `push_batch_size`), headers `app-id` (the app key) and
`event-sign = md5_hex(app_key + raw_body + app_secret)`; success is `{"code": 0, ...}`.
Tags: 100 TradeCreate, 101 TradePaid, 102 TradeSellerShip, 103 TradeSuccess, 106 TradeCanceled,
200 RefundCreated, 206 RefundSuccess.

Youzan: one message per POST, JSON `{client_id, id, kdt_id, kdt_name, type, status, msg
(URL-encoded JSON), mode, test, sendCount, version}`, headers `Client-Id`, `Event-Type` and
`Event-Sign = md5_hex(client_id + raw_body + client_secret)`; success is HTTP 200 with
`"msg": "success"`. The trade message names follow the platform's `trade_Trade*` family; the
refund ones and the `msg` fields beyond `tid` are UNVERIFIED (sandbox choices).

Faults per platform (`POST /sandbox/platforms/{p}/config`): `push_copies` (every POST leaves
that many times, the same message ids), `push_reverse` (a change's messages newest first),
`push_lost` (recorded, never sent), `push_readable_after_seconds` (the order API lists the
changed order only that much later). A POST without the success reply is resent after each of
`push_retry_delays`. Every attempt is recorded (`GET /sandbox/platforms/{p}/pushes`). Nothing
here holds the lock during HTTP.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from datetime import datetime
from typing import Any
from urllib.parse import quote

import requests

from ..context import Sandbox
from ..times import CST
from . import douyin, youzan
from .orders import Order
from .store import PlatformData

PUSHING = ("douyin", "youzan")
DOUYIN_TAGS = {
    "created": "100",
    "paid": "101",
    "shipped": "102",
    "completed": "103",
    "cancelled": "106",
    "refunding": "200",
    "refunded": "206",
}
YOUZAN_TYPES = {
    "created": "trade_TradeCreate",
    "paid": "trade_TradeBuyerPay",
    "shipped": "trade_TradeSellerShip",
    "completed": "trade_TradeSuccess",
    "cancelled": "trade_TradeClose",
    "refunding": "trade_refund_BuyerCreated",
    "refunded": "trade_refund_RefundSuccess",
}


def md5_hex(text: bytes) -> str:
    return hashlib.md5(text).hexdigest()


def _int_or_str(value: str) -> int | str:
    return int(value) if value.isdigit() else value


def _douyin_message(data: PlatformData, order: Order, event: str, msg_id: str) -> dict:
    status, _ = douyin.status_fields(order)
    body: dict[str, Any] = {
        "p_id": int(order.order_id),
        "s_ids": [int(order.order_id) + n for n in range(1, len(order.items) + 1)],
        "shop_id": _int_or_str(order.shop_id),
        "order_status": status,
        "order_type": 0,
        "biz": 2,
        "create_time": order.create_time,
        "update_time": order.update_time,  # sandbox choice: when the change happened
    }
    if event == "paid":
        body.update(pay_time=order.pay_time, pay_amount=order.total_fen)
    data_text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return {"tag": DOUYIN_TAGS[event], "msg_id": msg_id, "data": data_text}


def _youzan_message(sb: Sandbox, data: PlatformData, order: Order, event: str, msg_id: str) -> dict:
    status, _ = youzan.status_fields(order)
    when = datetime.fromtimestamp(order.update_time, CST).strftime("%Y-%m-%d %H:%M:%S")
    msg = {"tid": order.order_id, "status": status, "update_time": when}
    return {
        "client_id": sb.platform_apps["youzan"][0],
        "id": msg_id,
        "kdt_id": _int_or_str(order.shop_id),
        "kdt_name": data.shop(order.shop_id).name,
        "type": YOUZAN_TYPES[event],
        "status": status,
        "msg": quote(json.dumps(msg, ensure_ascii=False, separators=(",", ":"))),
        "mode": 1,
        "test": False,
        "sendCount": 1,
        "version": order.update_time * 1000,
    }


def _messages(sb: Sandbox, platform: str, data: PlatformData) -> list[dict]:
    """The outbox as messages (caller holds the lock)."""
    messages = []
    for order_id, event in data.outbox:
        order = data.orders.get(order_id)
        if order is None or event not in DOUYIN_TAGS:
            continue
        msg_id = f"{int(time.time() * 1000)}{data.next_msg:06d}"
        data.next_msg += 1
        if platform == "douyin":
            messages.append(_douyin_message(data, order, event, msg_id))
        else:
            messages.append(_youzan_message(sb, data, order, event, msg_id))
    data.outbox = []
    if data.config.push_reverse:
        messages.reverse()
    return messages


def flush(sb: Sandbox, platform: str) -> None:
    """Push what the last change queued, from a background thread."""
    with sb.state.lock:
        data = sb.state.platforms[platform]
        if not data.outbox:
            return
        if platform not in PUSHING:
            data.outbox = []  # Taobao TMC and PDD's WebSocket: not stood in for (polled)
            return
        messages = _messages(sb, platform, data)
        config = data.config
        size = max(1, config.push_batch_size) if platform == "douyin" else 1
        posts = [messages[at : at + size] for at in range(0, len(messages), size)]
        plan = {
            "url": config.push_url,
            "copies": max(1, config.push_copies),
            "lost": config.push_lost,
            "delays": list(config.push_retry_delays),
            "timeout": float(sb.settings["platform_push_timeout"]),
        }
        generation = sb.state.generation
    if posts:
        threading.Thread(
            target=_send_all, args=(sb, platform, posts, plan, generation), daemon=True
        ).start()


def _send_all(sb: Sandbox, platform: str, posts: list[list[dict]], plan: dict, generation: int):
    for messages in posts:
        copies = range(1, plan["copies"] + 1)
        results = [_attempt(sb, platform, messages, plan, generation, 1, n) for n in copies]
        if plan["url"] and not plan["lost"] and not any(results):
            threading.Thread(
                target=_resend, args=(sb, platform, messages, plan, generation), daemon=True
            ).start()


def _resend(sb: Sandbox, platform: str, messages: list[dict], plan: dict, generation: int):
    for attempt, delay in enumerate(plan["delays"], start=2):
        if not sb.state.pause(float(delay), generation):
            return
        if _attempt(sb, platform, messages, plan, generation, attempt, 1):
            return


def signed(sb: Sandbox, platform: str, messages: list[dict], attempt: int):
    """(raw body, headers) of one POST, signed over the exact bytes sent."""
    key, secret = sb.platform_apps[platform]
    if platform == "douyin":
        raw = json.dumps(messages, ensure_ascii=False, separators=(",", ":")).encode()
        sign = md5_hex(key.encode() + raw + secret.encode())
        return raw, {"Content-Type": "application/json", "app-id": key, "event-sign": sign}
    [message] = messages
    raw = json.dumps({**message, "sendCount": attempt}, ensure_ascii=False).encode()
    sign = md5_hex(key.encode() + raw + secret.encode())
    headers = {
        "Content-Type": "application/json",
        "Client-Id": key,
        "Event-Type": message["type"],
        "Event-Sign": sign,
    }
    return raw, headers


def acknowledged(platform: str, status: int | None, reply: str) -> bool:
    if status != 200:
        return False
    try:
        answer = json.loads(reply)
    except ValueError:
        return False
    if not isinstance(answer, dict):
        return False
    if platform == "douyin":
        return answer.get("code") in (0, "0")
    return answer.get("msg") == "success"


def _attempt(
    sb: Sandbox,
    platform: str,
    messages: list[dict],
    plan: dict,
    generation: int,
    attempt: int,
    copy: int,
) -> bool:
    """One POST; records it and answers whether the receiver acknowledged it."""
    raw, headers = signed(sb, platform, messages, attempt)
    status, reply, error = None, "", None
    if plan["lost"]:
        error = "lost (push_lost)"
    elif not plan["url"]:
        error = "no push URL configured (push_url)"
    else:
        try:
            with requests.Session() as session:
                session.trust_env = False  # a local receiver must not be reached through a proxy
                response = session.post(
                    plan["url"], data=raw, headers=headers, timeout=plan["timeout"]
                )
            status, reply = response.status_code, response.text[:300]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
    ok = acknowledged(platform, status, reply)
    ids = [m.get("msg_id") or m.get("id") for m in messages]
    with sb.state.lock:
        if generation == sb.state.generation:
            sb.state.platforms[platform].pushes.append(
                {
                    "msg_ids": ids,
                    "events": [m.get("tag") or m.get("type") for m in messages],
                    "url": plan["url"],
                    "attempt": attempt,
                    "copy": copy,
                    "headers": headers,
                    "body": raw.decode(),
                    "http_status": status,
                    "reply": reply,
                    "error": error,
                    "ok": ok,
                    "at": time.time(),
                }
            )
    return ok
