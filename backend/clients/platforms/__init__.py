"""One client per outside platform the alliance's sellers sell on; `client_for(platform)` builds
it from the app config. Contract: docs/platforms.md."""

from __future__ import annotations

from flask import current_app

from backend.clients.platforms.base import (
    OUR_STATUSES,
    PLATFORMS,
    OrderLine,
    PlatformClient,
    PlatformError,
    PulledOrder,
    ShopAuth,
    TokenGrant,
)
from backend.clients.platforms.douyin import DouyinClient
from backend.clients.platforms.jd import JdClient
from backend.clients.platforms.pdd import PddClient
from backend.clients.platforms.taobao import TaobaoClient
from backend.clients.platforms.youzan import YouzanClient

DOUYIN, TAOBAO, JD, PDD, YOUZAN = PLATFORMS

# platform → (client class, API base, app key, app secret, shop-authorisation host) config names
_SETTINGS: dict[str, tuple[type[PlatformClient], str, str, str, str]] = {
    DOUYIN: (
        DouyinClient,
        "DOUYIN_API_BASE",
        "DOUYIN_APP_KEY",
        "DOUYIN_APP_SECRET",
        "DOUYIN_OAUTH_BASE",
    ),
    TAOBAO: (
        TaobaoClient,
        "TAOBAO_API_BASE",
        "TAOBAO_APP_KEY",
        "TAOBAO_APP_SECRET",
        "TAOBAO_OAUTH_BASE",
    ),
    JD: (JdClient, "JD_API_BASE", "JD_APP_KEY", "JD_APP_SECRET", "JD_OAUTH_BASE"),
    PDD: (PddClient, "PDD_API_BASE", "PDD_CLIENT_ID", "PDD_CLIENT_SECRET", "PDD_OAUTH_BASE"),
    YOUZAN: (
        YouzanClient,
        "YOUZAN_API_BASE",
        "YOUZAN_CLIENT_ID",
        "YOUZAN_CLIENT_SECRET",
        "YOUZAN_OAUTH_BASE",
    ),
}

__all__ = [
    "DOUYIN",
    "JD",
    "OUR_STATUSES",
    "PDD",
    "PLATFORMS",
    "TAOBAO",
    "YOUZAN",
    "OrderLine",
    "PlatformClient",
    "PlatformError",
    "PulledOrder",
    "ShopAuth",
    "TokenGrant",
    "client_for",
]


def client_for(platform: str) -> PlatformClient:
    """The client of one platform, configured from the current app (a new HTTP session each)."""
    if platform not in _SETTINGS:
        raise ValueError(f"unknown platform {platform!r}; one of {', '.join(PLATFORMS)}")
    config = current_app.config
    cls, base, key, secret, oauth = _SETTINGS[platform]
    # the shop-authorisation settings are needed only to connect shops (not to pull them)
    extra = {"service_id": config.get("DOUYIN_SERVICE_ID", "")} if platform == DOUYIN else {}
    return cls(
        config[base],
        config[key],
        config[secret],
        timeout=config["HTTP_TIMEOUT_SECONDS"],
        oauth_base=config.get(oauth),
        **extra,
    )
