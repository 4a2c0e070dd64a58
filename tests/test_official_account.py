"""The Official Account bot at /callbacks/wechat-oa, driven by the sandbox playing WeChat's
server: signed (and in safe mode AES-encrypted) pushes, replies checked the way WeChat checks
them, customer-service messages for queued lookups."""

from __future__ import annotations

import logging
import re
import secrets
import time

import pytest
import requests
from wechatpy.crypto import WeChatCrypto
from wechatpy.utils import WeChatSigner

from backend.extensions import db
from backend.officialaccount.models import OAFollower
from tests.helpers import Shopper, follow, print_run, room_body, run_codes, run_jobs


def custom_messages(sandbox, openid: str) -> list[str]:
    res = requests.get(
        f"{sandbox.url}/sandbox/oa/messages",
        params={"openid": openid, "kind": "custom"},
        timeout=5,
    ).json()
    return [m["body"]["text"]["content"] for m in res["messages"]]


def follower(app, openid: str) -> OAFollower | None:
    with app.app_context():
        found = db.session.scalar(db.select(OAFollower).where(OAFollower.openid == openid))
        db.session.expunge_all()
        db.session.remove()
    return found


def text_of(result: dict) -> str | None:
    return (result.get("reply") or {}).get("Content")


def wechat_request(
    app, openid: str, content: str, *, timestamp=None, nonce=None, token=None, safe=True
) -> tuple[dict, str]:
    """The query string and body WeChat's server would POST for a text message (built with
    wechatpy, as an attacker holding the token or a captured request would)."""
    config = app.config
    token = config["WECHAT_OA_TOKEN"] if token is None else token
    timestamp = str(timestamp or int(time.time()))
    nonce = nonce or str(secrets.randbelow(9 * 10**9) + 10**9)
    xml = (
        f"<xml><ToUserName><![CDATA[gh_heli]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName><CreateTime>{timestamp}</CreateTime>"
        f"<MsgType><![CDATA[text]]></MsgType><Content><![CDATA[{content}]]></Content>"
        f"<MsgId>{secrets.randbits(62)}</MsgId></xml>"
    )
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    query = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce}
    if not safe:
        return query, xml
    crypto = WeChatCrypto(token, config["WECHAT_OA_AES_KEY"], config["WECHAT_OA_APPID"])
    sealed = crypto.encrypt_message(xml, nonce, timestamp)
    query.update(
        encrypt_type="aes", msg_signature=re.search(r"<MsgSignature><!\[CDATA\[(\w+)", sealed)[1]
    )
    return query, sealed


def post_push(client, query: dict, body: str):
    return client.post(
        "/callbacks/wechat-oa", query_string=query, data=body, content_type="text/xml"
    )


def test_wechat_checks_the_url(oa, sandbox):
    good = requests.get(f"{sandbox.url}/sandbox/oa/verify", timeout=10).json()
    assert good["echoed"] is True
    forged = requests.get(
        f"{sandbox.url}/sandbox/oa/verify", params={"tamper": "signature"}, timeout=10
    ).json()
    assert forged["echoed"] is False and forged["status"] == 403


def test_a_seller_binds_their_wechat_and_looks_up_a_trace_code(
    app, oa, sandbox, staff_client, licensed
):
    run = print_run(staff_client, licensed, quantity=5).json
    code = run_codes(app, run["id"])[0]
    welcome = follow(sandbox, "oa-seller", unionid="union-seller")
    assert "防伪码" in welcome["push"]["reply"]["Content"]
    run_jobs(app)  # the follower's UnionID, from user/info
    assert follower(app, "oa-seller").unionid == "union-seller"

    issued = staff_client.post(
        f"/console/api/sellers/{licensed['seller_id']}/oa-bind-code", json={}
    )
    assert issued.status_code == 201 and len(issued.json["code"]) == 8
    bound = oa("oa-seller", type="text", content=f"绑定 {issued.json['code']}")
    assert text_of(bound).startswith("绑定成功：海阳所老于家牡蛎")
    assert follower(app, "oa-seller").seller_id == licensed["seller_id"]
    again = oa("oa-seller", type="text", content=issued.json["code"])
    assert "无效或已过期" in text_of(again)  # one time only

    asked = oa("oa-seller", type="text", content=code.lower()[:10] + " " + code.lower()[10:])
    assert text_of(asked) == "正在查询防伪码，请稍候…"
    run_jobs(app)
    [answer] = custom_messages(sandbox, "oa-seller")
    assert answer.startswith("乳山牡蛎正品") and "海阳所东湾 1 号海区" in answer
    assert "卖家：海阳所老于家牡蛎" in answer and "此码已查询 1 次" in answer


def test_bind_codes_cannot_be_guessed(app, oa, sandbox):
    follow(sandbox, "oa-guesser")
    answers = [text_of(oa("oa-guesser", type="text", content=f"{n:08d}")) for n in range(6)]
    assert all("无效或已过期" in a for a in answers[:5])
    assert "尝试次数过多" in answers[5]


def test_rotating_senders_burn_a_bind_code(app, oa, sandbox, staff_client, licensed, monkeypatch):
    """Wrong codes from many followers count against every code alive meanwhile: the per-follower
    limit alone let forged or rotating openids guess on forever."""
    monkeypatch.setitem(app.config, "OA_BIND_WRONG_PER_CODE", 3)
    issued = staff_client.post(
        f"/console/api/sellers/{licensed['seller_id']}/oa-bind-code", json={}
    )
    real = issued.json["code"]
    wrong = f"{(int(real) + 1) % 10**8:08d}"
    for n in range(4):
        follow(sandbox, f"oa-guesser-{n}")
        assert "无效或已过期" in text_of(oa(f"oa-guesser-{n}", type="text", content=wrong))
    follow(sandbox, "oa-seller")
    late = oa("oa-seller", type="text", content=f"绑定 {real}")
    assert (text_of(late), follower(app, "oa-seller").seller_id) == (
        "绑定码已失效（期间错误尝试过多），请在联盟控制台重新获取",
        None,
    )


def test_bind_attempts_from_all_followers_are_rate_limited(app, oa, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "OA_BIND_ATTEMPTS_PER_MINUTE", 3)
    for n in range(4):
        follow(sandbox, f"oa-guesser-{n}")
    if time.time() % 60 > 50:  # the four guesses below fall in one minute's count
        time.sleep(61 - time.time() % 60)
    answers = [text_of(oa(f"oa-guesser-{n}", type="text", content="12345678")) for n in range(4)]
    assert answers[3] == "绑定请求过于频繁，请 1 分钟后再试"


def test_an_order_is_shown_only_to_its_buyer(app, oa, client, sandbox, store):
    code = requests.post(
        f"{sandbox.url}/sandbox/wx/login-code",
        json={"openid": "mp-buyer", "unionid": "union-buyer"},
        timeout=5,
    ).json()["code"]
    token = client.post("/api/v1/auth/login", json={"code": code}).json["token"]
    buyer = Shopper(client, sandbox, token, "mp-buyer")
    order = buyer.order([(store["RS-LIVE-L-5"], 1)]).json
    follow(sandbox, "oa-buyer", unionid="union-buyer")
    follow(sandbox, "oa-stranger", unionid="union-stranger")
    run_jobs(app)
    for openid in ("oa-buyer", "oa-stranger"):
        reply = oa(openid, type="text", content=f"查订单 {order['number']}")
        assert text_of(reply) == "正在查询订单，请稍候…"
    run_jobs(app)
    [mine] = custom_messages(sandbox, "oa-buyer")
    # 98 yuan of oysters and 22 of shipping (a 3 kg cold box to 山东)
    assert mine.startswith(f"订单 {order['number']}：待付款") and "120.00 元" in mine
    [theirs] = custom_messages(sandbox, "oa-stranger")
    assert order["number"] not in theirs and "未找到您的这笔订单" in theirs


def test_the_live_schedule(app, oa, sandbox, staff_client, store):
    follow(sandbox, "oa-viewer")
    assert "暂无直播" in text_of(oa("oa-viewer", type="text", content="直播"))
    staff_client.post("/console/api/live/rooms", json=room_body(name="开海节牡蛎直播"))
    schedule = text_of(oa("oa-viewer", type="text", content="最近有直播吗"))
    assert "开海节牡蛎直播（主播 小于）" in schedule


def test_plain_mode_works_without_an_aes_key(app, oa, sandbox, monkeypatch):
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", "")
    follow(sandbox, "oa-plain")
    reply = oa("oa-plain", type="text", content="你好", encrypt=False)
    assert reply["status"] == 200 and "发送包装上的防伪码" in text_of(reply)


def test_plain_pushes_are_refused_once_an_aes_key_is_set(app, oa, sandbox):
    """A plain push's body is signed by nobody: with safe mode configured only its
    msg_signature, which covers the body, lets a message in."""
    follow(sandbox, "oa-plain")
    refused = oa("oa-plain", type="text", content="直播", encrypt=False)
    assert (refused["status"], refused["reply"]) == (403, None)


def test_a_push_signed_30_days_ago_is_refused(app, client):
    query, body = wechat_request(
        app, "oa-late", "直播", timestamp=int(time.time()) - 30 * 24 * 3600
    )
    res = post_push(client, query, body)
    assert (res.status_code, follower(app, "oa-late")) == (403, None)


def test_a_captured_signature_with_another_openids_body_does_nothing(
    app, client, staff_client, licensed, monkeypatch
):
    """Plain mode signs token + timestamp + nonce only: a triple captured from one genuine push,
    sent again with another sender's body, must not bind that sender to the seller."""
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", "")
    code = staff_client.post(f"/console/api/sellers/{licensed['seller_id']}/oa-bind-code", json={})
    genuine_query, genuine_body = wechat_request(app, "oa-victim", "你好", safe=False)
    assert post_push(client, genuine_query, genuine_body).status_code == 200
    _, forged_body = wechat_request(app, "oa-mallory", f"绑定 {code.json['code']}", safe=False)
    replayed = post_push(client, genuine_query, forged_body)
    assert (replayed.status_code, replayed.data, follower(app, "oa-mallory")) == (
        200,
        b"success",
        None,
    )


def test_without_a_token_the_callback_refuses_to_run(app, client, monkeypatch, caplog):
    """An empty token would make a signature anyone can compute."""
    monkeypatch.setitem(app.config, "WECHAT_OA_TOKEN", "")
    monkeypatch.setitem(app.config, "WECHAT_OA_AES_KEY", "")
    query, body = wechat_request(app, "oa-anyone", "直播", token="", safe=False)
    with caplog.at_level(logging.ERROR, logger="bots.officialaccount.callback"):
        res = post_push(client, query, body)
    assert (res.status_code, res.json["code"], follower(app, "oa-anyone")) == (
        503,
        "NOT_CONFIGURED",
        None,
    )
    assert "尚未配置" in res.json["message"]
    assert [r.getMessage() for r in caplog.records if r.name.startswith("bots.")] == [
        "OA callback refused: WECHAT_OA_TOKEN is not configured"
    ]


@pytest.mark.parametrize(
    "tamper, status", [("signature", 403), ("msg_signature", 403), ("encryption", 400)]
)
def test_forged_or_broken_pushes_are_rejected(app, oa, sandbox, tamper, status):
    follow(sandbox, "oa-forged")
    result = oa("oa-forged", type="text", content="直播", tamper=tamper)
    assert result["status"] == status and result["reply"] is None
    with app.app_context():
        last = db.session.scalar(
            db.select(OAFollower.last_message_at).where(OAFollower.openid == "oa-forged")
        )
        db.session.remove()
    assert last is not None  # only the (genuine) subscribe event counted, not the forged text


def test_a_resent_message_is_answered_once(app, oa, sandbox):
    follow(sandbox, "oa-resend")
    result = oa("oa-resend", type="text", content="直播", repeat=3)
    replies = [attempt.get("reply") for attempt in result["deliveries"]]
    assert sum(1 for reply in replies if reply) == 1


def test_follow_unfollow_and_blocked_templates_set_reachability(app, oa, sandbox):
    follow(sandbox, "oa-reach")
    assert follower(app, "oa-reach").reachable
    oa(
        "oa-reach",
        type="event",
        event="TEMPLATESENDJOBFINISH",
        msg_id=7,
        status="failed:user block",
    )
    assert follower(app, "oa-reach").reachable is False
    oa("oa-reach", type="event", event="TEMPLATESENDJOBFINISH", msg_id=8, status="success")
    assert follower(app, "oa-reach").reachable
    requests.post(
        f"{sandbox.url}/sandbox/oa/users", json={"openid": "oa-reach", "follow": False}, timeout=30
    )
    assert follower(app, "oa-reach").following is False
