"""State of the 快递100 stand-in: e-waybills, tracked numbers with their history, subscriptions,
scripted faults and the log of pushes.

It lives beside the rest of the sandbox state (in `app.extensions["courier"]`) and renews itself
when `POST /sandbox/reset` bumps the sandbox generation, so a reset clears it like every other
stand-in. Tracking numbers handed out stay handed out across resets. Callers hold the sandbox lock.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from flask import current_app

from .context import Sandbox, current_sandbox

CST = timezone(timedelta(hours=8))

# 快递100 company codes the stand-in knows -> how that carrier's numbers look (prefix, digits)
COMPANIES: dict[str, tuple[str, int]] = {
    "shunfeng": ("SF", 12),
    "zhongtong": ("78", 12),  # 14 digits
    "yuantong": ("YT", 13),
    "yunda": ("46", 11),  # 13 digits
    "shentong": ("773", 12),  # 15 digits
    "ems": ("1", 12),  # 13 digits
    "jd": ("JD", 13),
}

# control event -> (快递100 state, the Chinese status word of data[].status, a default context)
EVENTS: dict[str, tuple[str, str, str]] = {
    "collected": ("1", "揽收", "快件已由【乳山海阳所网点】揽收"),
    "in_transit": ("0", "在途", "快件已到达【威海转运中心】，正发往下一站"),
    "out_for_delivery": ("5", "派件", "快件正在派送中，派件员：王师傅 13800000000"),
    "delivered": ("3", "签收", "快件已签收，签收人：本人"),
    "difficult": ("2", "疑难", "收件地址不详，派件员联系不上收件人"),
    "returned": ("6", "退回", "快件因收件人要求退回寄件人"),
    "refused": ("14", "拒签", "收件人拒收快件"),
}
DOWN_KINDS = ("http_500", "http_502", "disconnect")


@dataclass
class Subscription:
    callbackurl: str
    salt: str | None
    resultv2: str
    phone: str
    status: str = "polling"  # polling | shutdown | abort
    last_push: Any = None  # the newest Push made (courier_push.Push)


@dataclass
class Tracked:
    """One tracking number as 快递100 sees it (from an e-waybill or only subscribed to)."""

    com: str
    number: str
    phones: tuple[str, ...] = ()  # mobiles of sender and receiver (SF checks the last four digits)
    events: list[dict[str, str]] = field(default_factory=list)  # oldest first
    state: str | None = None
    subscription: Subscription | None = None


@dataclass
class Label:
    task_id: str
    com: str
    number: str
    order_id: str | None
    print_type: str
    param: dict[str, Any]
    created_at: float


@dataclass
class CourierFaults:
    """`*_times`: None = every call until cleared, N = the next N calls."""

    down: str | None = None  # vendor calls answer HTTP 500/502 or drop the connection
    down_times: int | None = None
    latency_ms: int = 0  # every vendor call waits this long first
    push_bad_sign: bool = False  # pushes carry a sign over other bytes
    push_bad_sign_times: int | None = None
    push_copies: int = 1  # each push is delivered this many times, same content
    push_out_of_order: bool = False  # after each push, the previous one is delivered again

    def update(self, body: dict[str, Any]) -> None:
        """Merge a `POST /sandbox/courier/faults` body; ValueError on a bad key or value."""
        unknown = set(body) - set(self.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        if body.get("down") is not None and body["down"] not in DOWN_KINDS:
            raise ValueError(f"down must be one of {DOWN_KINDS} or null")
        for key in ("down_times", "push_bad_sign_times"):
            value = body.get(key)
            if value is not None and (not _is_int(value) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer or null")
        if "latency_ms" in body and (not _is_int(body["latency_ms"]) or body["latency_ms"] < 0):
            raise ValueError("latency_ms must be a non-negative integer")
        copies = body.get("push_copies", 1)
        if not _is_int(copies) or not 1 <= copies <= 20:
            raise ValueError("push_copies must be an integer from 1 to 20")
        for key in ("push_bad_sign", "push_out_of_order"):
            if key in body and not isinstance(body[key], bool):
                raise ValueError(f"{key} must be true or false")
        # a new fault without a count means "until cleared", whatever an earlier one left behind
        if "down" in body and "down_times" not in body:
            self.down_times = None
        if "push_bad_sign" in body and "push_bad_sign_times" not in body:
            self.push_bad_sign_times = None
        for key, value in body.items():
            setattr(self, key, value)

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in self.__dataclass_fields__}

    def take_down(self) -> str | None:
        """How this vendor call fails, consuming one of `down_times`."""
        if self.down is None or not self._take("down_times"):
            return None
        return self.down

    def take_bad_sign(self) -> bool:
        return self.push_bad_sign and self._take("push_bad_sign_times")

    def _take(self, times_attr: str) -> bool:
        remaining = getattr(self, times_attr)
        if remaining is None:
            return True
        if remaining <= 0:
            return False
        setattr(self, times_attr, remaining - 1)
        return True


@dataclass
class CourierData:
    generation: int
    labels: dict[str, Label] = field(default_factory=dict)  # taskId -> label
    by_order_id: dict[str, str] = field(default_factory=dict)  # orderId -> taskId
    tracked: dict[tuple[str, str], Tracked] = field(default_factory=dict)  # (com, number)
    pushes: list[dict[str, Any]] = field(default_factory=list)  # every delivery attempt
    faults: CourierFaults = field(default_factory=CourierFaults)

    def find(self, number: str, com: str | None = None) -> Tracked | None:
        if com is not None:
            return self.tracked.get((com, number))
        matches = [t for (_, n), t in self.tracked.items() if n == number]
        return matches[0] if len(matches) == 1 else None


class Courier:
    """What survives a reset (numbers and task ids handed out) and the current generation's data."""

    def __init__(self) -> None:
        self.issued: set[str] = set()
        self.task_serial = 0
        self.push_serial = 0
        self.data = CourierData(generation=-1)
        self.rng = random.SystemRandom()

    def current(self, sb: Sandbox) -> CourierData:
        if self.data.generation != sb.state.generation:
            self.data = CourierData(generation=sb.state.generation)
        return self.data

    def new_number(self, com: str) -> str:
        prefix, digits = COMPANIES[com]
        while True:
            number = prefix + "".join(self.rng.choice("0123456789") for _ in range(digits))
            if number not in self.issued:
                self.issued.add(number)
                return number

    def new_task_id(self) -> str:
        self.task_serial += 1
        return f"{int(time.time() * 1000):x}{self.task_serial:06d}".upper()

    def next_push_id(self) -> int:
        self.push_serial += 1
        return self.push_serial


def courier_of(app) -> Courier:
    return app.extensions["courier"]


def current_courier() -> tuple[Sandbox, Courier]:
    return current_sandbox(), courier_of(current_app)


def add_event(tracked: Tracked, event: str, context: str | None, location: str) -> dict[str, str]:
    """Append an event; a waybill's events are at least a second apart (the format has seconds)."""
    state, word, default_context = EVENTS[event]
    at = datetime.now(CST).replace(microsecond=0)
    if tracked.events:
        previous = datetime.strptime(tracked.events[-1]["ftime"], "%Y-%m-%d %H:%M:%S")
        at = max(at, previous.replace(tzinfo=CST) + timedelta(seconds=1))
    stamp = at.strftime("%Y-%m-%d %H:%M:%S")
    item = {
        "time": stamp,
        "ftime": stamp,
        "context": context or default_context,
        "location": location,
        "status": word,
        "areaCode": None,
        "areaName": location or None,
    }
    tracked.events.append(item)
    tracked.state = state
    return item


def last_result(tracked: Tracked, newest_first: bool = True) -> dict[str, Any]:
    """The documented query answer / push `lastResult` for a tracked number."""
    data = [dict(e) for e in tracked.events]
    if newest_first:
        data.reverse()
    delivered = tracked.state == "3"
    return {
        "message": "ok",
        "nu": tracked.number,
        "ischeck": "1" if delivered else "0",
        "condition": "F00" if delivered else "00",
        "com": tracked.com,
        "status": "200",
        "state": tracked.state or "0",
        "data": data,
    }


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
