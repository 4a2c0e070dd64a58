"""The WeChat server API (the mini-program and the Official Account) through wechatpy, pointed at
a configurable base URL.

wechatpy's own token retry recurses without limit when WeChat keeps answering 40001, so we turn it
off and retry a bounded number of times ourselves. Tokens come from cgi-bin/stable_token, which
hands every process the same token, so concurrent refreshes cannot invalidate each other.
"""

from __future__ import annotations

import time
from datetime import datetime

import requests
from flask import current_app
from wechatpy import WeChatClient
from wechatpy.exceptions import WeChatClientException
from wechatpy.session.redisstorage import RedisStorage

from backend.clients import quota
from backend.queue import redis_client
from backend.timeutil import SHANGHAI

TOKEN_ERRCODES = {40001, 40014, 42001}
TOKEN_SAFETY_MARGIN_SECONDS = 300


class WeChatError(Exception):
    """WeChat answered an errcode (errcode None: unreachable or an HTTP error)."""

    def __init__(self, errcode: int | None, errmsg: str = ""):
        self.errcode = errcode
        self.errmsg = errmsg
        super().__init__(f"WeChat error {errcode}: {errmsg}")


class ShippingError(WeChatError):
    """Shipping information management (发货信息管理) refused; `transient`: try again later."""

    # system busy, and a payment WeChat has not ingested yet (seconds to a minute after paying)
    TRANSIENT_ERRCODES = frozenset({-1, 10060012, 10060019, 10060001})

    def __init__(self, errcode: int | None, errmsg: str = ""):
        super().__init__(errcode, errmsg)
        self.transient: bool = errcode is None or errcode in self.TRANSIENT_ERRCODES


class HeliWeChatClient(WeChatClient):
    def __init__(
        self, appid: str, secret: str, *, api_base: str, redis, timeout: int, max_token_retries: int
    ):
        super().__init__(
            appid,
            secret,
            session=RedisStorage(redis, prefix="wechatpy"),
            timeout=timeout,
            auto_retry=False,
        )
        self.api_base = api_base
        self.API_BASE_URL = api_base + "cgi-bin/"
        self.wxa.API_BASE_URL = api_base
        self.max_token_retries = max_token_retries

    def fetch_access_token(self, force_refresh: bool = False) -> dict:
        try:
            res = self._http.post(
                self.api_base + "cgi-bin/stable_token",
                json={
                    "grant_type": "client_credential",
                    "appid": self.appid,
                    "secret": self.secret,
                    "force_refresh": force_refresh,
                },
                timeout=self.timeout,
            )
            res.raise_for_status()
            result = res.json()
        except (requests.RequestException, ValueError) as exc:
            raise WeChatError(None, str(exc)) from exc
        if result.get("errcode"):
            raise WeChatError(result["errcode"], result.get("errmsg", ""))
        ttl = max(int(result.get("expires_in", 7200)) - TOKEN_SAFETY_MARGIN_SECONDS, 60)
        self.session.set(self.access_token_key, result["access_token"], ttl)
        self.expires_at = int(time.time()) + ttl
        return result

    def call(self, operation):
        """Run operation(client), refreshing the token a bounded number of times on 40001/42001."""
        for attempt in range(self.max_token_retries + 1):
            try:
                return operation(self)
            except WeChatClientException as exc:
                errcode = exc.errcode
                if errcode in TOKEN_ERRCODES and attempt < self.max_token_retries:
                    self.session.delete(self.access_token_key)
                    self.fetch_access_token(force_refresh=attempt > 0)
                    continue
                raise WeChatError(errcode, exc.errmsg or "") from exc
            except requests.RequestException as exc:
                raise WeChatError(None, str(exc)) from exc
        raise AssertionError("unreachable")

    def counted(self, api: str, operation):
        """call() for an API with a daily quota: the call is counted, and a 45009 answer closes
        the API to us for the rest of WeChat's day."""
        quota.spend(api)
        try:
            return self.call(operation)
        except WeChatError as exc:
            if exc.errcode == quota.QUOTA_SPENT:
                quota.mark_spent(api)
            raise

    def code_to_session(self, js_code: str) -> dict:
        return self.call(lambda c: c.wxa.code_to_session(js_code))

    def send_subscribe_message(
        self, openid: str, template_id: str, data: dict, page: str | None = None
    ) -> dict:
        body = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            body["page"] = page
        return self.call(lambda c: c.wxa._post("cgi-bin/message/subscribe/send", data=body))

    def wxa_code(self, *, scene: str, page: str) -> bytes:
        """A mini-program code image (wxacode.getUnlimited) opening page with this scene."""
        body = {"scene": scene, "page": page, "check_path": False, "width": 430}
        response = self.call(lambda c: c.wxa._post("wxa/getwxacodeunlimit", data=body))
        if isinstance(response, dict):  # an error answer is JSON; an image is raw bytes
            raise WeChatError(response.get("errcode"), response.get("errmsg", ""))
        return response.content

    def upload_image(self, filename: str, content: bytes) -> str:
        """A temporary image material (3 days) → its media_id (live-room covers)."""
        result = self.call(lambda c: c.media.upload("image", (filename, content, "image/png")))
        return result["media_id"]

    def create_live_room(self, body: dict) -> dict:
        return self.call(lambda c: c.wxa._post("wxaapi/broadcast/room/create", data=body))

    def live_rooms(self, *, start: int, limit: int) -> dict:
        return self.counted(
            "getliveinfo",
            lambda c: c.wxa._post(
                "wxa/business/getliveinfo", data={"start": start, "limit": limit}
            ),
        )

    def add_live_goods(self, goods: dict) -> dict:
        return self.call(
            lambda c: c.wxa._post("wxaapi/broadcast/goods/add", data={"goodsInfo": goods})
        )

    def live_goods_status(self, goods_ids: list[int]) -> dict:
        return self.counted(
            "getgoodswarehouse",
            lambda c: c.wxa._post("wxa/business/getgoodswarehouse", data={"goods_ids": goods_ids}),
        )

    def add_goods_to_room(self, *, room_id: int, goods_id: int) -> dict:
        return self.call(
            lambda c: c.wxa._post(
                "wxaapi/broadcast/room/addgoods", data={"ids": [goods_id], "roomId": room_id}
            )
        )

    def push_goods(self, *, room_id: int, goods_id: int) -> dict:
        return self.counted(
            "goods/push",
            lambda c: c.wxa._post(
                "wxaapi/broadcast/goods/push", data={"roomId": room_id, "goodsId": goods_id}
            ),
        )

    def check_text(self, *, openid: str, content: str, scene: int = 2) -> dict:
        """msgSecCheck v2: {"suggest": pass|review|risky, "label": ...}."""
        body = {"version": 2, "scene": scene, "openid": openid, "content": content}
        return self.call(lambda c: c.wxa._post("wxa/msg_sec_check", data=body))["result"]

    # Official Account APIs (a client built by oa_client())
    def send_custom_text(self, *, openid: str, content: str) -> dict:
        """A customer-service message: allowed within 48 h of the user's last message."""
        return self.call(lambda c: c.message.send_text(openid, content))

    def user_info(self, openid: str) -> dict:
        return self.call(lambda c: c.user.get(openid))

    def send_template(
        self,
        *,
        openid: str,
        template_id: str,
        data: dict,
        page: str | None = None,
        url: str | None = None,
        client_msg_id: str | None = None,
    ) -> dict:
        """An OA template message; client_msg_id makes WeChat drop a resend within 10 min."""
        body = {"touser": openid, "template_id": template_id, "data": data}
        if page:
            body["miniprogram"] = {"appid": current_app.config["WECHAT_APPID"], "pagepath": page}
        if url:
            body["url"] = url
        if client_msg_id:
            body["client_msg_id"] = client_msg_id
        return self.call(lambda c: c.post("message/template/send", data=body))


def _client(appid: str, secret: str) -> HeliWeChatClient:
    config = current_app.config
    return HeliWeChatClient(
        appid,
        secret,
        api_base=config["WECHAT_API_BASE"],
        redis=redis_client(),
        timeout=config["HTTP_TIMEOUT_SECONDS"],
        max_token_retries=config["WECHAT_MAX_TOKEN_RETRIES"],
    )


def oa_client() -> HeliWeChatClient:
    """The alliance's Official Account (its own appid, secret and token)."""
    return _client(current_app.config["WECHAT_OA_APPID"], current_app.config["WECHAT_OA_SECRET"])


def wechat_client() -> HeliWeChatClient:
    """The mini-program."""
    return _client(current_app.config["WECHAT_APPID"], current_app.config["WECHAT_SECRET"])


# Shipping information management (小程序发货信息管理服务, api-facts §7.1). WeChat keeps a paid
# mini-program payment's funds frozen until its shipping is uploaded and the buyer confirms receipt
# (or the automatic period ends). wechatpy 1.8.18 has none of these APIs.


def _shipping_call(path: str, body: dict) -> dict:
    try:
        return wechat_client().call(lambda c: c.wxa._post(path, data=body))
    except WeChatError as exc:
        raise ShippingError(exc.errcode, exc.errmsg) from exc


def mask_phone(phone: str) -> str:
    """`13800138000` -> `138****8000`: WeChat takes contacts masked but for the last 4 digits."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 13 and digits.startswith("86"):  # +86 mobile
        digits = digits[2:]
    if len(digits) < 4:
        raise ValueError("a phone number needs at least 4 digits")
    shown = 3 if len(digits) >= 11 else 0
    return digits[:shown] + "*" * (len(digits) - 4 - shown or 4) + digits[-4:]


def upload_time_text(at: datetime | None = None) -> str:
    """RFC 3339 with milliseconds and +08:00, as upload_time is written."""
    return (at or datetime.now(SHANGHAI)).astimezone(SHANGHAI).isoformat(timespec="milliseconds")


def upload_shipping_info(
    *,
    mchid: str,
    out_trade_no: str,
    payer_openid: str,
    tracking_no: str,
    express_company: str,
    item_desc: str,
    receiver_phone: str | None = None,
    logistics_type: int = 1,
    upload_time: datetime | None = None,
) -> None:
    """Upload one payment's shipping: unified delivery, one package (item_desc cut at 120)."""
    item: dict = {"tracking_no": tracking_no, "express_company": express_company}
    item["item_desc"] = item_desc[:120]
    if receiver_phone:
        item["contact"] = {"receiver_contact": mask_phone(receiver_phone)}
    body = {
        "order_key": {"order_number_type": 1, "mchid": mchid, "out_trade_no": out_trade_no},
        "logistics_type": logistics_type,
        "delivery_mode": 1,
        "shipping_list": [item],
        "upload_time": upload_time_text(upload_time),
        "payer": {"openid": payer_openid},
    }
    _shipping_call("wxa/sec/order/upload_shipping_info", body)


def get_shipping_order(*, mchid: str, out_trade_no: str) -> dict:
    """The payment as shipping management sees it: `order_state` (1 待发货 … 4 交易完成, 5 已退款,
    6 资金待结算) and `shipping`."""
    body = {"merchant_id": mchid, "merchant_trade_no": out_trade_no}
    return _shipping_call("wxa/sec/order/get_order", body)["order"]


def notify_confirm_receive(*, mchid: str, out_trade_no: str, received_at: datetime) -> None:
    """Ask WeChat to remind the buyer to confirm receipt (express only, once per payment)."""
    body = {
        "merchant_id": mchid,
        "merchant_trade_no": out_trade_no,
        "received_time": int(received_at.timestamp()),
    }
    _shipping_call("wxa/sec/order/notify_confirm_receive", body)
