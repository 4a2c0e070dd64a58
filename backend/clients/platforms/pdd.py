"""Pinduoduo POP: pdd.order.number.list.increment.get, pdd.pop.auth.token.refresh,
pdd.logistics.online.send.

Requests are form POSTs to {base}/api/router signed with MD5 over every parameter. Query
bounds are unix seconds, order times Asia/Shanghai strings, amounts yuan JSON numbers (read as
Decimal, never float), pages 1-based. PDD lists only paid orders.
"""

from __future__ import annotations

import time
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
    as_bool,
    as_int,
    as_list,
    form_value,
    from_china,
    md5_sign,
    optional_int,
    required,
    to_fen,
    to_unix,
)

PLATFORM = "pdd"
ORDER_STATUS = {1: "PAID", 2: "SHIPPED", 3: "COMPLETED"}  # 待发货, 已发货待签收, 已签收
REFUND_STATUS = {2: "REFUNDING", 3: "REFUNDING", 4: "REFUNDED"}  # 1: none or closed
ALL = 5  # order_status / refund_status filter: every value

AUTH_CODES = frozenset({"10019"})
CREDENTIAL_CODES = frozenset({"10016", "10001"})  # invalid sign, unknown client_id
TIMESTAMP_CODES = frozenset({"10035"})
RATE_CODES = frozenset({"70031"})
TRANSIENT_CODES = frozenset({"50000"})


def map_status(order_status: int, refund_status: int) -> str:
    """Our status of a PDD order; the refund status wins over the order status."""
    if refund_status in REFUND_STATUS:
        return REFUND_STATUS[refund_status]
    if order_status not in ORDER_STATUS:
        raise unknown_status(PLATFORM, order_status)
    return ORDER_STATUS[order_status]


def parse_order(raw: dict) -> PulledOrder:
    order_status = as_int(raw["order_status"])
    refund_status = as_int(raw.get("refund_status") or 1)
    lines = tuple(
        OrderLine(
            sku_code=str(item.get("outer_id") or ""),
            platform_sku_id=str(item.get("sku_id") or ""),
            title=str(item.get("goods_name") or ""),
            quantity=as_int(item["goods_count"]),
            unit_price=to_fen(item["goods_price"]),
        )
        for item in as_list(raw, "item_list")
    )
    return PulledOrder(
        platform=PLATFORM,
        order_id=str(raw["order_sn"]),
        status=map_status(order_status, refund_status),
        platform_status=f"{order_status}/refund:{refund_status}",
        created_at=required(from_china(raw["created_time"]), "created_at"),
        updated_at=required(from_china(raw["updated_at"]), "updated_at"),
        paid_at=from_china(raw.get("pay_time")),
        total=to_fen(raw["pay_amount"]),
        shipping_fee=to_fen(raw.get("postage") or 0),
        lines=lines,
        receiver={
            "name": raw.get("receiver_name", ""),
            "phone": raw.get("receiver_phone", ""),
            "address": raw.get("address", ""),
        },
        tracking_no=str(raw["tracking_number"]) if raw.get("tracking_number") else None,
    )


class PddClient(PlatformClient):
    platform = PLATFORM
    max_window = timedelta(minutes=30)
    timestamp_codes = TIMESTAMP_CODES
    credential_codes = CREDENTIAL_CODES

    def invoke(self, api_type: str, business: dict, access_token: str | None = None) -> dict:
        def send():
            params = {
                "type": api_type,
                "client_id": self.app_key,
                "timestamp": str(int(time.time())),
                "data_type": "JSON",
                "version": "V1",
            }
            if access_token is not None:
                params["access_token"] = access_token
            params.update({k: form_value(v) for k, v in business.items()})
            params["sign"] = md5_sign(self.app_secret, params)
            return self.session.post(
                f"{self.base_url}/api/router", data=params, timeout=self.timeout
            )

        return self.call(send)

    def error_in(self, payload: dict) -> PlatformError | None:
        error = payload.get("error_response")
        if error is None:
            return None
        code = str(error.get("error_code", ""))
        message = " ".join(
            str(error[k]) for k in ("error_msg", "sub_code", "sub_msg") if error.get(k)
        )
        if code in AUTH_CODES:
            kind = "auth"
        elif code in RATE_CODES:
            kind = "rate_limited"
        elif code in TRANSIENT_CODES or (code.isdigit() and 50000 <= int(code) < 60000):
            kind = "transient"
        else:
            kind = "invalid"
        return PlatformError(kind, PLATFORM, code, message)

    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        business = {
            "start_updated_at": to_unix(start),
            "end_updated_at": to_unix(end),
            "order_status": ALL,
            "refund_status": ALL,
            "is_lucky_flag": 0,
            "page": number,
            "page_size": self.page_size,
            "use_has_next": True,
        }
        return self.invoke("pdd.order.number.list.increment.get", business, shop.access_token)

    def parse_page(self, payload: dict) -> Page:
        answer = payload["order_sn_increment_get_response"]
        orders = [parse_order(raw) for raw in as_list(answer, "order_sn_list")]
        return Page(
            orders, optional_int(answer.get("total_count")), as_bool(answer.get("has_next"))
        )

    def refresh_token(self, shop: ShopAuth) -> TokenGrant:
        if not shop.refresh_token:
            raise PlatformError("auth_broken", PLATFORM, "", "the shop has no refresh token")
        with self.refusal_breaks_auth():
            payload = self.invoke(
                "pdd.pop.auth.token.refresh", {"refresh_token": shop.refresh_token}
            )

        def read() -> TokenGrant:
            token = payload["pop_auth_token_refresh_response"]
            return self.grant(
                token["access_token"], token.get("refresh_token"), token["expires_in"]
            )

        return self.parsed("token refresh", read)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app_key,
                "redirect_uri": redirect_uri,
                "state": state,
            }
        )
        return f"{self.oauth_base}/service-market/auth?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        """pdd.pop.auth.token.create through the gateway (signed, no access_token)."""
        with self.refusal_breaks_auth():
            payload = self.invoke("pdd.pop.auth.token.create", {"code": code})

        def read() -> TokenGrant:
            token = payload["pop_auth_token_create_response"]
            return self.grant(
                token["access_token"],
                token.get("refresh_token"),
                token["expires_in"],
                token["owner_id"],
                token.get("owner_name"),
            )

        return self.parsed("token create", read)

    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None:
        business = {"order_sn": order_id, "logistics_id": company, "tracking_number": tracking_no}
        payload = self.invoke("pdd.logistics.online.send", business, shop.access_token)
        ok = self.parsed(
            "logistics.online.send", lambda: payload["logistics_online_send_response"]["is_success"]
        )
        self.shipped_or_raise(ok, order_id)
