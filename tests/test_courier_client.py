"""backend/clients/courier.py end to end against the 快递100 stand-in: waybills, labels, signed
pushes received by a local HTTP server and parsed with parse_push, queries, faults."""

from __future__ import annotations

import json
import socket
import threading
import time
from datetime import datetime
from typing import Any

import pytest
import requests
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from backend.clients import courier
from backend.clients.courier import BadSignature, CourierError, TrackingPush
from backend.platforms import carriers

SALT = "f3c9a1d07b2e4c58"
SENDER = {"name": "乳山合蛎仓", "mobile": "13800001111", "address": "山东省威海市乳山市海阳所镇"}
RECEIVER = {"name": "张三", "mobile": "13912345678", "address": "北京市朝阳区建国路1号"}


class Callback:
    """Our callback as a local server: parse_push, keep what is newer than what was applied."""

    def __init__(self, salt: str = SALT):
        self.salt = salt
        self.parsed: list[TrackingPush] = []
        self.rejected: list[CourierError] = []
        self.applied: dict[str, TrackingPush] = {}
        self._changed = threading.Condition()
        self._server = make_server("127.0.0.1", 0, self._app, threaded=True, request_handler=_Quiet)
        self.url = f"http://127.0.0.1:{self._server.server_port}/callbacks/kuaidi100"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def _app(self, environ, start_response):
        form = Request(environ).form
        with self._changed:
            try:
                push = courier.parse_push(form, salt=self.salt)
            except CourierError as error:
                self.rejected.append(error)
                reply = {"result": False, "returnCode": "500", "message": "签名错误"}
            else:
                self.parsed.append(push)
                current = self.applied.get(push.tracking_no)
                if current is None or push.latest_at > current.latest_at:
                    self.applied[push.tracking_no] = push
                reply = courier.PUSH_REPLY
            self._changed.notify_all()
        return Response(_json(reply), mimetype="application/json")(environ, start_response)

    def wait_for(self, count: int, timeout: float = 5) -> None:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.parsed) + len(self.rejected) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"{len(self.parsed)} + {len(self.rejected)} pushes, not {count}"
                self._changed.wait(left)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


@pytest.fixture
def callback():
    server = Callback()
    yield server
    server.stop()


@pytest.fixture
def control(sandbox):
    def post(path: str, body: dict, expect: int = 200) -> dict:
        response = requests.post(f"{sandbox.url}/sandbox/courier{path}", json=body, timeout=10)
        assert response.status_code == expect, response.text
        return response.json()

    return post


def _waybill(callback: Callback, carrier: str = "SF", order_ref: str = "HL-20260101-0001"):
    return courier.create_waybill(
        carrier=carrier,
        order_ref=order_ref,
        sender=SENDER,
        receiver=RECEIVER,
        cargo="乳山生蚝 5斤装",
        count=1,
        weight_grams=2600,
        callback_url=callback.url,
        salt=callback.salt,
    )


def test_a_parcel_from_waybill_to_delivery(app, callback, control):
    with app.app_context():
        waybill = _waybill(callback)
    assert waybill.carrier == "SF" and waybill.tracking_no.startswith("SF") and waybill.task_id
    label = requests.get(waybill.label_url, timeout=5)
    assert label.status_code == 200 and waybill.tracking_no in label.text
    for event in ("collected", "in_transit", "out_for_delivery", "delivered"):
        control(f"/waybills/{waybill.tracking_no}/events", {"event": event, "location": "北京"})
    callback.wait_for(4)
    assert callback.rejected == []
    pushes = callback.parsed
    assert [p.state for p in pushes] == ["COLLECTED", "IN_TRANSIT", "OUT_FOR_DELIVERY", "DELIVERED"]
    assert [p.finished for p in pushes] == [False, False, False, True]
    assert all(a.latest_at < b.latest_at for a, b in zip(pushes, pushes[1:], strict=False))
    last = pushes[-1]
    assert (last.carrier, last.tracking_no) == ("SF", waybill.tracking_no)
    assert [e.state for e in last.events] == [
        "DELIVERED",
        "OUT_FOR_DELIVERY",
        "IN_TRANSIT",
        "COLLECTED",
    ]
    assert (
        last.latest_at == last.events[0].at
        and last.latest_at.utcoffset().total_seconds() == 8 * 3600
    )
    assert last.events[0].location == "北京" and last.events[0].context
    assert abs((datetime.now(last.latest_at.tzinfo) - last.latest_at).total_seconds()) < 30


def test_query_and_subscribe(app, callback, control):
    with app.app_context():
        waybill = _waybill(callback, carrier="ZTO")
        with pytest.raises(CourierError) as nothing_yet:
            courier.query(carrier="ZTO", tracking_no=waybill.tracking_no, phone="")
        assert nothing_yet.value.transient and nothing_yet.value.code == 500
        control(f"/waybills/{waybill.tracking_no}/events", {"event": "collected"})
        control(f"/waybills/{waybill.tracking_no}/events", {"event": "refused"})
        now = courier.query(carrier="ZTO", tracking_no=waybill.tracking_no, phone="")
        assert (now.state, now.finished, [e.state for e in now.events]) == (
            "REFUSED",
            False,
            ["REFUSED", "COLLECTED"],
        )
        # create_waybill subscribed already: a second subscription is not an error
        courier.subscribe(
            carrier="ZTO",
            tracking_no=waybill.tracking_no,
            phone="5678",
            callback_url=callback.url,
            salt=SALT,
        )
        courier.subscribe(
            carrier="YTO",
            tracking_no="YT1234567890123",
            phone="",
            callback_url=callback.url,
            salt=SALT,
        )
        with pytest.raises(CourierError) as unknown:
            courier.subscribe(
                carrier="DHL", tracking_no="1234567890", phone="", callback_url="x", salt=SALT
            )
        assert unknown.value.code == "UNKNOWN_CARRIER" and not unknown.value.transient


def test_an_sf_query_needs_the_right_phone(app, callback, control):
    with app.app_context():
        waybill = _waybill(callback)
        control(f"/waybills/{waybill.tracking_no}/events", {"event": "collected"})
        assert courier.query(carrier="SF", tracking_no=waybill.tracking_no, phone="5678").state == (
            "COLLECTED"
        )
        with pytest.raises(CourierError) as wrong:
            courier.query(carrier="SF", tracking_no=waybill.tracking_no, phone="0000")
        assert wrong.value.code == 408 and not wrong.value.transient


def test_a_push_with_a_bad_or_missing_signature_is_rejected(app, callback, control):
    with app.app_context():
        waybill = _waybill(callback)
    control("/faults", {"push_bad_sign": True, "push_bad_sign_times": 1})
    control(f"/waybills/{waybill.tracking_no}/events", {"event": "collected"})
    control(f"/waybills/{waybill.tracking_no}/events", {"event": "in_transit"})
    callback.wait_for(2)
    assert len(callback.rejected) == 1 and isinstance(callback.rejected[0], BadSignature)
    assert callback.rejected[0].transient is False
    assert [p.state for p in callback.parsed] == ["IN_TRANSIT"]
    param = '{"status":"polling","lastResult":{"state":"3","data":[]}}'
    with pytest.raises(BadSignature):
        courier.parse_push({"param": param}, salt=SALT)
    with pytest.raises(BadSignature):
        courier.parse_push({"param": param, "sign": courier.md5_upper(param + "other")}, salt=SALT)
    lower = courier.md5_upper(param + SALT).lower()  # compared case-insensitively
    assert courier.parse_push({"param": param, "sign": lower}, salt=SALT).state == "DELIVERED"


def test_duplicate_and_out_of_order_pushes_are_recognised_by_latest_at(app, callback, control):
    with app.app_context():
        waybill = _waybill(callback)
    number = waybill.tracking_no
    control("/faults", {"push_copies": 2})
    control(f"/waybills/{number}/events", {"event": "collected"})
    control("/faults", {"push_copies": 1, "push_out_of_order": True})
    control(f"/waybills/{number}/events", {"event": "out_for_delivery"})
    callback.wait_for(4)
    parsed = callback.parsed
    assert [p.state for p in parsed] == ["COLLECTED", "COLLECTED", "OUT_FOR_DELIVERY", "COLLECTED"]
    assert parsed[0] == parsed[1]  # a duplicate is the same push
    assert parsed[3].latest_at < parsed[2].latest_at  # the late one is older
    assert callback.applied[number].state == "OUT_FOR_DELIVERY"


@pytest.mark.parametrize("down", ["http_500", "http_502", "disconnect"])
def test_courier_down_is_transient(app, callback, control, down):
    control("/faults", {"down": down})
    with app.app_context():
        with pytest.raises(CourierError) as error:
            _waybill(callback)
        assert error.value.transient
        with pytest.raises(CourierError) as error:
            courier.query(carrier="SF", tracking_no="SF123456789012", phone="5678")
        assert error.value.transient


def test_slow_or_unreachable_courier_is_transient(app, callback, control, monkeypatch):
    monkeypatch.setitem(app.config, "HTTP_TIMEOUT_SECONDS", 0.3)
    control("/faults", {"latency_ms": 700})
    with app.app_context():
        with pytest.raises(CourierError) as slow:
            _waybill(callback)
        assert slow.value.transient and slow.value.code == "UNREACHABLE"
        with socket.socket() as probe:  # a port nobody listens on
            probe.bind(("127.0.0.1", 0))
            closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
        monkeypatch.setitem(app.config, "KUAIDI100_POLL_BASE", closed)
        with pytest.raises(CourierError) as refused:
            courier.query(carrier="SF", tracking_no="SF123456789012", phone="5678")
        assert refused.value.transient


@pytest.mark.parametrize(
    ("setting", "code"), [("KUAIDI100_KEY", 30003), ("KUAIDI100_SECRET", 30002)]
)
def test_wrong_credentials_are_not_transient(app, callback, monkeypatch, setting, code):
    monkeypatch.setitem(app.config, setting, "not-ours")
    with app.app_context(), pytest.raises(CourierError) as error:
        _waybill(callback)
    assert error.value.code == code and not error.value.transient


def test_a_repeated_order_ref_gives_the_same_waybill(app, callback):
    with app.app_context():
        first = _waybill(callback, order_ref="HL-REPEAT")
        assert _waybill(callback, order_ref="HL-REPEAT") == first
        assert _waybill(callback, order_ref="HL-OTHER").tracking_no != first.tracking_no


def test_every_carrier_has_its_kuaidi100_and_wechat_codes():
    assert {c: e["kuaidi100"] for c, e in carriers.CARRIERS.items()} == courier.KUAIDI100_COM
    assert carriers.kuaidi100_com("YUNDA") == "yunda"
    assert carriers.wechat_delivery_id("YUNDA") == "YD"
    assert carriers.carrier_of_kuaidi100("shentong") == "STO"
    assert carriers.carrier_of_kuaidi100("dhl") is None
    assert courier.state_of("301") == "DELIVERED" and courier.state_of("99") == "IN_TRANSIT"
