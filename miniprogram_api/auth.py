"""Login and the Bearer-token guard every consumer endpoint uses."""

from apiflask import HTTPTokenAuth
from flask import current_app, request

from backend.customers import service as customers
from backend.errors import Unauthorized
from backend.extensions import db
from miniprogram_api import api_v1
from miniprogram_api.schemas import LoginIn, LoginOut

token_auth = HTTPTokenAuth(scheme="Bearer", description="POST /api/v1/auth/login 得到的 token")


def checks_session_itself(view):
    """Mark a view (the innermost decorator) whose service checks the buyer's session inside its
    own Redis round trip: the guard then only reads whom the token names, and the view runs its
    service through session_checked()."""
    view.checks_session_itself = True
    return view


@token_auth.verify_token
def _verify(token: str):
    view = current_app.view_functions.get(request.endpoint)
    if getattr(view, "checks_session_itself", False):
        hint = customers.session_hint(token)
        if hint is not None:
            return {"customer_id": hint.customer_id, "session_key": hint.key}
    customer_id = customers.authenticate(db.session, token)
    return {"customer_id": customer_id} if customer_id else None


def current_customer_id() -> int:
    return token_auth.current_user["customer_id"]


def session_checked(run):
    """run(session_key) for a view marked checks_session_itself (session_key None: the guard
    checked already). If its script found no live session in the cache, the token is checked
    the usual way (the database fills the cache; a revoked or unknown token is 401), then
    run(None)."""
    user = token_auth.current_user
    try:
        return run(user.get("session_key"))
    except customers.SessionUnchecked:
        token = token_auth.get_auth().token
        if customers.authenticate(db.session, token) != user["customer_id"]:
            raise Unauthorized("请先登录") from None
        return run(None)


@api_v1.post("/auth/login")
@api_v1.input(LoginIn, arg_name="body")
@api_v1.output(LoginOut)
@api_v1.doc(
    summary="wx.login code → our token（同一网络限频）",
    responses={401: "登录凭证无效或已过期", 503: "微信服务暂时不可用"},
)
def login(body):
    result = customers.login(db.session, code=body["code"], ip=request.remote_addr)
    return {
        "token": result.token,
        "expires_in": current_app.config["TOKEN_TTL_HOURS"] * 3600,
        "user": {"id": result.customer.id, "nickname": result.customer.nickname},
    }


@api_v1.post("/auth/logout")
@api_v1.auth_required(token_auth)
@api_v1.output({}, status_code=204)
@api_v1.doc(summary="退出登录：此 token 立即失效", responses={204: "已退出", 401: "未登录"})
def logout():
    customers.logout(db.session, token=token_auth.get_auth().token)
    return ""
