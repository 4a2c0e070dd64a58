"""WeChat Pay APIv3 through wechatpayv3 (public-key mode), gateway configurable.

The library answers (status, text) and raises on a response whose signature does not verify;
this module turns both into WeChatPayError so services see one kind of failure.
"""

from __future__ import annotations

import json
import secrets
import time
from functools import lru_cache

import requests
from flask import current_app
from wechatpayv3 import WeChatPay, WeChatPayType


class WeChatPayError(Exception):
    """WeChat Pay refused (status 4xx with its code) or could not be reached (status None / 5xx)."""

    def __init__(self, status: int | None, code: str = "", message: str = ""):
        self.status = status
        self.code = code
        self.message = message
        super().__init__(f"WeChat Pay {status} {code}: {message}")

    @property
    def transient(self) -> bool:
        return (
            self.status is None
            or self.status >= 500
            or self.code in {"SYSTEM_ERROR", "FREQUENCY_LIMITED", "BANK_ERROR"}
        )


@lru_cache(maxsize=4)
def _build(
    gateway: str,
    mchid: str,
    appid: str,
    serial: str,
    private_key: str,
    apiv3_key: str,
    public_key: str,
    public_key_id: str,
    notify_url: str,
    timeout: int,
) -> WeChatPay:
    pay = WeChatPay(
        wechatpay_type=WeChatPayType.MINIPROG,
        mchid=mchid,
        private_key=private_key,
        cert_serial_no=serial,
        appid=appid,
        apiv3_key=apiv3_key,
        notify_url=notify_url,
        public_key=public_key,
        public_key_id=public_key_id,
        timeout=timeout,
    )
    # wechatpayv3 hard-codes its gateway; this private attribute is the one place it is read.
    pay._core._gate_way = gateway.rstrip("/")
    return pay


class WeChatPayClient:
    def __init__(self, pay: WeChatPay, appid: str, public_key_id: str):
        self._pay = pay
        self.appid = appid
        self._public_key_id = public_key_id

    def _call(self, operation) -> dict:
        try:
            status, text = operation()
        except requests.RequestException as exc:
            raise WeChatPayError(None, "NETWORK", str(exc)) from exc
        except Exception as exc:  # wechatpayv3 raises bare Exception on a bad response signature
            raise WeChatPayError(None, "BAD_RESPONSE_SIGNATURE", str(exc)) from exc
        body = {}
        if text:
            try:
                body = json.loads(text)
            except (TypeError, ValueError):
                body = {}
        if 200 <= status < 300:
            return body
        raise WeChatPayError(status, body.get("code", ""), body.get("message", ""))

    def create_jsapi_prepay(
        self,
        *,
        out_trade_no: str,
        description: str,
        total: int,
        openid: str,
        time_expire: str,
        notify_url: str,
    ) -> str:
        body = self._call(
            lambda: self._pay.pay(
                description=description,
                out_trade_no=out_trade_no,
                amount={"total": total, "currency": "CNY"},
                payer={"openid": openid},
                time_expire=time_expire,
                notify_url=notify_url,
                pay_type=WeChatPayType.MINIPROG,
            )
        )
        return body["prepay_id"]

    def query_by_out_trade_no(self, out_trade_no: str) -> dict:
        return self._call(lambda: self._pay.query(out_trade_no=out_trade_no))

    def close(self, out_trade_no: str) -> None:
        self._call(lambda: self._pay.close(out_trade_no=out_trade_no))

    def refund(
        self,
        *,
        out_trade_no: str,
        out_refund_no: str,
        refund: int,
        total: int,
        reason: str,
        notify_url: str,
    ) -> dict:
        return self._call(
            lambda: self._pay.refund(
                out_refund_no=out_refund_no,
                out_trade_no=out_trade_no,
                reason=reason or None,
                amount={"refund": refund, "total": total, "currency": "CNY"},
                notify_url=notify_url,
            )
        )

    def query_refund(self, out_refund_no: str) -> dict:
        return self._call(lambda: self._pay.query_refund(out_refund_no=out_refund_no))

    def request_payment_params(self, prepay_id: str) -> dict:
        """The object wx.requestPayment takes, signed with the merchant key (RSA)."""
        timestamp = str(int(time.time()))
        nonce = secrets.token_hex(16)
        package = f"prepay_id={prepay_id}"
        pay_sign = self._pay.sign([self.appid, timestamp, nonce, package])
        return {
            "timeStamp": timestamp,
            "nonceStr": nonce,
            "package": package,
            "signType": "RSA",
            "paySign": pay_sign,
        }

    def verify_notification(self, headers: dict, body: bytes) -> dict | None:
        """The notification with its resource decrypted, or None when its signature is wrong.
        Only our WeChat Pay public key verifies: for any other Wechatpay-Serial wechatpayv3 would
        fetch /v3/certificates, so a forger could make us call WeChat Pay at will."""
        if headers.get("Wechatpay-Serial", "") != self._public_key_id:
            return None
        try:
            return self._pay.callback(headers, body)
        except Exception:  # missing signature-type header or undecryptable resource
            return None


def wechatpay_client() -> WeChatPayClient:
    c = current_app.config
    pay = _build(
        c["WECHATPAY_API_BASE"],
        c["WECHATPAY_MCHID"],
        c["WECHAT_APPID"],
        c["WECHATPAY_CERT_SERIAL"],
        c["WECHATPAY_PRIVATE_KEY"],
        c["WECHATPAY_APIV3_KEY"],
        c["WECHATPAY_PUBLIC_KEY"],
        c["WECHATPAY_PUBLIC_KEY_ID"],
        notify_url(),
        c["HTTP_TIMEOUT_SECONDS"],
    )
    return WeChatPayClient(pay, c["WECHAT_APPID"], c["WECHATPAY_PUBLIC_KEY_ID"])


def notify_url() -> str:
    c = current_app.config
    return c["WECHATPAY_NOTIFY_URL"] or c["PUBLIC_BASE_URL"].rstrip("/") + "/callbacks/wechatpay"
