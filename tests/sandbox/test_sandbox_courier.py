"""The 快递100 stand-in at the protocol level: signatures are computed here from the documented
formulas (docs/couriers.md), independently of backend/clients/courier.py."""

from __future__ import annotations

import hashlib
import json
import re
import threading
import time
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

OK_REPLY = {"result": True, "returnCode": "200", "message": "成功"}
NUMBER_SHAPES = {
    "shunfeng": r"SF\d{12}",
    "zhongtong": r"\d{12,15}",
    "yuantong": r"YT\d{13}",
    "yunda": r"\d{13}",
    "shentong": r"\d{15}",
    "ems": r"\d{13}",
    "jd": r"JD\d{13}",
}


def md5_upper(text: str) -> str:
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


class PushReceiver:
    """A subscriber's callbackurl: records each push's form, answers scripted replies."""

    def __init__(self, replies: list[Any] | None = None, delay: float = 0.0):
        self.replies = list(replies or [])
        self.delay = delay
        self.forms: list[dict[str, str]] = []
        self._changed = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}/courier/push"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def _app(self, environ, start_response):
        request = Request(environ)
        with self._changed:
            self.forms.append(dict(request.form))
            reply = self.replies.pop(0) if self.replies else OK_REPLY
            self._changed.notify_all()
        time.sleep(self.delay)
        response = Response(json.dumps(reply, ensure_ascii=False), mimetype="application/json")
        return response(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5) -> list[dict[str, str]]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.forms) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.forms)} pushes, expected {count}"
                self._changed.wait(left)
            return list(self.forms)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class Kuaidi100:
    """Raw 快递100 calls, signed here."""

    def __init__(self, url: str, env: dict[str, str]):
        self.url = url
        self.key = env["KUAIDI100_KEY"]
        self.secret = env["KUAIDI100_SECRET"]
        self.customer = env["KUAIDI100_CUSTOMER"]
        self.partner_id = env["KUAIDI100_PARTNER_ID"]

    def label_param(self, **overrides: Any) -> dict[str, Any]:
        param = {
            "printType": "IMAGE",
            "partnerId": self.partner_id,
            "kuaidicom": "shunfeng",
            "recMan": {
                "name": "张三",
                "mobile": "13912345678",
                "printAddr": "北京市朝阳区建国路1号",
            },
            "sendMan": {
                "name": "乳山合蛎",
                "mobile": "13800001111",
                "printAddr": "山东省乳山市海阳所",
            },
            "cargo": "生蚝",
            "count": 1,
            "weight": 5.2,
        }
        param.update(overrides)
        return param

    def label(self, param: dict | str, *, key: str | None = None, sign: str | None = None) -> dict:
        text = param if isinstance(param, str) else json.dumps(param, ensure_ascii=False)
        key = key or self.key
        t = str(int(time.time() * 1000))
        form = {"method": "order", "key": key, "t": t, "param": text}
        form["sign"] = sign or md5_upper(text + t + key + self.secret)
        response = requests.post(f"{self.url}/label/order?method=order", data=form, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()

    def waybill(self, **overrides: Any) -> dict:
        answer = self.label(self.label_param(**overrides))
        assert answer["code"] == 200, answer
        return answer["data"]

    def subscribe(self, param: dict) -> dict:
        body = {"schema": "json", "param": json.dumps(param, ensure_ascii=False)}
        return requests.post(f"{self.url}/poll", data=body, timeout=5).json()

    def subscription(self, number: str, url: str, com: str = "zhongtong", **parameters) -> dict:
        parameters = {"callbackurl": url, "salt": "s4lt", "resultv2": "1", **parameters}
        return {"company": com, "number": number, "key": self.key, "parameters": parameters}

    def query(self, param: dict, *, customer: str | None = None, sign: str | None = None):
        text = json.dumps(param, ensure_ascii=False)
        customer = customer or self.customer
        form = {"customer": customer, "param": text}
        form["sign"] = sign or md5_upper(text + self.key + customer)
        return requests.post(f"{self.url}/poll/query.do", data=form, timeout=5).json()

    def advance(self, number: str, event: str, expect: int = 200, **body: Any) -> dict:
        response = requests.post(
            f"{self.url}/sandbox/courier/waybills/{number}/events",
            json={"event": event, **body},
            timeout=10,
        )
        assert response.status_code == expect, response.text
        return response.json()

    def faults(self, **body: Any) -> dict:
        response = requests.post(f"{self.url}/sandbox/courier/faults", json=body, timeout=5)
        assert response.status_code == 200, response.text
        return response.json()["faults"]

    def pushes(self, number: str | None = None) -> list[dict]:
        params = {"number": number} if number else {}
        return requests.get(f"{self.url}/sandbox/courier/pushes", params=params, timeout=5).json()[
            "pushes"
        ]

    def waybills(self) -> list[dict]:
        return requests.get(f"{self.url}/sandbox/courier/waybills", timeout=5).json()["waybills"]


@pytest.fixture
def kd(make_sandbox, env) -> Kuaidi100:
    server = make_sandbox(courier_push_retry_delays=[0.05, 0.1, 0.2], courier_push_timeout=1.0)
    return Kuaidi100(server.url, env)


@pytest.fixture
def push_receiver():
    receivers: list[PushReceiver] = []

    def make(**kwargs: Any) -> PushReceiver:
        receivers.append(PushReceiver(**kwargs))
        return receivers[-1]

    yield make
    for receiver in receivers:
        receiver.stop()


def test_an_e_waybill_has_a_plausible_unique_number_and_a_printable_label(kd):
    numbers = set()
    for com, shape in NUMBER_SHAPES.items():
        for _ in range(3):
            data = kd.waybill(kuaidicom=com)
            assert re.fullmatch(shape, data["kuaidinum"]), (com, data["kuaidinum"])
            numbers.add(data["kuaidinum"])
    assert len(numbers) == 3 * len(NUMBER_SHAPES)
    data = kd.waybill()
    assert data["taskId"] and data["childNum"] == "" and data["returnNum"] == ""
    label = requests.get(data["label"], timeout=5)
    assert label.status_code == 200
    assert label.headers["Content-Type"].startswith("image/svg+xml")
    assert data["kuaidinum"] in label.text and "张三" in label.text
    assert kd.waybill(printType="NON")["label"] == ""


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"key": "wrong-key"}, 30003),
        ({"sign": "0" * 32}, 30002),
        ({"lower_sign": True}, 30002),
        ({"param": {"kuaidicom": None}}, 30001),
        ({"param": {"recMan": None}}, 30001),
        ({"param": {"sendMan": None}}, 30001),
        ({"param": {"cargo": ""}}, 30001),
        ({"param": {"partnerId": ""}}, 30001),
        ({"param": {"kuaidicom": "nosuchcourier"}}, 30001),
        ({"param": {"recMan": {"name": "张三", "mobile": "1234", "printAddr": "北京"}}}, 30001),
        ({"param": {"sendMan": {"name": "李四", "printAddr": "乳山"}}}, 30001),
        ({"param": {"count": 0}}, 30001),
        ({"param": {"needSubscribe": True}}, 30001),
        ({"param": "not json"}, 30001),
    ],
)
def test_e_waybill_errors(kd, change, code):
    param = change.get("param")
    param = param if isinstance(param, str) else kd.label_param(**(param or {}))
    sign = change.get("sign")
    if change.get("lower_sign"):
        t = "1"  # the sandbox recomputes with the t sent; a lower-case sign must still fail
        text = json.dumps(param, ensure_ascii=False)
        form = {"method": "order", "key": kd.key, "t": t, "param": text}
        form["sign"] = md5_upper(text + t + kd.key + kd.secret).lower()
        answer = requests.post(f"{kd.url}/label/order?method=order", data=form, timeout=5).json()
    else:
        answer = kd.label(param, key=change.get("key"), sign=sign)
    assert answer["code"] == code, answer
    assert answer["data"] is None and answer["message"]
    assert kd.waybills() == []


def test_a_repeated_order_id_returns_the_first_waybill(kd):
    first = kd.waybill(orderId="HL-1001")
    again = kd.waybill(orderId="HL-1001", kuaidicom="shunfeng")
    assert (again["kuaidinum"], again["taskId"]) == (first["kuaidinum"], first["taskId"])
    assert kd.waybill(orderId="HL-1002")["kuaidinum"] != first["kuaidinum"]


def test_a_repeated_order_id_may_be_set_to_give_a_new_waybill(make_sandbox, env):
    kd = Kuaidi100(make_sandbox(courier_repeat_order_id="new").url, env)
    assert kd.waybill(orderId="HL-1")["kuaidinum"] != kd.waybill(orderId="HL-1")["kuaidinum"]


def test_subscribe_answers_and_codes(kd, push_receiver):
    url = push_receiver().url
    assert kd.subscribe(kd.subscription("731000000001", url)) == {
        "result": True,
        "returnCode": "200",
        "message": "提交成功",
    }
    assert kd.subscribe(kd.subscription("731000000001", url))["returnCode"] == "501"
    bad_key = {**kd.subscription("731000000002", url), "key": "nope"}
    assert kd.subscribe(bad_key)["returnCode"] == "600"
    no_url = kd.subscribe(kd.subscription("731000000003", ""))
    assert (no_url["result"], no_url["returnCode"]) == (False, "700")
    assert kd.subscribe(kd.subscription("731000000004", url, com="nosuch"))["returnCode"] == "702"
    assert kd.subscribe(kd.subscription("SF000000000005", url, com="shunfeng"))["returnCode"] == (
        "700"  # SF needs a phone
    )
    sf = kd.subscription("SF000000000005", url, com="shunfeng", phone="5678")
    assert kd.subscribe(sf)["returnCode"] == "200"
    body = {"schema": "xml", "param": json.dumps(kd.subscription("731000000006", url))}
    assert requests.post(f"{kd.url}/poll", data=body, timeout=5).json()["returnCode"] == "700"


def test_query_answers_the_history_newest_first(kd):
    number = kd.waybill(kuaidicom="zhongtong")["kuaidinum"]
    param = {"com": "zhongtong", "num": number, "phone": "", "resultv2": "1", "order": "desc"}
    assert kd.query(param)["returnCode"] == "500"  # nothing known yet
    kd.advance(number, "collected")
    kd.advance(number, "in_transit", location="威海")
    answer = kd.query(param)
    assert (answer["status"], answer["state"], answer["ischeck"], answer["nu"]) == (
        "200",
        "0",
        "0",
        number,
    )
    assert [d["status"] for d in answer["data"]] == ["在途", "揽收"]
    assert answer["data"][0]["location"] == "威海"
    assert answer["data"][0]["ftime"] > answer["data"][1]["ftime"]
    assert [d["status"] for d in kd.query({**param, "order": "asc"})["data"]] == ["揽收", "在途"]
    assert kd.query(param, sign="0" * 32)["returnCode"] == "503"
    assert kd.query(param, customer="SOMEONEELSE")["returnCode"] == "503"
    assert kd.query({"com": "zhongtong"})["returnCode"] == "400"
    assert kd.query({**param, "com": "nosuch"})["returnCode"] == "400"


def test_an_sf_query_checks_the_phone(kd):
    number = kd.waybill()["kuaidinum"]
    kd.advance(number, "collected")
    param = {"com": "shunfeng", "num": number}
    assert kd.query({**param, "phone": "0000"})["returnCode"] == "408"
    assert kd.query(param)["returnCode"] == "408"
    assert kd.query({**param, "phone": "5678"})["state"] == "1"  # the receiver's last four


def test_pushes_are_signed_and_carry_the_whole_history(kd, push_receiver):
    receiver = push_receiver()
    data = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="pepper")
    number = data["kuaidinum"]
    for event in ("collected", "in_transit", "out_for_delivery"):
        kd.advance(number, event)
    forms = receiver.wait_for(3)
    for form in forms:
        assert form["sign"] == md5_upper(form["param"] + "pepper")
    params = [json.loads(f["param"]) for f in forms]
    assert [p["lastResult"]["state"] for p in params] == ["1", "0", "5"]
    assert {p["status"] for p in params} == {"polling"}
    assert [d["status"] for d in params[-1]["lastResult"]["data"]] == ["派件", "在途", "揽收"]
    kd.advance(number, "delivered")
    last = json.loads(receiver.wait_for(4)[-1]["param"])
    assert (last["status"], last["lastResult"]["state"], last["lastResult"]["ischeck"]) == (
        "shutdown",
        "3",
        "1",
    )
    kd.advance(number, "in_transit", expect=400)
    assert [p["ok"] for p in kd.pushes(number)] == [True] * 4


@pytest.mark.parametrize("event, state", [("difficult", "2"), ("returned", "6"), ("refused", "14")])
def test_exceptions_are_pushed_and_tracking_goes_on(kd, push_receiver, event, state):
    receiver = push_receiver()
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    kd.advance(number, "collected")
    kd.advance(number, event)
    param = json.loads(receiver.wait_for(2)[-1]["param"])
    assert (param["status"], param["lastResult"]["state"]) == ("polling", state)


def test_a_subscription_without_salt_pushes_without_sign(kd, push_receiver):
    receiver = push_receiver()
    assert kd.subscribe(kd.subscription("731000000101", receiver.url, salt=None))["result"]
    kd.advance("731000000101", "collected")
    assert "sign" not in receiver.wait_for(1)[0]


def test_subscribing_to_a_number_with_history_pushes_it(kd, push_receiver):
    number = kd.waybill(kuaidicom="yunda")["kuaidinum"]
    kd.advance(number, "collected")
    receiver = push_receiver()
    assert kd.subscribe(kd.subscription(number, receiver.url, com="yunda"))["result"]
    assert json.loads(receiver.wait_for(1)[0]["param"])["lastResult"]["state"] == "1"


def test_a_failed_push_is_retried_until_the_receiver_says_ok(kd, push_receiver):
    refusal = {"result": False, "returnCode": "500", "message": "失败"}
    receiver = push_receiver(replies=[refusal, "not an object"])
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    answer = kd.advance(number, "collected")
    assert [d["ok"] for d in answer["deliveries"]] == [False]
    forms = receiver.wait_for(3)
    assert forms[0] == forms[1] == forms[2]
    deadline = time.monotonic() + 5
    while len(kd.pushes(number)) < 3 and time.monotonic() < deadline:
        time.sleep(0.02)
    attempts = kd.pushes(number)
    assert [(p["attempt"], p["ok"]) for p in attempts] == [(1, False), (2, False), (3, True)]


def test_a_slow_receiver_is_a_failed_attempt(kd, push_receiver):
    receiver = push_receiver(delay=1.5)  # the push timeout is 1 s here
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    first = kd.advance(number, "collected")["deliveries"][0]
    assert first["ok"] is False and "Timeout" in first["error"]


def test_faults_down_and_slow(kd):
    assert kd.faults(down="http_502", down_times=1)["down_times"] == 1
    param = {"com": "zhongtong", "num": "731000000201"}
    response = requests.post(f"{kd.url}/poll/query.do", data={"param": "{}"}, timeout=5)
    assert response.status_code == 502
    assert kd.query(param)["returnCode"] == "500"  # the fault was used up
    kd.faults(down="http_500")
    for _ in range(2):
        response = requests.post(f"{kd.url}/poll", data={}, timeout=5)
        assert response.status_code == 500
    kd.faults(down="disconnect")
    with pytest.raises(requests.ConnectionError):
        kd.label(kd.label_param())
    kd.faults(down=None, latency_ms=300)
    started = time.monotonic()
    assert kd.query(param)["returnCode"] == "500"
    assert time.monotonic() - started >= 0.3
    assert (
        requests.delete(f"{kd.url}/sandbox/courier/faults", timeout=5).json()["faults"][
            "latency_ms"
        ]
        == 0
    )


def test_fault_pushes_bad_signature_is_sent_once(kd, push_receiver):
    receiver = push_receiver(replies=[{"result": False, "returnCode": "500", "message": "bad"}])
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    kd.faults(push_bad_sign=True, push_bad_sign_times=1)
    kd.advance(number, "collected")
    kd.advance(number, "in_transit")
    forged, honest = receiver.wait_for(2)
    assert forged["sign"] != md5_upper(forged["param"] + "x")
    assert honest["sign"] == md5_upper(honest["param"] + "x")
    time.sleep(0.3)  # past the retry delays: a forged push is not resent
    assert len(receiver.forms) == 2
    assert [p["bad_sign"] for p in kd.pushes(number)] == [True, False]


def test_fault_duplicated_pushes(kd, push_receiver):
    receiver = push_receiver()
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    kd.faults(push_copies=3)
    kd.advance(number, "collected")
    forms = receiver.wait_for(3)
    assert forms[0] == forms[1] == forms[2]
    assert {p["push_id"] for p in kd.pushes(number)} == {kd.pushes(number)[0]["push_id"]}


def test_fault_out_of_order_pushes_send_an_older_state_after_a_newer(kd, push_receiver):
    receiver = push_receiver()
    number = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x")["kuaidinum"]
    kd.advance(number, "collected")
    kd.faults(push_out_of_order=True)
    kd.advance(number, "in_transit")
    states = [json.loads(f["param"])["lastResult"]["state"] for f in receiver.wait_for(3)]
    assert states == ["1", "0", "1"]
    assert [p["kind"] for p in kd.pushes(number)] == ["push", "push", "older"]


def test_control_refuses_bad_input(kd):
    number = kd.waybill()["kuaidinum"]
    for body in ({"event": "teleported"}, {}, {"event": "collected", "location": 3}):
        response = requests.post(
            f"{kd.url}/sandbox/courier/waybills/{number}/events", json=body, timeout=5
        )
        assert response.status_code == 400 and "error" in response.json()
    kd.advance("NOSUCHNUMBER", "collected", expect=404)
    for body in ({"down": "flood"}, {"push_copies": 0}, {"nonsense": 1}, {"latency_ms": -1}):
        response = requests.post(f"{kd.url}/sandbox/courier/faults", json=body, timeout=5)
        assert response.status_code == 400 and "error" in response.json()


def test_reset_forgets_courier_state_but_never_reuses_numbers(kd, push_receiver):
    receiver = push_receiver()
    first = kd.waybill(needSubscribe=True, pollCallBackUrl=receiver.url, salt="x", orderId="R1")
    kd.advance(first["kuaidinum"], "collected")
    kd.faults(latency_ms=50)
    assert requests.post(f"{kd.url}/sandbox/reset", timeout=5).json() == {"ok": True}
    assert kd.waybills() == [] and kd.pushes() == []
    assert (
        requests.get(f"{kd.url}/sandbox/courier/faults", timeout=5).json()["faults"]["latency_ms"]
        == 0
    )
    assert requests.get(first["label"], timeout=5).status_code == 404
    assert kd.waybill(orderId="R1")["kuaidinum"] != first["kuaidinum"]
