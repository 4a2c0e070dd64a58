"""A seller connects a shop through its platform's own authorisation (OAuth2 authorisation code,
api-facts §7.4): we send the seller to the platform's authorise page with a random `state`, the
platform sends their browser back to our callback with a `code` and that state, and we exchange
the code for the shop's tokens and register the shop (or renew a registered one's tokens).

The state is the only thing that ties the callback to the seller who started it: it lives in
Redis for SHOP_OAUTH_STATE_MINUTES and is taken by the first callback that brings it (a used,
expired, forged or other platform's state is refused before any code is exchanged)."""

from __future__ import annotations

import json
import secrets

from flask import current_app
from sqlalchemy.orm import Session

from backend.clients.platforms.base import PLATFORMS, PlatformError
from backend.errors import BadRequest, NotFound, RuleBroken, UpstreamUnavailable
from backend.platforms import service
from backend.platforms.models import Shop
from backend.queue import redis_client
from backend.sellers import service as sellers

STATE_KEY = "shop-oauth:state:{}"
DEFAULT_CALLBACK = "/seller/shops/callback/{platform}"


def callback_url(platform: str) -> str:
    """Where the platform sends the seller's browser back (the redirect_uri we register)."""
    config = current_app.config
    template = config["SHOP_OAUTH_CALLBACK_URL"] or (
        config["PUBLIC_BASE_URL"].rstrip("/") + DEFAULT_CALLBACK
    )
    return template.format(platform=platform)


def _check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise NotFound("不支持的平台", code="UNKNOWN_PLATFORM", details={"platforms": PLATFORMS})


def start_authorisation(
    session: Session, *, seller_id: int, platform: str, shop_id: int | None = None
) -> str:
    """The platform's authorise page to send the seller to, with a fresh single-use state that
    remembers the seller, the platform and the shop being re-authorised (one of the seller's)."""
    _check_platform(platform)
    sellers.get_seller(session, seller_id)
    if shop_id is not None:
        shop = session.get(Shop, shop_id)
        if shop is None or shop.seller_id != seller_id or shop.platform != platform:
            raise NotFound("店铺不存在", code="SHOP_NOT_FOUND")
    state = secrets.token_urlsafe(24)
    grant = {"seller_id": seller_id, "platform": platform, "shop_id": shop_id}
    minutes = current_app.config["SHOP_OAUTH_STATE_MINUTES"]
    redis_client().set(STATE_KEY.format(state), json.dumps(grant), ex=minutes * 60)
    client = service._client(platform)
    return client.authorize_url(redirect_uri=callback_url(platform), state=state)


def start_reauthorisation(session: Session, *, seller_id: int, shop_id: int) -> str:
    """start_authorisation for one of the seller's shops (its page's 重新授权 link)."""
    shop = session.get(Shop, shop_id)
    if shop is None or shop.seller_id != seller_id:
        raise NotFound("店铺不存在", code="SHOP_NOT_FOUND")
    return start_authorisation(
        session, seller_id=seller_id, platform=shop.platform, shop_id=shop.id
    )


def _take_state(platform: str, state: str) -> dict:
    """The grant the state stands for, removed so that it works once; BadRequest otherwise."""
    grant = None
    if state and len(state) <= 100:
        pipe = redis_client().pipeline()  # MULTI: of two callbacks with a state, one gets it
        pipe.get(STATE_KEY.format(state))
        pipe.delete(STATE_KEY.format(state))
        raw, _ = pipe.execute()
        grant = json.loads(raw) if raw else None
    if grant is None or grant["platform"] != platform:
        raise BadRequest("授权链接无效或已过期，请回到店铺页重新连接", code="OAUTH_STATE_INVALID")
    return grant


def abandon_authorisation(*, platform: str, state: str) -> None:
    """The seller refused at the platform: the state is spent (BadRequest when it was not
    ours, so a forged refusal is answered as such)."""
    _check_platform(platform)
    _take_state(platform, state)


def finish_authorisation(session: Session, *, platform: str, code: str, state: str) -> Shop:
    """The callback: check and spend the state, exchange the code, and register the shop for
    the seller who started (a shop of another seller is refused; a re-authorised shop gets new
    tokens and, when its authorisation was broken, is ACTIVE again and pulled)."""
    _check_platform(platform)
    grant = _take_state(platform, state)
    client = service._client(platform)
    try:
        tokens = client.exchange_code(code=code, redirect_uri=callback_url(platform))
    except PlatformError as error:
        if error.kind == "auth_broken":
            raise RuleBroken(
                f"{service.PLATFORM_NAMES[platform]}未接受该授权（授权码无效、已使用或已过期），"
                "请重新连接",
                code="OAUTH_CODE_REJECTED",
                details={"platform_code": error.code, "platform_message": error.message[:200]},
            ) from error
        raise UpstreamUnavailable(
            f"{service.PLATFORM_NAMES[platform]}暂时无法完成授权，请稍后再试",
            code="PLATFORM_UNAVAILABLE",
        ) from error
    shop_key = tokens.shop_key or ""
    existing = None
    if grant["shop_id"] is not None:
        existing = session.get(Shop, grant["shop_id"])
        if existing is None or existing.shop_key != shop_key:
            raise RuleBroken(
                "授权的不是这家店铺：请在平台上登录要重新授权的店铺",
                code="OAUTH_WRONG_SHOP",
                details={"authorised_shop": shop_key},
            )
    name = tokens.shop_name or (existing.name if existing else "")
    return service.register_shop(
        session,
        seller_id=grant["seller_id"],
        platform=platform,
        shop_key=shop_key,
        name=name or f"{service.PLATFORM_NAMES[platform]}店铺{shop_key}",
        access_token=tokens.access_token,
        refresh_token=tokens.refresh_token,
        expires_at=tokens.expires_at,
    )
