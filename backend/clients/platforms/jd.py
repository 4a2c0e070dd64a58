"""JD JOS: jingdong.pop.order.search, oauth2/refresh_token, jingdong.pop.order.shipment.

Requests are form POSTs to {base}/routerjson with the business params as compact JSON in
`360buy_param_json`, signed with MD5 over every parameter. Times are Asia/Shanghai strings,
amounts yuan strings, pages 1-based. JD lists only paid orders.
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
    compact_json,
    from_china,
    md5_sign,
    optional_int,
    required,
    to_china,
    to_fen,
)
from backend.timeutil import utcnow

PLATFORM = "jd"
ORDER_STATE = {
    "WAIT_SELLER_STOCK_OUT": "PAID",
    "WAIT_SELLER_DELIVERY": "PAID",  # overseas orders waiting for the seller
    "WAIT_GOODS_RECEIVE_CONFIRM": "SHIPPED",
    "FINISHED_L": "COMPLETED",
    "LOCKED": "REFUNDING",
    "TRADE_CANCELED": "REFUNDED",  # JD lists only paid orders: a cancelled one was refunded
}
# the states the search asks for: the contract's table (overseas WAIT_SELLER_DELIVERY is mapped
# in case an answer carries it, but not asked for)
QUERY_STATES = (
    "WAIT_SELLER_STOCK_OUT",
    "WAIT_GOODS_RECEIVE_CONFIRM",
    "FINISHED_L",
    "LOCKED",
    "TRADE_CANCELED",
)
AUTH_CODES = frozenset({"19"})
# invalid signature, invalid app_key; 401: OAuth's "app_key or app_secret wrong"
CREDENTIAL_CODES = frozenset({"14", "15", "401"})
TIMESTAMP_CODES = frozenset({"13"})
RATE_CODES = frozenset({"70"})
TRANSIENT_CODES = frozenset({"66"})
OPTIONAL_FIELDS = (
    "orderId,orderState,orderStateRemark,orderStartTime,modified,paymentConfirmTime,"
    "orderPayment,freightPrice,consigneeInfo,itemInfoList,waybill,logisticsId"
)


def map_status(order_state: str) -> str:
    if order_state not in ORDER_STATE:
        raise unknown_status(PLATFORM, order_state)
    return ORDER_STATE[order_state]


def response_key(method: str) -> str:
    # JD spells it "responce"
    return method.replace(".", "_") + "_responce"


def parse_order(raw: dict) -> PulledOrder:
    consignee = raw.get("consigneeInfo") or {}
    lines = tuple(
        OrderLine(
            sku_code=str(item.get("outerSkuId") or ""),
            platform_sku_id=str(item.get("skuId") or ""),
            title=str(item.get("skuName") or ""),
            quantity=as_int(item["itemTotal"]),
            unit_price=to_fen(item["jdPrice"]),
        )
        for item in as_list(raw, "itemInfoList")
    )
    state = str(raw["orderState"])
    return PulledOrder(
        platform=PLATFORM,
        order_id=str(raw["orderId"]),
        status=map_status(state),
        platform_status=state,
        created_at=required(from_china(raw["orderStartTime"]), "created_at"),
        updated_at=required(from_china(raw["modified"]), "updated_at"),
        paid_at=from_china(raw.get("paymentConfirmTime")),
        total=to_fen(raw["orderPayment"]),
        shipping_fee=to_fen(raw.get("freightPrice") or "0"),
        lines=lines,
        receiver={
            "name": consignee.get("fullname", ""),
            "phone": consignee.get("mobile", ""),
            "address": consignee.get("fullAddress", ""),
        },
        tracking_no=str(raw["waybill"]) if raw.get("waybill") else None,
    )


class JdClient(PlatformClient):
    platform = PLATFORM
    max_window = timedelta(days=31)
    timestamp_codes = TIMESTAMP_CODES
    credential_codes = CREDENTIAL_CODES

    def invoke(self, method: str, business: dict, access_token: str) -> dict:
        business_json = compact_json(business)

        def send():
            params = {
                "method": method,
                "app_key": self.app_key,
                "access_token": access_token,
                "timestamp": to_china(utcnow()),
                "v": "2.0",
                "360buy_param_json": business_json,
            }
            params["sign"] = md5_sign(self.app_secret, params)
            return self.session.post(
                f"{self.base_url}/routerjson", data=params, timeout=self.timeout
            )

        return self.call(send)

    def error_in(self, payload: dict) -> PlatformError | None:
        error = payload.get("error_response")
        if error is None:
            return None
        code = str(error.get("code", ""))
        message = " ".join(str(error[k]) for k in ("zh_desc", "en_desc") if error.get(k))
        if code in AUTH_CODES:
            kind = "auth"
        elif code in RATE_CODES:
            kind = "rate_limited"
        elif code in TRANSIENT_CODES:
            kind = "transient"
        else:
            kind = "invalid"
        return PlatformError(kind, PLATFORM, code, message)

    def request_page(self, shop: ShopAuth, start: datetime, end: datetime, number: int) -> dict:
        business = {
            "start_date": to_china(start),
            "end_date": to_china(end),
            "order_state": ",".join(QUERY_STATES),
            "optional_fields": OPTIONAL_FIELDS,
            "page": number,
            "page_size": self.page_size,
            "sortType": 1,
            "dateType": 0,
        }
        return self.invoke("jingdong.pop.order.search", business, shop.access_token)

    def parse_page(self, payload: dict) -> Page:
        answer = payload[response_key("jingdong.pop.order.search")]
        result = answer["searchorderinfo_result"]
        api_result = result.get("apiResult") or {}
        if str(answer.get("code", "0")) != "0" or api_result.get("success") is False:
            raise PlatformError(
                "transient",
                PLATFORM,
                str(api_result.get("numberCode", answer.get("code", ""))),
                str(api_result.get("chineseErrCode") or "order search failed"),
            )
        raw_orders = as_list(result, "orderInfoList")
        return Page(
            [parse_order(raw) for raw in raw_orders], optional_int(result.get("orderTotal"))
        )

    def oauth_error_in(self, payload: dict) -> PlatformError | None:
        if payload.get("access_token"):
            return None
        code = str(payload.get("code", ""))
        message = str(payload.get("msg") or payload.get("error_description") or payload)[:200]
        if code == "401":
            kind = "invalid"  # app_key / app_secret wrong: ours, not the shop's
        elif code == "429":
            kind = "rate_limited"
        elif code.startswith("5") and len(code) == 3:
            kind = "transient"
        else:
            kind = "auth_broken"  # the refresh token is unknown, used or expired
        return PlatformError(kind, PLATFORM, code, message)

    def refresh_token(self, shop: ShopAuth) -> TokenGrant:
        if not shop.refresh_token:
            raise PlatformError("auth_broken", PLATFORM, "", "the shop has no refresh token")
        query = {
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "grant_type": "refresh_token",
            "refresh_token": shop.refresh_token,
        }
        with self.refusal_breaks_auth():
            payload = self.call(
                lambda: self.session.post(
                    f"{self.oauth_base}/oauth2/refresh_token", params=query, timeout=self.timeout
                ),
                self.oauth_error_in,
            )
        return self.parsed(
            "oauth2/refresh_token",
            lambda: self.grant(
                payload["access_token"], payload.get("refresh_token"), payload["expires_in"]
            ),
        )

    def authorize_url(self, *, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {
                "app_key": self.app_key,
                "response_type": "code",
                "redirect_uri": redirect_uri,
                "state": state,
                "scope": "snsapi_base",
            }
        )
        return f"{self.oauth_base}/oauth2/to_login?{query}"

    def exchange_code(self, *, code: str, redirect_uri: str) -> TokenGrant:
        """oauth2/access_token (no redirect_uri: the app's registered one applies); its answer
        names a user (open_id), not a shop, so the shop comes from jingdong.seller.vender.info.get
        called with the new token (that API's answer fields are UNVERIFIED)."""
        query = {
            "app_key": self.app_key,
            "app_secret": self.app_secret,
            "grant_type": "authorization_code",
            "code": code,
        }
        with self.refusal_breaks_auth():
            payload = self.call(
                lambda: self.session.get(
                    f"{self.oauth_base}/oauth2/access_token", params=query, timeout=self.timeout
                ),
                self.oauth_error_in,
            )
        token = self.parsed(
            "oauth2/access_token",
            lambda: self.grant(
                payload["access_token"], payload.get("refresh_token"), payload["expires_in"]
            ),
        )
        method = "jingdong.seller.vender.info.get"
        answer = self.invoke(method, {}, token.access_token)
        vender = self.parsed(method, lambda: answer[response_key(method)]["vender_info_result"])
        return self.parsed(
            method,
            lambda: self.grant(
                token.access_token,
                token.refresh_token,
                payload["expires_in"],
                vender["vender_id"],
                vender.get("shop_name"),
            ),
        )

    def ship(self, shop: ShopAuth, order_id: str, *, company: str, tracking_no: str) -> None:
        business = {"order_id": order_id, "logi_coprId": company, "logi_no": tracking_no}
        payload = self.invoke("jingdong.pop.order.shipment", business, shop.access_token)
        result = self.parsed(
            "pop.order.shipment",
            lambda: payload[response_key("jingdong.pop.order.shipment")]["sopjosshipment_result"],
        )
        why = str(result.get("chineseErrCode") or "")
        self.shipped_or_raise(result.get("success"), order_id, why)
