"""The state of each platform stand-in: shops and their tokens, the orders (see orders.py),
write-back shipments, scripted faults, the rate limit, runtime config and call stats.

`SandboxState.platforms` holds one `PlatformData` per platform and replaces them all on reset.
Callers hold the sandbox lock. Times are wall-clock unix seconds (ints): the platforms speak in
whole seconds, and their timestamp checks use the real clock.
"""

from __future__ import annotations

import secrets
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .faults import FaultRule, TokenBucket, take_fault
from .orders import (
    FULFILMENT,
    PAID_STATUSES,
    Order,
    OrderSpec,
    Page,
    ShopIndex,
    order_id_for,
)

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")

# JD and PDD never list an order before it is paid (nor one cancelled unpaid)
LISTS_UNPAID = {"douyin": True, "taobao": True, "jd": False, "pdd": False, "youzan": True}
MAX_WINDOW_SECONDS = {
    "taobao": 24 * 3600,
    "jd": 31 * 24 * 3600,
    "pdd": 1800,
    "youzan": 365 * 24 * 3600,
}  # douyin: the `douyin_max_window_seconds` setting
# carrier codes used when the sandbox ships an order itself (status SHIPPED set by control)
DEFAULT_COMPANY = {"douyin": "shunfeng", "taobao": "SF", "jd": "467", "pdd": "44", "youzan": "1"}
CREATED_BEFORE_PAID = 120  # seconds between an order's creation and its payment


@dataclass
class Shop:
    shop_id: str
    name: str
    access_token: str | None = None
    refresh_token: str | None = None
    expires_at: int = 0
    tokens: set[str] = field(default_factory=set)  # every access token still on record


@dataclass
class AuthCode:
    """A code the authorise page gave a shop's browser: single use, short-lived, bound to the
    redirect_uri it was sent to."""

    shop_id: str
    redirect_uri: str
    expires_at: float
    used: bool = False


@dataclass
class Merchant:
    """Who is logged in at the platform's authorise page, and what they will answer: `allow`
    or `deny` at once, or `ask` (the consent page waits for a click)."""

    shop_id: str
    decision: str = "allow"


@dataclass
class AccessToken:
    value: str
    shop_id: str
    expires_at: float


@dataclass
class PlatformConfig:
    max_window_seconds: int
    mutate_while_paging: bool
    rate_per_second: float | None
    token_ttl_seconds: int
    token_grace_seconds: float
    fault_timeout_seconds: float
    clock_offset_seconds: float = 0.0  # the platform's clock minus the real one
    # message pushes (pushes.py): where to (None = only recorded), and the push faults
    push_url: str | None = None
    push_copies: int = 1  # each POST leaves this many times (duplicates, same message ids)
    push_batch_size: int = 1  # messages per POST where the platform batches (Douyin)
    push_reverse: bool = False  # a change's messages leave newest first (out of order)
    push_lost: bool = False  # messages are recorded but never sent (a lost push)
    push_readable_after_seconds: float = 0.0  # a changed order stays unlisted this long
    push_retry_delays: tuple[float, ...] = (1.0, 2.0, 5.0)  # resends until the success reply
    code_ttl_seconds: int = 600  # an authorisation code's life (PDD: 10 min)
    redirect_uri: str = ""  # the app's registered callback ("" = any; Douyin needs one)

    def view(self) -> dict[str, Any]:
        return {
            "max_window_seconds": self.max_window_seconds,
            "mutate_while_paging": self.mutate_while_paging,
            "rate_per_second": self.rate_per_second,
            "token_ttl_seconds": self.token_ttl_seconds,
            "token_grace_seconds": self.token_grace_seconds,
            "fault_timeout_seconds": self.fault_timeout_seconds,
            "clock_offset_seconds": self.clock_offset_seconds,
            "push_url": self.push_url,
            "push_copies": self.push_copies,
            "push_batch_size": self.push_batch_size,
            "push_reverse": self.push_reverse,
            "push_lost": self.push_lost,
            "push_readable_after_seconds": self.push_readable_after_seconds,
            "push_retry_delays": list(self.push_retry_delays),
            "code_ttl_seconds": self.code_ttl_seconds,
            "redirect_uri": self.redirect_uri,
        }


class PlatformData:
    def __init__(self, platform: str, settings: dict[str, Any]):
        self.platform = platform
        max_window = MAX_WINDOW_SECONDS.get(platform) or settings["douyin_max_window_seconds"]
        self.config = PlatformConfig(
            max_window_seconds=int(max_window),
            mutate_while_paging=False,
            rate_per_second=settings["platform_rate_per_second"],
            token_ttl_seconds=int(settings["token_ttl_seconds"]),
            token_grace_seconds=float(settings["platform_token_grace_seconds"]),
            fault_timeout_seconds=float(settings["fault_timeout_seconds"]),
            push_url=(settings.get("platform_push_urls") or {}).get(platform),
            push_batch_size=int(settings["douyin_push_batch_size"]) if platform == "douyin" else 1,
            push_retry_delays=tuple(settings["platform_push_retry_delays"]),
        )
        self.bucket: TokenBucket | None = None
        self.set_rate(self.config.rate_per_second)
        self.lists_unpaid = LISTS_UNPAID[platform]
        self.shops: dict[str, Shop] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> shop id
        self.codes: dict[str, AuthCode] = {}  # authorisation codes handed out
        self.merchant: Merchant | None = None  # logged in at the authorise page
        self.orders: dict[str, Order] = {}
        self.indexes: dict[str, ShopIndex] = {}
        self.shipments: list[dict[str, Any]] = []
        self.faults: list[FaultRule] = []
        self.stats: Counter = Counter()
        self.next_seq = 1
        self.next_tick = 1
        # message pushes: changes waiting to be pushed (order id, event), the attempts made
        self.outbox: list[tuple[str, str]] = []
        self.pushes: list[dict[str, Any]] = []
        self.next_msg = 1
        self.hidden_until = 0.0  # no order is unlisted (push_readable_after_seconds) after it

    def set_rate(self, rate: float | None) -> None:
        self.config.rate_per_second = rate
        self.bucket = TokenBucket(rate) if rate else None

    # ---- shops and tokens

    def shop(self, shop_id: str, name: str | None = None) -> Shop:
        shop = self.shops.get(shop_id)
        if shop is None:
            shop = self.shops[shop_id] = Shop(shop_id, name or f"合蛎测试店铺{shop_id}")
        elif name:
            shop.name = name
        return shop

    def authorise(self, shop_id: str, name: str | None, now: float) -> Shop:
        """The shop (re-)authorised the app: fresh tokens, the old ones stop at once."""
        shop = self.shop(shop_id, name)
        for value in shop.tokens:
            self.tokens.pop(value, None)
        shop.tokens.clear()
        self.refresh_tokens.pop(shop.refresh_token or "", None)
        self._issue(shop, now)
        return shop

    def issue_code(self, shop_id: str, redirect_uri: str, now: float) -> str:
        """The shop allowed the app at the authorise page: a code for its browser to carry."""
        self.shop(shop_id)
        code = f"{self.platform[:2]}_code_{secrets.token_hex(12)}"
        self.codes[code] = AuthCode(shop_id, redirect_uri, now + self.config.code_ttl_seconds)
        return code

    def redeem(self, code: str, redirect_uri: str | None, now: float) -> Shop | str:
        """The app exchanges a code: the shop, with fresh tokens (the old ones stop at once), or
        why not: "code" (unknown, used or expired) or "redirect_uri" (not the one it went to).
        redirect_uri None: the platform's exchange does not carry one."""
        grant = self.codes.get(code)
        if grant is None or grant.used or now >= grant.expires_at:
            return "code"
        if redirect_uri is not None and redirect_uri != grant.redirect_uri:
            return "redirect_uri"
        grant.used = True
        return self.authorise(grant.shop_id, None, now)

    def _issue(self, shop: Shop, now: float) -> None:
        prefix = self.platform[:2]
        shop.access_token = f"{prefix}_at_{secrets.token_hex(16)}"
        shop.expires_at = int(now) + self.config.token_ttl_seconds
        token = AccessToken(shop.access_token, shop.shop_id, shop.expires_at)
        self.tokens[token.value] = token
        shop.tokens.add(token.value)
        if self.platform == "youzan":  # no refresh token: a new token is fetched silently
            shop.refresh_token = None
        else:
            shop.refresh_token = f"{prefix}_rt_{secrets.token_hex(16)}"
            self.refresh_tokens[shop.refresh_token] = shop.shop_id

    def rotate(self, shop: Shop, now: float) -> None:
        """New tokens; the old access token keeps working for the grace period, the old refresh
        token stops at once."""
        until = now + self.config.token_grace_seconds
        for value in list(shop.tokens):
            token = self.tokens.get(value)
            if token is None or token.expires_at <= now:
                shop.tokens.discard(value)
                self.tokens.pop(value, None)
            else:
                token.expires_at = min(token.expires_at, until)
        self.refresh_tokens.pop(shop.refresh_token or "", None)
        self._issue(shop, now)

    def refresh(self, refresh_token: str, now: float) -> Shop | None:
        shop_id = self.refresh_tokens.get(refresh_token)
        if shop_id is None:
            return None
        shop = self.shops[shop_id]
        self.rotate(shop, now)
        return shop

    def expire(self, shop: Shop, now: float) -> None:
        """Every access token of the shop expires now (refresh tokens still work)."""
        for value in shop.tokens:
            token = self.tokens.get(value)
            if token is not None:
                token.expires_at = min(token.expires_at, now)
        shop.expires_at = min(shop.expires_at, int(now))

    def token_owner(self, value: str | None) -> str | None:
        """The shop a token was issued to, valid or not (faults may name the shop)."""
        token = self.tokens.get(value or "")
        return token.shop_id if token else None

    def valid_shop(self, value: str | None, now: float) -> str | None:
        token = self.tokens.get(value or "")
        if token is None or now >= token.expires_at:
            return None
        return token.shop_id

    def take_fault(self, now: float, shop_id: str | None, has_token: bool) -> FaultRule | None:
        return take_fault(self.faults, now, shop_id, has_token)

    # ---- orders

    def listed(self, order: Order) -> bool:
        return self.lists_unpaid or order.pay_time > 0

    def create(self, spec: OrderSpec, now: float) -> Order:
        update_time = int(now) if spec.update_time is None else spec.update_time
        paid = spec.status in PAID_STATUSES
        create_time = update_time - CREATED_BEFORE_PAID if spec.status != "UNPAID" else update_time
        seq = self.next_seq
        self.next_seq += 1
        order = Order(
            order_id=order_id_for(self.platform, seq, create_time),
            shop_id=spec.shop_id,
            seq=seq,
            items=spec.items,
            post_fee_fen=spec.post_fee_fen,
            status=spec.status,
            fulfilment=(spec.status if spec.status in FULFILMENT else "PAID") if paid else "",
            create_time=create_time,
            pay_time=update_time if paid else 0,
            update_time=update_time,
            tick=0,
        )
        if spec.status in ("SHIPPED", "COMPLETED"):
            self._auto_ship(order, update_time)
        if spec.shop_id not in self.shops:
            self.shop(spec.shop_id)
        self.orders[order.order_id] = order
        self._move(order, update_time)
        self.outbox.append((order.order_id, "created"))
        if paid:
            self.outbox.append((order.order_id, "paid"))
        if spec.status not in ("UNPAID", "PAID"):
            self.outbox.append((order.order_id, spec.status.lower()))
        return order

    def set_status(self, order: Order, status: str, update_time: int | None, now: float) -> None:
        """A change of our status at `update_time` (default now; earlier = a late update).
        Raises ValueError for a change no platform makes."""
        when = int(now) if update_time is None else update_time
        paid = order.pay_time > 0
        if when < order.create_time:
            raise ValueError(f"update_time {when} is before the order was created")
        if status in ("UNPAID", "CANCELLED") and paid:
            raise ValueError(f"order {order.order_id} was paid: it can be REFUNDED, not {status}")
        if status in ("REFUNDING", "REFUNDED") and not paid:
            raise ValueError(f"order {order.order_id} was never paid: cancel it instead")
        if status in FULFILMENT:
            if not paid:
                order.pay_time = when
                self.outbox.append((order.order_id, "paid"))
            order.fulfilment = status
            if status != "PAID" and order.tracking_no is None:
                self._auto_ship(order, when)
        if status not in ("PAID", "UNPAID"):
            self.outbox.append((order.order_id, status.lower()))
        order.status = status
        self._move(order, when)

    def ship(self, order: Order, company: str, tracking_no: str, now: float) -> None:
        """The seller's write-back: only a PAID order can be shipped (ValueError otherwise)."""
        if order.status != "PAID":
            raise ValueError(f"order {order.order_id} is {order.status}, not waiting to ship")
        order.status = order.fulfilment = "SHIPPED"
        order.company, order.tracking_no, order.ship_time = company, tracking_no, int(now)
        self.shipments.append(
            {
                "order_id": order.order_id,
                "shop_id": order.shop_id,
                "company": company,
                "tracking_no": tracking_no,
                "at": int(now),
            }
        )
        self.outbox.append((order.order_id, "shipped"))
        self._move(order, int(now))

    def touch(self, order: Order, now: float) -> None:
        """A change that keeps the status (a seller note): only the update time moves."""
        self._move(order, int(now))
        self.stats["touched"] += 1

    def _auto_ship(self, order: Order, when: int) -> None:
        order.company = DEFAULT_COMPANY[self.platform]
        order.tracking_no = f"SF{1_400_000_000_000 + order.seq}"
        order.ship_time = when

    def _move(self, order: Order, update_time: int) -> None:
        index = self.indexes.get(order.shop_id)
        if index is None:
            index = self.indexes[order.shop_id] = ShopIndex()
        if order.indexed:
            index.remove(order)
        order.update_time = update_time
        order.tick = self.next_tick
        self.next_tick += 1
        order.indexed = self.listed(order)
        if order.indexed:
            index.add(order)
        delay = self.config.push_readable_after_seconds
        if delay > 0:  # pushed before the order API shows the change
            order.hidden_until = time.time() + delay
            self.hidden_until = max(self.hidden_until, order.hidden_until)

    def shop_order(self, shop_id: str, order_id: str) -> Order | None:
        order = self.orders.get(order_id)
        return order if order is not None and order.shop_id == shop_id else None

    def page(
        self,
        shop_id: str,
        start: int,
        end: int,
        number: int,
        size: int,
        desc: bool = True,
        accept: Callable[[Order], bool] | None = None,
    ) -> Page:
        """Page `number` (0-based) of the shop's listed orders updated within [start, end], newest
        first unless `desc` is false; `accept` filters (a status filter scans the window)."""
        index = self.indexes.get(shop_id)
        if index is None:
            return Page([], 0, None)
        now = time.time()
        if self.hidden_until > now:  # some orders changed too recently for the order API
            wanted = accept or (lambda order: True)
            accept = lambda order: order.hidden_until <= now and wanted(order)  # noqa: E731
        lo, hi = index.bounds(start, end)
        entries = index.entries
        if accept is not None:
            entries = [entry for entry in entries[lo:hi] if accept(entry[2])]
            lo, hi = 0, len(entries)
        if desc:
            top = hi - number * size
            rows = entries[max(lo, top - size) : top][::-1] if top > lo else []
        else:
            first = lo + number * size
            rows = entries[first : min(hi, first + size)] if first < hi else []
        orders = [entry[2] for entry in rows]
        newest = entries[hi - 1][2] if hi > lo else None
        return Page(orders, hi - lo, orders[0] if orders else newest)


def build_platforms(settings: dict[str, Any]) -> dict[str, PlatformData]:
    return {platform: PlatformData(platform, settings) for platform in PLATFORMS}
