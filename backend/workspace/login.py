"""How a seller logs in to their phone pages, and their sessions.

Inside WeChat: the Official Account's web authorisation (snsapi_base) gives the openid, and the
seller that openid bound (issue 7's bind code) is logged in. Outside WeChat: a one-time 6-digit
code sent to the seller's bound WeChat, or a one-time link staff issue on the console. Codes,
links and sessions live in Redis (shared by every process) and are single use: a code or link is
taken with one atomic delete, an OAuth code is claimed before WeChat sees it, so a reloaded
callback never sends a code twice."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.clients import wechat_oauth
from backend.clients.wechat import WeChatError
from backend.errors import DomainError, NotConfigured, Unauthorized, UpstreamUnavailable
from backend.officialaccount import service as officialaccount
from backend.officialaccount.models import OAFollower
from backend.queue import redis_client
from backend.sellers import service as sellers
from backend.sellers.models import Seller

CALLBACK_PATH = "/seller/login/wechat/done"
CODE_ATTEMPTS = 5  # wrong codes per phone number during a code's life, then its codes burn


class NotBound(DomainError):
    """The WeChat user is no seller's: the page says how to bind."""

    status, code, message = 403, "WECHAT_NOT_BOUND", "该微信尚未绑定卖家账号"


def _key(kind: str, value: str) -> str:
    return f"heli:seller-login:{kind}:{value}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- inside WeChat ---------------------------------------------------------------------------
def new_state() -> str:
    """A state for one authorisation (WeChat takes [a-zA-Z0-9], up to 128)."""
    return secrets.token_hex(16)


def wechat_authorize_url(*, state: str) -> str:
    """Where the phone goes to be authorised; it comes back to CALLBACK_PATH."""
    redirect_uri = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + CALLBACK_PATH
    return wechat_oauth.authorize_url(redirect_uri=redirect_uri, state=state)


def login_with_wechat(session: Session, *, code: str, state: str, expected_state: str) -> int:
    """The seller whose bound WeChat authorised: refused when the state is not the one this
    browser started with, when the code was used or expired (never tried twice), or NotBound
    when the openid is nobody's."""
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise Unauthorized("登录已失效，请重新打开页面登录", code="OAUTH_STATE_MISMATCH")
    if not code or len(code) > 128:
        raise Unauthorized("微信未授权登录", code="OAUTH_CODE_MISSING")
    ttl = current_app.config["SELLER_CODE_TTL_SECONDS"] * 2
    if not redis_client().set(_key("oauth-code", _digest(code)), 1, nx=True, ex=ttl):
        raise Unauthorized("该登录链接已使用，请重新打开页面登录", code="OAUTH_CODE_USED")
    try:
        openid = wechat_oauth.openid_of_code(code)
    except WeChatError as refused:
        if refused.errcode is None or refused.errcode in (-1, 45009):
            raise UpstreamUnavailable(
                "微信暂时无法登录，请稍后再试", code="WECHAT_UNAVAILABLE"
            ) from None
        raise Unauthorized(
            "微信登录凭证无效或已使用，请重新打开页面登录",
            code="OAUTH_CODE_INVALID",
            details={"errcode": refused.errcode},
        ) from None
    seller_id = session.scalar(select(OAFollower.seller_id).where(OAFollower.openid == openid))
    seller = session.get(Seller, seller_id) if seller_id else None
    if seller is None or not seller.active:
        raise NotBound()
    return seller.id


# -- a one-time code sent to the bound WeChat ------------------------------------------------
def _phone(raw: str) -> str:
    digits = "".join(ch for ch in raw if ch.isdigit())
    if not 6 <= len(digits) <= 20:
        raise Unauthorized("请输入正确的手机号", code="PHONE_INVALID")
    return digits


def _reachable_sellers(session: Session, phone: str) -> list[tuple[int, str]]:
    """(seller id, openid) of the active sellers with this phone whose WeChat we can reach."""
    rows = session.execute(
        select(Seller.id, OAFollower.openid)
        .join(OAFollower, OAFollower.seller_id == Seller.id)
        .where(
            Seller.phone == phone,
            Seller.active.is_(True),
            OAFollower.following.is_(True),
            OAFollower.templates_blocked.is_(False),
        )
    )
    return [(seller_id, openid) for seller_id, openid in rows]


def send_login_code(session: Session, *, phone: str) -> int:
    """A 6-digit code to the bound WeChat of each seller with this phone number (rate-limited
    per number); answers how many were sent — the page says the same either way."""
    phone = _phone(phone)
    ratelimit.count(("seller-code", phone))
    if not current_app.config["WECHAT_OA_NOTICE_TEMPLATE"]:
        raise NotConfigured(
            "公众号消息模板未配置，暂时无法发送验证码", code="NOTICE_TEMPLATE_MISSING"
        )
    ttl = current_app.config["SELLER_CODE_TTL_SECONDS"]
    redis = redis_client()
    redis.delete(_key("code-wrong", phone))
    sent = 0
    for seller_id, openid in _reachable_sellers(session, phone):
        code = f"{secrets.randbelow(10**6):06d}"
        redis.set(_key("code", str(seller_id)), code, ex=ttl)
        try:
            officialaccount.send_notice(
                openid=openid,
                title="卖家工作台登录验证码",
                body=f"验证码 {code}，{ttl // 60} 分钟内有效",
                url="",
                dedupe=f"login-{seller_id}-{secrets.token_hex(6)}",
            )
        except WeChatError:
            redis.delete(_key("code", str(seller_id)))
            raise UpstreamUnavailable(
                "验证码发送失败，请稍后再试", code="WECHAT_UNAVAILABLE"
            ) from None
        sent += 1
    return sent


def login_with_code(session: Session, *, phone: str, code: str) -> int:
    """The seller with this phone whose code this is (once); CODE_ATTEMPTS wrong codes burn the
    number's codes."""
    phone = _phone(phone)
    redis = redis_client()
    wrong_key = _key("code-wrong", phone)
    if int(redis.get(wrong_key) or 0) >= CODE_ATTEMPTS:
        raise Unauthorized("错误次数过多，请重新获取验证码", code="LOGIN_CODE_BURNT")
    seller_ids = session.scalars(select(Seller.id).where(Seller.phone == phone)).all()
    for seller_id in seller_ids:
        key = _key("code", str(seller_id))
        stored = redis.get(key)
        if stored is not None and hmac.compare_digest(stored, code.strip().encode()):
            if redis.delete(key) == 1:  # two tabs with one code: only one wins
                sellers.get_seller(session, seller_id)
                return seller_id
    pipe = redis.pipeline().incr(wrong_key).expire(wrong_key, 3600).execute()
    if pipe[0] >= CODE_ATTEMPTS:
        for seller_id in seller_ids:
            redis.delete(_key("code", str(seller_id)))
    raise Unauthorized("验证码错误或已过期", code="LOGIN_CODE_INVALID")


# -- a staff-issued login link ---------------------------------------------------------------
def issue_login_link(session: Session, *, seller_id: int) -> dict:
    """A one-time link that logs the seller in (staff hand it over): {url, expires_in}."""
    sellers.get_seller(session, seller_id)
    token = secrets.token_urlsafe(32)
    ttl = current_app.config["SELLER_LOGIN_LINK_HOURS"] * 3600
    redis_client().set(_key("link", _digest(token)), seller_id, ex=ttl)
    base = current_app.config["PUBLIC_BASE_URL"].rstrip("/")
    return {"url": f"{base}/seller/login/link/{token}", "expires_in": ttl}


def login_with_link(session: Session, *, token: str) -> int:
    """The seller a link was issued for; the link works once."""
    found = redis_client().getdel(_key("link", _digest(token)))
    seller = session.get(Seller, int(found)) if found else None
    if seller is None or not seller.active:
        raise Unauthorized(
            "登录链接无效、已使用或已过期，请联系联盟工作人员", code="LOGIN_LINK_INVALID"
        )
    return seller.id


# -- sessions --------------------------------------------------------------------------------
def open_session(seller_id: int) -> str:
    """A new session of the seller: its id goes in the signed cookie."""
    sid = secrets.token_urlsafe(24)
    hours = current_app.config["SELLER_SESSION_HOURS"]
    redis_client().set(_key("session", _digest(sid)), seller_id, ex=hours * 3600)
    return sid


# Who a session belongs to: only the id and name a page needs, read on every page.
_ACTIVE_SELLER = select(Seller.id, Seller.name).where(
    Seller.id == bindparam("seller_id"), Seller.active.is_(True)
)


def session_seller(session: Session, sid: str):
    """The active seller whose session this is (a row of id and name), or None once it
    expired or was closed, or the seller was deactivated."""
    found = redis_client().get(_key("session", _digest(sid)))
    if not found:
        return None
    return session.execute(_ACTIVE_SELLER, {"seller_id": int(found)}).first()


def close_session(sid: str) -> None:
    redis_client().delete(_key("session", _digest(sid)))
