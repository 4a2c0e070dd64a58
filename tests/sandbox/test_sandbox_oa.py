"""The Official Account stand-in, cross-checked with wechatpy: a local callback verifies, decrypts,
parses and answers the sandbox's pushes with wechatpy, and the OA APIs are called through
wechatpy's client."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests
from flask import Flask, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.events import (
    SubscribeEvent,
    SubscribeScanEvent,
    TemplateSendJobFinishEvent,
    UnsubscribeEvent,
)
from wechatpy.exceptions import WeChatClientException
from wechatpy.messages import TextMessage
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature
from werkzeug.serving import WSGIRequestHandler, make_server

FAST_OA = {"oa_template_finish_delay": 0.02, "oa_push_timeout": 2.0}
ORDER_DATA = {
    "character_string1": {"value": "HL20261125001"},
    "thing2": {"value": "乳山生蚝 5斤装"},
    "amount3": {"value": "¥128.00"},
    "phrase4": {"value": "已发货"},
    "time5": {"value": "2026-11-25 10:30"},
}
BROADCAST_DATA = {f"keyword{n}": {"value": f"值{n}"} for n in (1, 2, 3)}


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        pass


class OaCallback:
    """The account's callback written with wechatpy, as the backend will be: check the signature,
    decrypt in safe mode, parse, answer texts with an (encrypted) TextReply, events with success.

    `delays` are per-request sleeps; `reply_mode` breaks the answer on purpose."""

    def __init__(self, env: dict[str, str]):
        self.token = env["WECHAT_OA_TOKEN"]
        self.crypto = WeChatCrypto(self.token, env["WECHAT_OA_AES_KEY"], env["WECHAT_OA_APPID"])
        self.messages: list[Any] = []  # parsed wechatpy messages/events
        self.requests: list[dict[str, Any]] = []  # every request, even rejected ones
        self.delays: list[float] = []
        self.reply_mode = "normal"
        self._changed = threading.Condition()
        app = Flask("oa_callback")
        app.add_url_rule("/wx", view_func=self._verify, methods=["GET"])
        app.add_url_rule("/wx", view_func=self._receive, methods=["POST"])
        self._server = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self._server.server_port}/wx"
        threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        ).start()

    def _verify(self):
        args = request.args
        try:
            check_signature(self.token, args["signature"], args["timestamp"], args["nonce"])
        except Exception:
            return "bad signature", 403
        return args["echostr"]

    def _receive(self):
        args = request.args
        with self._changed:
            self.requests.append({"args": dict(args), "body": request.get_data()})
            delay = self.delays.pop(0) if self.delays else 0
        time.sleep(delay)
        try:
            check_signature(self.token, args["signature"], args["timestamp"], args["nonce"])
        except Exception:
            return "bad signature", 403
        encrypted = args.get("encrypt_type") == "aes"
        xml = request.get_data()
        if encrypted:
            try:
                xml = self.crypto.decrypt_message(
                    xml, args["msg_signature"], args["timestamp"], args["nonce"]
                )
            except Exception:  # bad msg_signature, wrong appid, garbage plaintext
                return "cannot decrypt", 403
        message = parse_message(xml)
        with self._changed:
            self.messages.append(message)
            self._changed.notify_all()
        if not isinstance(message, TextMessage):
            return "success"
        if self.reply_mode == "wrong_user":
            reply = TextReply(content="给别人", source=message.target, target="o_someone_else")
        else:
            reply = TextReply(content=f"收到：{message.content}", message=message)
        rendered = reply.render()
        if encrypted and self.reply_mode != "plain_in_safe_mode":
            rendered = self.crypto.encrypt_message(rendered, args["nonce"], args["timestamp"])
        return rendered, 200, {"Content-Type": "application/xml"}

    def wait_for(self, count: int, timeout: float = 5) -> list[Any]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.messages) < count:
                left = deadline - time.monotonic()
                assert left > 0, f"got {len(self.messages)} pushes, expected {count}"
                self._changed.wait(left)
            return list(self.messages)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def callback(env) -> Iterator[OaCallback]:
    receiver = OaCallback(env)
    yield receiver
    receiver.stop()


@pytest.fixture
def oa_sandbox(make_sandbox, callback, sandbox_settings):
    return make_sandbox(**{**FAST_OA, "oa_callback_url": callback.url, **sandbox_settings})


@pytest.fixture
def ctl(oa_sandbox):
    class Ctl:
        url = oa_sandbox.url

        def post(self, path: str, body: dict | None = None, expect: int = 200) -> Any:
            response = requests.post(self.url + path, json=body or {}, timeout=30)
            assert response.status_code == expect, response.text
            return response.json()

        def get(self, path: str, **params: Any) -> Any:
            response = requests.get(self.url + path, params=params, timeout=30)
            assert response.status_code == 200, response.text
            return response.json()

        def follow(self, openid: str, **extra: Any) -> dict:
            return self.post("/sandbox/oa/users", {"openid": openid, "push": False, **extra})

        def clock(self, seconds: float) -> None:
            self.post("/sandbox/clock", {"advance": seconds})

    return Ctl()


@pytest.fixture
def oa(oa_sandbox, env, wechat_client_for):
    """wechatpy with the Official Account's credentials."""
    return wechat_client_for(
        oa_sandbox.url, appid=env["WECHAT_OA_APPID"], secret=env["WECHAT_OA_SECRET"]
    )


def _errcode(call: Callable[[], Any]) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


# --- tokens and user/info ----------------------------------------------------------------------


def test_tokens_are_not_interchangeable(oa_sandbox, oa, ctl, wechat_client_for):
    ctl.follow("o_oa_1")
    mini = wechat_client_for(oa_sandbox.url)
    assert _errcode(lambda: mini.user.get("o_oa_1")) == 48001
    assert _errcode(lambda: mini.message.send_text("o_oa_1", "hi")) == 48001
    assert _errcode(lambda: oa.wxa.send_subscribe_message("o_oa_1", "TPL_ORDER_PAID", {})) == 48001
    assert oa.user.get("o_oa_1")["subscribe"] == 1


def test_user_info_of_follower_unfollower_and_stranger(oa, ctl):
    ctl.follow("o_oa_1", unionid="u_1", nickname="老王")
    info = oa.user.get("o_oa_1")
    assert info["subscribe"] == 1 and info["openid"] == "o_oa_1" and info["unionid"] == "u_1"
    assert {"language", "subscribe_time", "subscribe_scene", "qr_scene", "tagid_list"} <= set(info)
    assert "nickname" not in info  # not returned since 2021-12-27

    ctl.post("/sandbox/oa/users", {"openid": "o_oa_1", "follow": False, "push": False})
    assert oa.user.get("o_oa_1") == {
        "subscribe": 0,
        "openid": "o_oa_1",
        "unionid": "u_1",
        "tagid_list": [],
    }
    assert _errcode(lambda: oa.user.get("o_stranger")) == 40003


# --- pushes to the callback --------------------------------------------------------------------


def test_follow_and_unfollow_push_events(ctl, callback):
    answer = ctl.post("/sandbox/oa/users", {"openid": "o_fan", "unionid": "u_fan"})
    assert answer["user"]["subscribe"] is True
    assert answer["push"]["status"] == 200 and answer["push"]["reply"] is None
    assert answer["push"]["reply_error"] is None and answer["push"]["raw"] == "success"
    answer = ctl.post("/sandbox/oa/users", {"openid": "o_fan", "follow": False})
    assert answer["push"]["status"] == 200
    subscribe, unsubscribe = callback.wait_for(2)
    assert isinstance(subscribe, SubscribeEvent) and subscribe.source == "o_fan"
    assert subscribe.target == "gh_heli_sandbox"
    assert isinstance(unsubscribe, UnsubscribeEvent)
    # the control API did not push again for a no-op, and push: false is silent
    ctl.post("/sandbox/oa/users", {"openid": "o_fan", "follow": False})
    ctl.post("/sandbox/oa/users", {"openid": "o_fan", "follow": True, "push": False})
    assert len(callback.requests) == 2


@pytest.mark.parametrize("encrypt", [True, False])
def test_text_push_and_reply(ctl, callback, encrypt):
    ctl.follow("o_fan")
    answer = ctl.post(
        "/sandbox/oa/push",
        {"openid": "o_fan", "type": "text", "content": "查订单 <1> & 2", "encrypt": encrypt},
    )
    assert answer["status"] == 200 and answer["attempts"] == 1
    assert answer["reply_error"] is None
    assert answer["reply"]["MsgType"] == "text"
    assert answer["reply"]["Content"] == "收到：查订单 <1> & 2"
    assert answer["reply"]["ToUserName"] == "o_fan"
    assert ("<Encrypt>" in answer["raw"]) is encrypt

    (message,) = callback.wait_for(1)
    assert isinstance(message, TextMessage) and message.id == answer["msg_id"]
    args = callback.requests[0]["args"]
    assert args["openid"] == "o_fan"
    assert ("msg_signature" in args) is encrypt and (args.get("encrypt_type") == "aes") is encrypt


def test_cdata_end_in_a_text(ctl, callback):
    ctl.follow("o_fan")
    answer = ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "a]]>b"})
    (message,) = callback.wait_for(1)
    assert message.content == "a]]>b"  # the push splits the CDATA section correctly
    # wechatpy's TextReply puts content into CDATA unescaped: echoing "]]>" breaks the reply XML
    assert answer["reply"] is None and "not XML" in answer["reply_error"]


def test_event_pushes_parse_as_wechatpy_events(ctl, callback):
    ctl.post(
        "/sandbox/oa/push",
        {"openid": "o_new", "type": "event", "event": "subscribe", "event_key": "qrscene_42"},
    )
    ctl.post("/sandbox/oa/push", {"openid": "o_new", "type": "event", "event": "CLICK"}, 400)
    ctl.post(
        "/sandbox/oa/push",
        {"openid": "o_new", "type": "event", "event": "CLICK", "event_key": "MY_ORDERS"},
    )
    ctl.post(
        "/sandbox/oa/push",
        {
            "openid": "o_new",
            "type": "event",
            "event": "TEMPLATESENDJOBFINISH",
            "msg_id": 77,
            "status": "failed:user block",
        },
    )
    subscribe, click, finish = callback.wait_for(3)
    assert isinstance(subscribe, SubscribeScanEvent) and subscribe.scene_id == "42"
    assert click.event == "click" and click.key == "MY_ORDERS"
    assert isinstance(finish, TemplateSendJobFinishEvent)
    assert (finish.id, finish.status) == (77, "failed:user block")
    (user,) = ctl.get("/sandbox/oa/users", openid="o_new")["users"]
    assert user["subscribe"] is True and user["subscribe_scene"] == "ADD_SCENE_QR_CODE"


@pytest.mark.parametrize("tamper", ["signature", "msg_signature", "encryption"])
def test_tampered_pushes_are_rejected_by_wechatpy(ctl, callback, tamper):
    ctl.follow("o_fan")
    answer = ctl.post(
        "/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "hi", "tamper": tamper}
    )
    assert answer["status"] == 403 and answer["attempts"] == 1
    assert answer["reply"] is None and answer["reply_error"] == "HTTP 403"
    assert callback.messages == [] and len(callback.requests) == 1


def test_a_forged_subscribe_changes_nothing(ctl, callback):
    body = {"openid": "o_x", "type": "event", "event": "subscribe", "tamper": "msg_signature"}
    assert ctl.post("/sandbox/oa/push", body)["status"] == 403
    assert ctl.get("/sandbox/oa/users")["users"] == []


def test_tamper_options_need_safe_mode(ctl):
    ctl.follow("o_fan")
    body = {"openid": "o_fan", "type": "text", "content": "hi", "encrypt": False}
    ctl.post("/sandbox/oa/push", {**body, "tamper": "encryption"}, expect=400)
    ctl.post("/sandbox/oa/push", {**body, "tamper": "signature"})  # plaintext mode has one


@pytest.mark.parametrize(
    ("mode", "error"),
    [("plain_in_safe_mode", "must be encrypted"), ("wrong_user", "is not the user")],
)
def test_bad_replies_are_reported(ctl, callback, mode, error):
    ctl.follow("o_fan")
    callback.reply_mode = mode
    answer = ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "hi"})
    assert answer["status"] == 200 and answer["reply"] is None
    assert error in answer["reply_error"]


def test_url_verification(ctl):
    assert ctl.get("/sandbox/oa/verify")["echoed"] is True
    forged = ctl.get("/sandbox/oa/verify", tamper="signature")
    assert forged["status"] == 403 and forged["echoed"] is False


@pytest.mark.parametrize("sandbox_settings", [{"oa_push_timeout": 0.3}])
def test_slow_callback_gets_wechats_retries(ctl, callback):
    ctl.follow("o_fan")
    callback.delays = [0.6]
    answer = ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "慢"})
    assert answer["status"] == 200 and answer["attempts"] == 2
    first, second = callback.wait_for(2)  # the slow one was handled too: dedupe is the backend's
    assert first.id == second.id

    callback.delays = [0.6, 0.6, 0.6]
    answer = ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "更慢"})
    assert answer["status"] is None and answer["attempts"] == 3
    assert "no answer after 3 attempts" in answer["reply_error"]


@pytest.mark.parametrize("concurrent", [False, True])
def test_repeat_and_msg_id_override(ctl, callback, concurrent):
    ctl.follow("o_fan")
    answer = ctl.post(
        "/sandbox/oa/push",
        {
            "openid": "o_fan",
            "type": "text",
            "content": "again",
            "msg_id": 1234567890123,
            "repeat": 3,
            "concurrent": concurrent,
        },
    )
    assert [d["status"] for d in answer["deliveries"]] == [200, 200, 200]
    messages = callback.wait_for(3)
    assert {m.id for m in messages} == {1234567890123}
    assert len({r["body"] for r in callback.requests}) == 1  # byte-identical requests


def test_callback_url_can_change_at_runtime(ctl, env):
    other = OaCallback(env)
    try:
        ctl.follow("o_fan")
        assert ctl.post("/sandbox/oa/config", {"callback_url": other.url})["callback_url"] == (
            other.url
        )
        ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "x"})
        assert len(other.wait_for(1)) == 1
        ctl.post("/sandbox/reset")  # config survives a reset; followers do not
        assert ctl.get("/sandbox/oa/config")["callback_url"] == other.url
        assert ctl.get("/sandbox/oa/users")["users"] == []
    finally:
        other.stop()


# --- 客服消息 -----------------------------------------------------------------------------------


def test_custom_message_window(oa, ctl):
    ctl.follow("o_fan")  # following is an interaction
    assert oa.message.send_text("o_fan", "欢迎关注")["errcode"] == 0
    ctl.clock(48 * 3600 + 1)
    assert _errcode(lambda: oa.message.send_text("o_fan", "还在吗")) == 45015
    ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "在"})
    assert oa.message.send_text("o_fan", "您好")["errcode"] == 0
    (first, second) = ctl.get("/sandbox/oa/messages", openid="o_fan", kind="custom")["messages"]
    assert first["body"]["text"]["content"] == "欢迎关注" and second["msgtype"] == "text"

    ctl.post("/sandbox/oa/users", {"openid": "o_fan", "follow": False, "push": False})
    assert _errcode(lambda: oa.message.send_text("o_fan", "别走")) == 45015
    assert _errcode(lambda: oa.message.send_text("o_stranger", "hi")) == 40003


def test_custom_message_body_errors(oa, ctl, oa_sandbox):
    ctl.follow("o_fan")
    assert _errcode(lambda: oa.message.send_text("o_fan", "")) == 44004
    assert _errcode(lambda: oa.message._post("message/custom/send", data={"touser": "o_fan"})) == (
        40008
    )
    link = {"touser": "o_fan", "msgtype": "link", "link": {"title": "订单"}}
    assert _errcode(lambda: oa.message._post("message/custom/send", data=link)) == 47003
    link["link"]["url"] = "https://heli.example/o/1"
    assert oa.message._post("message/custom/send", data=link)["errcode"] == 0
    raw = requests.post(
        f"{oa_sandbox.url}/cgi-bin/message/custom/send",
        params={"access_token": oa.access_token},
        data=b"{not json",
        timeout=5,
    ).json()
    assert raw["errcode"] == 47001


@pytest.mark.parametrize(
    "sandbox_settings", [{"oa_custom_per_interaction": 3, "oa_custom_per_day": 5}]
)
def test_custom_message_counts(oa, ctl):
    ctl.follow("o_fan")
    for n in range(3):
        oa.message.send_text("o_fan", f"第{n}条")
    assert _errcode(lambda: oa.message.send_text("o_fan", "第4条")) == 45047
    ctl.post("/sandbox/oa/push", {"openid": "o_fan", "type": "text", "content": "继续"})
    oa.message.send_text("o_fan", "第4条")
    oa.message.send_text("o_fan", "第5条")
    assert _errcode(lambda: oa.message.send_text("o_fan", "第6条")) == 45009
    refused = ctl.get("/sandbox/oa/stats")["custom"]["refused"]
    assert refused == {"45047": 1, "45009": 1}


# --- 模板消息 -----------------------------------------------------------------------------------


def test_template_send_and_finish_event(oa, ctl, callback):
    ctl.follow("o_fan")
    answer = oa.message.send_template(
        "o_fan",
        "OA_TPL_ORDER_STATUS",
        ORDER_DATA,
        mini_program={"appid": "wx8a5b0c0d1e2f3a4b", "pagepath": "pages/order/detail?id=1"},
    )
    assert answer["errcode"] == 0 and answer["msgid"] > 0
    (finish,) = callback.wait_for(1)
    assert isinstance(finish, TemplateSendJobFinishEvent)
    assert (finish.id, finish.status, finish.source) == (answer["msgid"], "success", "o_fan")

    (message,) = ctl.get("/sandbox/oa/messages", kind="template")["messages"]
    assert message["msgid"] == answer["msgid"] and message["data"] == ORDER_DATA
    assert message["miniprogram"]["pagepath"] == "pages/order/detail?id=1"
    assert message["finish_status"] == "success"
    _wait_for_stats(ctl, lambda s: s["finish_events"]["pushed"] == 1)
    (message,) = ctl.get("/sandbox/oa/messages", kind="template")["messages"]
    assert message["finish_http_status"] == 200


def test_template_errors(oa, ctl):
    ctl.follow("o_fan")
    ctl.follow("o_gone", follow=False)
    send = oa.message.send_template
    assert _errcode(lambda: send("o_stranger", "OA_TPL_ORDER_STATUS", ORDER_DATA)) == 40003
    assert _errcode(lambda: send("o_fan", "OA_TPL_NOPE", ORDER_DATA)) == 40037
    assert _errcode(lambda: send("o_gone", "OA_TPL_ORDER_STATUS", ORDER_DATA)) == 43004
    partial = {k: v for k, v in ORDER_DATA.items() if k != "time5"}
    with pytest.raises(WeChatClientException) as raised:
        send("o_fan", "OA_TPL_ORDER_STATUS", partial)
    assert raised.value.errcode == 47003 and "data.time5.value" in raised.value.errmsg
    # old-style templates: first/remark are optional (the platform drops them since 2023-05)
    assert send("o_fan", "OA_TPL_BROADCAST", BROADCAST_DATA)["errcode"] == 0
    stats = ctl.get("/sandbox/oa/stats")["template"]
    assert stats["accepted"] == 1
    assert stats["refused"] == {"40003": 1, "40037": 1, "43004": 1, "47003": 1}


def test_client_msg_id_dedupe(oa, ctl, callback):
    ctl.follow("o_fan")
    ctl.follow("o_other")
    body = {
        "touser": "o_fan",
        "template_id": "OA_TPL_ORDER_STATUS",
        "data": ORDER_DATA,
        "client_msg_id": "order-1-shipped",
    }
    first = oa.post("message/template/send", data=body)["msgid"]
    assert oa.post("message/template/send", data=body)["msgid"] == first
    other = oa.post("message/template/send", data={**body, "touser": "o_other"})["msgid"]
    assert other != first
    ctl.clock(601)
    assert oa.post("message/template/send", data=body)["msgid"] not in (first, other)
    assert len(ctl.get("/sandbox/oa/messages", kind="template")["messages"]) == 3
    assert ctl.get("/sandbox/oa/stats")["template"]["deduped"] == 1
    assert len(callback.wait_for(3)) == 3


def test_finish_statuses_user_block_and_system_failure(oa, ctl, callback):
    ctl.follow("o_blocker", block_templates=True)
    ctl.follow("o_fan")
    ctl.post("/sandbox/oa/faults", {"finish_status": "failed: system failed", "times": 1})
    blocked = oa.message.send_template("o_blocker", "OA_TPL_ORDER_STATUS", ORDER_DATA)["msgid"]
    failed = oa.message.send_template("o_fan", "OA_TPL_ORDER_STATUS", ORDER_DATA)["msgid"]
    fine = oa.message.send_template("o_fan", "OA_TPL_ORDER_STATUS", ORDER_DATA)["msgid"]
    statuses = {event.id: event.status for event in callback.wait_for(3)}
    assert statuses == {
        blocked: "failed:user block",
        failed: "failed: system failed",
        fine: "success",
    }


@pytest.mark.parametrize(
    "sandbox_settings", [{"oa_template_per_day": 3, "oa_template_per_second": 2}]
)
def test_template_quotas(oa, ctl):
    ctl.follow("o_fan")
    send = lambda: oa.message.send_template("o_fan", "OA_TPL_ORDER_STATUS", ORDER_DATA)  # noqa: E731
    send()
    send()
    with pytest.raises(WeChatClientException) as raised:
        send()
    assert raised.value.errcode == 45009 and "api freq out of limit" in raised.value.errmsg
    time.sleep(1.05)
    send()
    with pytest.raises(WeChatClientException) as raised:
        send()
    assert raised.value.errcode == 45009 and "daily quota" in raised.value.errmsg


# --- faults ------------------------------------------------------------------------------------


def test_fault_for_n_calls(oa, ctl):
    ctl.follow("o_fan")
    ctl.post("/sandbox/oa/faults", {"errcode": -1, "times": 2})
    send = lambda: oa.message.send_template("o_fan", "OA_TPL_ORDER_STATUS", ORDER_DATA)  # noqa: E731
    assert _errcode(send) == -1
    assert _errcode(lambda: oa.message.send_text("o_fan", "hi")) == -1
    assert send()["errcode"] == 0
    assert ctl.get("/sandbox/oa/faults")["faults"] == []


def test_fault_for_some_seconds_and_only_some_apis(oa, ctl):
    ctl.follow("o_fan")
    ctl.post("/sandbox/oa/faults", {"errcode": 45009, "seconds": 60, "apis": ["template"]})
    send = lambda: oa.message.send_template("o_fan", "OA_TPL_ORDER_STATUS", ORDER_DATA)  # noqa: E731
    assert _errcode(send) == 45009
    assert _errcode(send) == 45009
    assert oa.message.send_text("o_fan", "custom is spared")["errcode"] == 0
    ctl.clock(61)
    assert send()["errcode"] == 0


def test_random_transient_fault_rate(oa, ctl):
    ctl.follow("o_fan")
    ctl.post("/sandbox/oa/faults", {"rate": 0.3, "seed": 7})  # errcode -1 by default
    codes = []
    for _ in range(80):
        try:
            answer = oa.message.send_template("o_fan", "OA_TPL_BROADCAST", BROADCAST_DATA)
            codes.append(answer["errcode"])
        except WeChatClientException as error:
            codes.append(error.errcode)
    failures = codes.count(-1)
    assert 10 <= failures <= 40 and codes.count(0) == 80 - failures
    stats = ctl.get("/sandbox/oa/stats")["template"]
    assert stats["refused"] == {"-1": failures} and stats["accepted"] == 80 - failures
    requests.delete(f"{ctl.url}/sandbox/oa/faults", timeout=5)
    assert oa.message.send_template("o_fan", "OA_TPL_BROADCAST", BROADCAST_DATA)["errcode"] == 0


def test_global_wechat_fault_hits_oa_apis_too(oa, ctl):
    ctl.follow("o_fan")
    ctl.post("/sandbox/faults", {"wechat_errcode": 45009, "wechat_errcode_times": 1})
    assert _errcode(lambda: oa.user.get("o_fan")) == 45009
    assert oa.user.get("o_fan")["subscribe"] == 1


def test_bad_fault_rules(ctl):
    ctl.post("/sandbox/oa/faults", {}, expect=400)
    ctl.post("/sandbox/oa/faults", {"errcode": -1, "rate": 2}, expect=400)
    ctl.post("/sandbox/oa/faults", {"errcode": -1, "apis": ["finish"]}, expect=400)
    ctl.post("/sandbox/oa/faults", {"finish_status": "failed"}, expect=400)


def _wait_for_stats(ctl, ready: Callable[[dict], bool], timeout: float = 5) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        stats = ctl.get("/sandbox/oa/stats")
        if ready(stats) or time.monotonic() > deadline:
            assert ready(stats), stats
            return stats
        time.sleep(0.02)
