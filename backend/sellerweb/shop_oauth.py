"""/seller/shops: a seller connects a shop through its platform's own authorisation, in the
browser (backend/platforms/authorisation.py). Three pages, all GET:

  /seller/shops/connect/{platform}   → 302 to the platform's authorise page
  /seller/shops/{id}/authorize       → 302 there too, to re-authorise one of the seller's shops
  /seller/shops/callback/{platform}  ← the platform's redirect (code + state, or a refusal);
                                       answers a short Chinese page: connected / refused / invalid

Who the seller is comes from `current_seller_id()` alone: the seller's phone-page session, or
for software of their own the seller-API Bearer token. The callback needs no login: the `state`
it carries names the seller who started.
"""

from __future__ import annotations

from flask import Blueprint, Response, redirect, render_template_string, request, url_for

from backend.errors import DomainError
from backend.extensions import db
from backend.platforms import authorisation
from backend.platforms.service import PLATFORM_NAMES
from backend.sellers import service as sellers
from backend.sellerweb import access

bp = Blueprint("seller_oauth", __name__)


def current_seller_id() -> int | None:
    """The seller this request comes from, or None: the phone pages' session, else the
    seller-API Bearer token (`Authorization: Bearer …`)."""
    seller = access.current_seller()
    if seller is not None:
        return seller.id
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return sellers.authenticate(db.session, token.strip())


PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{ title }}</title>
<style>body{font:17px/1.6 -apple-system,"PingFang SC",sans-serif;margin:0;padding:24px;color:#222}
h1{font-size:22px}.ok{color:#1a7f37}.no{color:#b3261e}</style></head>
<body><h1 class="{{ tone }}">{{ title }}</h1><p>{{ text }}</p></body></html>"""


def _page(title: str, text: str, *, ok: bool, status: int = 200) -> Response:
    html = render_template_string(PAGE, title=title, text=text, tone="ok" if ok else "no")
    return Response(html, status=status, mimetype="text/html")


def _send_to_platform(start) -> Response:
    seller_id = current_seller_id()
    if seller_id is None:
        if request.headers.get("Authorization"):  # an API client with a bad token
            return _page("请先登录", "登录卖家工作台后再连接店铺。", ok=False, status=401)
        return redirect(url_for("sellerweb.login", next=request.full_path.rstrip("?")))
    try:
        url = start(seller_id)
    except DomainError as error:
        return _page("无法连接店铺", error.message, ok=False, status=error.status)
    return redirect(url, 302)


@bp.get("/connect/<platform>")
def connect(platform: str):
    return _send_to_platform(
        lambda seller_id: authorisation.start_authorisation(
            db.session, seller_id=seller_id, platform=platform
        )
    )


@bp.get("/<int:shop_id>/authorize")
def reauthorise(shop_id: int):
    return _send_to_platform(
        lambda seller_id: authorisation.start_reauthorisation(
            db.session, seller_id=seller_id, shop_id=shop_id
        )
    )


@bp.get("/callback/<platform>")
def callback(platform: str):
    code, state = request.args.get("code", ""), request.args.get("state", "")
    name = PLATFORM_NAMES.get(platform, "平台")
    try:
        if not code:  # refused at the platform (Douyin comes back without a code)
            authorisation.abandon_authorisation(platform=platform, state=state)
            return _page("未授权", f"您在{name}取消了授权，店铺未连接。", ok=False)
        shop = authorisation.finish_authorisation(
            db.session, platform=platform, code=code, state=state
        )
    except DomainError as error:
        title = "授权链接无效" if error.code == "OAUTH_STATE_INVALID" else "店铺未能连接"
        return _page(title, error.message, ok=False, status=error.status)
    return _page("店铺已连接", f"{name}店铺“{shop.name}”已连接，订单将自动同步。", ok=True)
