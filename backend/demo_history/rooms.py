"""The demo year's live shows: a room an evening on show days, a few flash sales in each, the
claims that became orders, and the summary the host got when the show ended (figures that agree
with the orders written)."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from backend.demo_history import shape
from backend.demo_history.context import Context, SkuInfo
from backend.demo_history.writer import Writer
from backend.live.models import (
    ENDED,
    FINISHED,
    FlashClaim,
    FlashSale,
    LiveClaim,
    LiveRoom,
    LiveShowSummary,
)
from backend.live.sharers import NATURAL
from backend.timeutil import to_shanghai_iso

HOSTS = ["蛎姐", "海阳所阿强"]


@dataclass
class Sale:
    room: Room
    sku: SkuInfo
    price: int
    starts: datetime
    ends: datetime
    planned_units: int = 0
    id: int | None = None

    @property
    def room_id(self) -> int:
        return self.room.id

    def sharer(self, rng: random.Random) -> str | None:
        """Who brought the buyer into the room (None: natural traffic)."""
        return rng.choice(shape.SHARERS) if rng.random() < 0.3 else None

    def claims(
        self,
        writer: Writer,
        rng: random.Random,
        *,
        order_id: int,
        customer_id: int,
        quantity: int,
        at: datetime,
        paid: datetime | None,
    ) -> None:
        """The claim writer's record of the won claim, and the comment it came from (most live
        orders are typed as comments: "3号要2份")."""
        writer.add(
            FlashClaim,
            {
                "flash_sale_id": self.id,
                "customer_id": customer_id,
                "idempotency_key": f"hist-{order_id}",
                "quantity": quantity,
                "order_id": order_id,
                "refusal": None,
                "returned_to": None if paid else "stock",
                "created_at": at,
            },
        )
        if rng.random() < 0.6:
            writer.add(
                LiveClaim,
                {
                    "room_id": self.room.id,
                    "comment_id": f"hist-{order_id}",
                    "customer_id": customer_id,
                    "sku_id": self.sku.id,
                    "quantity": quantity,
                    "order_id": order_id,
                    "flash_sale_id": self.id,
                    "prompt_outcome": "sent",
                    "created_at": at,
                },
            )
            self.room.holds += 1
            self.room.units_held += quantity


@dataclass
class Room:
    name: str
    anchor: str
    starts: datetime
    ends: datetime
    sales: list[Sale] = field(default_factory=list)
    id: int | None = None
    holds: int = 0
    units_held: int = 0
    by_sharer: dict = field(default_factory=dict)

    def order_time(self, sale: Sale, rng: random.Random) -> datetime:
        return sale.starts + (sale.ends - sale.starts) * rng.random()


def plan_room(ctx: Context, rng: random.Random, day: date, number: int) -> Room:
    """The evening's show (19:30–21:30 Shanghai) and its flash sales, not written yet."""
    starts, ends = shape.in_window(day, 19.5), shape.in_window(day, 21.5)
    festive = shape.festive(day)
    room = Room(
        name=f"{'年货节' if festive else '乳山牡蛎'}直播 第{number}场",
        anchor=rng.choice(HOSTS),
        starts=starts,
        ends=ends,
    )
    live_skus = [sku for sku in ctx.skus if sku.form == "live"] or ctx.skus
    if not festive:
        live_skus = [sku for sku in live_skus if "GIFT" not in sku.code] or live_skus
    count = rng.randint(3, 6)
    for index in range(count):
        sku = rng.choice(live_skus)
        sale_starts = starts + (ends - starts) * index / count + timedelta(minutes=5)
        room.sales.append(
            Sale(
                room=room,
                sku=sku,
                price=int(sku.price * rng.choice((0.8, 0.85, 0.9)) // 100 * 100),
                starts=sale_starts,
                ends=sale_starts + timedelta(minutes=10),
            )
        )
    return room


def write_room(writer: Writer, ctx: Context, rng: random.Random, room: Room) -> None:
    """The room and its sales (their units: what was claimed and what went back)."""
    room.id = writer.add(
        LiveRoom,
        {
            "provider": "wxa_live",
            "external_id": f"hist-{writer.next_ids['live_rooms']}",
            "name": room.name[:40],
            "anchor_name": room.anchor,
            "starts_at": room.starts,
            "ends_at": room.ends,
            "live_status": FINISHED,
            "on_screen_sku_id": None,
            "created_by": ctx.staff_id,
            "synced_at": room.ends + timedelta(minutes=1),
            "created_at": room.starts - timedelta(days=2),
        },
    )
    for sale in room.sales:
        left = rng.randint(0, 12)
        sale.id = writer.add(
            FlashSale,
            {
                "room_id": room.id,
                "sku_id": sale.sku.id,
                "price": sale.price,
                "units": sale.planned_units + left,
                "per_person_limit": 2,
                "pay_minutes": 15,
                "starts_at": sale.starts,
                "ends_at": sale.ends,
                "status": ENDED,
                "created_by": ctx.staff_id,
                "ended_at": sale.ends,
                "released_units": left,
                "created_at": sale.starts - timedelta(minutes=2),
            },
        )


def count_order(room: Room, *, sharer: str | None, paid: bool, total: int, units: int) -> None:
    if paid:
        row = room.by_sharer.setdefault(sharer, {"orders": 0, "units": 0, "gmv": 0})
        row["orders"] += 1
        row["units"] += units
        row["gmv"] += total


def write_summary(writer: Writer, rng: random.Random, room: Room) -> None:
    """The host's summary of the ended show, counted as backend.live.summary counts it."""
    paid_orders = sum(row["orders"] for row in room.by_sharer.values())
    gmv = sum(row["gmv"] for row in room.by_sharer.values())
    viewers = max(paid_orders, 1) * rng.randint(8, 16) + rng.randint(20, 80)
    comments = viewers * rng.randint(2, 4)
    questions = comments // rng.randint(4, 7)
    refused = rng.randint(0, max(room.holds // 10, 1))
    sharers = [
        {"sharer": sharer, "name": sharer, "viewers": 0, **row}
        for sharer, row in sorted(
            ((s, r) for s, r in room.by_sharer.items() if s), key=lambda pair: -pair[1]["gmv"]
        )
    ]
    if None in room.by_sharer:
        sharers.append({"sharer": None, "name": NATURAL, "viewers": 0, **room.by_sharer[None]})
    intents = [
        ("price", "价格"),
        ("grade", "规格大小"),
        ("shipping", "发货快递"),
        ("guarantee", "死蚝包赔"),
        ("origin", "产地海区"),
    ]
    figures = {
        "viewers": viewers,
        "comments": comments,
        "questions": questions,
        "answered": int(questions * 0.9),
        "top_questions": [
            {"intent": intent, "name": label, "count": max(questions // (rank + 2), 1)}
            for rank, (intent, label) in enumerate(intents)
        ],
        "top_question_texts": [],
        "claim_comments": room.holds + refused,
        "holds": room.holds,
        "units_held": room.units_held,
        "claims_refused": refused,
        "paid_orders": paid_orders,
        "gmv": gmv,
        "sharers": sharers,
        "unanswered_count": questions - int(questions * 0.9),
        "unanswered": [],
        "spam_hidden": rng.randint(0, 5),
        "muted_viewers": 0,
        "room": {
            "name": room.name,
            "anchor_name": room.anchor,
            "starts_at": to_shanghai_iso(room.starts),
            "ends_at": to_shanghai_iso(room.ends),
        },
    }
    writer.add(
        LiveShowSummary,
        {"room_id": room.id, "figures": figures, "created_at": room.ends + timedelta(minutes=2)},
    )
