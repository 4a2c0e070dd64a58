"""Access tokens: cgi-bin/token with its grace period, stable_token, the per-call token check."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException


@pytest.fixture
def errcode_with(sandbox, wechat_client_for):
    """The errcode a mini-program API answers with this token; 40003 means the token passed."""

    def check(token: str, url: str | None = None) -> int:
        client = wechat_client_for(url or sandbox.url, access_token=token, auto_retry=False)
        with pytest.raises(WeChatClientException) as raised:
            client.wxa.send_subscribe_message("o_nobody", "TPL_ORDER_PAID", {})
        return raised.value.errcode

    return check


def _stable(url: str, env, force_refresh: bool = False, **changes) -> dict:
    body = {
        "grant_type": "client_credential",
        "appid": env["WECHAT_APPID"],
        "secret": env["WECHAT_SECRET"],
        "force_refresh": force_refresh,
    }
    body.update(changes)
    return requests.post(f"{url}/cgi-bin/stable_token", json=body, timeout=5).json()


def test_token_via_wechatpy(wx, control):
    answer = wx.fetch_access_token()
    assert answer["expires_in"] == 7200
    assert len(answer["access_token"]) >= 100
    assert control.get("/sandbox/wx/token-calls") == {"token": 1, "stable_token": 0, "total": 1}


def test_token_errors(sandbox, wechat_client_for, env):
    with pytest.raises(WeChatClientException) as raised:
        wechat_client_for(sandbox.url, secret="0" * 32).fetch_access_token()
    assert raised.value.errcode == 40001
    with pytest.raises(WeChatClientException) as raised:
        wechat_client_for(sandbox.url, appid="wx0000000000000000").fetch_access_token()
    assert raised.value.errcode == 40013
    answer = requests.get(
        f"{sandbox.url}/cgi-bin/token",
        params={"grant_type": "password", "appid": env["WECHAT_APPID"], "secret": "x"},
        timeout=5,
    ).json()
    assert answer["errcode"] == 40002


def test_previous_token_lives_five_more_minutes(wx, control, errcode_with):
    old = wx.fetch_access_token()["access_token"]
    new = wx.fetch_access_token()["access_token"]
    assert old != new
    assert errcode_with(old) == 40003
    control.post("/sandbox/clock", {"advance": 301})
    assert errcode_with(old) == 40001
    assert errcode_with(new) == 40003


def test_tokens_expire(make_sandbox, wechat_client_for, errcode_with):
    sandbox = make_sandbox(token_expires_in=60)
    token = wechat_client_for(sandbox.url).fetch_access_token()
    assert token["expires_in"] == 60
    assert errcode_with(token["access_token"], sandbox.url) == 40003
    requests.post(f"{sandbox.url}/sandbox/clock", json={"advance": 61}, timeout=5)
    assert errcode_with(token["access_token"], sandbox.url) == 42001


def test_missing_and_unknown_tokens(sandbox, errcode_with):
    answer = requests.post(f"{sandbox.url}/cgi-bin/message/subscribe/send", json={}, timeout=5)
    assert answer.json()["errcode"] == 41001
    assert errcode_with("not-a-token") == 40001


def test_official_account_token_cannot_call_mini_program_apis(
    sandbox, wechat_client_for, env, errcode_with
):
    oa = wechat_client_for(
        sandbox.url, appid=env["WECHAT_OA_APPID"], secret=env["WECHAT_OA_SECRET"]
    )
    assert errcode_with(oa.fetch_access_token()["access_token"]) == 48001


def test_stable_token_is_stable_until_force_refresh(sandbox, env, control, errcode_with):
    first = _stable(sandbox.url, env)
    assert _stable(sandbox.url, env)["access_token"] == first["access_token"]
    assert first["expires_in"] == 7200

    rotated = _stable(sandbox.url, env, force_refresh=True)
    assert rotated["access_token"] != first["access_token"]
    assert errcode_with(first["access_token"]) == 40001  # invalid at once, no grace
    assert errcode_with(rotated["access_token"]) == 40003

    assert _stable(sandbox.url, env, force_refresh=True)["errcode"] == 45009  # < 30 s apart
    control.post("/sandbox/clock", {"advance": 31})
    assert "access_token" in _stable(sandbox.url, env, force_refresh=True)
    assert control.get("/sandbox/wx/token-calls")["stable_token"] == 5


def test_stable_token_daily_force_refresh_limit(make_sandbox, env):
    sandbox = make_sandbox(stable_force_refresh_per_day=2, stable_force_refresh_min_interval=0)
    assert "access_token" in _stable(sandbox.url, env, force_refresh=True)
    assert "access_token" in _stable(sandbox.url, env, force_refresh=True)
    assert _stable(sandbox.url, env, force_refresh=True)["errcode"] == 45009


def test_stable_and_plain_tokens_are_isolated(sandbox, wx, env, errcode_with):
    stable = _stable(sandbox.url, env)["access_token"]
    plain = wx.fetch_access_token()["access_token"]
    wx.fetch_access_token()
    wx.fetch_access_token()
    assert errcode_with(stable) == 40003
    assert _stable(sandbox.url, env)["access_token"] == stable
    assert errcode_with(plain) == 40003  # still in its grace period


def test_stable_token_checks_credentials(sandbox, env):
    assert _stable(sandbox.url, env, secret="bad")["errcode"] == 40001
    assert _stable(sandbox.url, env, appid="wx0000000000000000")["errcode"] == 40013
    assert _stable(sandbox.url, env, grant_type="nope")["errcode"] == 40002
