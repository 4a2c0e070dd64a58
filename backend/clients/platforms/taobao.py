"""Taobao / Tmall TOP: taobao.trades.sold.increment.get, taobao.top.auth.token.refresh,
taobao.logistics.offline.send.

Requests are form POSTs to {base}/router/rest signed with MD5 over every parameter; times are
Asia/Shanghai strings, amounts yuan strings, pages 1-based.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from urllib.parse import unquote, urlencode

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
    to_china,
    to_fen,
)
from backend.timeutil import utcnow

PLATFORM = "taobao"
TRADE_STATUS = {
    "TRADE_NO_CREATE_PAY": "UNPAID",
    "WAIT_BUYER_PAY": "UNPAID",
    "PAY_PENDING": "UNPAID",
    "WAIT_PRE_AUTH_CONFIRM": "UNPAID",
    "WAIT_SELLER_SEND_GOODS": "PAID",
    "PAID_FORBID_CONSIGN": "PAID",
    "SELLER_CONSIGNED_PART": "SHIPPED",
    "WAIT_BUYER_CONFIRM_GOODS": "SHIPPED",
    "TRADE_BUYER_SIGNED": "COMPLETED",
    "TRADE_FINISHED": "COMPLETED",
    "TRADE_CLOSED_BY_TAOBAO": "CANCELLED",
    "TRADE_CLOSED": "REFUNDED",
}
# an order line's refund in progress (WAIT_SELLER_CONFIRM_GOODS: the goods are on their way back)
REFUNDING_LINE = frozenset(
    {"WAIT_SELLER_AGREE", "WAIT_BUYER_RETURN_GOODS", "WAIT_SELLER_CONFIRM_GOODS"}
)
NO_REFUND = ("", "NO_REFUND")

AUTH_CODES = frozenset({"26", "27"})
# invalid signature, invalid app key; OAuth's invalid_client (our app key or secret)
CREDENTIAL_CODES = frozenset({"25", "29", "invalid_client"})
TIMESTAMP_CODES = frozenset({"43"})
RATE_CODES = frozenset({"7"})
TRANSIENT_CODES = frozenset({"10", "15"})
TRADE_FIELDS = (
    "tid,status,created,modified,pay_time,payment,post_fee,receiver_name,receiver_mobile,"
    "receiver_state,receiver_city,receiver_district,receiver_address,orders.oid,orders.num_iid,"
    "orders.sku_id,orders.outer_sku_id,orders.outer_iid,orders.title,orders.num,orders.price,"
    "orders.payment,orders.refund_status,orders.invoice_no"
)


def map_status(status: str, line_refunds: list[str]) -> str:
    """Our status of a TOP trade; a line's refund in progress wins over the trade status."""
    if any(refund in REFUNDING_LINE for refund in line_refunds):
        return "REFUNDING"
    if status not in TRADE_STATUS:
        raise unknown_status(PLATFORM, status)
    return TRADE_STATUS[status]


def parse_order(raw: dict) -> PulledOrder:
    order_lines = as_list(raw["orders"], "order")
    refunds = [str(line.get("refund_status") or "") for line in order_lines]
    shown = sorted({r for r in refunds if r not in NO_REFUND})
    status = str(raw["status"])
    lines = tuple(
        OrderLine(
            sku_code=str(line.get("outer_sku_id") or line.get("outer_iid") or ""),
            platform_sku_id=str(line.get("sku_id") or line.get("num_iid") or ""),
            title=str(line.get("title") or ""),
            quantity=as_int(line["num"]),
            unit_price=to_fen(line["price"]),
        )
        for line in order_lines
    )
    address = (raw.get(k) for k in ("receiver_state", "receiver_city", "receiver_district"))
    return PulledOrder(
        platform=PLATFORM,
        order_id=str(raw["tid"]),
        status=map_status(status, refunds),
        platform_status=f"{status}/refund:{','.join(shown)}" if shown else status,
        created_at=required(from_china(raw["created"]), "created_at"),
        updated_at=required(from_china(raw["modified"]), "updated_at"),
        paid_at=from_china(raw.get("pay_time")),
        total=to_fen(raw["payment"]),
        shipping_fee=to_fen(raw.get("post_fee") or "0"),
        lines=lines,
        receiver={
            "name": raw.get("receiver_name", ""),
            "phone": raw.get("receiver_mobile", ""),
            "address": " ".join(str(p) for p in (*address, raw.get("receiver_address")) if p),
        },
        tracking_no=next((str(x["invoice_no"]) for x in order_lines if x.get("invoice_no")), None),
    )


class TaobaoClient(PlatformClient):
    platform = PLATFORM
    max_window = timedelta(days=1)
    timestamp_codes = TIMESTAMP_CODES
    credential_codes = CREDENTIAL_CODES

    def invoke(self, method: str, business: dict, session: str | None = None) -> dict:
        def send():
            params = {
                "method": method,
                "app_key": self.app_key,
                "timestamp": to_china(utcnow()),
                "v": "2.0",
                "sign_method": "md5",
                "format": "json",
            }
            if session is not None:
                params["session"] = session
            params.update({k: form_value(v) for k, v in business.items()})
            params["sign"] = md5_sign(self.app_secret, params)
            return self.session.post(
                f"{self.base_url}/router/rest", data=params, timeout=self.timeout
            )

        return self.call(send)

    def error_in(self, payload: dict) -> PlatformError | None:
        error = payload.get("error_response")
        if error is None:
            return None
        code = str(error.get("code", ""))
        sub_code = str(error.get("sub_code") or "")
        message = " ".join(str(error[k]) for k in ("msg", "sub_code", "sub_msg") if error.get(k))
        if code in AUTH_CODES or "sessionkey" in sub_code:
            kind = "auth"
        elif code in RATE_CODES or sub_code.startswith("accesscontrol."):
            kind = "rate_limited"
        elif sub_code.startswith("isv."):
            kind = "invalid"  # code 15 also carries business refusals (isv.*)
        elif code in TRANSIENT_CODES or sub_code.startswith("isp."):
            kind = "transient"
        else:
            kind = "invalid"
        return PlatformError(kind, PLATFORM, code, message)

    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        business = {
            "fields": TRADE_FIELDS,
            "start_modified": to_china(start),
            "end_modified": to_china(end),
            "page_no": number,
            "page_size": self.page_size,
            "use_has_next": True,
        }
        return self.invoke("taobao.trades.sold.increment.get", business, shop.access_token)

    def parse_page(self, payload: dict) -> Page:
        answer = payload["trades_sold_increment_get_response"]
        total = optional_int(answer.get("total_results"))
        if "trades" not in answer and total == 0:
            raw_trades = []  # TOP leaves "trades" out of an empty answer
        else:
            raw_trades = as_list(answer["trades"], "trade")
        orders = [parse_order(raw) for raw in raw_trades]
        return Page(orders, total, as_bool(answer.get("has_next")))

    def refresh_token(self, shop: ShopAuth) -> TokenGrant:
        if not shop.refresh_token:
            raise PlatformError("auth_broken", PLATFORM, "", "the shop has no refresh token")
        with self.refusal_breaks_auth():
            payload = self.invoke(
                "taobao.top.auth.token.refresh", {"refresh_token": shop.refresh_token}
            )

        def read() -> TokenGrant:
            result = payload["top_auth_token_refresh_response"]["token_result"]
            token = json.loads(result) if isinstance(result, str) else result
            return self.grant(
                token["access_token"], token.get("refresh_token"), token["expires_in"]
            )

        return self.parsed("token refresh", read)

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        """oauth.taobao.com/authorize; view=wap: the sellers authorise on their phones."""
        query = urlencode(
            {
                "response_type": "code",
                "client_id": self.app_key,
                "redirect_uri": redirect_uri,
                "state": state,
                "view": "wap",
            }
        )
        return f"{self.oauth_base}/authorize?{query}"

    def oauth_error_in(self, payload: dict) -> PlatformError | None:
        """oauth.taobao.com/token answers RFC 6749 errors: {error, error_description}."""
        if payload.get("access_token"):
            return None
        code = str(payload.get("error") or "")
        message = str(payload.get("error_description") or payload)[:200]
        if code == "temporarily_unavailable":
            return PlatformError("transient", PLATFORM, code, message)
        return PlatformError("invalid", PLATFORM, code, message)

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": self.app_key,
            "client_secret": self.app_secret,
            "redirect_uri": redirect_uri,
        }
        with self.refusal_breaks_auth():
            payload = self.call(
                lambda: self.session.post(
                    f"{self.oauth_base}/token", data=form, timeout=self.timeout
                ),
                self.oauth_error_in,
            )
        return self.parsed(
            "oauth token",
            lambda: self.grant(
                payload["access_token"],
                payload.get("refresh_token"),
                payload["expires_in"],
                payload["taobao_user_id"],
                unquote(str(payload.get("taobao_user_nick") or "")),
            ),
        )

    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None:
        business = {"tid": order_id, "out_sid": tracking_no, "company_code": company}
        payload = self.invoke("taobao.logistics.offline.send", business, shop.access_token)
        ok = self.parsed(
            "logistics.offline.send",
            lambda: payload["logistics_offline_send_response"]["shipping"]["is_success"],
        )
        self.shipped_or_raise(ok, order_id)
