"""Pushes of the 快递100 stand-in to a subscriber's callbackurl.

A push is a form POST: `param` (JSON: status, message, lastResult with the full history, newest
first) and `sign` = MD5(param + salt) hex upper when the subscription has a salt. The receiver must
answer `{"result": true, "returnCode": "200", ...}` within `courier_push_timeout`; anything else is
a failed attempt, resent on `courier_push_retry_delays` (快递100's own schedule is unpublished).
Every attempt is logged. Delivery never holds the sandbox lock.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from .context import Sandbox
from .courier_state import Courier, Tracked, last_result


@dataclass
class Push:
    push_id: int
    com: str
    number: str
    url: str
    salt: str | None
    param: str  # the exact text signed and sent
    status: str  # polling | shutdown | abort
    state: str
    kind: str = "push"  # push | older (an earlier push delivered again, out of order)
    bad_sign: bool = False


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def push_param(tracked: Tracked, status: str, message: str = "") -> str:
    body = {
        "status": status,
        "billstatus": "check" if status == "shutdown" else "got",
        "message": message,
        "autoCheck": "0",
        "comOld": "",
        "comNew": "",
        "lastResult": last_result(tracked),
    }
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))


def _form(push: Push) -> dict[str, str]:
    form = {"param": push.param}
    if push.salt is not None:
        signed = push.param + ("tampered" if push.bad_sign else "")
        form["sign"] = md5_upper(signed + push.salt)
    return form


def _attempt(sb: Sandbox, courier: Courier, push: Push, generation: int, attempt: int, copy: int):
    result: dict[str, Any] = {"http_status": None, "reply": None, "ok": False}
    try:
        with requests.Session() as session:
            session.trust_env = False  # a local receiver must not be reached through a proxy
            response = session.post(
                push.url, data=_form(push), timeout=float(sb.settings["courier_push_timeout"])
            )
        result["http_status"] = response.status_code
        result["reply"] = response.text[:300]
        reply = response.json() if response.status_code == 200 else None
        result["ok"] = (
            isinstance(reply, dict)
            and reply.get("result") is True
            and str(reply.get("returnCode")) == "200"
        )
    except Exception as error:  # unreachable, timed out or not JSON: a failed attempt
        result["error"] = f"{type(error).__name__}: {error}"[:300]
    entry = {
        "push_id": push.push_id,
        "kind": push.kind,
        "com": push.com,
        "number": push.number,
        "url": push.url,
        "status": push.status,
        "state": push.state,
        "signed": push.salt is not None,
        "bad_sign": push.bad_sign,
        "attempt": attempt,
        "copy": copy,
        "at": time.time(),
        **result,
    }
    with sb.state.lock:
        data = courier.current(sb)
        if data.generation == generation:
            data.pushes.append(entry)
    return entry


def _retry(sb: Sandbox, courier: Courier, push: Push, generation: int) -> None:
    for attempt, delay in enumerate(sb.settings["courier_push_retry_delays"], start=2):
        if not sb.state.pause(float(delay), generation):
            return
        if _attempt(sb, courier, push, generation, attempt, copy=1)["ok"]:
            return


def deliver(
    sb: Sandbox, courier: Courier, pushes: list[tuple[Push, int]], *, wait: bool
) -> list[dict] | None:
    """Send each (push, copies) in order; failed ones are retried in the background (a forged
    push is sent once). With `wait`, the first round runs here and its attempts are returned."""
    with sb.state.lock:
        generation = sb.state.generation

    def first_round() -> list[dict]:
        entries = []
        for push, copies in pushes:
            results = [
                _attempt(sb, courier, push, generation, 1, copy) for copy in range(1, copies + 1)
            ]
            entries += results
            if not push.bad_sign and not any(r["ok"] for r in results):
                threading.Thread(
                    target=_retry, args=(sb, courier, push, generation), daemon=True
                ).start()
        return entries

    if wait:
        return first_round()
    threading.Thread(target=first_round, daemon=True).start()
    return None


def make_push(
    sb: Sandbox, courier: Courier, tracked: Tracked, status: str, message: str = ""
) -> Push:
    """The push for the tracked number's current history (caller holds the lock)."""
    subscription = tracked.subscription
    assert subscription is not None
    data = courier.current(sb)
    return Push(
        push_id=courier.next_push_id(),
        com=tracked.com,
        number=tracked.number,
        url=subscription.callbackurl,
        salt=subscription.salt,
        param=push_param(tracked, status, message),
        status=status,
        state=tracked.state or "0",
        bad_sign=data.faults.take_bad_sign(),
    )
