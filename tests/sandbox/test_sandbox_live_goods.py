"""Live goods through wechatpy: add + audit (clock and control), addgoods, onsale, push (the
product card viewers see), sort, deleteInRoom, warehouse status and the daily quotas."""

from __future__ import annotations

import pytest
from wechatpy.exceptions import APILimitedException, WeChatClientException

from sandbox.wxacode import make_png

HOUR = 3600


def _errcode(call) -> int:
    with pytest.raises(WeChatClientException) as raised:
        call()
    return raised.value.errcode


def post(wx, path: str, **body) -> dict:
    return wx.wxa._post(path, data=body)


@pytest.fixture
def image(wx) -> str:
    return wx.media.upload("image", ("goods.png", make_png({"goods": "1"})))["media_id"]


def goods_info(image: str, **overrides) -> dict:
    return {
        "coverImgUrl": image,
        "name": "五常大米5kg",
        "priceType": 1,
        "price": 59.9,
        "url": "pages/goods/detail?id=12",
        **overrides,
    }


def add_goods(wx, image: str, **overrides) -> int:
    answer = post(wx, "wxaapi/broadcast/goods/add", goodsInfo=goods_info(image, **overrides))
    assert answer["errcode"] == 0 and answer["auditId"] > 0
    return answer["goodsId"]


def approve(control, goods_id: int) -> None:
    control.post(f"/sandbox/live/goods/{goods_id}/audit", {"status": 2})


def audit_status(wx, goods_id: int) -> int:
    (goods,) = post(wx, "wxa/business/getgoodswarehouse", goods_ids=[goods_id])["goods"]
    return goods["audit_status"]


@pytest.fixture
def room_id(wx, control, image) -> int:
    now = int(control.get("/sandbox/clock")["now"])
    body = {
        "name": "合力冬季新米直播",
        "coverImg": image,
        "shareImg": image,
        "feedsImg": image,
        "startTime": now + HOUR,
        "endTime": now + 3 * HOUR,
        "anchorName": "李主播",
        "anchorWechat": "heli_anchor",
    }
    return post(wx, "wxaapi/broadcast/room/create", **body)["roomId"]


def go_live(control, room_id: int) -> None:
    control.post(f"/sandbox/live/rooms/{room_id}/status", {"live_status": 101})


def test_add_audit_import_push(wx, control, image, room_id):
    goods_id = add_goods(wx, image)
    assert audit_status(wx, goods_id) == 1
    addgoods = lambda: post(wx, "wxaapi/broadcast/room/addgoods", ids=[goods_id], roomId=room_id)  # noqa: E731
    assert _errcode(addgoods) == 300025  # still under audit

    approve(control, goods_id)
    assert audit_status(wx, goods_id) == 2
    assert addgoods()["errcode"] == 0
    (room,) = post(wx, "wxa/business/getliveinfo", start=0, limit=10)["room_info"]
    (listed,) = room["goods"]
    assert (listed["goods_id"], listed["price"], listed["price_type"]) == (goods_id, 5990, 1)

    push = lambda: post(wx, "wxaapi/broadcast/goods/push", roomId=room_id, goodsId=goods_id)  # noqa: E731
    assert _errcode(push) == 300023  # the room is not live yet
    go_live(control, room_id)
    assert push()["errcode"] == 0
    (pushed,) = control.get("/sandbox/live/pushes", roomId=str(room_id))["pushes"]
    assert (pushed["goodsId"], pushed["name"], pushed["price"]) == (goods_id, "五常大米5kg", 5990)
    assert control.get("/sandbox/live/pushes", roomId="999")["pushes"] == []


def test_audit_approves_itself_on_the_sandbox_clock(wx, control, image):
    goods_id = add_goods(wx, image)
    control.post("/sandbox/clock", {"advance": 59})
    assert audit_status(wx, goods_id) == 1
    control.post("/sandbox/clock", {"advance": 1})
    assert audit_status(wx, goods_id) == 2
    control.post(f"/sandbox/live/goods/{goods_id}/audit", {"status": 3}, expect=400)


def test_rejected_goods_can_be_resubmitted(wx, control, image, room_id):
    goods_id = add_goods(wx, image)
    assert _errcode(lambda: post(wx, "wxaapi/broadcast/goods/audit", goodsId=goods_id)) == 300010
    control.post(f"/sandbox/live/goods/{goods_id}/audit", {"status": 3})
    assert audit_status(wx, goods_id) == 3
    addgoods = lambda: post(wx, "wxaapi/broadcast/room/addgoods", ids=[goods_id], roomId=room_id)  # noqa: E731
    assert _errcode(addgoods) == 300025
    assert post(wx, "wxaapi/broadcast/goods/audit", goodsId=goods_id)["auditId"] > 0
    assert audit_status(wx, goods_id) == 1
    control.post(f"/sandbox/live/goods/{goods_id}/audit", {"status": 5}, expect=400)
    control.post("/sandbox/live/goods/999/audit", {"status": 2}, expect=404)


@pytest.mark.parametrize(
    ("overrides", "errcode"),
    [
        ({"coverImgUrl": "no-such-media"}, 300006),
        ({"name": "五常大米" * 3 + "新米粮"}, 300002),  # 15 chinese characters
        ({"name": ""}, 300002),
        ({"priceType": 4}, 200002),
        ({"price": 1.234}, 300003),
        ({"price": 0}, 300003),
        ({"priceType": 2, "price": 50, "price2": 40}, 300003),  # a range runs low -> high
        ({"priceType": 3, "price": 50, "price2": 60}, 300003),  # discount above the original
        ({"priceType": 2, "price": 50}, 300003),  # price2 missing
        ({"url": ""}, 200002),
    ],
)
def test_goods_rules(wx, image, overrides, errcode):
    info = goods_info(image, **overrides)
    assert _errcode(lambda: post(wx, "wxaapi/broadcast/goods/add", goodsInfo=info)) == errcode


@pytest.mark.parametrize("sandbox_settings", [{"pages": ["pages/goods/detail"]}])
def test_goods_url_must_be_a_page_of_the_online_version(wx, image):
    add_goods(wx, image, url="pages/goods/detail?id=1")
    info = goods_info(image, url="pages/nope/index")
    assert _errcode(lambda: post(wx, "wxaapi/broadcast/goods/add", goodsInfo=info)) == 300007


def test_price_types_are_listed_in_fen(wx, control, image, room_id):
    ranged = add_goods(wx, image, priceType=2, price=10, price2=20.5)
    discount = add_goods(wx, image, priceType=3, price=99, price2=79.9)
    for goods_id in (ranged, discount):
        approve(control, goods_id)
    post(wx, "wxaapi/broadcast/room/addgoods", ids=[ranged, discount, ranged], roomId=room_id)
    (room,) = post(wx, "wxa/business/getliveinfo", start=0, limit=1)["room_info"]
    prices = [(g["goods_id"], g["price"], g["price2"]) for g in room["goods"]]
    assert prices == [(ranged, 1000, 2050), (discount, 9900, 7990)]
    warehouse = post(wx, "wxa/business/getgoodswarehouse", goods_ids=[discount, 404])
    assert warehouse["total"] == 1 and warehouse["goods"][0]["price2"] == 79.9


def test_push_rules(wx, control, image, room_id):
    in_room, elsewhere = add_goods(wx, image), add_goods(wx, image)
    for goods_id in (in_room, elsewhere):
        approve(control, goods_id)
    post(wx, "wxaapi/broadcast/room/addgoods", ids=[in_room], roomId=room_id)
    go_live(control, room_id)
    push = lambda goods_id, room=room_id: post(  # noqa: E731
        wx, "wxaapi/broadcast/goods/push", roomId=room, goodsId=goods_id
    )
    assert _errcode(lambda: push(elsewhere)) == 300053
    assert _errcode(lambda: push(777)) == 300024
    assert _errcode(lambda: push(in_room, 888)) == 300022

    post(wx, "wxaapi/broadcast/goods/onsale", roomId=room_id, goodsId=in_room, onSale=0)
    assert _errcode(lambda: push(in_room)) == 300052
    post(wx, "wxaapi/broadcast/goods/onsale", roomId=room_id, goodsId=in_room, onSale=1)
    assert push(in_room)["errcode"] == 0
    (view,) = control.get("/sandbox/live/rooms")["rooms"]
    assert view["goods"] == [{"goodsId": in_room, "name": "五常大米5kg", "on_sale": True}]

    control.post(f"/sandbox/live/rooms/{room_id}/status", {"live_status": 103})
    assert _errcode(lambda: push(in_room)) == 300023
    onsale = {"roomId": room_id, "goodsId": elsewhere, "onSale": 1}
    assert _errcode(lambda: post(wx, "wxaapi/broadcast/goods/onsale", **onsale)) == 300024


def test_sort_and_delete_in_room(wx, control, image, room_id):
    ids = [add_goods(wx, image) for _ in range(3)]
    for goods_id in ids:
        approve(control, goods_id)
    post(wx, "wxaapi/broadcast/room/addgoods", ids=ids, roomId=room_id)
    post(wx, "wxaapi/broadcast/goods/sort", roomId=room_id, goods=[{"goodsId": ids[2]}])
    post(wx, "wxaapi/broadcast/goods/deleteInRoom", roomId=room_id, goodsId=ids[0])
    (view,) = control.get("/sandbox/live/rooms")["rooms"]
    assert [g["goodsId"] for g in view["goods"]] == [ids[2], ids[1]]
    sort = lambda: post(wx, "wxaapi/broadcast/goods/sort", roomId=room_id, goods=[{"goodsId": 9}])  # noqa: E731
    assert _errcode(sort) == 300048


@pytest.mark.parametrize("sandbox_settings", [{"live_push_busy_seconds": 30}])
def test_a_card_on_screen_blocks_the_next_push(wx, control, image, room_id):
    goods_id = add_goods(wx, image)
    approve(control, goods_id)
    post(wx, "wxaapi/broadcast/room/addgoods", ids=[goods_id], roomId=room_id)
    go_live(control, room_id)
    push = lambda: post(wx, "wxaapi/broadcast/goods/push", roomId=room_id, goodsId=goods_id)  # noqa: E731
    push()
    assert _errcode(push) == 300047
    control.post("/sandbox/clock", {"advance": 30})
    push()
    assert len(control.get("/sandbox/live/pushes")["pushes"]) == 2


@pytest.mark.parametrize(
    "sandbox_settings", [{"live_goods_audit_per_day": 2, "live_push_per_day": 1}]
)
def test_goods_audit_and_push_quotas(wx, control, image, room_id):
    goods_id = add_goods(wx, image)
    control.post(f"/sandbox/live/goods/{goods_id}/audit", {"status": 3})
    post(wx, "wxaapi/broadcast/goods/audit", goodsId=goods_id)  # the second submission
    info = goods_info(image)
    assert _errcode(lambda: post(wx, "wxaapi/broadcast/goods/add", goodsInfo=info)) == 300012

    approve(control, goods_id)
    post(wx, "wxaapi/broadcast/room/addgoods", ids=[goods_id], roomId=room_id)
    go_live(control, room_id)
    post(wx, "wxaapi/broadcast/goods/push", roomId=room_id, goodsId=goods_id)
    with pytest.raises(APILimitedException):
        post(wx, "wxaapi/broadcast/goods/push", roomId=room_id, goodsId=goods_id)
    control.post("/sandbox/clock", {"advance": 24 * HOUR})
    add_goods(wx, image)  # a new day, a new quota (the media id is still valid)


def test_goods_name_of_14_chinese_characters_fits(wx, image):
    assert add_goods(wx, image, name="五常大米" * 3 + "新米") > 0
    assert add_goods(wx, image, name="Wuchang rice 5kg 2026") > 0  # 21 letters < 28
