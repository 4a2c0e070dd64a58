"""State of the mini-program live (小程序直播), temporary media and msgSecCheck stand-ins.

Kept apart from state.py so that module stays a short list of registrations; `SandboxState`
holds one `WxaData` and replaces it on reset. Callers hold the sandbox lock.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Media:
    media_id: str
    type: str
    data: bytes
    content_type: str
    created_at: int
    expires_at: float


@dataclass
class Room:
    roomid: int
    name: str
    cover_img: str  # media ids: the platform copies the pictures, so they outlive the media
    share_img: str
    feeds_img: str
    start_time: int
    end_time: int
    anchor_name: str
    anchor_wechat: str
    sub_anchor_wechat: str | None
    creater_wechat: str | None
    flags: dict[str, int]  # type, closeLike, closeGoods, ... as sent (defaults filled in)
    created_at: float
    live_status: int = 102
    status_since: float = 0.0  # when live_status last changed (106 falls to 103 after a grace)
    started_at: float | None = None
    ended_at: float | None = None
    goods: list[int] = field(default_factory=list)  # goods ids in shelf order
    off_sale: set[int] = field(default_factory=set)
    last_push_at: float | None = None


@dataclass
class Goods:
    goods_id: int
    audit_id: int
    cover_img: str  # media id
    name: str
    price_type: int
    price: int  # fen
    price2: int  # fen, 0 for priceType 1
    url: str
    third_party_appid: str
    audit_status: int  # 0 not audited, 1 under audit, 2 approved, 3 rejected
    audit_submitted_at: float


@dataclass
class WxaData:
    media: dict[str, Media] = field(default_factory=dict)
    rooms: dict[int, Room] = field(default_factory=dict)
    goods: dict[int, Goods] = field(default_factory=dict)
    pushes: list[dict[str, Any]] = field(default_factory=list)
    verified_wechats: set[str] = field(default_factory=set)  # on top of the setting
    visits: dict[str, float] = field(default_factory=dict)  # openid -> last visit (sandbox clock)
    sec_checks: list[dict[str, Any]] = field(default_factory=list)
    quota_used: Counter = field(default_factory=Counter)  # (api, CST date) -> calls
