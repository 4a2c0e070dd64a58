"""An order of the demo year before it is written: what it holds, who buys it, and its life
(paid or dropped, the wave that ships it, the courier, delivery) as it stands at the end."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from backend.customers.models import Customer
from backend.demo_history import shape
from backend.demo_history.context import SkuInfo
from backend.demo_history.writer import Writer
from backend.timeutil import SHANGHAI, to_aware_utc, to_naive_utc

MINUTE, HOUR, DAY = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)


@dataclass
class Line:
    sku: SkuInfo
    quantity: int
    unit_price: int


@dataclass
class Planned:
    """An order before it is written: when, from where, what."""

    channel: str  # MINIPROGRAM, LIVE, or a platform
    created: datetime
    lines: list[Line]
    sale: object = None  # a live order's flash sale (rooms.Sale)
    shop: object = None  # a platform order's shop (platform.ShopInfo)


@dataclass
class Life:
    """When things happened to an order; None: not (yet, at the end)."""

    paid: datetime | None = None
    cancelled: datetime | None = None
    cancel_reason: str | None = None
    shipped: datetime | None = None
    ship_due: datetime | None = None  # its wave's dispatch, also when after the end
    cutoff: datetime | None = None
    delivered: datetime | None = None
    completed: datetime | None = None
    refunded: datetime | None = None  # refunded before it shipped
    refund_asked: datetime | None = None
    courier: str = "SF"
    extra_days: int = 0
    doa_factor: float = 1.0
    events: list = field(default_factory=list)


def dispatch(rng: random.Random, paid: datetime) -> tuple[datetime, datetime]:
    """The 14:00 cut-off that collects an order paid at `paid`, and when its wave leaves."""
    local = to_aware_utc(paid).astimezone(SHANGHAI)
    cutoff = local.replace(hour=14, minute=0, second=0, microsecond=0)
    if local >= cutoff:
        cutoff += DAY
    leaves = cutoff + timedelta(hours=1) + timedelta(minutes=rng.randint(0, 150))
    return to_naive_utc(cutoff), to_naive_utc(leaves)


def life(
    rng: random.Random,
    created: datetime,
    end: datetime,
    *,
    unpaid: float,
    refund: float,
    place_days: int,
    couriers,
) -> Life | None:
    """An order's life as of `end`; None for one too recent to have been paid or dropped."""
    deadline = created + timedelta(minutes=15)
    if rng.random() < unpaid:
        if deadline > end:
            return None
        if rng.random() < 0.7:
            return Life(cancelled=deadline, cancel_reason="超时未支付")
        return Life(cancelled=created + MINUTE * rng.uniform(1, 14), cancel_reason="用户取消")
    paid = created + timedelta(seconds=rng.randint(15, 600))
    if paid > end:
        return None
    code, _, extra, factor = _pick_courier(rng, couriers)
    cutoff, leaves = dispatch(rng, paid)
    result = Life(
        paid=paid, ship_due=leaves, cutoff=cutoff, courier=code, extra_days=extra, doa_factor=factor
    )
    if leaves <= end and rng.random() < refund:
        result.refund_asked = paid + (leaves - paid) * rng.uniform(0.1, 0.4)
        result.refunded = result.refund_asked + (leaves - result.refund_asked) * rng.uniform(
            0.2, 0.6
        )
        return result
    if leaves > end:
        return result
    result.shipped = leaves
    delivered = leaves + DAY * (place_days + extra) + HOUR * rng.uniform(-8, 8)
    delivered = max(delivered, leaves + 12 * HOUR)
    if delivered <= end:
        result.delivered = delivered
        if delivered + 7 * DAY <= end:
            result.completed = delivered + 7 * DAY
    return result


def _pick_courier(rng: random.Random, couriers):
    roll, total = rng.random(), 0.0
    for courier in couriers:
        total += courier[1]
        if roll < total:
            return courier
    return couriers[-1]


@dataclass
class Buyers:
    """The store's buyers: a growing crowd, some coming back."""

    writer: Writer
    rng: random.Random
    known: list[tuple[int, str, str, str, int]] = field(default_factory=list)

    def pick(self, at: datetime) -> tuple[int, str, str, str, int]:
        """(customer id, openid, name, phone, place index), a returning buyer half the time."""
        if self.known and self.rng.random() < 0.55:
            return self.rng.choice(self.known)
        name = shape.name(self.rng)
        place = self.rng.choices(range(len(shape.PLACES)), shape.PLACE_WEIGHTS)[0]
        number = self.writer.next_ids["customers"]
        openid = f"o_hist_{number:07d}"
        customer_id = self.writer.add(
            Customer,
            {
                "openid": openid,
                "unionid": None,
                "nickname": name,
                "created_at": at - timedelta(minutes=3),
                "last_login_at": at,
            },
        )
        buyer = (
            customer_id,
            openid,
            name,
            f"1{self.rng.randint(3, 9)}{self.rng.randint(0, 10**9 - 1):09d}",
            place,
        )  # noqa: E501
        self.known.append(buyer)
        return buyer
