"""快递100 (kuaidi100), the courier aggregator: electronic waybills, tracking subscriptions with
signed pushes, and real-time queries (docs/couriers.md).

Every call is a form POST and every MD5 is hex upper over the exact `param` text sent. Timeouts,
connection errors, HTTP 5xx and 快递100's server-side codes raise `CourierError(transient=True)`:
try again later. `create_waybill` is never retried here: a lost answer may still have made a
waybill, so a caller retries with the same `order_ref` and keeps whichever waybill comes back.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import requests
from flask import current_app

CHINA = ZoneInfo("Asia/Shanghai")

# our carrier code -> 快递100's company code (backend/platforms/carriers.py shows the same)
KUAIDI100_COM = {
    "SF": "shunfeng",
    "ZTO": "zhongtong",
    "YTO": "yuantong",
    "YUNDA": "yunda",
    "STO": "shentong",
    "EMS": "ems",
    "JD": "jd",
}
CARRIER_OF_COM = {com: carrier for carrier, com in KUAIDI100_COM.items()}

# 快递100 `state` -> ours. 7 转投 and the customs states (8, 10-13) are still on the way.
STATES = {
    "0": "IN_TRANSIT",
    "1": "COLLECTED",
    "2": "EXCEPTION",
    "3": "DELIVERED",
    "4": "RETURNED",  # 退签: back with the sender
    "5": "OUT_FOR_DELIVERY",
    "6": "RETURNED",  # 退回: on its way back
    "14": "REFUSED",
}
# data[].status words (sent with resultv2) -> ours
STATUS_WORDS = {
    "在途": "IN_TRANSIT",
    "揽收": "COLLECTED",
    "疑难": "EXCEPTION",
    "签收": "DELIVERED",
    "退签": "RETURNED",
    "派件": "OUT_FOR_DELIVERY",
    "退回": "RETURNED",
    "拒签": "REFUSED",
}
PUSH_REPLY = {"result": True, "returnCode": "200", "message": "成功"}

# Codes that a later retry may cure. e-waybill: -1 system error; subscribe: 500 server error;
# query: 500 no result yet, 501 server error, 502 server busy.
TRANSIENT_LABEL_CODES = {-1}
TRANSIENT_POLL_CODES = {500}
TRANSIENT_QUERY_CODES = {500, 501, 502}


@dataclass(frozen=True)
class Waybill:
    carrier: str
    tracking_no: str
    label_url: str
    task_id: str


@dataclass(frozen=True)
class TrackingEvent:
    at: datetime  # aware, Asia/Shanghai
    state: str
    context: str
    location: str


@dataclass(frozen=True)
class TrackingPush:
    carrier: str
    tracking_no: str
    state: str  # COLLECTED, IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, EXCEPTION, RETURNED, REFUSED
    latest_at: datetime  # time of the newest event: an older push than one applied is stale
    events: list[TrackingEvent]  # newest first
    finished: bool  # shutdown: 快递100 sends nothing more
    aborted: bool = False  # abort: 快递100 gave up (no record / no change); subscribe again later


class CourierError(Exception):
    """快递100 refused a call, or could not be reached (`transient`: try again later)."""

    def __init__(self, code: str | int, message: str, *, transient: bool = False):
        super().__init__(f"快递100 error {code}: {message}")
        self.code = code
        self.message = message
        self.transient = transient


class BadSignature(CourierError):
    """A push whose sign is missing or does not match MD5(param + salt)."""

    def __init__(self, message: str = "push sign missing or wrong"):
        super().__init__("BAD_SIGNATURE", message, transient=False)


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def create_waybill(
    *,
    carrier: str,
    order_ref: str,
    sender: dict,
    receiver: dict,
    cargo: str,
    count: int,
    weight_grams: int,
    callback_url: str,
    salt: str,
) -> Waybill:
    """An electronic waybill with a printable label, subscribed to tracking pushes in the same
    call. sender/receiver: {"name", "mobile", "address"}."""
    config = current_app.config
    param = {
        "printType": "IMAGE",
        "partnerId": config["KUAIDI100_PARTNER_ID"],
        "kuaidicom": _com(carrier),
        "recMan": _man(receiver),
        "sendMan": _man(sender),
        "cargo": cargo,
        "count": count,
        "weight": round(weight_grams / 1000, 3),
        "payType": "MONTHLY",
        "orderId": order_ref,
        "needSubscribe": True,
        "pollCallBackUrl": callback_url,
        "salt": salt,
        "resultv2": "1",
    }
    param_text = _dumps(param)
    key, t = config["KUAIDI100_KEY"], str(int(time.time() * 1000))
    form = {
        "method": "order",
        "key": key,
        "t": t,
        "param": param_text,
        "sign": md5_upper(param_text + t + key + config["KUAIDI100_SECRET"]),
    }
    answer = _post(config["KUAIDI100_API_BASE"] + "/label/order?method=order", form)
    code = answer.get("code")
    if str(code) != "200":
        code = _int(code)
        message = str(answer.get("message", ""))
        raise CourierError(code, message, transient=code in TRANSIENT_LABEL_CODES)
    data = answer.get("data")
    if isinstance(data, list):  # some answers wrap the one order in a list
        data = data[0] if data else None
    if not isinstance(data, dict) or not data.get("kuaidinum"):
        raise CourierError("NO_NUMBER", f"no waybill number in the answer: {answer}")
    return Waybill(
        carrier=carrier,
        tracking_no=str(data["kuaidinum"]),
        label_url=str(data.get("label") or ""),
        task_id=str(data.get("taskId") or ""),
    )


def subscribe(*, carrier: str, tracking_no: str, phone: str, callback_url: str, salt: str) -> None:
    """Ask 快递100 to push this number's tracking to callback_url (a repeat is not an error)."""
    config = current_app.config
    param = {
        "company": _com(carrier),
        "number": tracking_no,
        "key": config["KUAIDI100_KEY"],
        "parameters": {
            "callbackurl": callback_url,
            "salt": salt,
            "resultv2": "1",
            "phone": phone,
        },
    }
    answer = _post(
        config["KUAIDI100_POLL_BASE"] + "/poll", {"schema": "json", "param": _dumps(param)}
    )
    code = _int(answer.get("returnCode"))
    if answer.get("result") is True or code == 501:  # 501: already subscribed, still polling
        return
    message = str(answer.get("message", ""))
    raise CourierError(code, message, transient=code in TRANSIENT_POLL_CODES)


def query(*, carrier: str, tracking_no: str, phone: str) -> TrackingPush:
    """The number's tracking now (real-time query; SF checks the phone's last four digits)."""
    config = current_app.config
    param = {
        "com": _com(carrier),
        "num": tracking_no,
        "phone": phone,
        "resultv2": "1",
        "show": "0",
        "order": "desc",
    }
    param_text, customer = _dumps(param), config["KUAIDI100_CUSTOMER"]
    form = {
        "customer": customer,
        "param": param_text,
        "sign": md5_upper(param_text + config["KUAIDI100_KEY"] + customer),
    }
    answer = _post(config["KUAIDI100_POLL_BASE"] + "/poll/query.do", form)
    if str(answer.get("status")) != "200" or "data" not in answer:
        code = _int(answer.get("returnCode"))
        message = str(answer.get("message", ""))
        raise CourierError(code, message, transient=code in TRANSIENT_QUERY_CODES)
    return _tracking(answer, finished=str(answer.get("ischeck")) == "1", aborted=False)


def parse_push(form: Mapping[str, str], *, salt: str) -> TrackingPush:
    """A push's form (`param`, `sign`) checked against our salt; raises BadSignature."""
    if not salt:
        raise ValueError("parse_push needs the salt the subscription was made with")
    param_text, sign = form.get("param"), form.get("sign")
    if not param_text or not sign:
        raise BadSignature("push without param or sign")
    if not hmac.compare_digest(md5_upper(param_text + salt), str(sign).upper()):
        raise BadSignature()
    try:
        param = json.loads(param_text)
        last = param["lastResult"]
        status = param.get("status")
    except (ValueError, KeyError, TypeError) as exc:
        raise CourierError("BAD_PUSH", f"push param unreadable: {exc}") from exc
    if not isinstance(last, dict):
        raise CourierError("BAD_PUSH", "push lastResult is not an object")
    return _tracking(last, finished=status == "shutdown", aborted=status == "abort")


def _tracking(result: dict[str, Any], *, finished: bool, aborted: bool) -> TrackingPush:
    try:
        events = [_event(item) for item in result.get("data") or []]
    except (KeyError, TypeError, ValueError) as exc:
        raise CourierError("BAD_PUSH", f"tracking data unreadable: {exc}") from exc
    events.sort(key=lambda e: e.at, reverse=True)
    com = str(result.get("com", ""))
    return TrackingPush(
        carrier=CARRIER_OF_COM.get(com, com),
        tracking_no=str(result.get("nu", "")),
        state=state_of(str(result.get("state", "0"))),
        latest_at=events[0].at if events else datetime.fromtimestamp(0, UTC),
        events=events,
        finished=finished,
        aborted=aborted,
    )


def state_of(state: str) -> str:
    """快递100 `state` -> ours. resultv2 sub-states (e.g. 101, 204, 301) carry their main state
    in the leading digit (list UNVERIFIED, docs/couriers.md); anything unknown is in transit."""
    if state in STATES:
        return STATES[state]
    if len(state) == 3 and state[0] in STATES:
        return STATES[state[0]]
    return "IN_TRANSIT"


def _event(item: dict[str, Any]) -> TrackingEvent:
    stamp = item.get("ftime") or item["time"]
    at = datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S").replace(tzinfo=CHINA)
    return TrackingEvent(
        at=at,
        state=STATUS_WORDS.get(str(item.get("status") or ""), "IN_TRANSIT"),
        context=str(item.get("context") or ""),
        location=str(item.get("location") or item.get("areaName") or ""),
    )


def _com(carrier: str) -> str:
    try:
        return KUAIDI100_COM[carrier]
    except KeyError:
        raise CourierError("UNKNOWN_CARRIER", f"no 快递100 code for carrier {carrier}") from None


def _man(person: dict) -> dict[str, str]:
    return {"name": person["name"], "mobile": person["mobile"], "printAddr": person["address"]}


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _int(code: Any) -> int | str:
    try:
        return int(code)
    except (TypeError, ValueError):
        return str(code)


def _post(url: str, form: dict[str, str]) -> dict[str, Any]:
    timeout = current_app.config["HTTP_TIMEOUT_SECONDS"]
    try:
        response = requests.post(url, data=form, timeout=timeout)
    except requests.RequestException as exc:
        raise CourierError("UNREACHABLE", str(exc), transient=True) from exc
    if response.status_code >= 500:
        raise CourierError(f"HTTP_{response.status_code}", response.text[:200], transient=True)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if response.status_code != 200 or not isinstance(answer, dict):
        raise CourierError(f"HTTP_{response.status_code}", response.text[:200])
    return answer


LABEL_TYPES = {"image/svg+xml", "image/png", "image/jpeg", "text/html", "application/pdf"}
MAX_LABEL_BYTES = 2 * 1024 * 1024


def fetch_label(url: str) -> tuple[bytes, str]:
    """The printable label an e-waybill answer linked to: (its bytes, its content type)."""
    timeout = current_app.config["HTTP_TIMEOUT_SECONDS"]
    try:
        response = requests.get(url, timeout=timeout)
    except requests.RequestException as exc:
        raise CourierError("UNREACHABLE", str(exc), transient=True) from exc
    kind = response.headers.get("Content-Type", "").split(";")[0].strip()
    if response.status_code != 200 or kind not in LABEL_TYPES:
        raise CourierError(f"HTTP_{response.status_code}", f"label not printable ({kind})")
    if len(response.content) > MAX_LABEL_BYTES:
        raise CourierError("LABEL_TOO_LARGE", "label larger than expected")
    return response.content, kind
