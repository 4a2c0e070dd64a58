"""State of the shipping information management stand-in (小程序发货信息管理服务): one record per
paid WeChat Pay payment, the state machine on the WeChat clock, faults and the push log.

The records follow the WeChat Pay state (sandbox/state.py `pay`): every paid payment has one, a
fully refunded payment is 5 已退款. `shipping_data(sb)` hands out this sandbox generation's data,
so `POST /sandbox/reset` (which starts a new generation) clears it without state.py knowing.
`sync(sb)` moves every record along the clock and queues the pushes that causes; callers hold the
sandbox lock and send the queued pushes after letting go of it (wechat_shipping_push.flush).
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .context import Sandbox

UNSHIPPED, SHIPPED, CONFIRMED, COMPLETED, REFUNDED, SETTLING = 1, 2, 3, 4, 5, 6
STATE_NAMES = {1: "待发货", 2: "已发货", 3: "确认收货", 4: "交易完成", 5: "已退款", 6: "资金待结算"}
FROZEN_STATES = (UNSHIPPED, SHIPPED, CONFIRMED, SETTLING)  # paid, not yet settled
AUTO, MANUAL = 1, 2  # confirm_receive_method as the doc numbers it (reports say it is swapped)
BUSY_ERRCODES = (-1, 10060012, 10060019)
EXPRESS = 1


@dataclass
class Package:
    tracking_no: str
    express_company: str
    goods_desc: str
    upload_time: int  # unix seconds, from the request's upload_time
    contact: dict[str, str]

    def view(self) -> dict[str, Any]:
        return {
            "tracking_no": self.tracking_no,
            "express_company": self.express_company,
            "goods_desc": self.goods_desc,
            "upload_time": self.upload_time,
            "contact": dict(self.contact),
        }


@dataclass
class ShippingOrder:
    transaction_id: str
    out_trade_no: str
    openid: str
    paid_amount: int
    description: str
    trade_create_time: int
    pay_time: int
    state: int = UNSHIPPED
    delivery_mode: int | None = None
    logistics_type: int | None = None
    finish_shipping: bool = False
    reshipments: int = 0  # at most one per payment (10060003 beyond)
    packages: list[Package] = field(default_factory=list)
    last_upload_time: datetime | None = None
    shipped_at: float | None = None  # WeChat clock, when shipping was completed
    confirmed_at: float | None = None
    confirm_method: int | None = None
    settled_at: float | None = None
    receipt_reminded_at: float | None = None  # notify_confirm_receive, once per payment
    received_time: int | None = None
    shipping_reminded: bool = False  # trade_manage_remind_shipping pushed

    @property
    def frozen(self) -> bool:
        return self.state in FROZEN_STATES

    @property
    def finish_shipping_count(self) -> int:
        """0 not (fully) shipped, 1 shipped, 2 re-shipped."""
        return 1 + self.reshipments if self.finish_shipping else 0


@dataclass
class ShippingFaults:
    busy_errcode: int = -1
    busy_times: int = 0  # the next N shipping API calls answer busy_errcode
    ingest_delay_seconds: float | None = None  # None = the `shipping_ingest_delay_seconds` setting
    duplicate_pushes: bool = False  # every push is delivered twice

    def update(self, body: dict[str, Any]) -> None:
        """Merge a control body; ValueError names the bad key."""
        unknown = set(body) - {"busy_errcode", "busy_times", "ingest_delay_seconds",
                               "duplicate_pushes"}  # fmt: skip
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        if "busy_errcode" in body and body["busy_errcode"] not in BUSY_ERRCODES:
            raise ValueError(f"busy_errcode must be one of {BUSY_ERRCODES}")
        times = body.get("busy_times", 0)
        if not isinstance(times, int) or isinstance(times, bool) or times < 0:
            raise ValueError("busy_times must be a non-negative integer")
        delay = body.get("ingest_delay_seconds")
        if delay is not None and (not _is_number(delay) or delay < 0):
            raise ValueError("ingest_delay_seconds must be a non-negative number or null")
        if not isinstance(body.get("duplicate_pushes", False), bool):
            raise ValueError("duplicate_pushes must be a boolean")
        for key, value in body.items():
            setattr(self, key, value)

    def view(self) -> dict[str, Any]:
        return {
            "busy_errcode": self.busy_errcode,
            "busy_times": self.busy_times,
            "ingest_delay_seconds": self.ingest_delay_seconds,
            "duplicate_pushes": self.duplicate_pushes,
        }


@dataclass
class ShippingData:
    generation: int
    orders: dict[str, ShippingOrder] = field(default_factory=dict)  # by transaction_id
    faults: ShippingFaults = field(default_factory=ShippingFaults)
    message_url: str | None = None  # runtime; None = the `wxa_message_url` setting
    msg_jump_path: str | None = None
    ever_shipped: bool = False  # remind_shipping only reaches merchants who shipped before
    outbox: list[dict[str, Any]] = field(default_factory=list)  # pushes to send after the lock
    pushes: list[dict[str, Any]] = field(default_factory=list)  # every delivery attempt


_DATA: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def shipping_data(sb: Sandbox) -> ShippingData:
    """This generation's data (a reset starts a new, empty one). Caller holds the lock."""
    data = _DATA.get(sb.state)
    if data is None or data.generation != sb.state.generation:
        data = ShippingData(generation=sb.state.generation)
        _DATA[sb.state] = data
    return data


def ingest_delay(sb: Sandbox, data: ShippingData) -> float:
    delay = data.faults.ingest_delay_seconds
    return float(sb.settings["shipping_ingest_delay_seconds"] if delay is None else delay)


def visible(sb: Sandbox, data: ShippingData, order: ShippingOrder) -> bool:
    """WeChat sees a payment only some time after it was paid (10060001 until then)."""
    return sb.wechat_now() - order.pay_time >= ingest_delay(sb, data)


def auto_confirm_seconds(sb: Sandbox, order: ShippingOrder) -> float:
    key = (
        "shipping_auto_confirm_seconds"
        if order.logistics_type == EXPRESS
        else ("shipping_auto_confirm_other_seconds")
    )
    return float(sb.settings[key])


def estimated_settlement(sb: Sandbox, order: ShippingOrder) -> int:
    assert order.shipped_at is not None
    due = order.shipped_at + auto_confirm_seconds(sb, order)
    return int(due + float(sb.settings["shipping_settlement_delay_seconds"]))


def _pay_time(success_time: str | None, fallback: float) -> int:
    try:
        return int(datetime.fromisoformat(success_time or "").timestamp())
    except ValueError:
        return int(fallback)


def _refunded(sb: Sandbox, out_trade_no: str, total: int) -> bool:
    done = sum(
        r.refund
        for r in sb.state.pay.refunds.values()
        if r.out_trade_no == out_trade_no and r.status == "SUCCESS"
    )
    return done >= total


def sync(sb: Sandbox) -> ShippingData:
    """Records for new payments, refunds, auto-confirm, settlement and shipping reminders that are
    due on the WeChat clock; queues their pushes. Caller holds the lock."""
    data = shipping_data(sb)
    now = sb.wechat_now()
    for payment in sb.state.pay.orders.values():
        if payment.trade_state not in ("SUCCESS", "REFUND") or not payment.transaction_id:
            continue
        order = data.orders.get(payment.transaction_id)
        total = payment.request["amount"]["total"]
        if order is None:
            order = ShippingOrder(
                transaction_id=payment.transaction_id,
                out_trade_no=payment.out_trade_no,
                openid=payment.request["payer"]["openid"],
                paid_amount=total,
                description=payment.request["description"],
                trade_create_time=int(payment.created_at),
                pay_time=_pay_time(payment.success_time, payment.created_at),
            )
            data.orders[order.transaction_id] = order
        if order.state != REFUNDED and _refunded(sb, order.out_trade_no, total):
            order.state = REFUNDED
    for order in data.orders.values():
        _advance(sb, data, order, now)
    return data


def _advance(sb: Sandbox, data: ShippingData, order: ShippingOrder, now: float) -> None:
    if order.state == SHIPPED and order.shipped_at is not None:
        due = order.shipped_at + auto_confirm_seconds(sb, order)
        if now >= due:
            confirm(order, method=AUTO, at=due)
    if order.state == CONFIRMED and order.confirmed_at is not None:
        due = order.confirmed_at + float(sb.settings["shipping_settlement_delay_seconds"])
        if now >= due:
            order.state = COMPLETED
            order.settled_at = due
            queue_push(data, order, "trade_manage_order_settlement", settlement_fields(order))
    remind_after = sb.settings["shipping_remind_after_seconds"]
    if (
        order.state == UNSHIPPED
        and not order.shipping_reminded
        and data.ever_shipped
        and remind_after is not None
        and now - order.pay_time >= float(remind_after)
    ):
        order.shipping_reminded = True
        msg = "你有订单超过48小时未发货，请尽快发货并录入发货信息"
        queue_push(data, order, "trade_manage_remind_shipping", {"msg": msg})


def confirm(order: ShippingOrder, *, method: int, at: float) -> None:
    """Receipt confirmed (by the buyer or automatically): 2 -> 3, funds still frozen."""
    order.state = CONFIRMED
    order.confirmed_at = at
    order.confirm_method = method


def mark_shipped(sb: Sandbox, data: ShippingData, order: ShippingOrder) -> None:
    """Shipping completed (or re-shipped): 2 from now on, and the first settlement push."""
    order.state = SHIPPED
    order.shipped_at = sb.wechat_now()
    data.ever_shipped = True
    fields = {
        "shipped_time": int(order.shipped_at),
        "estimated_settlement_time": estimated_settlement(sb, order),
    }
    queue_push(data, order, "trade_manage_order_settlement", fields)


def settlement_fields(order: ShippingOrder) -> dict[str, Any]:
    assert order.confirmed_at is not None and order.settled_at is not None
    return {
        "shipped_time": int(order.shipped_at or 0),
        "confirm_receive_method": order.confirm_method,
        "confirm_receive_time": int(order.confirmed_at),
        "settlement_time": int(order.settled_at),
    }


def queue_push(data: ShippingData, order: ShippingOrder, event: str, extra: dict) -> None:
    fields = {
        "transaction_id": order.transaction_id,
        "merchant_id": "",  # filled in by the push module from the sandbox's mchid
        "sub_merchant_id": "",
        "merchant_trade_no": order.out_trade_no,
        "pay_time": order.pay_time,
        **extra,
    }
    data.outbox.append({"event": event, "openid": order.openid, "fields": fields})


def order_view(order: ShippingOrder, mchid: str) -> dict[str, Any]:
    """The `order` object of get_order / get_order_list."""
    description = (
        order.description if len(order.description) <= 120 else (order.description[:117] + "...")
    )
    shipping: dict[str, Any] = {}
    if order.packages:
        goods = ";".join(p.goods_desc for p in order.packages)
        shipping = {
            "delivery_mode": order.delivery_mode,
            "logistics_type": order.logistics_type,
            "finish_shipping": order.finish_shipping,
            "finish_shipping_count": order.finish_shipping_count,
            "goods_desc": goods if len(goods) <= 120 else goods[:117] + "...",
            "shipping_list": [p.view() for p in order.packages],
        }
    return {
        "transaction_id": order.transaction_id,
        "merchant_id": mchid,
        "sub_merchant_id": "",
        "merchant_trade_no": order.out_trade_no,
        "description": description,
        "paid_amount": order.paid_amount,
        "openid": order.openid,
        "trade_create_time": order.trade_create_time,
        "pay_time": order.pay_time,
        "in_complaint": False,
        "order_state": order.state,
        "shipping": shipping,
    }


def control_view(sb: Sandbox, data: ShippingData, order: ShippingOrder) -> dict[str, Any]:
    """What the control endpoint lists: the order as get_order shows it plus the sandbox's view."""
    view = order_view(order, sb.mchid)
    view.update(
        out_trade_no=order.out_trade_no,
        state_name=STATE_NAMES[order.state],
        funds_frozen=order.frozen,
        visible=visible(sb, data, order),
        shipped_at=order.shipped_at,
        confirmed_at=order.confirmed_at,
        confirm_method=order.confirm_method,
        settled_at=order.settled_at,
        estimated_settlement_time=estimated_settlement(sb, order) if order.shipped_at else None,
        receipt_reminded_at=order.receipt_reminded_at,
        shipping_reminded=order.shipping_reminded,
    )
    return view
