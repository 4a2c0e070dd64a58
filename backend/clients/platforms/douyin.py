"""Douyin shop (抖店) open platform: order.searchList, token.refresh, order.logisticsAdd.

Requests are POST {base}/{method with "." as "/"}; the business params are the body
(`param_json`), signed with HMAC-SHA256 over the pattern in docs/platforms.md. Amounts are fen,
times unix seconds, pages 0-based.
"""

from __future__ import annotations

import hashlib
import hmac
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
    as_int,
    as_list,
    compact_json,
    from_unix,
    optional_int,
    required,
    split_fen,
    to_unix,
)

PLATFORM = "douyin"
ORDER_STATUS = {1: "UNPAID", 105: "PAID", 2: "PAID", 101: "SHIPPED", 3: "SHIPPED", 5: "COMPLETED"}
CANCELLED_STATUS = 4
REFUNDING, REFUNDED = 1, 3  # after_sale_info.refund_status (0 none, 4 refund failed)

AUTH_CODES = frozenset({"30001"})
CREDENTIAL_CODES = frozenset({"40004"})
TIMESTAMP_CODES = frozenset({"40005"})
RATE_CODES = frozenset({"50002"})
TRANSIENT_CODES = frozenset({"50001"})


def param_json(params: dict) -> str:
    return compact_json(params)


def sign(secret: str, *, app_key: str, method: str, param_json: str, timestamp: str) -> str:
    """hex(HMAC-SHA256(secret, secret + "app_key"… + "v2" + secret)), lower case."""
    pattern = (
        f"{secret}app_key{app_key}method{method}param_json{param_json}"
        f"timestamp{timestamp}v2{secret}"
    )
    return hmac.new(secret.encode(), pattern.encode(), hashlib.sha256).hexdigest()


def map_status(order_status: int, *, paid: bool, refund_status: int | None) -> str:
    """Our status of a Douyin order; the refund status wins over the order status."""
    if refund_status == REFUNDING:
        return "REFUNDING"
    if refund_status == REFUNDED:
        return "REFUNDED"
    if order_status == CANCELLED_STATUS:
        return "REFUNDED" if paid else "CANCELLED"
    if order_status not in ORDER_STATUS:
        raise unknown_status(PLATFORM, order_status)
    return ORDER_STATUS[order_status]


def refund_status_of(raw: dict) -> int | None:
    """after_sale_info on the order; else from its lines (any refunding, or all refunded)."""
    info = raw.get("after_sale_info")
    if isinstance(info, dict) and info.get("refund_status") not in (None, ""):
        return as_int(info["refund_status"])
    lines = [
        optional_int((sku.get("after_sale_info") or {}).get("refund_status"))
        for sku in raw.get("sku_order_list") or []
    ]
    if REFUNDING in lines:
        return REFUNDING
    if lines and all(status == REFUNDED for status in lines):
        return REFUNDED
    return None


def parse_order(raw: dict) -> PulledOrder:
    paid_at = from_unix(raw.get("pay_time"))
    order_status = as_int(raw["order_status"])
    refund = refund_status_of(raw)
    lines = []
    for sku in as_list(raw, "sku_order_list"):
        quantity = as_int(sku["item_num"])
        lines.append(
            OrderLine(
                sku_code=str(sku.get("out_sku_id") or ""),
                platform_sku_id=str(sku.get("sku_id") or ""),
                title=str(sku.get("product_name") or ""),
                quantity=quantity,
                unit_price=split_fen(as_int(sku["origin_amount"]), quantity),
            )
        )
    addr = raw.get("post_addr") or {}
    parts = [(addr.get(k) or {}).get("name") for k in ("province", "city", "town")]
    parts.append(addr.get("encrypt_detail"))
    tracking = [
        x.get("tracking_no") for x in raw.get("logistics_info") or [] if x.get("tracking_no")
    ]
    return PulledOrder(
        platform=PLATFORM,
        order_id=str(raw["order_id"]),
        status=map_status(order_status, paid=paid_at is not None, refund_status=refund),
        platform_status=f"{order_status}/refund:{refund}" if refund else str(order_status),
        created_at=required(from_unix(raw["create_time"]), "created_at"),
        updated_at=required(from_unix(raw["update_time"]), "updated_at"),
        paid_at=paid_at,
        total=as_int(raw["pay_amount"]),
        shipping_fee=as_int(raw.get("post_amount") or 0),
        lines=tuple(lines),
        receiver={
            "name": raw.get("encrypt_post_receiver", ""),
            "phone": raw.get("encrypt_post_tel", ""),
            "address": " ".join(str(p) for p in parts if p),
        },
        tracking_no=str(tracking[0]) if tracking else None,
    )


class DouyinClient(PlatformClient):
    platform = PLATFORM
    max_window = timedelta(hours=24)  # sandbox choice, configurable
    timestamp_codes = TIMESTAMP_CODES
    credential_codes = CREDENTIAL_CODES

    def __init__(self, *args, service_id: str = "", **kw):
        """service_id: the alliance's tool app in Douyin's service market (服务市场)."""
        super().__init__(*args, **kw)
        self.service_id = service_id

    def invoke(self, method: str, params: dict, access_token: str | None = None) -> dict:
        body = param_json(params)

        def send():
            timestamp = str(int(time.time()))
            query = {"app_key": self.app_key, "method": method}
            if access_token is not None:
                query["access_token"] = access_token
            query.update(timestamp=timestamp, v="2", sign_method="hmac-sha256")
            query["sign"] = sign(
                self.app_secret,
                app_key=self.app_key,
                method=method,
                param_json=body,
                timestamp=timestamp,
            )
            return self.session.post(
                f"{self.base_url}/{method.replace('.', '/')}",
                params=query,
                data=body.encode("utf-8"),
                headers={"Content-Type": "application/json;charset=UTF-8"},
                timeout=self.timeout,
            )

        return self.call(send)

    def error_in(self, payload: dict) -> PlatformError | None:
        code = str(payload.get("code", ""))
        if code == "10000":
            return None
        sub_code = str(payload.get("sub_code") or "")
        message = " ".join(
            str(payload[k]) for k in ("msg", "sub_code", "sub_msg") if payload.get(k)
        )
        if not code:
            return PlatformError("transient", PLATFORM, "", f"no code in answer: {payload!r:.200}")
        if code in AUTH_CODES or "access-token" in sub_code or "access_token" in sub_code:
            kind = "auth"
        elif code in RATE_CODES or "rate-limit" in sub_code:
            kind = "rate_limited"
        elif code in TRANSIENT_CODES or sub_code.startswith("isp."):
            kind = "transient"
        else:
            kind = "invalid"
        return PlatformError(kind, PLATFORM, code, message)

    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        params = {
            "update_time_start": to_unix(start),
            "update_time_end": to_unix(end),
            "order_by": "update_time",
            "order_asc": False,
            "page": number - 1,
            "size": self.page_size,
        }
        return self.invoke("order.searchList", params, shop.access_token)

    def parse_page(self, payload: dict) -> Page:
        data = payload["data"]
        raw_orders = as_list(data, "shop_order_list")
        return Page([parse_order(raw) for raw in raw_orders], optional_int(data.get("total")))

    def refresh_token(self, shop: ShopAuth) -> TokenGrant:
        if not shop.refresh_token:
            raise PlatformError("auth_broken", PLATFORM, "", "the shop has no refresh token")
        params = {"grant_type": "refresh_token", "refresh_token": shop.refresh_token}
        with self.refusal_breaks_auth():
            payload = self.invoke("token.refresh", params)
        data = payload.get("data") or {}
        return self.parsed(
            "token.refresh",
            lambda: self.grant(data["access_token"], data.get("refresh_token"), data["expires_in"]),
        )

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """fuwu.jinritemai.com/authorize: the callback is the one registered for the service
        in the service market, so redirect_uri is not part of the address."""
        query = urlencode({"service_id": self.service_id, "state": state})
        return f"{self.oauth_base}/authorize?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        params = {"code": code, "grant_type": "authorization_code"}
        with self.refusal_breaks_auth():
            payload = self.invoke("token.create", params)
        data = payload.get("data") or {}
        return self.parsed(
            "token.create",
            lambda: self.grant(
                data["access_token"],
                data.get("refresh_token"),
                data["expires_in"],
                data["shop_id"],
                data.get("shop_name"),
            ),
        )

    def decrypt_receiver(self, shop: ShopAuth, order_id: str, receiver: dict) -> dict | None:
        """order.batchDecrypt of the name, phone and street an order's receiver holds as
        `encrypt_*` ciphertexts (kept as pulled: province, city and town are plain)."""
        *place, street = str(receiver.get("address", "")).split(" ") or [""]
        ciphers = {"name": receiver.get("name", ""), "phone": receiver.get("phone", "")}
        ciphers["street"] = street
        infos = [{"auth_id": order_id, "cipher_text": text} for text in ciphers.values() if text]
        payload = self.invoke("order.batchDecrypt", {"cipher_infos": infos}, shop.access_token)
        plain = {
            item["cipher_text"]: item["decrypt_text"]
            for item in (payload.get("data") or {}).get("decrypt_infos", [])
            if item.get("err_no") == 0
        }
        if any(text and text not in plain for text in ciphers.values()):
            raise PlatformError("invalid", PLATFORM, "decrypt", "receiver not decrypted")
        return {
            "name": plain.get(ciphers["name"], ""),
            "phone": plain.get(ciphers["phone"], ""),
            "address": "".join(place) + plain.get(street, street),
        }

    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None:
        params = {"order_id": order_id, "company_code": company, "logistics_code": tracking_no}
        self.invoke("order.logisticsAdd", params, shop.access_token)
