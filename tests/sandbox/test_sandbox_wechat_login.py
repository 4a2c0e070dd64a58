"""wx.login codes exchanged through wechatpy's `code_to_session`."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException


def _code(control, openid: str, **extra) -> str:
    return control.post("/sandbox/wx/login-code", {"openid": openid, **extra})["code"]


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


def test_code_gives_openid_and_session_key_once(wx, control):
    code = _code(control, "o_alice")
    session = wx.wxa.code_to_session(code)
    assert session["openid"] == "o_alice"
    assert len(session["session_key"]) == 24
    assert "unionid" not in session
    assert _errcode(lambda: wx.wxa.code_to_session(code)) == 40029


def test_unionid_when_minted_with_one(wx, control):
    session = wx.wxa.code_to_session(_code(control, "o_bob", unionid="u_bob"))
    assert session["unionid"] == "u_bob"


def test_unknown_and_expired_codes(wx, control):
    assert _errcode(lambda: wx.wxa.code_to_session("0" * 32)) == 40029
    code = _code(control, "o_carol")
    control.post("/sandbox/clock", {"advance": 301})
    assert _errcode(lambda: wx.wxa.code_to_session(code)) == 40029


def test_bad_app_credentials(sandbox, wechat_client_for, control, env):
    code = _code(control, "o_dave")
    wrong_secret = wechat_client_for(sandbox.url, secret="0" * 32, access_token="unused")
    assert _errcode(lambda: wrong_secret.wxa.code_to_session(code)) == 40001
    wrong_app = wechat_client_for(sandbox.url, appid="wx0000000000000000", access_token="unused")
    assert _errcode(lambda: wrong_app.wxa.code_to_session(code)) == 40013
    # the failures did not spend the code
    assert wechat_client_for(sandbox.url).wxa.code_to_session(code)["openid"] == "o_dave"


def test_per_user_minute_limit(make_sandbox, wechat_client_for):
    sandbox = make_sandbox(code2session_per_minute=3)
    wx = wechat_client_for(sandbox.url)

    def code() -> str:
        answer = requests.post(
            f"{sandbox.url}/sandbox/wx/login-code", json={"openid": "o_eve"}, timeout=5
        )
        return answer.json()["code"]

    for _ in range(3):
        wx.wxa.code_to_session(code())
    assert _errcode(lambda: wx.wxa.code_to_session(code())) == 45011
    requests.post(f"{sandbox.url}/sandbox/clock", json={"advance": 60}, timeout=5)
    assert wx.wxa.code_to_session(code())["openid"] == "o_eve"


def test_login_code_needs_an_openid(control):
    control.post("/sandbox/wx/login-code", {}, expect=400)
