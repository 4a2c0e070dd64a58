"""subscribeMessage.send through wechatpy: credits, 43101, value rules (47003), the message log."""

from __future__ import annotations

import pytest
import requests
from wechatpy.exceptions import WeChatClientException

PAID_DATA = {
    "character_string1": {"value": "HL20261125001"},
    "amount2": {"value": "¥29.90"},
    "thing3": {"value": "五常大米 5kg"},
    "time4": {"value": "2026-11-25 10:30"},
}


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


@pytest.fixture
def subscriber(control) -> str:
    control.post(
        "/sandbox/wx/subscriptions",
        {"openid": "o_sub", "template_id": "TPL_ORDER_PAID", "count": 1},
    )
    return "o_sub"


def test_one_credit_one_message(wx, control, subscriber):
    answer = wx.wxa.send_subscribe_message(
        subscriber, "TPL_ORDER_PAID", PAID_DATA, page="pages/order/detail?id=1"
    )
    assert answer["errcode"] == 0 and answer["msgid"] > 0
    assert (
        _errcode(lambda: wx.wxa.send_subscribe_message(subscriber, "TPL_ORDER_PAID", PAID_DATA))
        == 43101
    )

    (message,) = control.get("/sandbox/wx/messages", touser=subscriber)["messages"]
    assert message["msgid"] == answer["msgid"]
    assert message["template_id"] == "TPL_ORDER_PAID"
    assert message["page"] == "pages/order/detail?id=1"
    assert message["data"] == PAID_DATA
    assert message["miniprogram_state"] == "formal"


def test_state_and_lang_through_a_raw_post(wx, control, subscriber):
    # wechatpy cannot pass miniprogram_state/lang: the backend posts through wxa._post
    wx.wxa._post(
        "cgi-bin/message/subscribe/send",
        data={
            "touser": subscriber,
            "template_id": "TPL_ORDER_PAID",
            "data": PAID_DATA,
            "miniprogram_state": "trial",
            "lang": "en_US",
        },
    )
    (message,) = control.get("/sandbox/wx/messages")["messages"]
    assert (message["miniprogram_state"], message["lang"]) == ("trial", "en_US")


def test_logged_in_user_without_credits_gets_43101(wx, control):
    code = control.post("/sandbox/wx/login-code", {"openid": "o_fresh"})["code"]
    wx.wxa.code_to_session(code)
    send = lambda: wx.wxa.send_subscribe_message("o_fresh", "TPL_ORDER_PAID", PAID_DATA)  # noqa: E731
    assert _errcode(send) == 43101


def test_unknown_openid_and_template(wx, subscriber):
    assert (
        _errcode(lambda: wx.wxa.send_subscribe_message("o_stranger", "TPL_ORDER_PAID", PAID_DATA))
        == 40003
    )
    assert (
        _errcode(lambda: wx.wxa.send_subscribe_message(subscriber, "TPL_NOPE", PAID_DATA)) == 40037
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("thing3", "这是一个超过二十个字的商品名称，肯定会被微信拒绝的"),
        ("thing3", "两行\n文字"),
        ("amount2", "29.90 dollars"),
        ("amount2", "¥12345678901"),
        ("time4", "25 Nov 10:30"),
        ("time4", "2026-11-25 25:00"),
        ("character_string1", "订单HL001"),
        ("character_string1", "X" * 33),
        ("thing3", ""),
    ],
)
def test_value_rules_give_47003_naming_the_field(wx, subscriber, key, value):
    data = {**PAID_DATA, key: {"value": value}}
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.send_subscribe_message(subscriber, "TPL_ORDER_PAID", data)
    assert raised.value.errcode == 47003
    assert f"data.{key}.value" in raised.value.errmsg


def test_missing_key_gives_47003(wx, subscriber):
    data = {k: v for k, v in PAID_DATA.items() if k != "time4"}
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.send_subscribe_message(subscriber, "TPL_ORDER_PAID", data)
    assert raised.value.errcode == 47003 and "data.time4.value" in raised.value.errmsg


@pytest.mark.parametrize(
    ("keys", "values"),
    [
        (["phrase1", "name2", "number3"], ["已发货", "张三", "12.5"]),
        (["letter1", "symbol2", "phone_number3"], ["abc", "%", "+86 138-0000-0000"]),
        (["date1", "car_number2", "time3"], ["2026年11月25日", "粤B12345", "10:00~12:00"]),
        (["name1", "amount2", "date3"], ["Zhang San", "100元", "2026-11-25 ~ 2026-11-30"]),
    ],
)
def test_valid_values_of_every_type(wx, control, keys, values):
    control.post("/sandbox/wx/templates", {"template_id": "TPL_CUSTOM", "keys": keys})
    control.post("/sandbox/wx/subscriptions", {"openid": "o_t", "template_id": "TPL_CUSTOM"})
    data = {key: {"value": value} for key, value in zip(keys, values, strict=True)}
    assert wx.wxa.send_subscribe_message("o_t", "TPL_CUSTOM", data)["errcode"] == 0


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("phrase1", "发货了啊啊啊"),
        ("phrase1", "shipped"),
        ("name1", "欧阳司马诸葛长孙上官东方"),
        ("letter1", "abc1"),
        ("symbol1", "%%%%%%"),
        ("number1", "12a"),
        ("phone_number1", "1" * 18),
        ("car_number1", "粤B123456789"),
        ("date1", "tomorrow"),
    ],
)
def test_invalid_values_of_other_types(wx, control, key, value):
    control.post("/sandbox/wx/templates", {"template_id": "TPL_ONE", "keys": [key]})
    control.post("/sandbox/wx/subscriptions", {"openid": "o_t", "template_id": "TPL_ONE"})
    with pytest.raises(WeChatClientException) as raised:
        wx.wxa.send_subscribe_message("o_t", "TPL_ONE", {key: {"value": value}})
    assert raised.value.errcode == 47003


def test_page_checked_when_pages_are_configured(make_sandbox, wechat_client_for):
    sandbox = make_sandbox(pages=["pages/index/index", "pages/order/detail"])
    wx = wechat_client_for(sandbox.url)
    requests.post(
        f"{sandbox.url}/sandbox/wx/subscriptions",
        json={"openid": "o_p", "template_id": "TPL_ORDER_PAID", "count": 2},
        timeout=5,
    )
    ok = wx.wxa.send_subscribe_message("o_p", "TPL_ORDER_PAID", PAID_DATA, "pages/order/detail?x=1")
    assert ok["errcode"] == 0
    assert (
        _errcode(
            lambda: wx.wxa.send_subscribe_message("o_p", "TPL_ORDER_PAID", PAID_DATA, "pages/nope")
        )
        == 41030
    )


def test_default_templates_are_listed(control):
    templates = control.get("/sandbox/wx/templates")["templates"]
    assert {"TPL_ORDER_PAID", "TPL_ORDER_SHIPPED", "TPL_REFUND", "TPL_LIVE_START"} <= set(templates)
    control.post("/sandbox/wx/templates", {"template_id": "T", "keys": ["weird1"]}, expect=400)
