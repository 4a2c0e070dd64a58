"""消息推送 of the shipping stand-in: the sandbox plays WeChat calling the mini-program's message
URL with `trade_manage_order_settlement` and `trade_manage_remind_shipping` events.

JSON, plain mode: the query carries `signature = sha1(sorted(token, timestamp, nonce))`, `timestamp`
and `nonce` (api-facts §1.8, the scheme message pushes share), the token is `WXA_MESSAGE_TOKEN`.
The receiver must answer HTTP 2xx with `success` (or an empty body); anything else, or no answer
within `wxa_push_timeout`, is retried after each of `wxa_push_retry_delays`. In duplicate mode
every push leaves twice, byte for byte the same request. Never holds the lock during HTTP.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from typing import Any

import requests

from .context import Sandbox
from .wechat_shipping_state import ShippingData, shipping_data

ACKS = ("success", "")


def sign(token: str, timestamp: str, nonce: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce])).encode()).hexdigest()


def message_url(sb: Sandbox, data: ShippingData) -> str | None:
    return data.message_url or sb.settings.get("wxa_message_url")


def _build(sb: Sandbox, data: ShippingData, item: dict[str, Any]) -> dict[str, Any]:
    fields = dict(item["fields"], merchant_id=sb.mchid)
    body = {
        "ToUserName": sb.settings["wxa_original_id"],
        "FromUserName": item["openid"],
        "CreateTime": int(sb.wechat_now()),
        "MsgType": "event",
        "Event": item["event"],
        **fields,
    }
    timestamp, nonce = str(int(time.time())), str(secrets.randbelow(9 * 10**9) + 10**9)
    query = {
        "signature": sign(sb.settings["WXA_MESSAGE_TOKEN"], timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
    }
    return {
        "event": item["event"],
        "transaction_id": fields["transaction_id"],
        "out_trade_no": fields["merchant_trade_no"],
        "url": message_url(sb, data),
        "query": query,
        "body": body,
        "raw": json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode(),
        "copies": 2 if data.faults.duplicate_pushes else 1,
    }


def flush(sb: Sandbox) -> None:
    """Send what the last calls queued, in order, from a background thread."""
    with sb.state.lock:
        data = shipping_data(sb)
        items, data.outbox = data.outbox, []
        pushes = [_build(sb, data, item) for item in items]
        generation = sb.state.generation
    if pushes:
        threading.Thread(target=_send_all, args=(sb, pushes, generation), daemon=True).start()


def _send_all(sb: Sandbox, pushes: list[dict[str, Any]], generation: int) -> None:
    for push in pushes:
        copies = range(1, push["copies"] + 1)
        results = [_attempt(sb, push, generation, attempt=1, copy=n) for n in copies]
        if push["url"] and not any(results):
            threading.Thread(target=_retry, args=(sb, push, generation), daemon=True).start()


def _retry(sb: Sandbox, push: dict[str, Any], generation: int) -> None:
    for attempt, delay in enumerate(sb.settings["wxa_push_retry_delays"], start=2):
        if not sb.state.pause(float(delay), generation):
            return
        if _attempt(sb, push, generation, attempt=attempt, copy=1):
            return


def _attempt(sb: Sandbox, push: dict[str, Any], generation: int, *, attempt: int, copy: int):
    """One POST; records it and answers whether the receiver acknowledged it."""
    status, reply, error = None, "", None
    if not push["url"]:
        error = "no message URL configured (wxa_message_url)"
    else:
        try:
            with requests.Session() as session:
                session.trust_env = False  # a local receiver must not be reached through a proxy
                response = session.post(
                    push["url"],
                    params=push["query"],
                    data=push["raw"],
                    headers={"Content-Type": "application/json", "User-Agent": "Mozilla/4.0"},
                    timeout=float(sb.settings["wxa_push_timeout"]),
                )
            status, reply = response.status_code, response.text[:300]
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
    ok = status is not None and 200 <= status < 300 and reply.strip() in ACKS
    with sb.state.lock:
        if generation == sb.state.generation:
            shipping_data(sb).pushes.append(
                {
                    "event": push["event"],
                    "transaction_id": push["transaction_id"],
                    "out_trade_no": push["out_trade_no"],
                    "url": push["url"],
                    "query": push["query"],
                    "body": push["body"],
                    "attempt": attempt,
                    "copy": copy,
                    "status": status,
                    "reply": reply,
                    "ok": ok,
                    "error": error,
                    "at": time.time(),
                }
            )
    return ok
