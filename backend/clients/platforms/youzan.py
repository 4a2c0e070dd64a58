"""Youzan (有赞云): youzan.trades.sold.get 4.0.4, /auth/token (silent),
youzan.logistics.online.confirm 3.0.0.

Calls are JSON POSTs to {base}/api/{api}/{version}?access_token=… with no signature. Youzan
has no refresh token: a shop's token is re-issued from its kdt_id (the shop authorised the app
once). Times are Asia/Shanghai strings, amounts yuan strings, pages 1-based.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import urlencode

from backend.clients.platforms.base import (
    OrderLine,
    Page,
    PlatformClient,
    PlatformError,
    PulledOrder,
    ShopAuth,
    TokenGrant,
    unknown_status,
)
from backend.clients.platforms.convert import (
    as_int,
    as_list,
    from_china,
    optional_int,
    required,
    to_china,
    to_fen,
)
from backend.timeutil import naive_utc_from_timestamp

PLATFORM = "youzan"
TRADE_STATUS = {
    "WAIT_BUYER_PAY": "UNPAID",
    "WAIT_SELLER_SEND_GOODS": "PAID",
    "TRADE_PAID": "PAID",
    "WAIT_BUYER_CONFIRM_GOODS": "SHIPPED",
    "TRADE_SUCCESS": "COMPLETED",
    "TRADE_CLOSE": "CANCELLED",  # closed with no refund: never paid
    "TRADE_CLOSED": "CANCELLED",
}
# refund_state: 0 none, 1 refunding, 2 refunded (Youzan's 11 / 12: the whole order)
REFUND_STATE = {1: "REFUNDING", 11: "REFUNDING", 2: "REFUNDED", 12: "REFUNDED"}

AUTH_CODES = frozenset({"4201", "4202", "4203"})
RATE_CODES = frozenset({"4003"})
TRANSIENT_CODES = frozenset({"5000"})


def map_status(status: str, refund_state: int) -> str:
    """Our status of a Youzan trade; the refund state wins over the trade status."""
    if refund_state in REFUND_STATE:
        return REFUND_STATE[refund_state]
    if status not in TRADE_STATUS:
        raise unknown_status(PLATFORM, status)
    return TRADE_STATUS[status]


def refund_state_of(item: dict, full: dict, info: dict) -> int:
    for holder in (item, full, info):
        if holder.get("refund_state") not in (None, ""):
            return as_int(holder["refund_state"])
    return 0


def parse_order(item: dict) -> PulledOrder:
    full = item["full_order_info"]
    info = full["order_info"]
    pay = full.get("pay_info") or {}
    address = full.get("address_info") or {}
    refund_state = refund_state_of(item, full, info)
    status = str(info["status"])
    lines = tuple(
        OrderLine(
            sku_code=str(line.get("outer_sku_id") or line.get("outer_item_id") or ""),
            platform_sku_id=str(line.get("sku_id") or line.get("oid") or ""),
            title=str(line.get("title") or ""),
            quantity=as_int(line["num"]),
            unit_price=to_fen(line["price"]),
        )
        for line in as_list(full, "orders")
    )
    return PulledOrder(
        platform=PLATFORM,
        order_id=str(info["tid"]),
        status=map_status(status, refund_state),
        platform_status=f"{status}/refund:{refund_state}" if refund_state else status,
        created_at=required(from_china(info["created"]), "created_at"),
        updated_at=required(from_china(info["update_time"]), "updated_at"),
        paid_at=from_china(info.get("pay_time")),
        total=to_fen(pay["payment"]),
        shipping_fee=to_fen(pay.get("post_fee") or "0"),
        lines=lines,
        receiver={
            "name": address.get("receiver_name", ""),
            "phone": address.get("receiver_tel", ""),
            "address": address.get("delivery_address", ""),
        },
        tracking_no=None,
    )


class YouzanClient(PlatformClient):
    platform = PLATFORM
    max_window = timedelta(days=365)

    def invoke(self, api: str, version: str, body: dict, access_token: str) -> dict:
        return self.call(
            lambda: self.session.post(
                f"{self.base_url}/api/{api}/{version}",
                params={"access_token": access_token},
                json=body,
                timeout=self.timeout,
            )
        )

    def error_in(self, payload: dict) -> PlatformError | None:
        gateway = payload.get("gw_err_resp")  # the real gateway's shape for token errors
        if isinstance(gateway, dict):
            code, message = str(gateway.get("err_code", "")), str(gateway.get("err_msg", ""))
        else:
            code, message = str(payload.get("code", "")), str(payload.get("message") or "")
            if code == "200" and payload.get("success") is not False:
                return None
        if not code:
            return PlatformError("transient", PLATFORM, "", f"no code in answer: {payload!r:.200}")
        if code in AUTH_CODES:
            kind = "auth"
        elif code in RATE_CODES:
            kind = "rate_limited"
        elif code in TRANSIENT_CODES or (len(code) == 4 and code.startswith("5")):
            kind = "transient"
        else:
            kind = "invalid"
        return PlatformError(kind, PLATFORM, code, message)

    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        body = {
            "start_update": to_china(start),
            "end_update": to_china(end),
            "page_no": number,
            "page_size": self.page_size,
        }
        return self.invoke("youzan.trades.sold.get", "4.0.4", body, shop.access_token)

    def parse_page(self, payload: dict) -> Page:
        data = payload["data"]
        items = as_list(data, "full_order_info_list")
        return Page([parse_order(item) for item in items], optional_int(data.get("total_results")))

    def refresh_token(self, shop: ShopAuth) -> TokenGrant:
        """A new token for the shop (kdt_id), issued silently; Youzan has no refresh token."""
        body = {
            "client_id": self.app_key,
            "client_secret": self.app_secret,
            "authorize_type": "silent",
            "grant_id": shop.shop_key,
            "refresh": False,
        }
        with self.refusal_breaks_auth():
            payload = self.call(
                lambda: self.session.post(
                    f"{self.base_url}/auth/token", json=body, timeout=self.timeout
                )
            )

        def read() -> TokenGrant:
            data = payload["data"]
            expires_ms = as_int(data["expires"])
            return TokenGrant(
                access_token=str(required(data["access_token"], "access_token")),
                refresh_token=None,
                expires_at=naive_utc_from_timestamp(expires_ms // 1000),
            )

        return self.parsed("auth/token", read)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """The tool app's authorise page: its address is UNVERIFIED (api-facts §7.4)."""
        query = urlencode(
            {
                "client_id": self.app_key,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self.oauth_base}/oauth/authorize?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        """/auth/token with authorize_type authorization_code: authority_id is the shop's
        kdt_id; the answer names no shop name. Later tokens come silently by the kdt_id."""
        body = {
            "authorize_type": "authorization_code",
            "client_id": self.app_key,
            "client_secret": self.app_secret,
            "code": code,
            "redirect_uri": redirect_uri,
        }
        with self.refusal_breaks_auth():
            payload = self.call(
                lambda: self.session.post(
                    f"{self.base_url}/auth/token", json=body, timeout=self.timeout
                )
            )

        def read() -> TokenGrant:
            data = payload["data"]
            return TokenGrant(
                access_token=str(required(data["access_token"], "access_token")),
                refresh_token=str(data["refresh_token"]) if data.get("refresh_token") else None,
                expires_at=naive_utc_from_timestamp(as_int(data["expires"]) // 1000),
                shop_key=str(required(data["authority_id"], "authority_id")),
            )

        return self.parsed("auth/token", read)

    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None:
        body = {"tid": order_id, "out_stype": company, "out_sid": tracking_no}
        payload = self.invoke("youzan.logistics.online.confirm", "3.0.0", body, shop.access_token)
        ok = self.parsed("logistics.online.confirm", lambda: payload["data"]["is_success"])
        self.shipped_or_raise(ok, order_id)
