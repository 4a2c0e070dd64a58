"""What hosts send to run a show — a room, the product on screen, the shelf, a flash sale —
checked by the same schema on the console's pages and its JSON API."""

from __future__ import annotations

from apiflask.fields import Boolean
from marshmallow import post_load

from backend.live import announcements, shelf
from backend.schemas import In, identifier, moment, text, whole
from backend.timeutil import to_naive_utc

MAX_PRICE_FEN = 10_000_000


class RoomIn(In):
    name = text("直播间名称", 40)
    anchor_name = text("主播昵称", 30)
    anchor_wechat = text("主播微信号", 60)
    starts_at = moment("开播时间")
    ends_at = moment("结束时间")

    @post_load
    def _stored_times(self, data: dict, **kwargs) -> dict:
        """Times as the database keeps them (naive UTC)."""
        return {
            **data,
            "starts_at": to_naive_utc(data["starts_at"]),
            "ends_at": to_naive_utc(data["ends_at"]),
        }


class OnScreenIn(In):
    sku_id = identifier("讲解商品", required=False, allow_none=True, load_default=None)


class ShelfIn(In):
    sku_id = identifier("商品")
    number = whole("商品序号", 1, shelf.MAX_ITEMS, required=False)


class StartSaleIn(In):
    sku_id = identifier("秒杀商品")
    units = whole("秒杀数量", 1, 100_000)
    # fen from the API, typed in yuan on the page: the message speaks of yuan for both
    price = whole(
        "秒杀价", 1, MAX_PRICE_FEN, error=f"秒杀价需在 0.01 到 {MAX_PRICE_FEN // 100} 元之间"
    )
    seconds = whole("秒杀时长（秒）", 10, 24 * 3600)
    per_person_limit = whole("每人限购", 1, 99)
    pay_minutes = whole("支付时限（分钟）", 1, 30, required=False, load_default=5)
    room_id = identifier("直播间", required=False)
    starts_in = whole("开始倒计时（秒）", 0, 3600, required=False, load_default=0)


def _window_times(data: dict) -> dict:
    for key in ("starts_at", "ends_at"):
        if data.get(key) is not None:
            data[key] = to_naive_utc(data[key])
    return data


class AnnouncementIn(In):
    """A scheduled message (自动发言): no window times means "while the room is live"."""

    text = text("发言内容", announcements.MAX_TEXT)
    interval_seconds = whole(
        "发送间隔（秒）",
        announcements.MIN_INTERVAL,
        announcements.MAX_INTERVAL,
        error="发送间隔需在 60 秒到 60 分钟之间",
    )
    starts_at = moment("开始时间", required=False, allow_none=True)
    ends_at = moment("结束时间", required=False, allow_none=True)
    enabled = Boolean(
        load_default=True,
        metadata={"label": "启用"},
        error_messages={"invalid": "启用需为 true 或 false"},
    )

    @post_load
    def _stored_times(self, data: dict, **kwargs) -> dict:
        return _window_times(data)


class AnnouncementPatch(In):
    """What may change: any of the fields; `enabled` false pauses, true resumes."""

    text = text("发言内容", announcements.MAX_TEXT, required=False)
    interval_seconds = whole(
        "发送间隔（秒）",
        announcements.MIN_INTERVAL,
        announcements.MAX_INTERVAL,
        required=False,
        error="发送间隔需在 60 秒到 60 分钟之间",
    )
    starts_at = moment("开始时间", required=False, allow_none=True)
    ends_at = moment("结束时间", required=False, allow_none=True)
    enabled = Boolean(error_messages={"invalid": "启用需为 true 或 false"})

    @post_load
    def _stored_times(self, data: dict, **kwargs) -> dict:
        return _window_times(data)
