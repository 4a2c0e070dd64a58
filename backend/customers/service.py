"""Customers: mini-program login (code2Session → our token), authentication, and the cart.

A session is checked without a database round trip: `heli:session:<token sha256>` in Redis holds
"customer id|expiry" and expires with the token itself; login writes it, a miss reads the
database once and fills it (never over a revocation), and logout writes a revocation ("0") that
lives as long as the token would have. A token starts with the id of its customer ("42.…"), so a
script of a hot path (the flash-sale claim) can check the session in its own round trip
(SESSION_CHECK): the id only names which session to compare, the token's hash decides."""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from backend import ratelimit
from backend.catalogue import service as catalogue
from backend.catalogue.models import Sku
from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import AuthToken, CartItem, Customer
from backend.errors import (
    NotFound,
    RuleBroken,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
)
from backend.inventory import service as inventory
from backend.queue import redis_client
from backend.timeutil import to_aware_utc, utcnow
from backend.transactions import lock_row, retry_conflicts

INVALID_CODE_ERRCODES = {40029, 40163}
# A token nobody issued is remembered as unknown this long (a flood of forged tokens stays off
# the database; login overwrites it, so a real token is never refused for it).
UNKNOWN_TOKEN_SECONDS = 60


@dataclass
class Login:
    token: str
    customer: Customer


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def login(session: Session, *, code: str, ip: str | None = None) -> Login:
    """Exchange a wx.login code for our own token; the customer is created on first login.
    At most LOGIN_RATE_PER_IP exchanges from one address (429): new accounts are not free."""
    ratelimit.count(("login-ip", ip))
    try:
        result = wechat_client().code_to_session(code)
    except WeChatError as exc:
        if exc.errcode in INVALID_CODE_ERRCODES:
            raise Unauthorized(
                "登录凭证无效或已过期，请重新登录", code="INVALID_LOGIN_CODE"
            ) from exc
        if exc.errcode == 45011:
            raise TooManyRequests("登录太频繁，请稍后再试") from exc
        raise UpstreamUnavailable(details={"errcode": exc.errcode}) from exc
    openid = result["openid"]
    customer = session.scalar(select(Customer).where(Customer.openid == openid))
    if customer is None:
        customer = Customer(
            openid=openid, unionid=result.get("unionid"), nickname=f"微信用户{openid[-4:]}"
        )
        session.add(customer)
    customer.last_login_at = utcnow()
    session.flush()
    token = new_token(customer.id)
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    issued = AuthToken(customer_id=customer.id, token_hash=_hash(token), expires_at=utcnow() + ttl)
    session.add(issued)
    session.commit()
    remember_session(issued.token_hash, customer.id, issued.expires_at)
    return Login(token=token, customer=customer)


def new_token(customer_id: int) -> str:
    """A fresh secret token of the customer (login, and tools that issue tokens in bulk)."""
    return f"{customer_id}.{secrets.token_urlsafe(32)}"


def _session_key(token_hash: str) -> str:
    return f"heli:session:{token_hash}"


# Included by scripts that check a session in their own round trip: is KEYS[index] the cached
# live session of `customer` at `now`? A miss is not a refusal: the caller then checks the token
# the usual way (authenticate), which fills the cache from the database.
SESSION_CHECK = """
local function session_of(index, customer, now)
  local cached = redis.call('GET', KEYS[index])
  if not cached then return 'MISS' end
  local id, expiry = string.match(cached, '^(%d+)|(%d+)$')
  if id == customer and tonumber(expiry) > tonumber(now) then return 'LIVE' end
  return 'ENDED'
end
"""


class SessionUnchecked(Exception):
    """A script found no live cached session for the token: check it with authenticate()."""


@dataclass
class SessionHint:
    """What a token claims, for a script to check: its customer and its session's cache key."""

    customer_id: int
    key: str


def session_hint(token: str) -> SessionHint | None:
    """The customer a token names and its session's key, unchecked; None for a token of no
    such shape (then only authenticate() can tell)."""
    customer_id, dot, secret = (token or "").partition(".")
    if (
        not dot
        or not secret
        or not customer_id.isascii()
        or not customer_id.isdigit()
        or len(token) > 200
    ):
        return None
    return SessionHint(int(customer_id), _session_key(_hash(token)))


def remember_session(token_hash: str, customer_id: int, expires_at: datetime) -> None:
    """Cache an issued token's session until the token expires (login, and tools that issue
    tokens in bulk)."""
    expiry = int(to_aware_utc(expires_at).timestamp())
    redis_client().set(_session_key(token_hash), f"{customer_id}|{expiry}", exat=expiry)


def authenticate(session: Session, token: str) -> int | None:
    """The customer id a live token belongs to, or None: from the session cache, else from the
    database once (then cached until the token expires)."""
    if not token or len(token) > 200:
        return None
    key = _session_key(_hash(token))
    cached = redis_client().get(key)
    if cached is not None:
        customer_id, _, expiry = cached.decode().partition("|")
        live = customer_id != "0" and time.time() < float(expiry or 0)
        return int(customer_id) if live else None
    found = session.execute(
        select(AuthToken.customer_id, AuthToken.expires_at).where(
            AuthToken.token_hash == _hash(token), AuthToken.expires_at > utcnow()
        )
    ).first()
    if found is None:
        redis_client().set(key, "0|0", ex=UNKNOWN_TOKEN_SECONDS, nx=True)
        return None
    expiry = int(to_aware_utc(found.expires_at).timestamp())
    # NX: a logout that wrote its revocation meanwhile wins
    redis_client().set(key, f"{found.customer_id}|{expiry}", exat=expiry, nx=True)
    return found.customer_id


def logout(session: Session, *, token: str) -> None:
    """End the token's session: revoked in the cache first (so no request can fill it again),
    then deleted."""
    token_hash = _hash(token)
    expires_at = session.scalar(
        select(AuthToken.expires_at).where(AuthToken.token_hash == token_hash)
    )
    if expires_at is not None:
        expiry = max(int(to_aware_utc(expires_at).timestamp()), int(time.time()) + 1)
        redis_client().set(_session_key(token_hash), "0|0", exat=expiry)
    session.execute(delete(AuthToken).where(AuthToken.token_hash == token_hash))
    session.commit()


def cart_view(session: Session, *, customer_id: int) -> dict:
    """The cart as the mini-program shows it: lines with current price, stock and sale state."""
    lines = list(
        session.scalars(
            select(CartItem).where(CartItem.customer_id == customer_id).order_by(CartItem.id)
        )
    )
    skus = catalogue.skus_for_sale(session, [line.sku_id for line in lines])
    stock = inventory.available(session, list(skus))
    items = []
    for line in lines:
        sku = skus[line.sku_id]
        on_sale = sku.on_sale and sku.product.on_sale
        items.append(
            {
                "sku_id": sku.id,
                "quantity": line.quantity,
                "name": sku.product.name,
                "grade": sku.grade.name,
                "spec": sku.spec,
                "price": sku.price,
                "stock": stock[sku.id],
                "on_sale": on_sale,
            }
        )
    amount = sum(i["price"] * i["quantity"] for i in items if i["on_sale"])
    return {"items": items, "total": len(items), "amount": amount}


@retry_conflicts
def replace_cart(session: Session, *, customer_id: int, lines: list[tuple[int, int]]) -> None:
    """Make the cart hold exactly these (sku_id, quantity) lines; unknown SKUs are refused."""
    merged: dict[int, int] = {}
    for sku_id, quantity in lines:
        merged[sku_id] = merged.get(sku_id, 0) + quantity
    max_quantity = current_app.config["MAX_ITEM_QUANTITY"]
    too_many = [sku_id for sku_id, q in merged.items() if q > max_quantity]
    if too_many:
        raise RuleBroken(
            f"单个商品最多购买 {max_quantity} 件",
            code="QUANTITY_TOO_LARGE",
            details={"sku_ids": too_many},
        )
    known = set(session.scalars(select(Sku.id).where(Sku.id.in_(merged)))) if merged else set()
    unknown = sorted(set(merged) - known)
    if unknown:
        raise NotFound("购物车中有不存在的商品", code="SKU_NOT_FOUND", details={"sku_ids": unknown})
    lock_row(session, Customer, customer_id)  # two saves of one cart replace it in turn
    session.execute(delete(CartItem).where(CartItem.customer_id == customer_id))
    for sku_id, quantity in merged.items():
        session.add(CartItem(customer_id=customer_id, sku_id=sku_id, quantity=quantity))
    session.commit()
