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


class LiveProvider(Protocol):
    def create_room(self, spec: RoomSpec) -> str: ...

    def statuses(self) -> dict[str, int]: ...

    def entry_url(self, external_id: str, custom_params: dict) -> str: ...


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

    def statuses(self) -> dict[str, int]:
        client, found, start = wechat_client(), {}, 0
        while True:
            page = client.live_rooms(start=start, limit=self.page_size)
            rooms = page.get("room_info", [])
            found.update({str(room["roomid"]): int(room["live_status"]) for room in rooms})
            start += len(rooms)
            if not rooms or start >= page.get("total", 0):
                return found

    def entry_url(self, external_id: str, custom_params: dict) -> str:
        params = quote(json.dumps(custom_params, separators=(",", ":")), safe="")
        return (
            f"plugin-private://{LIVE_PLAYER_PLUGIN}/pages/live-player-plugin"
            f"?room_id={external_id}&custom_params={params}"
        )


def provider() -> LiveProvider:
    return WxaLiveProvider()
