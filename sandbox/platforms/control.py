"""Control endpoints of the platform stand-ins (`/sandbox/platforms/{platform}/...`): shops that
authorise the app, orders and their changes, what the platforms recorded (truth, shipments),
faults, settings and stats. Bad input answers 400 `{"error": ...}`, unknown things 404."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from flask import Blueprint, jsonify, request

from ..context import Sandbox, current_sandbox
from ..control import control_body
from ..errors import ControlError
from . import douyin, jd, pdd, pushes, taobao, youzan
from .control_input import fault_rule, integer, number, order_spec, shop_id_of, update_time_of
from .orders import STATUSES, Order
from .store import PLATFORMS, Merchant, PlatformData

bp = Blueprint("platforms_control", __name__, url_prefix="/sandbox/platforms")

RENDER: dict[str, Callable[[Order, PlatformData], dict[str, Any]]] = {
    "douyin": douyin.render_order,
    "taobao": taobao.render_order,
    "jd": jd.render_order,
    "pdd": pdd.render_order,
    "youzan": youzan.render_order,
}
# (main status, refund status) in the platform's own fields, for the truth
PLATFORM_STATUS: dict[str, Callable[[Order], tuple[Any, Any]]] = {
    "douyin": douyin.status_fields,
    "taobao": taobao.status_fields,
    "jd": lambda order: (jd.order_state(order), None),
    "pdd": pdd.status_fields,
    "youzan": youzan.status_fields,
}


def _platform(platform: str) -> str:
    if platform not in PLATFORMS:
        raise ControlError(f"unknown platform {platform}: one of {PLATFORMS}", 404)
    return platform


def _data(sb: Sandbox, platform: str) -> PlatformData:
    """The platform's state; caller holds the lock."""
    return sb.state.platforms[_platform(platform)]


def _order_view(platform: str, data: PlatformData, order: Order) -> dict[str, Any]:
    return {**RENDER[platform](order, data), "order_id": order.order_id}


@bp.post("/<platform>/shops")
def shops(platform: str):
    """The shop authorised the app: tokens for it (the old ones stop working)."""
    body = control_body()
    shop_id = shop_id_of(body)
    name = body.get("name")
    if name is not None and (not isinstance(name, str) or not name):
        raise ControlError("name must be a non-empty string")
    sb = current_sandbox()
    with sb.state.lock:
        shop = _data(sb, platform).authorise(shop_id, name, time.time())
        return jsonify(
            {
                "shop_id": shop.shop_id,
                "name": shop.name,
                "access_token": shop.access_token,
                "refresh_token": shop.refresh_token,
                "expires_at": shop.expires_at,
            }
        )


@bp.route("/<platform>/authorize-as", methods=["POST", "DELETE"])
def authorize_as(platform: str):
    """Who is logged in at the platform's authorise page (sandbox/platforms/oauth.py), and what
    they answer: `allow` / `deny` at once, or `ask` (the consent page waits). DELETE logs out."""
    _platform(platform)
    merchant = None
    if request.method == "POST":
        body = control_body()
        shop_id = shop_id_of(body)
        name = body.get("name")
        if name is not None and (not isinstance(name, str) or not name):
            raise ControlError("name must be a non-empty string")
        decision = body.get("decision", "allow")
        if decision not in ("allow", "deny", "ask"):
            raise ControlError("decision must be allow, deny or ask")
        merchant = Merchant(shop_id, decision)
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        if merchant is not None:
            shop = data.shop(merchant.shop_id, name)
            data.merchant = merchant
            return jsonify({"shop_id": shop.shop_id, "name": shop.name, "decision": decision})
        data.merchant = None
        return jsonify({})


@bp.post("/<platform>/tokens/expire")
def expire_tokens(platform: str):
    shop_id = shop_id_of(control_body())
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        shop = data.shops.get(shop_id)
        if shop is None or shop.access_token is None:
            raise ControlError(f"shop {shop_id} has not authorised the app", 404)
        data.expire(shop, time.time())
        return jsonify({"shop_id": shop_id, "expires_at": shop.expires_at})


@bp.post("/<platform>/orders")
def create_order(platform: str):
    _platform(platform)
    now = time.time()
    spec = order_spec(control_body(), now)
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        order = data.create(spec, now)
        view = _order_view(platform, data, order)
    pushes.flush(sb, platform)
    return jsonify(view)


@bp.post("/<platform>/orders/bulk")
def create_orders(platform: str):
    """Many orders at once; all are checked before any is made."""
    _platform(platform)
    bodies = control_body().get("orders")
    if not isinstance(bodies, list):
        raise ControlError("orders must be a list")
    now = time.time()
    specs = []
    for at, body in enumerate(bodies):
        try:
            specs.append(order_spec(body, now))
        except ControlError as error:
            raise ControlError(f"orders[{at}]: {error.message}") from None
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        ids = [data.create(spec, now).order_id for spec in specs]
    pushes.flush(sb, platform)
    return jsonify({"order_ids": ids})


@bp.post("/<platform>/orders/<order_id>/status")
def order_status(platform: str, order_id: str):
    """A change of our status; `update_time` in the past is a late update."""
    _platform(platform)
    body = control_body()
    status = body.get("status")
    if status not in STATUSES:
        raise ControlError(f"status must be one of {STATUSES}")
    now = time.time()
    update_time = update_time_of(body.get("update_time"), now)
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        order = data.orders.get(order_id)
        if order is None:
            raise ControlError(f"unknown order {order_id}", 404)
        try:
            data.set_status(order, status, update_time, now)
        except ValueError as error:
            raise ControlError(str(error)) from None
        view = _order_view(platform, data, order)
    pushes.flush(sb, platform)
    return jsonify(view)


@bp.post("/<platform>/orders/bulk-status")
def order_statuses(platform: str):
    """Many status changes at once (not in the contract: a faster way to script a day). Each
    change is applied or refused on its own; the answer says which."""
    _platform(platform)
    changes = control_body().get("changes")
    if not isinstance(changes, list):
        raise ControlError("changes must be a list of {order_id, status, update_time?}")
    now = time.time()
    checked = []
    for at, change in enumerate(changes):
        if not isinstance(change, dict) or change.get("status") not in STATUSES:
            raise ControlError(f"changes[{at}]: status must be one of {STATUSES}")
        try:
            update_time = update_time_of(change.get("update_time"), now)
        except ControlError as error:
            raise ControlError(f"changes[{at}]: {error.message}") from None
        checked.append((str(change.get("order_id")), change["status"], update_time))
    results = []
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        for order_id, status, update_time in checked:
            order = data.orders.get(order_id)
            try:
                if order is None:
                    raise ValueError(f"unknown order {order_id}")
                data.set_status(order, status, update_time, now)
                results.append({"order_id": order_id, "ok": True})
            except ValueError as error:
                results.append({"order_id": order_id, "ok": False, "error": str(error)})
    pushes.flush(sb, platform)
    return jsonify({"results": results})


@bp.get("/<platform>/truth")
def truth(platform: str):
    """Every order as it stands, in our words and the platform's (`listed`: the platform shows
    it in order searches)."""
    shop_id = request.args.get("shop_id")
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        status_of = PLATFORM_STATUS[platform]
        rows = []
        for order in data.orders.values():
            if shop_id is not None and order.shop_id != shop_id:
                continue
            platform_status, platform_refund = status_of(order)
            rows.append(
                {
                    "order_id": order.order_id,
                    "shop_id": order.shop_id,
                    "status": order.status,
                    "platform_status": platform_status,
                    "platform_refund_status": platform_refund,
                    "listed": data.listed(order),
                    "create_time": order.create_time,
                    "pay_time": order.pay_time,
                    "update_time": order.update_time,
                    "tracking_no": order.tracking_no,
                    "items": [item.view() for item in order.items],
                }
            )
    return jsonify({"orders": rows})


@bp.get("/<platform>/shipments")
def shipments(platform: str):
    """The write-backs (ship calls) the platform accepted, oldest first."""
    shop_id = request.args.get("shop_id")
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            dict(shipment)
            for shipment in _data(sb, platform).shipments
            if shop_id in (None, shipment["shop_id"])
        ]
    return jsonify({"shipments": rows})


@bp.route("/<platform>/faults", methods=["GET", "POST", "DELETE"])
def faults(platform: str):
    """POST adds a rule, DELETE clears them; rules are tried in order, the first that fires wins."""
    _platform(platform)
    rule = fault_rule(control_body()) if request.method == "POST" else None
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        if request.method == "DELETE":
            data.faults = []
        elif rule is not None:
            data.faults.append(rule)
        now = time.time()
        data.faults = [r for r in data.faults if not r.expired(now)]
        return jsonify({"faults": [r.view() for r in data.faults]})


CONFIG_KEYS = (
    "max_window_seconds",
    "mutate_while_paging",
    "rate_per_second",
    "token_ttl_seconds",
    "token_grace_seconds",
    "fault_timeout_seconds",
    "clock_offset_seconds",
    "push_url",
    "push_copies",
    "push_batch_size",
    "push_reverse",
    "push_lost",
    "push_readable_after_seconds",
    "push_retry_delays",
    "code_ttl_seconds",
    "redirect_uri",
)


@bp.route("/<platform>/config", methods=["GET", "POST"])
def config(platform: str):
    _platform(platform)
    body = control_body() if request.method == "POST" else {}
    unknown = set(body) - set(CONFIG_KEYS)
    if unknown:
        raise ControlError(f"unknown config keys: {sorted(unknown)}")
    if "mutate_while_paging" in body and not isinstance(body["mutate_while_paging"], bool):
        raise ControlError("mutate_while_paging must be true or false")
    for key in ("max_window_seconds", "token_ttl_seconds"):
        if key in body:
            integer(body[key], key, 1)
    if "code_ttl_seconds" in body:
        integer(body["code_ttl_seconds"], "code_ttl_seconds", 0)
    if "redirect_uri" in body and not isinstance(body["redirect_uri"], str):
        raise ControlError("redirect_uri must be a string (empty: any)")
    if "clock_offset_seconds" in body and number(body, "clock_offset_seconds", -86400) is None:
        raise ControlError("clock_offset_seconds must be a number")
    for key in ("token_grace_seconds", "fault_timeout_seconds"):
        if key in body and number(body, key, 0) is None:
            raise ControlError(f"{key} must be a number")
    _check_push_config(body)
    rate = number(body, "rate_per_second", 0)
    if "rate_per_second" in body and rate == 0:
        raise ControlError("rate_per_second must be positive, or null for no limit")
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        for key, value in body.items():
            if key == "rate_per_second":
                data.set_rate(value)
            else:
                setattr(data.config, key, value)
        return jsonify(data.config.view())


def _check_push_config(body: dict[str, Any]) -> None:
    url = body.get("push_url")
    if url is not None and (not isinstance(url, str) or not url.startswith("http")):
        raise ControlError("push_url must be an http(s) URL, or null to only record pushes")
    for key in ("push_copies", "push_batch_size"):
        if key in body:
            integer(body[key], key, 1)
    for key in ("push_reverse", "push_lost"):
        if key in body and not isinstance(body[key], bool):
            raise ControlError(f"{key} must be true or false")
    readable = "push_readable_after_seconds"
    if readable in body and number(body, readable, 0) is None:
        raise ControlError(f"{readable} must be a number")
    delays = body.get("push_retry_delays", [])
    if not isinstance(delays, list) or not all(
        isinstance(d, int | float) and not isinstance(d, bool) and d >= 0 for d in delays
    ):
        raise ControlError("push_retry_delays must be a list of seconds")
    if "push_retry_delays" in body:
        body["push_retry_delays"] = tuple(delays)


@bp.get("/<platform>/pushes")
def pushes_made(platform: str):
    """Every push attempt (Douyin, Youzan), oldest first: ?msg_id= one message's."""
    msg_id = request.args.get("msg_id")
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            dict(push)
            for push in _data(sb, platform).pushes
            if msg_id is None or msg_id in push["msg_ids"]
        ]
    return jsonify({"pushes": rows})


def _split(stats: dict[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}


@bp.get("/<platform>/stats")
def stats(platform: str):
    """Calls by method and by outcome (`ok` or the error kind), faults fired, pages served."""
    sb = current_sandbox()
    with sb.state.lock:
        data = _data(sb, platform)
        counts = dict(data.stats)
        sizes = {"shops": len(data.shops), "orders": len(data.orders)}
        sizes["shipments"] = len(data.shipments)
    by_method_outcome: dict[str, dict[str, int]] = {}
    for key, count in _split(counts, "method_outcome:").items():
        method, outcome = key.rsplit(":", 1)
        by_method_outcome.setdefault(method, {})[outcome] = count
    return jsonify(
        {
            "calls": counts.get("calls", 0),
            "by_method": _split(counts, "method:"),
            "by_outcome": _split(counts, "outcome:"),
            "by_method_outcome": by_method_outcome,
            "faults": _split(counts, "fault:"),
            "pages": counts.get("pages", 0),
            "touched": counts.get("touched", 0),
            **sizes,
        }
    )
