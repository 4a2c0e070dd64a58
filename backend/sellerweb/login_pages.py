"""/seller/login...: inside WeChat the Official Account's web authorisation, outside a one-time
code sent to the seller's WeChat or a staff-issued link; /seller/logout."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for

from backend.errors import DomainError
from backend.extensions import db
from backend.phone_pages import in_wechat
from backend.sellerweb import bp
from backend.sellerweb.access import (
    AREA,
    current_seller,
    current_sid,
    pending_login,
    safe_next,
    sign_in_response,
)
from backend.workspace import login


@bp.get("/login", endpoint="login")
def login_page():
    """The login page; inside WeChat it goes straight to WeChat's authorisation."""
    target = safe_next(request.args.get("next"))
    if current_seller() is not None:
        return redirect(target)
    if in_wechat() and not request.args.get("manual"):
        return redirect(url_for("sellerweb.login_wechat", next=target))
    return render_template("sellerweb/login.html", next=target, step="phone")


@bp.get("/login/wechat")
def login_wechat():
    state = login.new_state()
    return AREA.to_wechat(state, login.wechat_authorize_url(state=state))


@bp.get("/login/wechat/done")
def login_wechat_done():
    """WeChat came back with ?code&state (only state: the user refused)."""
    pending = pending_login()
    try:
        seller_id = login.login_with_wechat(
            db.session,
            code=request.args.get("code", ""),
            state=request.args.get("state", ""),
            expected_state=pending.get("state", ""),
        )
    except login.NotBound:
        return render_template("sellerweb/not_bound.html"), 403
    except DomainError as refused:
        page = render_template(
            "sellerweb/login.html",
            next=pending.get("next"),
            step="phone",
            error=refused.message,
        )
        return page, refused.status
    return sign_in_response(seller_id, pending.get("next"))


@bp.post("/login/code")
def send_code():
    phone = request.form.get("phone", "")
    target = safe_next(request.form.get("next"))
    try:
        login.send_login_code(db.session, phone=phone)
    except DomainError as refused:
        page = render_template(
            "sellerweb/login.html", next=target, step="phone", phone=phone, error=refused.message
        )
        return page, refused.status
    return render_template("sellerweb/login.html", next=target, step="code", phone=phone)


@bp.post("/login/code/check")
def check_code():
    phone = request.form.get("phone", "")
    target = safe_next(request.form.get("next"))
    try:
        seller_id = login.login_with_code(
            db.session, phone=phone, code=request.form.get("code", "")
        )
    except DomainError as refused:
        page = render_template(
            "sellerweb/login.html", next=target, step="code", phone=phone, error=refused.message
        )
        return page, refused.status
    return sign_in_response(seller_id, target)


@bp.get("/login/link/<token>")
def link_page(token: str):
    """A staff-issued link: a button to press (a preview that fetches the link spends nothing)."""
    return render_template("sellerweb/link.html", token=token)


@bp.post("/login/link/<token>")
def use_link(token: str):
    try:
        seller_id = login.login_with_link(db.session, token=token)
    except DomainError as refused:
        return render_template("sellerweb/message.html", message=refused.message), refused.status
    return sign_in_response(seller_id, None)


@bp.post("/logout")
def logout():
    return AREA.sign_out_response(current_sid(), login.close_session)
