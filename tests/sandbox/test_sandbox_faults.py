"""Injected faults, reset, health, and the app factory itself."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

from sandbox import create_app
from sandbox.settings import REPO_ROOT
from sandbox.wxacode import read_png_text


def test_40001_forever_with_a_bounded_client(wechat_client_for, sandbox, control):
    control.post("/sandbox/faults", {"wechat_errcode": 40001, "wechat_errcode_times": None})
    wx = wechat_client_for(sandbox.url, auto_retry=False)
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.send_subscribe_message("o_x", "TPL_ORDER_PAID", {})
    assert raised.value.errcode == 40001
    assert control.get("/sandbox/wx/token-calls")["token"] == 1  # the token fetch still works


def test_40001_n_times_is_ridden_out_by_wechatpys_retry(wechat_client_for, sandbox, control):
    control.post("/sandbox/faults", {"wechat_errcode": 40001, "wechat_errcode_times": 3})
    control.post("/sandbox/wx/subscriptions", {"openid": "o_x", "template_id": "TPL_LIVE_START"})
    wx = wechat_client_for(sandbox.url)
    data = {
        "thing1": {"value": "冬季新米直播"},
        "time2": {"value": "2026-11-25 20:00"},
        "name3": {"value": "李主播"},
        "thing4": {"value": "开播领券"},
    }
    assert wx.wxa.send_subscribe_message("o_x", "TPL_LIVE_START", data)["errcode"] == 0
    # one initial fetch + one per 40001 answer: what the retry cost
    assert control.get("/sandbox/wx/token-calls")["token"] == 4


def test_other_errcodes_and_clearing(wx, control):
    faults = control.post("/sandbox/faults", {"wechat_errcode": 45009})["faults"]
    assert faults["wechat_errcode"] == 45009 and faults["wechat_errcode_times"] is None
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.code_to_session("any")
    assert raised.value.errcode == 45009
    requests.delete(f"{control.url}/sandbox/faults", timeout=5)
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.code_to_session("any")
    assert raised.value.errcode == 40029


def test_pay_http_status_for_n_calls(wxpay, control):
    control.post("/sandbox/faults", {"pay_http_status": 500, "pay_times": 2})
    codes = [wxpay.query(out_trade_no="HL50000001")[0] for _ in range(3)]
    assert codes == [500, 500, 404]
    control.post("/sandbox/faults", {"pay_http_status": 429, "pay_times": 1})
    code, text = wxpay.query(out_trade_no="HL50000001")
    assert code == 429 and json.loads(text)["code"] == "FREQUENCY_LIMITED"


def test_latency(wxpay, control):
    control.post("/sandbox/faults", {"latency_ms": 200})
    started = time.monotonic()
    wxpay.query(out_trade_no="HL50000002")
    assert time.monotonic() - started >= 0.2


def test_bad_fault_keys_are_rejected(control):
    control.post("/sandbox/faults", {"no_such_fault": 1}, expect=400)
    control.post("/sandbox/faults", {"refund_result": "MAYBE"}, expect=400)


def test_reset_forgets_everything(wxpay, place_order, wx, control):
    place_order(wxpay, "HL50000003")
    wx.fetch_access_token()
    control.post("/sandbox/faults", {"latency_ms": 10})
    control.post("/sandbox/wx/subscriptions", {"openid": "o_r", "template_id": "TPL_REFUND"})
    control.post("/sandbox/reset")
    assert wxpay.query(out_trade_no="HL50000003")[0] == 404
    assert control.get("/sandbox/wx/token-calls")["total"] == 0
    assert control.get("/sandbox/wx/subscriptions")["subscriptions"] == []
    assert control.get("/sandbox/faults")["faults"]["latency_ms"] == 0
    assert control.notifications() == []


def test_health(control):
    assert control.get("/sandbox/health") == {"ok": True}


def test_settings_override_credentials():
    app = create_app({"WECHAT_APPID": "wx1111111111111111", "WECHAT_SECRET": "s" * 32})
    client = app.test_client()
    answer = client.get(
        "/cgi-bin/token",
        query_string={
            "grant_type": "client_credential",
            "appid": "wx1111111111111111",
            "secret": "s" * 32,
        },
    ).get_json()
    assert "access_token" in answer
    with pytest.raises(ValueError):
        create_app({"WECHATPAY_APIV3_KEY": "too-short"})


def test_wxacode_unlimited(wx, make_sandbox, wechat_client_for):
    response = wx.wxa.get_wxa_code_unlimited("id=42&s=live", page="pages/live/room")
    assert response.headers["Content-Type"] == "image/png"
    assert read_png_text(response.content) == {"scene": "id=42&s=live", "page": "pages/live/room"}
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.get_wxa_code_unlimited("中文场景值")
    assert raised.value.errcode == 40169

    strict = wechat_client_for(make_sandbox(pages=["pages/index/index"]).url)
    with pytest.raises(WeChatClientException) as raised:
        strict.wxa.get_wxa_code_unlimited("a=1", page="pages/live/room")
    assert raised.value.errcode == 41030


def test_python_m_sandbox_serves():
    with socket.socket() as probe:  # a free port for the child process
        probe.bind(("127.0.0.1", 0))
        port = str(probe.getsockname()[1])
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox"],
        cwd=REPO_ROOT,
        env={"SANDBOX_PORT": port, "PATH": ""},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                answer = requests.get(f"http://127.0.0.1:{port}/sandbox/health", timeout=1)
                break
            except requests.ConnectionError:
                assert time.monotonic() < deadline, "python -m sandbox did not start"
                time.sleep(0.05)
        assert answer.json() == {"ok": True}
    finally:
        process.terminate()
        output = process.communicate(timeout=5)[0].decode()
    assert "GET /sandbox/health" in output


def test_token_fetch_fault(wx, control):
    control.post("/sandbox/faults", {"token_errcode": 40164, "token_errcode_times": 1})
    with pytest.raises(WeChatClientException) as raised:
        wx.fetch_access_token()
    assert raised.value.errcode == 40164
    assert "access_token" in wx.fetch_access_token()


def test_notify_transport_delivers_in_process(make_sandbox, wxpay_for, place_order):
    delivered = []

    def transport(url: str, headers: dict, body: bytes) -> int:
        delivered.append((url, headers, body))
        return 200

    sandbox = make_sandbox(notify_transport=transport)
    wxpay = wxpay_for(sandbox.url, "https://heli.test/api/v1/pay/notify")
    place_order(wxpay, "HL50000004")
    requests.post(
        f"{sandbox.url}/sandbox/pay/out-trade-no/HL50000004/confirm", json={"wait": True}, timeout=5
    )
    ((url, headers, body),) = delivered
    assert url == "https://heli.test/api/v1/pay/notify"
    assert wxpay.callback(headers, body)["resource"]["out_trade_no"] == "HL50000004"


def test_unknown_v3_paths_answer_in_the_pay_error_shape(sandbox, control):
    answer = requests.get(f"{sandbox.url}/v3/no/such/api", timeout=5)
    assert answer.status_code == 404 and answer.json()["code"] == "NOT_FOUND"
