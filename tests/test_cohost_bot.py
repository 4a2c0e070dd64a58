"""The co-host bot in a simulated show: viewers comment through the mini-program API (with
WeChat content security in the sandbox), the bot reads the room's stream with its consumer
group and answers, holds, moderates, announces and sums up."""

from __future__ import annotations

from datetime import datetime

import pytest
import requests

from backend.customers.models import Customer
from backend.extensions import db
from backend.inventory import service as inventory
from backend.live import comments, summary
from backend.live.models import LiveClaim
from backend.orders.models import Order
from backend.queue import redis_client
from backend.staff.models import StaffAlert
from backend.trace.chain import chain_for_lot
from bots.cohost import bot as bot_module
from bots.cohost.bot import GROUP, CoHost, dead_letter_key
from jobs.live import send_pay_prompt
from tests.helpers import (
    ADDRESS,
    Shopper,
    follow,
    go_live,
    limit_stock,
    room_body,
    run_jobs,
    set_live_status,
    sku_stock,
)


@pytest.fixture
def show(app, sandbox, staff_client, store, monkeypatch):
    """A live room with 1号 特大 and 2号 大 on its shelf, 1号 on screen."""
    room = staff_client.post("/console/api/live/rooms", json=room_body()).json
    external = go_live(sandbox, staff_client, room["id"])
    for code in ("RS-LIVE-XL-5", "RS-LIVE-L-5"):
        res = staff_client.post(
            f"/console/api/live/rooms/{room['id']}/shelf", json={"sku_id": store[code]}
        )
        assert res.status_code == 201, res.json
    on_screen = staff_client.post(
        f"/console/api/live/rooms/{room['id']}/on-screen", json={"sku_id": store["RS-LIVE-XL-5"]}
    )
    assert on_screen.status_code == 200, on_screen.json
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "1000 per 5 seconds")
    return {"id": room["id"], "external": external}


@pytest.fixture
def bot(app):
    return CoHost(app, "test-bot")


def viewer(client, sandbox, openid: str) -> Shopper:
    shopper = Shopper.login(client, sandbox, openid)
    requests.post(f"{sandbox.url}/sandbox/wx/visit", json={"openid": openid}, timeout=5)
    return shopper


def say(shopper: Shopper, room_id: int, text: str):
    return shopper.post(f"/api/v1/live/rooms/{room_id}/comments", json={"text": text})


def run_bot(app, bot: CoHost, rounds: int = 3) -> None:
    with app.app_context():
        for _ in range(rounds):
            bot.due_now()
            bot.step(block_ms=20)
        db.session.remove()


def replies(client, room_id: int, **match) -> list[dict]:
    """The bot's replies as `client` reads them: anyone (a test client) or a signed-in viewer."""
    items = client.get(f"/api/v1/live/rooms/{room_id}/comments?limit=200").json["items"]
    return [
        item
        for item in items
        if item["bot"] and all(item.get(key) == value for key, value in match.items())
    ]


def customer_id(app, shopper: Shopper) -> int:
    with app.app_context():
        found = db.session.scalar(db.select(Customer.id).where(Customer.openid == shopper.openid))
        db.session.remove()
    return found


def harvest_day(app, sku_id: int) -> str:
    with app.app_context():
        lot = inventory.lots_on_sale(db.session, [sku_id])[sku_id]
        origin = chain_for_lot(db.session, lot.id)["origin"]
        harvested = datetime.fromisoformat(origin["harvested_at"])
        db.session.remove()
    return f"{harvested.month}月{harvested.day}日"


def test_a_simulated_show(app, client, sandbox, staff_client, store, show, bot, oa):
    room_id = show["id"]
    follow(sandbox, "oa-host")  # the host reads the summary on the Official Account
    bind_code = staff_client.post("/console/api/staff/me/oa-bind-code", json={}).json["code"]
    assert "绑定成功" in oa("oa-host", type="text", content=bind_code)["reply"]["Content"]
    asker = viewer(client, sandbox, "o-asker")
    buyer = viewer(client, sandbox, "o-buyer")
    spammer = viewer(client, sandbox, "o-spammer")
    xl = store["RS-LIVE-XL-5"]
    on_hand, reserved = sku_stock(app, xl)

    question = say(asker, room_id, "多大的？什么时候捞的？")
    claim = say(buyer, room_id, "扣2")
    assert question.status_code == 201 and claim.status_code == 201
    run_bot(app, bot)

    answer = replies(asker, room_id, reply_to=question.json["id"])
    assert len(answer) == 1
    text = answer[0]["text"]
    assert text.startswith("@") and "特大" in text and "5斤装 约15-18只" in text
    assert f"{harvest_day(app, xl)}" in text and "出水" in text
    assert answer[0]["to_me"] is True
    assert replies(buyer, room_id, reply_to=question.json["id"])[0]["to_me"] is False

    prompt = replies(buyer, room_id, reply_to=claim.json["id"])
    assert len(prompt) == 1 and prompt[0]["kind"] == "pay_prompt"
    order = buyer.get(f"/api/v1/orders/{prompt[0]['order_id']}").json
    assert order["status"] == "PENDING_PAYMENT" and order["total"] == 2 * 13800
    assert [(i["sku_id"], i["quantity"]) for i in order["items"]] == [(xl, 2)]
    assert "已为您锁定1号" in prompt[0]["text"] and "276元" in prompt[0]["text"]
    assert "运费按收货地址另计" in prompt[0]["text"]  # no address yet: no fee yet
    # Everyone else reads the prompt without the buyer's order or what they pay.
    [seen] = replies(client, room_id, reply_to=claim.json["id"])
    assert "已为您锁定1号" in seen["text"] and "276" not in seen["text"]
    assert not {"order_id", "total", "customer_id", "to_customer_id", "to_me"} & seen.keys()
    assert sku_stock(app, xl) == (on_hand, reserved + 2)
    assert asker.get(f"/api/v1/orders/{order['id']}").status_code == 404

    # A spammer leaves a phone number three times: hidden each time, then muted.
    for attempt in range(3):
        posted = say(spammer, room_id, f"便宜出货 138 1234 567{attempt} 找我")
        assert posted.status_code == 201
        run_bot(app, bot, rounds=1)
    muted = say(spammer, room_id, "为什么不让我说话")
    assert muted.status_code == 403 and muted.json["code"] == "MUTED"
    visible = client.get(f"/api/v1/live/rooms/{room_id}/comments?limit=200").json["items"]
    assert not [item for item in visible if "便宜出货" in item["text"]]
    assert replies(client, room_id, kind="moderation")[0]["text"].endswith("已被禁言")
    mutes = staff_client.get(f"/console/api/live/rooms/{room_id}/mutes").json["items"]
    assert [m["customer_id"] for m in mutes] == [customer_id(app, spammer)]

    # The buyer pays; the show ends; the host gets the summary.
    assert buyer.put(f"/api/v1/orders/{order['id']}/address", json=ADDRESS).status_code == 200
    buyer.confirm_payment(buyer.pay(order["id"]))
    set_live_status(sandbox, staff_client, show["external"], 103)
    run_bot(app, bot, rounds=2)  # the bot sees the room end and writes the summary
    report = staff_client.get(f"/console/api/live/rooms/{room_id}/summary").json
    assert report["final"] is True
    assert report["viewers"] == 3
    assert report["comments"] == 5  # question, claim, three spam (the muted one never got in)
    assert report["spam_hidden"] == 3 and report["muted_viewers"] == 1
    assert {t["intent"] for t in report["top_questions"]} == {"grade", "harvest"}
    assert report["claim_comments"] == 1 and report["holds"] == 1 and report["units_held"] == 2
    # what the buyer paid: the goods and, once the address was set, shipping 2 × 3 kg to 山东
    assert report["paid_orders"] == 1 and report["gmv"] == 27600 + 2800
    assert report["unanswered_count"] == 0
    with app.app_context():
        alert = db.session.scalar(db.select(StaffAlert).where(StaffAlert.kind == "LIVE_SUMMARY"))
        assert "成交额 304.00 元" in alert.details["text"]
        db.session.remove()
    page = staff_client.get(f"/console/live/rooms/{room_id}").get_data(as_text=True)
    assert "直播总结" in page and "¥304.00" in page and "1号</td>" in page
    run_jobs(app)
    sent = requests.get(
        f"{sandbox.url}/sandbox/oa/messages", params={"openid": "oa-host", "kind": "template"}
    ).json()["messages"]
    assert len(sent) == 1
    data = sent[0]["data"]
    assert data["keyword1"]["value"] == "直播总结：乳山牡蛎开海直播"
    assert data["keyword2"]["value"] == "成交1单 304.00元"


def test_claims_in_every_form_hold_through_the_same_services(
    app, client, sandbox, staff_client, store, show, bot
):
    room_id = show["id"]
    first, second, third = (viewer(client, sandbox, f"o-claim-{n}") for n in range(3))
    sale = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 3,
            "price": 5900,
            "seconds": 300,
            "per_person_limit": 2,
            "room_id": room_id,
        },
    ).json
    comments_said = {
        "two_by_number": say(first, room_id, "二号来两份").json["id"],
        "again": say(first, room_id, "2号要1份").json["id"],
        "over_limit": say(second, room_id, "2号要3份").json["id"],
        "confirmed_over_limit": say(second, room_id, "确认").json["id"],
        "unknown_number": say(second, room_id, "9号要一份").json["id"],
        "on_screen": say(third, room_id, "扣1").json["id"],
        "last_unit": say(second, room_id, "2号1份").json["id"],
        "sold_out": say(third, room_id, "2号要1个").json["id"],
    }
    run_bot(app, bot)

    def said(name: str, reader=client) -> dict:
        found = replies(reader, room_id, reply_to=comments_said[name])
        assert len(found) == 1, name
        return found[0]

    assert "已为您锁定2号" in said("two_by_number")["text"]
    assert "您已锁定2号" in said("again")["text"]  # the first hold waits for payment
    assert said("again", first)["order_id"] == said("two_by_number", first)["order_id"]
    # above the sale's per-person limit: asked back first, refused by the limit once confirmed
    assert "您要3份2号" in said("over_limit")["text"] and "确认" in said("over_limit")["text"]
    assert "最多还能抢 2 份" in said("confirmed_over_limit")["text"]
    assert "没有9号商品" in said("unknown_number")["text"]
    assert "已为您锁定1号" in said("on_screen")["text"]
    assert "已为您锁定2号" in said("last_unit")["text"]
    assert "已抢光" in said("sold_out")["text"]
    with app.app_context():
        held = db.session.execute(
            db.select(LiveClaim.quantity, Order.flash_sale_id, Order.total).join(
                Order, Order.id == LiveClaim.order_id
            )
        ).all()
        db.session.remove()
    expected = [(2, sale["id"], 11800), (1, None, 13800), (1, sale["id"], 5900)]
    assert sorted(map(tuple, held), key=str) == sorted(expected, key=str)
    watched = staff_client.get(f"/console/api/flash-sales/{sale['id']}").json
    assert watched["remaining"] == 0 and watched["held"] == 3
    announcements = [r["text"] for r in replies(client, room_id, kind="announcement")]
    assert any(text.startswith("秒杀开始！2号") for text in announcements)
    assert sum("已抢光" in text for text in announcements) == 1


def test_a_comment_is_handled_once_even_after_a_crash(app, client, sandbox, show, bot, store):
    """A bot that read comments and died before acknowledging them: the next one takes them
    over, and a claim handled twice still holds once."""
    room_id = show["id"]
    buyer = viewer(client, sandbox, "o-crash")
    run_bot(app, bot, rounds=1)  # the group exists
    claim_id = say(buyer, room_id, "1号要1份").json["id"]
    with app.app_context():
        redis = redis_client()
        taken = redis.xreadgroup(GROUP, "dead-bot", {comments.stream_key(room_id): ">"}, count=10)
        assert [e[0].decode() for e in taken[0][1]] == [claim_id]
        fields = {k.decode(): v.decode() for k, v in taken[0][1][0][1].items()}
        bot.handle(room_id, claim_id, fields)  # handled, then the process "died" before XACK
        db.session.remove()
    idle = bot_module.RECOVER_IDLE_MS
    bot_module.RECOVER_IDLE_MS = 0
    try:
        run_bot(app, CoHost(app, "new-bot"), rounds=1)
    finally:
        bot_module.RECOVER_IDLE_MS = idle
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LiveClaim)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 1
        pending = redis_client().xpending(comments.stream_key(room_id), GROUP)
        assert pending["pending"] == 0
        db.session.remove()
    prompts = replies(client, room_id, reply_to=claim_id)
    assert "已为您锁定" in prompts[0]["text"] and "您已锁定" in prompts[-1]["text"]


def test_a_poison_comment_is_logged_and_skipped(app, client, sandbox, show, bot):
    room_id = show["id"]
    asker = viewer(client, sandbox, "o-after-poison")
    with app.app_context():  # a malformed entry (no customer) that makes the handler raise
        redis_client().xadd(comments.stream_key(room_id), {"text": "扣1", "nickname": "?"})
    asked = say(asker, room_id, "多少钱")
    run_bot(app, bot)
    with app.app_context():
        dead = redis_client().xrange(dead_letter_key(room_id))
        assert len(dead) == 1 and b"KeyError" in dead[0][1][b"error"]
        db.session.remove()
    answer = replies(client, room_id, reply_to=asked.json["id"])
    assert "138元" in answer[0]["text"]


@pytest.mark.parametrize(
    "text",
    [
        "👍👍👍🦪🦪",
        "<script>alert(1)</script>",
        "'; DROP TABLE orders;--",
        "好" * 100,
        "{{7*7}}${7*7}",
    ],
)
def test_odd_comments_get_no_hold_and_no_crash(app, client, sandbox, show, bot, text):
    room_id = show["id"]
    someone = viewer(client, sandbox, "o-odd")
    posted = say(someone, room_id, text)
    assert posted.status_code == 201
    run_bot(app, bot)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
        assert not redis_client().xrange(dead_letter_key(room_id))
        db.session.remove()
    for reply in replies(client, room_id, reply_to=posted.json["id"]):
        assert reply["text"].startswith("@")


def test_a_comment_in_a_room_that_ended_makes_no_hold(
    app, client, sandbox, staff_client, show, bot
):
    room_id = show["id"]
    buyer = viewer(client, sandbox, "o-late")
    run_bot(app, bot, rounds=1)
    say(buyer, room_id, "扣1")
    set_live_status(sandbox, staff_client, show["external"], 103)
    run_bot(app, bot, rounds=2)  # drains the room's last comments, then sums it up
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
        report = summary.get_summary(db.session, room_id)
        assert report["comments"] == 1 and report["claim_comments"] == 0
        db.session.remove()
    assert not replies(client, room_id)
    late = say(buyer, room_id, "还能买吗")
    assert late.status_code == 422 and late.json["code"] == "ROOM_NOT_LIVE"


def test_low_stock_and_sold_out_are_announced_once(
    app, client, sandbox, staff_client, store, show, bot
):
    room_id = show["id"]
    limit_stock(app, store["RS-LIVE-XL-5"], 4)
    run_bot(app, bot, rounds=2)
    buyer = viewer(client, sandbox, "o-last")
    say(buyer, room_id, "扣4")
    run_bot(app, bot, rounds=2)
    announcements = [r["text"] for r in replies(client, room_id, kind="announcement")]
    assert announcements == [
        "1号乳山鲜活牡蛎（特大）仅剩4份，要的抓紧",
        "1号乳山鲜活牡蛎（特大）已抢光，感谢大家支持！没抢到的关注下一轮",
    ]


def test_a_sale_counts_down_and_early_claims_wait_for_it(
    app, client, sandbox, staff_client, store, show, bot
):
    room_id = show["id"]
    early = viewer(client, sandbox, "o-early")
    sale = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 20,
            "price": 5900,
            "seconds": 60,
            "per_person_limit": 1,
            "room_id": room_id,
            "starts_in": 8,
        },
    ).json
    assert 7 <= sale["starts_in"] <= 8
    claimed = say(early, room_id, "2号要1份").json["id"]
    run_bot(app, bot)
    [refused] = replies(client, room_id, reply_to=claimed)
    assert "秒杀还未开始" in refused["text"]
    announcements = [r["text"] for r in replies(client, room_id, kind="announcement")]
    assert (
        len(announcements) == 1 and "秒后开抢：2号乳山鲜活牡蛎（大） 秒杀价59元" in announcements[0]
    )
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
        db.session.remove()


def test_the_pay_prompt_reaches_the_phone_once_when_the_viewer_subscribed(
    app, client, sandbox, show, bot
):
    room_id = show["id"]
    subscribed = viewer(client, sandbox, "o-subscribed")
    not_subscribed = viewer(client, sandbox, "o-not-subscribed")
    requests.post(
        f"{sandbox.url}/sandbox/wx/subscriptions",
        json={"openid": "o-subscribed", "template_id": "TPL_ORDER_TO_PAY"},
        timeout=5,
    )
    first = say(subscribed, room_id, "扣1").json["id"]
    say(not_subscribed, room_id, "扣1")
    run_bot(app, bot)
    run_jobs(app)
    with app.app_context():  # a retried job does not send again
        assert send_pay_prompt(room_id, first) == "already"
        outcomes = sorted(db.session.scalars(db.select(LiveClaim.prompt_outcome)))
        db.session.remove()
    assert outcomes == ["refused:43101", "sent"]
    sent = requests.get(
        f"{sandbox.url}/sandbox/wx/messages",
        params={"touser": "o-subscribed", "template_id": "TPL_ORDER_TO_PAY"},
        timeout=5,
    ).json()
    assert len(sent["messages"]) == 1
    assert sent["messages"][0]["data"]["amount2"]["value"] == "¥138.00"


@pytest.mark.parametrize(
    ("text", "held"),
    [("2号要999份", False), ("2号要30箱", False), ("2号要0份", False), ("2号要2份", True)],
)
def test_an_unusual_quantity_is_asked_back_and_held_only_when_confirmed(
    app, client, sandbox, show, bot, text, held
):
    room_id = show["id"]
    buyer, other = viewer(client, sandbox, "o-big"), viewer(client, sandbox, "o-other")
    asked = say(buyer, room_id, text).json["id"]
    run_bot(app, bot)

    def orders() -> int:
        with app.app_context():
            count = db.session.scalar(db.select(db.func.count()).select_from(Order))
            db.session.remove()
        return count

    assert orders() == (1 if held else 0)
    if held or "0份" in text:
        return
    [question] = replies(client, room_id, reply_to=asked)
    assert "确认请回复“确认”" in question["text"] and "2号" in question["text"]
    # another viewer's 确认 confirms nothing; the buyer's does, once
    say(other, room_id, "确认")
    run_bot(app, bot)
    assert orders() == 0
    confirmed = say(buyer, room_id, "确认").json["id"]
    again = say(buyer, room_id, "确认").json["id"]
    run_bot(app, bot)
    [answer] = replies(client, room_id, reply_to=confirmed)
    # confirmed, the claim meets the order rules and hoarding limits like any other
    assert any(word in answer["text"] for word in ("锁定", "1 到 99", "最多", "上限")), answer
    assert not any("锁定" in r["text"] for r in replies(client, room_id, reply_to=again))
    assert orders() <= 1


def test_a_claim_read_unsure_is_asked_back_with_the_answer_and_held_once_confirmed(
    app, client, sandbox, show, bot
):
    """Haggling next to a claim (2号要两箱 能便宜点吗) may be a question of terms: the bot
    answers the price and asks before it holds anything."""
    room_id = show["id"]
    buyer = viewer(client, sandbox, "o-haggler")
    asked = say(buyer, room_id, "2号要两箱 能便宜点吗").json["id"]
    run_bot(app, bot)
    [question] = replies(client, room_id, reply_to=asked)
    assert "您要2份" in question["text"] and "确认请回复“确认”" in question["text"]
    assert "元" in question["text"]  # the price question is answered too
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 0
        db.session.remove()
    confirmed = say(buyer, room_id, "确认").json["id"]
    run_bot(app, bot)
    [answer] = replies(client, room_id, reply_to=confirmed)
    assert "锁定" in answer["text"]
    with app.app_context():
        order = db.session.scalars(db.select(Order)).one()
        assert sum(item.quantity for item in order.items) == 2
        db.session.remove()
