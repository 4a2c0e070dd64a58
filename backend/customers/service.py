"""Customers: mini-program login (code2Session → our token), authentication, and the cart."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import delete, select, update
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
from backend.timeutil import utcnow
from backend.transactions import retry_conflicts

INVALID_CODE_ERRCODES = {40029, 40163}


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
    token = secrets.token_urlsafe(32)
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    session.flush()
    session.add(
        AuthToken(customer_id=customer.id, token_hash=_hash(token), expires_at=utcnow() + ttl)
    )
    session.commit()
    return Login(token=token, customer=customer)


def authenticate(session: Session, token: str) -> int | None:
    """The customer id a live token belongs to, or None."""
    if not token or len(token) > 200:
        return None
    return session.scalar(
        select(AuthToken.customer_id).where(
            AuthToken.token_hash == _hash(token), AuthToken.expires_at > utcnow()
        )
    )


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


def lock(session: Session, *, customer_id: int) -> None:
    """Hold the customer's row until commit, so that their concurrent requests take turns:
    FOR UPDATE where rows lock; on SQLite a write that starts the transaction holding the one
    write lock, so what it reads next sees every committed change."""
    if session.get_bind().dialect.name == "sqlite":
        session.execute(
            update(Customer).where(Customer.id == customer_id).values(id=Customer.id),
            execution_options={"synchronize_session": False},
        )
    else:
        session.execute(select(Customer.id).where(Customer.id == customer_id).with_for_update())


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
    lock(session, customer_id=customer_id)  # two saves of one cart replace it in turn
    session.execute(delete(CartItem).where(CartItem.customer_id == customer_id))
    for sku_id, quantity in merged.items():
        session.add(CartItem(customer_id=customer_id, sku_id=sku_id, quantity=quantity))
    session.commit()
