"""快递100 stand-in: e-waybill V2 (`api.kuaidi100.com/label/order`), tracking subscription
(`poll.kuaidi100.com/poll`) and real-time query (`poll.kuaidi100.com/poll/query.do`).

All three are form POSTs; every MD5 is hex upper over the exact `param` text sent (docs/couriers.md
gives the sources). Pushes are in courier_push.py, control endpoints in courier_control.py.
"""

from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

from flask import Blueprint, Response, jsonify, request

from .courier_push import deliver, make_push, md5_upper
from .courier_state import COMPANIES, Courier, Label, Subscription, Tracked, current_courier
from .courier_state import last_result as tracked_result

bp = Blueprint("courier", __name__)

MOBILE = re.compile(r"^1[3-9]\d{9}$")
TEL = re.compile(r"^[\d\-]{7,20}$")
PRINT_TYPES = ("NON", "IMAGE", "HTML")  # CLOUD / CMD need a printer: not in the stand-in
LABEL_REQUIRED = ("kuaidicom", "partnerId", "recMan", "sendMan", "cargo")


class LabelError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _vendor_fault() -> Response | None:
    """Scripted slowness and outages, shared by every 快递100 call."""
    sb, courier = current_courier()
    with sb.state.lock:
        faults = courier.current(sb).faults
        latency_ms = faults.latency_ms
        down = faults.take_down()
    if latency_ms:
        time.sleep(latency_ms / 1000)
    if down == "disconnect":  # the client sees the connection dropped without an answer
        connection = request.environ.get("werkzeug.socket")
        if connection is not None:
            connection.shutdown(socket.SHUT_RDWR)
        return Response(status=500)
    if down is not None:
        status = 502 if down == "http_502" else 500
        return Response(
            f"<html><body><h1>{status}</h1></body></html>", status, mimetype="text/html"
        )
    return None


def _label_answer(code: int, message: str, started: float, data: Any = None) -> Response:
    elapsed = int((time.monotonic() - started) * 1000)
    body = {"success": code == 200, "code": code, "message": message, "time": elapsed}
    body["data"] = data
    return jsonify(body)


@bp.post("/label/order")
def label_order():
    started = time.monotonic()
    if (fault := _vendor_fault()) is not None:
        return fault
    sb, courier = current_courier()
    form = request.form
    try:
        if request.args.get("method", form.get("method")) != "order" or form.get("method") not in (
            None,
            "order",
        ):
            raise LabelError(30001, "method参数错误")
        if form.get("key") != sb.settings["KUAIDI100_KEY"]:
            raise LabelError(30003, "key不存在或已失效")
        param_text, t = form.get("param", ""), form.get("t", "")
        expected = md5_upper(param_text + t + form["key"] + sb.settings["KUAIDI100_SECRET"])
        if form.get("sign") != expected:
            raise LabelError(30002, "签名错误")
        param = _label_param(param_text)
    except LabelError as error:
        return _label_answer(error.code, error.message, started)
    with sb.state.lock:
        data = courier.current(sb)
        order_id = param.get("orderId") or None
        repeat = sb.settings["courier_repeat_order_id"]
        if order_id and repeat == "first" and order_id in data.by_order_id:
            label = data.labels[data.by_order_id[order_id]]
            return _label_answer(200, "success", started, _label_data(label))
        label = _create_label(sb, courier, param, order_id)
        _subscribe_from_label(sb, courier, label, param)
    return _label_answer(200, "success", started, _label_data(label))


def _label_param(text: str) -> dict[str, Any]:
    try:
        param = json.loads(text)
    except ValueError:
        raise LabelError(30001, "param不是合法的JSON") from None
    if not isinstance(param, dict):
        raise LabelError(30001, "param不是合法的JSON")
    for name in LABEL_REQUIRED:
        if param.get(name) in (None, ""):
            raise LabelError(30001, f"{name}不能为空")
    if param["kuaidicom"] not in COMPANIES:
        raise LabelError(30001, f"不支持的快递公司编码: {param['kuaidicom']}")
    for role in ("recMan", "sendMan"):
        _check_man(role, param[role])
    count = param.get("count", 1)
    if isinstance(count, bool) or not str(count).isdigit() or int(count) < 1:
        raise LabelError(30001, "count必须是正整数")
    if param.get("printType", "NON") not in PRINT_TYPES:
        raise LabelError(30001, f"printType只支持{'/'.join(PRINT_TYPES)}(沙箱)")
    if _truthy(param.get("needSubscribe")) and not param.get("pollCallBackUrl"):
        raise LabelError(30001, "needSubscribe为true时pollCallBackUrl不能为空")
    return param


def _check_man(role: str, man: Any) -> None:
    if not isinstance(man, dict):
        raise LabelError(30001, f"{role}格式错误")
    for name in ("name", "printAddr"):
        if not man.get(name):
            raise LabelError(30001, f"{role}.{name}不能为空")
    mobile, tel = man.get("mobile"), man.get("tel")
    if not mobile and not tel:
        raise LabelError(30001, f"{role}.mobile和{role}.tel不能同时为空")
    if mobile and not MOBILE.match(str(mobile)):
        raise LabelError(30001, f"{role}.mobile手机号格式错误")
    if tel and not TEL.match(str(tel)):
        raise LabelError(30001, f"{role}.tel电话格式错误")


def _create_label(sb, courier: Courier, param: dict, order_id: str | None) -> Label:
    data = courier.current(sb)
    com = param["kuaidicom"]
    label = Label(
        task_id=courier.new_task_id(),
        com=com,
        number=courier.new_number(com),
        order_id=order_id,
        print_type=param.get("printType", "NON"),
        param=param,
        created_at=time.time(),
    )
    data.labels[label.task_id] = label
    if order_id:
        data.by_order_id.setdefault(order_id, label.task_id)
    phones = tuple(
        str(param[r].get("mobile") or param[r].get("tel")) for r in ("sendMan", "recMan")
    )
    data.tracked[(com, label.number)] = Tracked(com=com, number=label.number, phones=phones)
    return label


def _subscribe_from_label(sb, courier: Courier, label: Label, param: dict) -> None:
    """needSubscribe + pollCallBackUrl subscribe the new number at once (no history yet)."""
    if not _truthy(param.get("needSubscribe")):
        return
    tracked = courier.current(sb).tracked[(label.com, label.number)]
    tracked.subscription = Subscription(
        callbackurl=param["pollCallBackUrl"],
        salt=param.get("salt"),
        resultv2=str(param.get("resultv2", "0")),
        phone=tracked.phones[1],
    )


def _label_data(label: Label) -> dict[str, Any]:
    suffix = {"IMAGE": ".svg", "HTML": ".html"}.get(label.print_type)
    url = f"{request.host_url}sandbox/courier/labels/{label.task_id}{suffix}" if suffix else ""
    return {
        "taskId": label.task_id,
        "kuaidicom": label.com,
        "kuaidinum": label.number,
        "childNum": "",
        "returnNum": "",
        "label": url,
        "bulkpen": "威海-乳山",
        "orgCode": "631",
        "destCode": "010",
    }


@bp.post("/poll")
def subscribe():
    if (fault := _vendor_fault()) is not None:
        return fault
    sb, courier = current_courier()
    param = _json_object(request.form.get("param"))
    if request.form.get("schema") != "json" or param is None:
        return _poll_answer(700, "提交的数据不合法")
    if param.get("key") != sb.settings["KUAIDI100_KEY"]:
        return _poll_answer(600, "您不是合法的订阅者（即授权Key出错）")
    com, number = param.get("company"), param.get("number")
    parameters = param.get("parameters")
    if not isinstance(parameters, dict) or not com or not number:
        return _poll_answer(700, "订阅参数不完整")
    url = parameters.get("callbackurl") or ""
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return _poll_answer(700, "callbackurl不合法")
    if com not in COMPANIES:
        return _poll_answer(702, "POLL:识别不到该单号对应的快递公司")
    if not re.fullmatch(r"[A-Za-z0-9]{6,32}", str(number)):
        return _poll_answer(700, "快递单号不合法")
    phone = str(parameters.get("phone") or "")
    if com == "shunfeng" and not phone:
        return _poll_answer(700, "顺丰单号需提供收、寄件人的电话号码")
    with sb.state.lock:
        data = courier.current(sb)
        tracked = data.tracked.setdefault((com, number), Tracked(com=com, number=number))
        if tracked.subscription is not None and tracked.subscription.status == "polling":
            return _poll_answer(501, "POLL:重复订阅")
        salt = parameters.get("salt")
        tracked.subscription = Subscription(
            callbackurl=url,
            salt=None if salt is None else str(salt),
            resultv2=str(parameters.get("resultv2", "0")),
            phone=phone,
        )
        push = make_push(sb, courier, tracked, "polling") if tracked.events else None
    if push is not None:  # what is already known is pushed soon after subscribing
        deliver(sb, courier, [(push, 1)], wait=False)
    return _poll_answer(200, "提交成功")


def _poll_answer(code: int, message: str) -> Response:
    return jsonify({"result": code == 200, "returnCode": str(code), "message": message})


@bp.post("/poll/query.do")
def query():
    if (fault := _vendor_fault()) is not None:
        return fault
    sb, courier = current_courier()
    form = request.form
    param_text, customer = form.get("param", ""), form.get("customer", "")
    param = _json_object(param_text)
    if param is None or not customer or not param.get("com") or not param.get("num"):
        return _poll_answer(400, "找不到对应公司/提交的数据不完整")
    expected = md5_upper(
        param_text + sb.settings["KUAIDI100_KEY"] + sb.settings["KUAIDI100_CUSTOMER"]
    )
    if customer != sb.settings["KUAIDI100_CUSTOMER"] or form.get("sign") != expected:
        return _poll_answer(503, "验证签名失败")
    com, number = param["com"], str(param["num"])
    if com not in COMPANIES:
        return _poll_answer(400, "找不到对应公司")
    with sb.state.lock:
        tracked = courier.current(sb).tracked.get((com, number))
        if tracked is not None and com == "shunfeng" and tracked.phones:
            phone = str(param.get("phone") or "")
            if not phone or not any(p.endswith(phone[-4:]) for p in tracked.phones):
                return _poll_answer(408, "您提交的手机号码与快递单号不匹配")
        if tracked is None or not tracked.events:
            return _poll_answer(500, "查询无结果，请隔段时间再查")
        answer = tracked_result(tracked, newest_first=param.get("order", "desc") != "asc")
    return jsonify(answer)


def _json_object(text: str | None) -> dict[str, Any] | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")
