"""msg_sec_check through wechatpy: the v2 verdicts (pass / review / risky, errcode 0), the body
rules (40129, 44002, 47001, 40003) and the v1 body wechatpy sends (87014 when risky)."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import WeChatClientException


@pytest.fixture
def visitor(control) -> str:
    control.post("/sandbox/wx/visit", {"openid": "o_viewer"})
    return "o_viewer"


def check(wx, openid: str, content: str, scene: int = 2, **extra) -> dict:
    body = {"version": 2, "scene": scene, "openid": openid, "content": content, **extra}
    return wx.wxa._post("wxa/msg_sec_check", data=body)


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


def test_clean_comment_passes(wx, visitor):
    answer = check(wx, visitor, "这批大米真香，已下单两袋")
    assert (answer["errcode"], answer["errmsg"]) == (0, "ok")
    assert answer["result"] == {"suggest": "pass", "label": 100}
    assert len(answer["trace_id"].split("-")) == 3
    (model,) = answer["detail"]
    assert model["strategy"] == "content_model" and model["errcode"] == 0
    assert (model["suggest"], model["label"]) == ("pass", 100) and "prob" in model


@pytest.mark.parametrize(
    ("content", "label"),
    [
        ("想要优惠的加微信 heli888", 10001),
        ("主播是个傻逼", 20003),
        ("招人刷单，日结", 20008),
        ("支持台独", 20001),
    ],
)
def test_risky_words_answer_errcode_0_with_suggest_risky(wx, visitor, content, label):
    answer = check(wx, visitor, content)
    assert answer["errcode"] == 0
    assert answer["result"] == {"suggest": "risky", "label": label}
    model, keyword = answer["detail"]
    assert (model["strategy"], model["suggest"], model["label"]) == (
        "content_model",
        "risky",
        label,
    )
    assert model["keyword"] == keyword["keyword"] and keyword["strategy"] == "keyword"
    assert model["keyword"] in content


def test_review_words_and_risky_wins(wx, visitor):
    assert check(wx, visitor, "私聊我给你返现")["result"]["suggest"] == "review"
    mixed = check(wx, visitor, "私聊我，加微信")
    assert mixed["result"] == {"suggest": "risky", "label": 10001}
    assert [d["keyword"] for d in mixed["detail"][1:]] == ["加微信", "私聊"]


def test_nickname_and_title_are_checked_too(wx, visitor):
    answer = check(wx, visitor, "你好", scene=1, nickname="刷单小王", signature="")
    assert answer["result"]["suggest"] == "risky"


def test_body_rules(wx, visitor):
    assert _errcode(lambda: check(wx, visitor, "你好", scene=5)) == 40129
    assert _errcode(lambda: check(wx, visitor, "你好", scene="2")) == 40129
    assert _errcode(lambda: check(wx, visitor, "")) == 44002
    assert _errcode(lambda: check(wx, visitor, "米" * 2501)) == 47001
    assert check(wx, visitor, "米" * 2500)["result"]["suggest"] == "pass"
    assert _errcode(lambda: check(wx, "o_stranger", "你好")) == 40003
    assert _errcode(lambda: check(wx, visitor, "你好", version=3)) == 47001


def test_the_user_must_have_visited_within_two_hours(wx, control, visitor):
    control.post("/sandbox/clock", {"advance": 7190})
    assert check(wx, visitor, "你好")["errcode"] == 0
    control.post("/sandbox/clock", {"advance": 11})
    assert _errcode(lambda: check(wx, visitor, "你好")) == 40003
    control.post("/sandbox/wx/visit", {"openid": visitor})
    assert check(wx, visitor, "你好")["errcode"] == 0


def test_a_login_counts_as_a_visit(wx, control):
    code = control.post("/sandbox/wx/login-code", {"openid": "o_buyer"})["code"]
    wx.wxa.code_to_session(code)
    assert check(wx, "o_buyer", "什么时候发货")["result"]["suggest"] == "pass"


def test_v1_body_answers_87014_for_risky_text(wx):
    assert wx.wxa.check_text_security("什么时候发货")["errcode"] == 0
    assert wx.wxa.check_text_security("私聊返现")["errcode"] == 0  # v1 has no "review"
    assert _errcode(lambda: wx.wxa.check_text_security("加微信领红包")) == 87014
    assert _errcode(lambda: wx.wxa.check_text_security("")) == 44002


@pytest.mark.parametrize(
    "sandbox_settings",
    [{"sec_check_words": {"Spam": 21000}, "sec_check_review_words": {}}],
)
def test_the_word_tables_are_settings(wx, visitor):
    assert check(wx, visitor, "buy cheap SPAM now")["result"] == {
        "suggest": "risky",
        "label": 21000,
    }
    assert check(wx, visitor, "加微信")["result"]["suggest"] == "pass"


def test_checks_are_logged_and_faults_apply(wx, control, visitor):
    check(wx, visitor, "主播是个傻逼")
    (logged,) = control.get("/sandbox/wx/sec-checks", openid=visitor)["sec_checks"]
    assert (logged["suggest"], logged["label"], logged["keyword"]) == ("risky", 20003, "傻逼")
    control.post("/sandbox/faults", {"wechat_errcode": 45009, "wechat_errcode_times": 1})
    assert _errcode(lambda: check(wx, visitor, "你好")) == 45009
    assert check(wx, visitor, "你好")["errcode"] == 0
