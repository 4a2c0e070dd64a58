"""What every platform adapter shares: the order and token types, one error type, one HTTP
exchange with the error envelope checks, and the backward pager (conversions: convert.py).

The platforms list a window's orders newest update first. An order updated while we page leaves
the window (its new update time is after the window's end), which moves the orders behind it one
place towards page 1; reading from the last page back to page 1 means such a move only ever lands
on a page still to be read. See docs/platforms.md.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

import requests

from backend.clients.platforms.convert import as_int, naive_utc, required
from backend.timeutil import utcnow

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")
OUR_STATUSES = ("UNPAID", "PAID", "SHIPPED", "COMPLETED", "CANCELLED", "REFUNDING", "REFUNDED")
ERROR_KINDS = ("auth", "auth_broken", "rate_limited", "transient", "invalid")

MAX_PAGE_SIZE = 100
# A window ending this close to now can still gain orders while we page: read page 1 again.
LIVE_MARGIN = timedelta(minutes=2)
MAX_PAGES = 10_000
# what reading a field of a malformed answer raises (Decimal's errors are ArithmeticErrors)
MALFORMED = (KeyError, IndexError, TypeError, ValueError, ArithmeticError, AttributeError)


class PlatformError(Exception):
    """A platform call failed; `kind` says what the caller may do about it."""

    def __init__(
        self,
        kind: str,
        platform: str,
        code: str = "",
        message: str = "",
        retry_after: float | None = None,
    ):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind!r}")
        self.kind = kind
        self.platform = platform
        self.code = code
        self.message = message
        self.retry_after = retry_after
        super().__init__(f"{platform} {kind}{f' {code}' if code else ''}: {message}")

    @property
    def retryable(self) -> bool:
        """Worth trying the same call again later (after retry_after when given)."""
        return self.kind in ("transient", "rate_limited")


@dataclass(frozen=True)
class ShopAuth:
    shop_key: str
    access_token: str
    refresh_token: str | None


@dataclass(frozen=True)
class TokenGrant:
    access_token: str
    refresh_token: str | None
    expires_at: datetime
    # the shop a code exchange authorised, as the platform names it (None: not said)
    shop_key: str | None = None
    shop_name: str | None = None


@dataclass(frozen=True)
class OrderLine:
    sku_code: str
    platform_sku_id: str
    title: str
    quantity: int
    unit_price: int


@dataclass(frozen=True)
class PulledOrder:
    platform: str
    order_id: str
    status: str
    platform_status: str
    created_at: datetime
    updated_at: datetime
    paid_at: datetime | None
    total: int
    shipping_fee: int
    lines: tuple[OrderLine, ...]
    receiver: dict
    tracking_no: str | None


@dataclass(frozen=True)
class Page:
    """One page as the platform answered it; total/has_next are None when not given."""

    orders: list[PulledOrder]
    total: int | None
    has_next: bool | None = None


def unknown_status(platform: str, status) -> PlatformError:
    # Not guessed: an order we cannot place in our statuses needs a person and a code change.
    return PlatformError("invalid", platform, "unknown_status", f"unknown order status {status!r}")


_SECONDS_IN_TEXT = re.compile(r"(\d+(?:\.\d+)?)\s*(?:more\s+)?(?:seconds?|秒)")


def retry_after_of(response: requests.Response | None, message: str) -> float | None:
    """Retry-After header (seconds), else "... N more seconds" / "N秒" in the message."""
    if response is not None:
        try:
            return float(response.headers.get("Retry-After", "").strip())
        except ValueError:
            pass  # absent, or an HTTP date: look in the message
    match = _SECONDS_IN_TEXT.search(message or "")
    return float(match.group(1)) if match else None


# ---- the client ----------------------------------------------------------------------------


class PlatformClient(ABC):
    """One platform's API for the alliance's app; each call names the shop it acts for."""

    platform: str
    max_window: timedelta
    # the platform's error codes for a stale timestamp (retried once), and for a bad signature
    # or app key (our app's credentials: never the shop's authorisation)
    timestamp_codes: frozenset[str] = frozenset()
    credential_codes: frozenset[str] = frozenset()

    def __init__(
        self,
        base_url: str,
        app_key: str,
        app_secret: str,
        *,
        timeout: float = 5,
        max_window: timedelta | None = None,
        page_size: int = MAX_PAGE_SIZE,
        oauth_base: str | None = None,
    ):
        """oauth_base: the host of the platform's shop authorisation (its authorise page, and
        for Taobao and JD the code exchange), when it is not the API's."""
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            raise ValueError(f"page_size must be 1..{MAX_PAGE_SIZE}")
        self.base_url = base_url.rstrip("/")
        self.oauth_base = (oauth_base or base_url).rstrip("/")
        self.app_key = app_key
        self.app_secret = app_secret
        self.timeout = timeout
        self.page_size = page_size
        if max_window is not None:
            self.max_window = max_window
        self.session = requests.Session()
        # called before every HTTP request (a page is one): where a caller's rate limiter goes
        self.before_call: Callable[[], None] | None = None

    # -- what each platform provides

    @abstractmethod
    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        """The answer for page `number` (1-based; adapters translate) of the window."""

    @abstractmethod
    def parse_page(self, payload: dict) -> Page:
        """The orders, total and has_next of one answer; KeyError/ValueError mean malformed."""

    @abstractmethod
    def error_in(self, payload: dict) -> PlatformError | None:
        """The platform's error in an answer's JSON, or None for a success."""

    @abstractmethod
    def refresh_token(self, shop: ShopAuth) -> TokenGrant: ...

    @abstractmethod
    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None: ...

    # -- the shop's authorisation (OAuth2 authorisation code, api-facts §7.4)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """Where a shop's owner goes to authorise our app; the platform sends their browser
        back to redirect_uri with `code` and the same `state`."""
        raise NotImplementedError(f"{self.platform} has no shop authorisation flow")

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        """The shop's tokens for the code its browser brought back, with the shop's id (and
        name where the platform gives one); a refused code raises PlatformError kind
        `auth_broken` (the owner must authorise again)."""
        raise NotImplementedError(f"{self.platform} has no shop authorisation flow")

    def decrypt_receiver(self, shop: ShopAuth, order_id: str, receiver: dict) -> dict | None:
        """The receiver in plain text for a waybill, from the platform's decryption API; None
        where we have no such API for the platform (its own e-waybill service must print)."""
        return None

    # -- the window

    def check_window(self, start: datetime, end: datetime) -> tuple[datetime, datetime]:
        start, end = naive_utc(start), naive_utc(end)
        if end < start:
            raise ValueError(f"window end {end} is before its start {start}")
        if end - start > self.max_window:
            raise ValueError(f"{self.platform} windows are at most {self.max_window}")
        return start, end

    def fetch_window(self, shop: ShopAuth, start: datetime, end: datetime) -> list[PulledOrder]:
        """Every order of the shop whose update time is in [start, end] (naive UTC).

        Reads page 1 for the total, then the last page back to page 2, then page 1 again only
        when the total moved meanwhile or the window is still live. Any failed page raises
        PlatformError: a window is never returned in part.
        """
        start, end = self.check_window(start, end)
        first = self.read_page(shop, start, end, 1)
        pages = [first]
        if first.total is None or first.total < len(first.orders):
            pages += self._walk_has_next(shop, start, end, first)
        else:
            last = max(1, math.ceil(first.total / self.page_size))
            moved = False
            for number in range(last, 1, -1):
                page = self.read_page(shop, start, end, number)
                pages.append(page)
                moved = moved or page.total != first.total
            if last > 1 and (moved or end > utcnow() - LIVE_MARGIN):
                pages.append(self.read_page(shop, start, end, 1))
        return newest_by_id(order for page in pages for order in page.orders)

    def _walk_has_next(
        self, shop: ShopAuth, start: datetime, end: datetime, first: Page
    ) -> list[Page]:
        """No total given: find the last page through has_next, then read back to page 1."""
        if first.has_next is None:
            if len(first.orders) < self.page_size:
                return []
            raise self.malformed(1, "neither a total nor has_next")
        pages, page, number = [], first, 1
        while page.has_next:
            number += 1
            if number > MAX_PAGES:
                raise self.malformed(number, "has_next never ends")
            page = self.read_page(shop, start, end, number)
            pages.append(page)
        for back in range(number - 1, 0, -1):
            pages.append(self.read_page(shop, start, end, back))
        return pages

    def read_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> Page:
        payload = self.request_page(shop, start, end, number)
        try:
            page = self.parse_page(payload)
        except PlatformError:
            raise
        except MALFORMED as exc:
            raise self.malformed(number, repr(exc)) from exc
        if page.total is not None:
            expected = min(self.page_size, page.total - (number - 1) * self.page_size)
            if len(page.orders) < expected:
                raise self.malformed(
                    number, f"{len(page.orders)} orders where total {page.total} says {expected}"
                )
        return page

    def check_token(self, shop: ShopAuth) -> None:
        """One small read with the shop's access token (page 1 of the last minute's orders);
        PlatformError when the platform does not take the token."""
        end = utcnow().replace(microsecond=0)
        self.read_page(shop, end - timedelta(minutes=1), end, 1)

    def malformed(self, number: int, why: str) -> PlatformError:
        return PlatformError("transient", self.platform, "", f"malformed page {number}: {why}")

    # -- one HTTP exchange

    def call(
        self,
        send: Callable[[], requests.Response],
        error_in: Callable[[dict], PlatformError | None] | None = None,
    ) -> dict:
        """Send (a fresh signed request each time) and check the answer; a timestamp error is
        retried once, since the request carried our clock's time and a second may fix it."""
        error_in = error_in or self.error_in
        for attempt in (1, 2):
            if self.before_call is not None:
                self.before_call()
            response, payload = self._exchange(send)
            if response.ok:
                error = error_in(payload)
            else:
                error = self._http_error(response, payload, error_in)
            if error is None:
                return payload
            if error.retry_after is None and error.kind == "rate_limited":
                error.retry_after = retry_after_of(response, error.message)
            if error.code in self.timestamp_codes and attempt == 1:
                continue
            raise error
        raise AssertionError("unreachable")

    def _exchange(self, send: Callable[[], requests.Response]) -> tuple[requests.Response, dict]:
        try:
            response = send()
        except requests.Timeout as exc:
            raise PlatformError("transient", self.platform, "", f"timeout: {exc}") from exc
        except requests.RequestException as exc:
            raise PlatformError("transient", self.platform, "", f"unreachable: {exc}") from exc
        if response.status_code >= 500:
            raise PlatformError(
                "transient",
                self.platform,
                "",
                f"HTTP {response.status_code}: {response.text[:200]}",
            )
        try:
            payload = response.json(parse_float=Decimal)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            if response.ok:  # a 200 that is not our JSON: a cut or garbled answer
                raise PlatformError(
                    "transient", self.platform, "", f"malformed answer: {response.text[:200]!r}"
                )
            payload = {}
        return response, payload

    def _http_error(self, response, payload, error_in) -> PlatformError:
        status = response.status_code
        error = error_in(payload) if payload else None
        if status == 429:
            return PlatformError(
                "rate_limited",
                self.platform,
                error.code if error else "",
                error.message if error else "HTTP 429",
                retry_after_of(response, error.message if error else ""),
            )
        if error is not None:
            return error
        kind = "auth" if status == 401 else "invalid"
        return PlatformError(kind, self.platform, "", f"HTTP {status}: {response.text[:200]}")

    @contextmanager
    def refusal_breaks_auth(self) -> Iterator[None]:
        """A refresh the platform refuses (not our signature, clock, or its outage) means the
        shop's authorisation is gone: it must authorise the app again."""
        try:
            yield
        except PlatformError as exc:
            ours = exc.code in self.credential_codes or exc.code in self.timestamp_codes
            if exc.retryable or ours or exc.kind == "auth_broken":
                raise
            raise PlatformError("auth_broken", self.platform, exc.code, exc.message) from exc

    def grant(
        self, access_token, refresh_token, expires_in, shop_key=None, shop_name=None
    ) -> TokenGrant:
        return TokenGrant(
            access_token=str(required(access_token, "access_token")),
            refresh_token=str(refresh_token) if refresh_token else None,
            expires_at=utcnow().replace(microsecond=0) + timedelta(seconds=as_int(expires_in)),
            shop_key=str(required(shop_key, "shop id")) if shop_key is not None else None,
            shop_name=str(shop_name) if shop_name else None,
        )

    def parsed(self, what: str, read: Callable[[], object]):
        """Read a successful answer; a missing field is a malformed (transient) answer."""
        try:
            return read()
        except MALFORMED as exc:
            raise PlatformError(
                "transient", self.platform, "", f"malformed {what} answer: {exc!r}"
            ) from exc

    def shipped_or_raise(self, ok, order_id: str, why: str = "") -> None:
        """is_success false: the platform refused the shipment (order state, unknown order)."""
        if ok is not True and str(ok).lower() != "true":
            message = f"shipment of {order_id} not accepted{': ' + why if why else ''}"
            raise PlatformError("invalid", self.platform, "ship_refused", message)


def newest_by_id(orders) -> list[PulledOrder]:
    """One order per id, the one with the newest updated_at (the later read wins a tie)."""
    kept: dict[str, PulledOrder] = {}
    for order in orders:
        seen = kept.get(order.order_id)
        if seen is None or order.updated_at >= seen.updated_at:
            kept[order.order_id] = order
    return sorted(kept.values(), key=lambda o: (o.updated_at, o.order_id))
