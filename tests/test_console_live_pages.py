"""The host's live console over HTTP: rooms, the control room's forms, and its JSON state."""

from __future__ import annotations

import itertools
import uuid
from datetime import datetime, timedelta

import pytest
import requests

from backend.extensions import db
from backend.live import comments
from backend.live.models import LIVE, NOT_STARTED, FlashSale, LiveRoom
from backend.queue import redis_client
from backend.timeutil import SHANGHAI, utcnow
from tests.helpers import Shopper, run_jobs, sku_stock
from tests.test_console_pages import csrf_token, log_in, text

_external_ids = itertools.count(880001)


@pytest.fixture
def console(client, store):
    res = log_in(client)
    assert res.status_code == 302 and res.headers["Location"].endswith("/console/")
    return client


def make_room(app, *, status: int = LIVE, name: str = "乳山牡蛎开海直播") -> int:
    """A room as the live provider would have mirrored it (made directly, no provider call)."""
    with app.app_context():
        room = LiveRoom(
            external_id=str(next(_external_ids)),
            name=name,
            anchor_name="海阳所小王",
            starts_at=utcnow() - timedelta(minutes=30),
            ends_at=utcnow() + timedelta(hours=2),
            live_status=status,
        )
        db.session.add(room)
        db.session.commit()
        room_id = room.id
        db.session.remove()
    return room_id


def add_comment(app, room_id: int, nickname: str, words: str) -> str:
    """A comment in the room's stream, as comments.post leaves it after its checks."""
    with app.app_context():
        fields = {"customer_id": 0, "nickname": nickname, "text": words, "review": "0"}
        return redis_client().xadd(comments.stream_key(room_id), fields).decode()


def room_count(app) -> int:
    with app.app_context():
        count = db.session.scalar(db.select(db.func.count()).select_from(LiveRoom))
        db.session.remove()
    return count


def sales(app) -> list[tuple[int, str]]:
    with app.app_context():
        rows = db.session.execute(db.select(FlashSale.id, FlashSale.status)).all()
        db.session.remove()
    return [tuple(row) for row in rows]


def wall_clock(moment: datetime) -> str:
    return moment.astimezone(SHANGHAI).strftime("%Y-%m-%dT%H:%M")


def post_form(console, path: str, page: str, **form):
    token = csrf_token(console, page)
    return console.post(path, data={"csrf_token": token, **form}, follow_redirects=True)


def start_sale(console, room_id: int, **form):
    fields = {"units": "5", "price": "59.9", "seconds": "300", "per_person_limit": "2"}
    fields |= {"pay_minutes": "5", **form}
    room_page = f"/console/live/rooms/{room_id}"
    return post_form(console, f"{room_page}/flash-sales", room_page, **fields)


def state(console, room_id: int, after: str | None = None) -> dict:
    res = console.get(f"/console/live/rooms/{room_id}/state", query_string={"after": after or ""})
    assert res.status_code == 200, res.json
    return res.json


def test_live_pages_need_a_login(app, client, store):
    room_id = make_room(app)
    for path in ("/console/live", f"/console/live/rooms/{room_id}"):
        res = client.get(path)
        assert res.status_code == 302 and "/console/login" in res.headers["Location"]
    res = client.get(f"/console/live/rooms/{room_id}/state")
    assert res.status_code == 401 and res.json["message"] == "请先登录后台"
    token = csrf_token(client)
    for path in (
        "/console/live/rooms",
        "/console/live/sync",
        f"/console/live/rooms/{room_id}/on-screen",
        f"/console/live/rooms/{room_id}/flash-sales",
        f"/console/live/rooms/{room_id}/flash-sale/stop",
    ):
        res = client.post(path, data={"csrf_token": token})
        assert res.status_code == 302 and "/console/login" in res.headers["Location"], path
    assert sales(app) == []


def test_forms_without_a_csrf_token_are_refused(app, console):
    room_id = make_room(app)
    res = console.post(f"/console/live/rooms/{room_id}/flash-sales", data={"units": "5"})
    assert res.status_code == 400 and "表单已失效" in text(res)
    assert sales(app) == []


def test_rooms_page_opens_on_the_live_room_and_lists_rooms_by_tab(app, console):
    make_room(app, status=NOT_STARTED, name="明晚预告的牡蛎专场")
    page = text(console.get("/console/live"))  # nothing live: the room starting soonest
    assert "明晚预告的牡蛎专场" in page and "进入控制台" in page
    live_id = make_room(app, status=LIVE, name="正在直播的牡蛎专场")
    page = text(console.get("/console/live"))  # a room live: it comes first, on its own tab
    assert "直播间" in page and "创建直播间" in page and "同步状态" in page
    assert "正在直播的牡蛎专场" in page and "明晚预告的牡蛎专场" not in page
    assert f'href="/console/live/rooms/{live_id}"' in page and "进入控制台 · 开始秒杀" in page
    assert "即将开播（1）" in page and "直播中（1）" in page and "已结束 / 回放（0）" in page
    upcoming = text(console.get("/console/live?tab=upcoming"))
    assert "明晚预告的牡蛎专场" in upcoming and "正在直播的牡蛎专场" not in upcoming
    assert "暂无已结束 / 回放的直播间" in text(console.get("/console/live?tab=replay"))
    assert console.get("/console/live?tab=nonsense&page=abc").status_code == 200


def test_creating_a_room_through_the_form(app, console):
    start = datetime.now(SHANGHAI) + timedelta(hours=3)
    form = {
        "name": "乳山牡蛎开海节直播",
        "anchor_name": "海阳所小王",
        "anchor_wechat": "heli_anchor",
        "starts_at": wall_clock(start),
        "ends_at": wall_clock(start + timedelta(hours=2)),
    }
    res = post_form(console, "/console/live/rooms", "/console/live", **form)
    page = text(res)
    assert room_count(app) == 1  # the sandbox speaks wxaapi/broadcast/room/create
    assert res.status_code == 200 and "已创建直播间「乳山牡蛎开海节直播」" in page
    assert res.request.path.startswith("/console/live/rooms/")
    assert "直播控制台" in page and "未开始" in page


def test_a_room_wechat_cannot_create_keeps_the_form(app, console, sandbox):
    requests.post(
        f"{sandbox.url}/sandbox/faults",
        json={"wechat_errcode": -1, "wechat_errcode_times": None},
        timeout=5,
    )
    start = datetime.now(SHANGHAI) + timedelta(hours=3)
    form = {
        "name": "乳山牡蛎开海节直播",
        "anchor_name": "海阳所小王",
        "anchor_wechat": "heli_anchor",
        "starts_at": wall_clock(start),
        "ends_at": wall_clock(start + timedelta(hours=2)),
    }
    res = post_form(console, "/console/live/rooms", "/console/live", **form)
    page = text(res)
    assert res.status_code == 422
    assert "未能创建直播间" in page and "微信直播拒绝创建直播间" in page and "错误码 -1" in page
    assert 'value="乳山牡蛎开海节直播"' in page  # what the host typed is kept
    assert room_count(app) == 0


def test_a_room_the_provider_refuses_is_explained_in_chinese(app, console):
    start = datetime.now(SHANGHAI) + timedelta(hours=3)
    form = {
        "name": "乳山牡蛎开海节直播",
        "anchor_name": "海阳所小王",
        "anchor_wechat": "unverified_anchor",  # a valid 微信号, not real-name verified
        "starts_at": wall_clock(start),
        "ends_at": wall_clock(start + timedelta(hours=2)),
    }
    res = post_form(console, "/console/live/rooms", "/console/live", **form)
    page = text(res)
    assert res.status_code == 422 and "未能创建直播间" in page
    assert "错误码 300036" in page  # the sandbox's 小程序直播 answers as WeChat does
    assert "微信直播拒绝创建直播间" in page and "完成实名认证" in page
    assert room_count(app) == 0


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"name": "  "}, "请填写直播间名称"),
        ({"anchor_wechat": ""}, "请填写主播微信号"),
        ({"name": "长" * 41}, "直播间名称不能超过 40 个字"),
        ({"starts_at": "明天晚上八点"}, "开播时间格式应为 年-月-日 时:分"),
        ({"ends_at": "2025-02-30T20:00"}, "结束时间格式应为 年-月-日 时:分"),
        ({"ends_at": "2020-01-01T08:00"}, "结束时间必须晚于开始时间"),
    ],
)
def test_bad_room_forms_get_a_chinese_message_and_change_nothing(app, console, change, message):
    start = datetime.now(SHANGHAI) + timedelta(hours=3)
    form = {
        "name": "乳山牡蛎开海节直播",
        "anchor_name": "海阳所小王",
        "anchor_wechat": "heli_anchor",
        "starts_at": wall_clock(start),
        "ends_at": wall_clock(start + timedelta(hours=2)),
        **change,
    }
    res = post_form(console, "/console/live/rooms", "/console/live", **form)
    assert res.status_code == 400 and message in text(res)
    assert room_count(app) == 0


def test_sync_answers_in_chinese(app, console):
    make_room(app)
    res = post_form(console, "/console/live/sync", "/console/live")
    assert res.status_code == 200
    assert "已同步直播间状态" in text(res) and "同步失败" not in text(res)


def test_a_failed_sync_is_explained_in_chinese(app, console, sandbox):
    make_room(app)
    requests.post(
        f"{sandbox.url}/sandbox/faults",
        json={"wechat_errcode": -1, "wechat_errcode_times": None},
        timeout=5,
    )
    res = post_form(console, "/console/live/sync", "/console/live")
    assert res.status_code == 200
    page = text(res)
    assert "同步失败" in page and "已同步直播间状态" not in page


def test_control_room_and_product_on_screen(app, console, store):
    room_id = make_room(app)
    page = text(console.get(f"/console/live/rooms/{room_id}"))
    assert "直播控制台 · 乳山牡蛎开海直播" in page and "开始秒杀" in page and "秒杀实况" in page
    assert "可售 400" in page  # the SKU select shows sellable stock
    sku_id = store["RS-LIVE-L-5"]
    room_page = f"/console/live/rooms/{room_id}"
    res = post_form(console, f"{room_page}/on-screen", room_page, sku_id=str(sku_id))
    assert res.status_code == 200
    assert "商品卡片正在审核" in text(res)  # a product new to WeChat's goods library waits
    shown = state(console, room_id)["room"]["on_screen"]
    assert shown["sku_id"] == sku_id and shown["stock"] == 400 and shown["grade"]

    res = post_form(console, f"{room_page}/on-screen", room_page, sku_id="")
    assert "已撤下讲解商品" in text(res)
    assert state(console, room_id)["room"]["on_screen"] is None
    for bad, message in (("abc", "讲解商品必须是整数"), ("999999", "商品不存在")):
        res = post_form(console, f"{room_page}/on-screen", room_page, sku_id=bad)
        assert res.status_code == 200 and message in text(res)
    assert console.get("/console/live/rooms/999999").status_code == 404
    assert console.get("/console/live/rooms/999999/state").status_code == 404


def test_starting_a_sale_through_the_form_shows_in_state(app, sandbox, console, store):
    room_id = make_room(app)
    sku_id = store["RS-LIVE-L-5"]
    res = start_sale(console, room_id, sku_id=str(sku_id), price="59.9")
    assert res.status_code == 200 and "秒杀已开始：5 份，每份 ¥59.90" in text(res)
    sale = state(console, room_id)["flash_sale"]
    assert sale["price"] == 5990 and sale["units"] == 5 and sale["status"] == "RUNNING"
    assert (sale["remaining"], sale["held"], sale["paid"], sale["sold_out"]) == (5, 0, 0, False)
    assert 290 <= sale["seconds_left"] <= 300
    assert sku_stock(app, sku_id) == (400, 5)

    viewer = Shopper.login(app.test_client(), sandbox, "o_viewer_page")
    claim = viewer.post(
        f"/api/v1/flash-sales/{sale['id']}/claims",
        json={"quantity": 2},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert claim.status_code == 202
    sale = state(console, room_id)["flash_sale"]
    assert (sale["remaining"], sale["held"]) == (3, 0)  # the order is being written
    run_jobs(app)
    sale = state(console, room_id)["flash_sale"]
    assert (sale["remaining"], sale["held"]) == (3, 2)


def test_the_state_carries_comments_after_a_cursor(app, console):
    room_id = make_room(app)
    assert state(console, room_id)["comments"] == {"items": [], "cursor": None}
    first = add_comment(app, room_id, "海边人", "今天的牡蛎多大？")
    second = add_comment(app, room_id, "老李", "扣1")
    stream = state(console, room_id)["comments"]
    assert [c["text"] for c in stream["items"]] == ["今天的牡蛎多大？", "扣1"]  # newest last
    assert stream["cursor"] == second
    newer = state(console, room_id, after=first)["comments"]
    assert [c["id"] for c in newer["items"]] == [second]
    assert state(console, room_id, after=second)["comments"] == {"items": [], "cursor": second}
    bad = console.get(f"/console/live/rooms/{room_id}/state?after=oops")
    assert bad.status_code == 400 and bad.json["message"] == "游标格式不正确"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"price": "abc"}, "秒杀价需为金额（元）"),
        ({"price": "1e3"}, "秒杀价需为金额（元）"),
        ({"price": "-5"}, "秒杀价需为金额（元）"),
        ({"price": "59.999"}, "秒杀价需为金额（元）"),
        ({"price": "NaN"}, "秒杀价需为金额（元）"),
        ({"price": "0"}, "秒杀价需在 0.01 到"),
        ({"price": ""}, "请填写秒杀价"),
        ({"units": "十"}, "秒杀数量必须是整数"),
        ({"units": "0"}, "秒杀数量需在 1 到 100000 之间"),
        ({"seconds": "5"}, "秒杀时长（秒）需在 10 到 86400 之间"),
        ({"per_person_limit": "9"}, "每人限购数量不能超过秒杀总量"),
        ({"sku_id": ""}, "请填写秒杀商品"),
        ({"sku_id": "999999"}, "商品不存在或已下架"),
    ],
)
def test_bad_sale_forms_get_a_chinese_message_and_start_nothing(
    app, console, store, change, message
):
    room_id = make_room(app)
    res = start_sale(console, room_id, **{"sku_id": str(store["RS-LIVE-L-5"]), **change})
    assert 400 <= res.status_code < 500 and message in text(res)
    assert "未能开始秒杀" in text(res)
    assert sales(app) == [] and state(console, room_id)["flash_sale"] is None


def test_a_sale_larger_than_stock_is_refused_in_chinese(app, console, store):
    room_id = make_room(app)
    res = start_sale(console, room_id, sku_id=str(store["RS-GIFT-XL-8"]), units="121")
    page = text(res)
    assert res.status_code == 409
    assert "可售库存不足，无法开始秒杀" in page and "当前可售 120 份" in page
    assert 'value="121"' in page  # the form keeps what the host typed
    assert sales(app) == [] and sku_stock(app, store["RS-GIFT-XL-8"]) == (120, 0)


def test_stopping_the_sale(app, console, store):
    room_id = make_room(app)
    sku_id = store["RS-LIVE-M-5"]
    start_sale(console, room_id, sku_id=str(sku_id), units="8", price="39")
    sale = state(console, room_id)["flash_sale"]
    room_page = f"/console/live/rooms/{room_id}"
    stop = f"{room_page}/flash-sale/stop"
    res = post_form(console, stop, room_page, sale_id=str(sale["id"]))
    assert "秒杀已停止：已支付 0 份，待支付 0 份，8 份退回库存" in text(res)
    assert state(console, room_id)["flash_sale"] is None
    assert sales(app) == [(sale["id"], "ENDED")]
    assert sku_stock(app, sku_id) == (600, 0)
    again = post_form(console, stop, room_page, sale_id=str(sale["id"]))
    assert "该秒杀已结束，无需停止" in text(again)
