"""Where live rooms really live. The mini-program live service (小程序直播) is one provider; a
WeChat Channels (视频号) live provider would implement the same three calls."""

from __future__ import annotations

import io
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol
from urllib.parse import quote

import segno

from backend.clients.wechat import wechat_client
from backend.timeutil import to_aware_utc

LIVE_PLAYER_PLUGIN = "wx2b03c6e691cd7370"


@dataclass
class RoomSpec:
    name: str
    anchor_name: str
    anchor_wechat: str
    starts_at: datetime  # UTC
    ends_at: datetime


@dataclass
class GoodsSpec:
    name: str
    price_fen: int
    page: str  # the mini-program page the product card opens


class LiveProvider(Protocol):
    def create_room(self, spec: RoomSpec) -> str: ...

    def statuses(self, wanted: set[str] | None = None) -> dict[str, int]: ...

    def entry_url(self, external_id: str, custom_params: dict) -> str: ...

    def add_goods(self, spec: GoodsSpec) -> tuple[str, str]: ...

    def goods_audit(self, goods_ids: list[str]) -> dict[str, int]: ...

    def show_goods(self, external_id: str, goods_id: str, *, import_first: bool) -> None: ...


def _poster(text: str) -> bytes:
    """A plain PNG for the covers until staff upload designed ones."""
    out = io.BytesIO()
    segno.make(text, error="l").save(out, kind="png", scale=8)
    return out.getvalue()


class WxaLiveProvider:
    """小程序直播 through the WeChat server API (wxaapi/broadcast, getliveinfo)."""

    page_size = 100

    def create_room(self, spec: RoomSpec) -> str:
        client = wechat_client()
        media = client.upload_image("cover.png", _poster(spec.name))
        result = client.create_live_room(
            {
                "name": spec.name,
                "coverImg": media,
                "shareImg": media,
                "feedsImg": media,
                "startTime": int(to_aware_utc(spec.starts_at).timestamp()),
                "endTime": int(to_aware_utc(spec.ends_at).timestamp()),
                "anchorName": spec.anchor_name,
                "anchorWechat": spec.anchor_wechat,
                "type": 0,
                "closeLike": 0,
                "closeGoods": 0,
                "closeComment": 0,
            }
        )
        return str(result["roomId"])

    def statuses(self, wanted: set[str] | None = None) -> dict[str, int]:
        """Every room's live_status, page by page (newest start first); with `wanted`, the pages
        up to the one where the last of those rooms was seen."""
        client, found, start = wechat_client(), {}, 0
        while True:
            page = client.live_rooms(start=start, limit=self.page_size)
            rooms = page.get("room_info", [])
            found.update({str(room["roomid"]): int(room["live_status"]) for room in rooms})
            start += len(rooms)
            if not rooms or start >= page.get("total", 0):
                return found
            if wanted is not None and wanted <= found.keys():
                return found

    def entry_url(self, external_id: str, custom_params: dict) -> str:
        params = quote(json.dumps(custom_params, separators=(",", ":")), safe="")
        return (
            f"plugin-private://{LIVE_PLAYER_PLUGIN}/pages/live-player-plugin"
            f"?room_id={external_id}&custom_params={params}"
        )

    def add_goods(self, spec: GoodsSpec) -> tuple[str, str]:
        """Into the goods library and audit: (goods id, audit id)."""
        client = wechat_client()
        cover = client.upload_image("goods.png", _poster(spec.name))
        result = client.add_live_goods(
            {
                "coverImgUrl": cover,
                "name": spec.name[:14],
                "priceType": 1,
                "price": round(spec.price_fen / 100, 2),
                "url": spec.page,
            }
        )
        return str(result["goodsId"]), str(result["auditId"])

    def goods_audit(self, goods_ids: list[str]) -> dict[str, int]:
        result = wechat_client().live_goods_status([int(g) for g in goods_ids])
        return {str(g["goods_id"]): int(g["audit_status"]) for g in result.get("goods", [])}

    def show_goods(self, external_id: str, goods_id: str, *, import_first: bool) -> None:
        """Put an approved product card in the room (importing it once) and push it to viewers."""
        client = wechat_client()
        if import_first:
            client.add_goods_to_room(room_id=int(external_id), goods_id=int(goods_id))
        client.push_goods(room_id=int(external_id), goods_id=int(goods_id))


def provider() -> LiveProvider:
    return WxaLiveProvider()
