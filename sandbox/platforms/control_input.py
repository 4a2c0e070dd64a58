"""Checking what the control endpoints of the platform stand-ins are sent: order bodies and
fault rules. Every function raises ControlError (HTTP 400) on bad input."""

from __future__ import annotations

import random
import time
from typing import Any

from ..errors import ControlError
from .faults import FAULT_KINDS, MALFORMED_VARIANTS, FaultRule
from .formats import parse_cst
from .orders import STATUSES, Item, OrderSpec

MAX_ITEMS = 50
FUTURE_SLACK = 60  # an update time may be this far ahead of the clock, no more


def shop_id_of(body: dict[str, Any]) -> str:
    value = body.get("shop_id")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise ControlError("shop_id must be a non-empty string or an integer")
    return value


def integer(value: Any, name: str, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ControlError(f"{name} must be an integer >= {low}")
    return value


def update_time_of(value: Any, now: float) -> int | None:
    if value is None:
        return None
    if isinstance(value, str):
        try:
            unix = int(value) if value.isdigit() else parse_cst(value)
        except ValueError:
            raise ControlError("update_time must be unix seconds or yyyy-MM-dd HH:mm:ss") from None
    elif isinstance(value, int | float) and not isinstance(value, bool):
        unix = int(value)
    else:
        raise ControlError("update_time must be unix seconds or yyyy-MM-dd HH:mm:ss")
    if unix > now + FUTURE_SLACK:
        raise ControlError("update_time is in the future: platforms date changes when they happen")
    return unix


def _item(raw: Any) -> Item:
    if not isinstance(raw, dict):
        raise ControlError("each item must be an object")
    outer_id = raw.get("outer_id")
    if not isinstance(outer_id, str) or not outer_id:
        raise ControlError("item outer_id must be a non-empty string")
    title = raw.get("title") or f"乳山生蚝 {outer_id}"
    if not isinstance(title, str):
        raise ControlError("item title must be a string")
    quantity = integer(raw.get("quantity"), "item quantity", 1)
    unit_price_fen = integer(raw.get("unit_price_fen"), "item unit_price_fen")
    return Item(outer_id, quantity, unit_price_fen, title)


def order_spec(body: Any, now: float) -> OrderSpec:
    if not isinstance(body, dict):
        raise ControlError("an order must be an object")
    items = body.get("items")
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_ITEMS:
        raise ControlError(f"items must be a list of 1 to {MAX_ITEMS} items")
    status = body.get("status", "PAID")
    if status not in STATUSES:
        raise ControlError(f"status must be one of {STATUSES}")
    return OrderSpec(
        shop_id=shop_id_of(body),
        items=[_item(raw) for raw in items],
        status=status,
        update_time=update_time_of(body.get("update_time"), now),
        post_fee_fen=integer(body.get("post_fee_fen", 0), "post_fee_fen"),
    )


def number(body: dict[str, Any], key: str, low: float, high: float | None = None) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key} must be a number")
    if value < low or (high is not None and value > high):
        raise ControlError(f"{key} must be between {low} and {high}")
    return value


def fault_rule(body: dict[str, Any]) -> FaultRule:
    unknown = set(body) - {"kind", "times", "seconds", "rate", "shop_id", "variant", "seed"}
    if unknown:
        raise ControlError(f"unknown fault keys: {sorted(unknown)}")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise ControlError(f"kind must be one of {FAULT_KINDS}")
    times = body.get("times")
    if times is not None:
        times = integer(times, "times", 1)
    seconds = number(body, "seconds", 0)
    rate = number(body, "rate", 0, 1)
    variant = body.get("variant")
    if variant is not None and (kind != "malformed" or variant not in MALFORMED_VARIANTS):
        raise ControlError(f"variant is for malformed faults: one of {MALFORMED_VARIANTS}")
    seed = body.get("seed")
    if seed is not None:
        seed = integer(seed, "seed")
    return FaultRule(
        kind=kind,
        times=times,
        until=None if seconds is None else time.time() + float(seconds),
        rate=None if rate is None else float(rate),
        shop_id=None if body.get("shop_id") is None else shop_id_of(body),
        variant=variant,
        seed=seed,
        rng=random.Random(seed),
    )
