"""The order model the five platform stand-ins share: our status, items, times, and each shop's
orders kept sorted by update time so that a window is two bisects, not a scan.

Times are wall-clock unix seconds (ints): the platforms speak in whole seconds.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..times import CST

STATUSES = ("UNPAID", "PAID", "SHIPPED", "COMPLETED", "CANCELLED", "REFUNDING", "REFUNDED")
FULFILMENT = ("PAID", "SHIPPED", "COMPLETED")  # where an order stands apart from refunds
PAID_STATUSES = frozenset(("PAID", "SHIPPED", "COMPLETED", "REFUNDING", "REFUNDED"))


@dataclass(slots=True)
class Item:
    outer_id: str
    quantity: int
    unit_price_fen: int
    title: str

    def view(self) -> dict[str, Any]:
        return {
            "outer_id": self.outer_id,
            "quantity": self.quantity,
            "unit_price_fen": self.unit_price_fen,
            "title": self.title,
        }


@dataclass(slots=True)
class OrderSpec:
    """A checked `POST /sandbox/platforms/{p}/orders` body."""

    shop_id: str
    items: list[Item]
    status: str
    update_time: int | None
    post_fee_fen: int


@dataclass(slots=True, eq=False)
class Order:
    order_id: str
    shop_id: str
    seq: int  # creation number: sub-order ids, receivers, status variants derive from it
    items: list[Item]
    post_fee_fen: int
    status: str
    fulfilment: str  # PAID / SHIPPED / COMPLETED: where a refund started from ("" unpaid)
    create_time: int
    pay_time: int  # 0 = never paid
    update_time: int
    tick: int  # order among equal update times: a later change sorts later
    indexed: bool = False
    tracking_no: str | None = None
    company: str | None = None
    ship_time: int = 0
    hidden_until: float = 0.0  # unlisted by the order API until then (a push came first)

    @property
    def goods_fen(self) -> int:
        return sum(item.unit_price_fen * item.quantity for item in self.items)

    @property
    def total_fen(self) -> int:
        return self.goods_fen + self.post_fee_fen


class ShopIndex:
    """One shop's listed orders as (update_time, tick, order), sorted: a window is two bisects."""

    __slots__ = ("entries",)

    def __init__(self) -> None:
        self.entries: list[tuple[int, int, Order]] = []

    def add(self, order: Order) -> None:
        insort(self.entries, (order.update_time, order.tick, order))  # ticks are unique

    def remove(self, order: Order) -> None:
        at = bisect_left(self.entries, (order.update_time, order.tick))
        if at < len(self.entries) and self.entries[at][2] is order:
            del self.entries[at]

    def bounds(self, start: int, end: int) -> tuple[int, int]:
        """Entries [lo, hi) updated within [start, end], both ends included."""
        return bisect_left(self.entries, (start,)), bisect_left(self.entries, (end + 1,))


@dataclass(slots=True)
class Page:
    orders: list[Order]
    total: int
    in_window: Order | None  # what `mutate_while_paging` touches: the page's first, else any


def order_id_for(platform: str, seq: int, create_time: int) -> str:
    """Order numbers shaped like each platform's own."""
    if platform == "douyin":
        return str(6_918_000_000_000_000_000 + seq * 100)  # 19 digits; sub-orders add 1..99
    if platform == "taobao":
        return str(3_790_000_000_000_000_000 + seq * 100)  # tid (int64); oids add 1..99
    if platform == "jd":
        return str(300_000_000_000 + seq)
    day = datetime.fromtimestamp(create_time, CST)
    if platform == "pdd":
        return f"{day:%y%m%d}-{500_000_000_000_000 + seq}"
    return f"E{day:%Y%m%d%H%M%S}{seq:09d}"  # youzan
