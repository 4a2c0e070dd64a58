"""Live rooms through the mini-program live stand-in: schedule, sync, reminders, the product on
screen with its card pushed, comments with content security, and the sale in the room."""

import pytest
import requests
from sqlalchemy import select, update

from backend.customers.models import Customer
from backend.extensions import db
from backend.live import comments
from backend.live.models import LiveRoom
from sandbox.context import Sandbox
from tests.helpers import at, go_live, room_body


@pytest.fixture
def room(staff_client, store):
    res = staff_client.post("/console/api/live/rooms", json=room_body())
    assert res.status_code == 201, res.json
    return res.json


def test_a_host_schedules_a_room_viewers_see_it_upcoming(client, room):
    assert room["live_status"] == 102 and room["status_text"] == "未开始"
    listed = client.get("/api/v1/live/rooms?kind=upcoming").json
    assert listed["total"] == 1 and listed["items"][0]["name"] == "乳山牡蛎开海直播"
    assert client.get("/api/v1/live/rooms?kind=live").json["total"] == 0
    detail = client.get(f"/api/v1/live/rooms/{room['id']}?seller_id=7").json
    assert detail["entry_url"].startswith(
        "plugin-private://wx2b03c6e691cd7370/pages/live-player-plugin?room_id="
    )
    assert "custom_params=%7B%22seller_id%22%3A7%7D" in detail["entry_url"]


@pytest.mark.parametrize(
    "overrides, errcode",
    [
        ({"name": "牡蛎"}, 300002),
        ({"anchor_wechat": "not_verified_1"}, 300036),
    ],
)
def test_wechats_refusals_reach_the_host_in_chinese(staff_client, store, overrides, errcode):
    res = staff_client.post("/console/api/live/rooms", json=room_body(**overrides))
    assert res.status_code == 422 and res.json["code"] == "LIVE_ROOM_REFUSED"
    assert (
        res.json["details"]["errcode"] == errcode
        and "微信直播拒绝创建直播间" in res.json["message"]
    )


def test_bad_room_times(staff_client, store):
    backwards = staff_client.post(
        "/console/api/live/rooms", json=room_body(starts_at=at(60), ends_at=at(30))
    )
    assert backwards.status_code == 400 and backwards.json["code"] == "INVALID_PERIOD"
    too_soon = staff_client.post("/console/api/live/rooms", json=room_body(starts_at=at(2)))
    assert too_soon.status_code == 422 and too_soon.json["details"]["errcode"]


def external_ids(app) -> list[str]:
    with app.app_context():
        ids = list(db.session.scalars(select(LiveRoom.external_id).order_by(LiveRoom.id)))
        db.session.remove()
    return ids


def test_a_restarted_wechat_hands_out_room_ids_we_do_not_hold(app, sandbox, staff_client, room):
    old = sandbox.app.extensions["sandbox"]
    old.state.stop()  # a restart keeps only what the stand-in wrote to its state dir
    sandbox.app.extensions["sandbox"] = Sandbox(old.settings)
    res = staff_client.post("/console/api/live/rooms", json=room_body(name="第二场开海直播"))
    assert res.status_code == 201, res.json
    first, second = external_ids(app)
    assert int(second) > int(first)


def test_a_room_id_we_already_hold_is_a_clear_error(app, staff_client, room):
    (held,) = external_ids(app)
    with app.app_context():  # the next id WeChat hands out already names a room of ours
        db.session.execute(update(LiveRoom).values(external_id=str(int(held) + 1)))
        db.session.commit()
        db.session.remove()
    res = staff_client.post("/console/api/live/rooms", json=room_body(name="第二场开海直播"))
    assert res.status_code == 502 and res.json["code"] == "LIVE_ROOM_ID_TAKEN", res.json
    assert res.json["details"] == {"external_id": str(int(held) + 1)}
    assert "已属于本系统的另一个直播间" in res.json["message"]
    assert external_ids(app) == [str(int(held) + 1)]  # nothing half-saved


def test_going_live_reminds_each_viewer_once(app, sandbox, staff_client, shopper, room):
    requests.post(
        f"{sandbox.url}/sandbox/wx/subscriptions",
        json={"openid": shopper.openid, "template_id": "TPL_LIVE_START", "count": 1},
        timeout=5,
    )
    assert shopper.post(f"/api/v1/live/rooms/{room['id']}/reminders").status_code == 200
    assert shopper.post(f"/api/v1/live/rooms/{room['id']}/reminders").status_code == 200
    go_live(sandbox, staff_client, room["id"])
    with app.app_context():
        from jobs.live import send_live_reminders

        assert send_live_reminders(room["id"]) == {"sent": 1, "refused": 0}
        assert send_live_reminders(room["id"]) == {"sent": 0, "refused": 0}
    sent = requests.get(
        f"{sandbox.url}/sandbox/wx/messages", params={"touser": shopper.openid}, timeout=5
    ).json()["messages"]
    assert len(sent) == 1 and sent[0]["template_id"] == "TPL_LIVE_START"
    assert shopper.client.get("/api/v1/live/rooms?kind=live").json["total"] == 1
    late = shopper.post(f"/api/v1/live/rooms/{room['id']}/reminders")
    assert late.status_code == 422 and late.json["code"] == "ROOM_NOT_UPCOMING"


def test_the_product_on_screen_and_its_card(app, sandbox, staff_client, client, room, store):
    external = go_live(sandbox, staff_client, room["id"])
    sku = store["RS-LIVE-XL-5"]
    first = staff_client.post(
        f"/console/api/live/rooms/{room['id']}/on-screen", json={"sku_id": sku}
    )
    assert first.status_code == 200 and first.json["card"] == "auditing"
    on_screen = client.get(f"/api/v1/live/rooms/{room['id']}").json["on_screen"]
    assert on_screen["grade"] == "特大" and on_screen["stock"] == 200 and on_screen["lot"]["code"]
    goods = requests.get(f"{sandbox.url}/sandbox/live/goods", timeout=5).json()["goods"]
    requests.post(
        f"{sandbox.url}/sandbox/live/goods/{goods[0]['goodsId']}/audit",
        json={"status": 2},
        timeout=5,
    )
    again = staff_client.post(
        f"/console/api/live/rooms/{room['id']}/on-screen", json={"sku_id": sku}
    )
    assert again.json["card"] == "pushed"
    pushes = requests.get(
        f"{sandbox.url}/sandbox/live/pushes", params={"roomId": external}, timeout=5
    ).json()["pushes"]
    assert len(pushes) == 1 and pushes[0]["price"] == 13800


def test_comments_are_checked_and_read_with_a_cursor(
    app, sandbox, staff_client, shopper, room, monkeypatch
):
    requests.post(f"{sandbox.url}/sandbox/wx/visit", json={"openid": shopper.openid}, timeout=5)
    path = f"/api/v1/live/rooms/{room['id']}/comments"
    not_live = shopper.post(path, json={"text": "扣1"})
    assert not_live.status_code == 422 and not_live.json["code"] == "ROOM_NOT_LIVE"
    go_live(sandbox, staff_client, room["id"])
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "100 per 5 seconds")
    first = shopper.post(path, json={"text": "扣1"})
    assert first.status_code == 201 and first.json["text"] == "扣1"
    assert shopper.post(path, json={"text": "  "}).json["code"] == "EMPTY_COMMENT"
    assert shopper.post(path, json={"text": "好" * 101}).json["code"] == "COMMENT_TOO_LONG"
    blocked = shopper.post(path, json={"text": "加微信领优惠"})
    assert blocked.status_code == 422 and blocked.json["code"] == "COMMENT_BLOCKED"
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "1 per 5 seconds")
    second = shopper.post(path, json={"text": "3号要2份"})
    assert second.status_code == 201
    too_fast = shopper.post(path, json={"text": "还有吗"})
    assert too_fast.status_code == 429 and "频繁" in too_fast.json["message"]
    everything = shopper.client.get(path).json
    assert [c["text"] for c in everything["items"]] == ["扣1", "3号要2份"]
    after = shopper.client.get(path, query_string={"after": first.json["id"]}).json
    assert [c["text"] for c in after["items"]] == ["3号要2份"]
    assert after["cursor"] == second.json["id"]
    assert shopper.client.get(path, query_string={"after": "drop table"}).status_code == 400


def test_wechat_content_security_blocks_risky_comments(
    app, sandbox, staff_client, other_shopper, room, monkeypatch
):
    requests.post(
        f"{sandbox.url}/sandbox/wx/visit", json={"openid": other_shopper.openid}, timeout=5
    )
    go_live(sandbox, staff_client, room["id"])
    words = requests.get(f"{sandbox.url}/sandbox/wx/sec-checks", timeout=5)
    assert words.status_code == 200
    # only WeChat decides in this test
    monkeypatch.setitem(app.config, "LIVE_COMMENT_BLOCKLIST", ())
    path = f"/api/v1/live/rooms/{room['id']}/comments"
    risky = other_shopper.post(path, json={"text": "刷单返现"})
    assert risky.status_code == 422 and risky.json["code"] == "COMMENT_BLOCKED"
    checks = requests.get(
        f"{sandbox.url}/sandbox/wx/sec-checks", params={"openid": other_shopper.openid}, timeout=5
    ).json()
    assert checks["sec_checks"][-1]["suggest"] == "risky"


def test_the_flash_sale_shows_in_the_room(staff_client, client, room, store):
    staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 10,
            "price": 5900,
            "seconds": 300,
            "per_person_limit": 1,
            "room_id": room["id"],
        },
    )
    sale = client.get(f"/api/v1/live/rooms/{room['id']}").json["flash_sale"]
    assert sale["remaining"] == 10 and sale["price"] == 5900 and sale["seconds_left"] > 0


def test_the_public_comment_stream_names_no_customer_and_no_order(
    app, sandbox, staff_client, shopper, other_shopper, room
):
    """Finding 11: the public stream showed each commenter's customer id and, for buyers, the
    order id and total. Now: nickname, text, time; a buyer's order only in the buyer's view."""
    for someone in (shopper, other_shopper):
        requests.post(f"{sandbox.url}/sandbox/wx/visit", json={"openid": someone.openid}, timeout=5)
    go_live(sandbox, staff_client, room["id"])
    with app.app_context():
        db.session.execute(
            update(Customer)
            .where(Customer.openid == shopper.openid)
            .values(nickname="老于13812345678")
        )
        db.session.commit()
        buyer_id = db.session.scalar(select(Customer.id).where(Customer.openid == shopper.openid))
        db.session.remove()
    path = f"/api/v1/live/rooms/{room['id']}/comments"
    claim = shopper.post(path, json={"text": "扣2"}).json
    with app.app_context():
        comments.publish_reply(
            room["id"],
            "@老于 已为您锁定1号，请在小程序付款",
            private_text="@老于 已为您锁定1号，共276元，请在小程序付款",
            reply_to=claim["id"],
            to_customer_id=buyer_id,
            kind="pay_prompt",
            order_id=41,
            total=27600,
        )
    seen = shopper.client.get(path).json["items"]
    assert [set(item) for item in seen] == [
        {"id", "at", "bot", "nickname", "text"},
        {"id", "at", "bot", "nickname", "text", "kind", "reply_to"},
    ]
    assert seen[0]["nickname"] == "老于138******78" and seen[0]["at"].endswith("+08:00")
    assert seen[1]["text"] == "@老于 已为您锁定1号，请在小程序付款"
    other = other_shopper.get(path).json["items"]
    assert [(i["mine"], i["to_me"]) for i in other] == [(False, False), (False, False)]
    assert "order_id" not in other[1] and "276" not in other[1]["text"]
    mine = shopper.get(path).json["items"]
    assert (mine[0]["mine"], mine[1]["to_me"]) == (True, True)
    assert (mine[1]["order_id"], mine[1]["total"]) == (41, 27600)
    assert "共276元" in mine[1]["text"]
    # Staff (the control room) still see who said what.
    with app.app_context():
        staff_view = comments.read(room_id=room["id"], after=None, limit=10)["items"]
    assert staff_view[0]["customer_id"] == buyer_id and staff_view[1]["order_id"] == 41
