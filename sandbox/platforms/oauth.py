"""The platforms' shop authorisation pages (OAuth2 authorisation-code flow, api-facts §7.4), each
under its platform's prefix with the real page's path and parameter names:

  Douyin  /platforms/douyin/fuwu/authorize ?service_id&state   (fuwu.jinritemai.com/authorize;
          the callback is the one registered for the service: config `redirect_uri`)
  Taobao  /platforms/taobao/oauth/authorize ?response_type=code&client_id&redirect_uri&state&view
  JD      /platforms/jd/oauth2/to_login ?app_key&response_type=code&redirect_uri&state&scope
  PDD     /platforms/pdd/fuwu/service-market/auth ?response_type=code&client_id&redirect_uri&state
  Youzan  /platforms/youzan/oauth/authorize ?client_id&response_type=code&redirect_uri&state
          (the real page's address is UNVERIFIED; this one is the sandbox's choice)

Who is logged in at the page is set by `POST /sandbox/platforms/{code}/authorize-as {shop_id,
decision}` (allow / deny answer at once; ask shows the consent page); with nobody logged in the
page is a login form. Allowing redirects to redirect_uri with `code` and the same `state`;
refusing redirects with `error=access_denied` and `state` (Douyin: `state` and no code). A bad
client id or redirect_uri is answered on the page itself, never redirected (RFC 6749 §4.1.2.1).
The token exchanges live with each platform's API (douyin, taobao, jd, pdd, youzan modules).
"""

from __future__ import annotations

import time
from urllib.parse import urlencode, urlsplit, urlunsplit

from flask import Blueprint, Response, redirect, render_template_string, request

from ..context import current_sandbox
from .gateway import ApiError
from .store import PlatformData, Shop

bp = Blueprint("platforms_oauth", __name__)

PAGES = {
    "douyin": "/platforms/douyin/fuwu/authorize",
    "taobao": "/platforms/taobao/oauth/authorize",
    "jd": "/platforms/jd/oauth2/to_login",
    "pdd": "/platforms/pdd/fuwu/service-market/auth",
    "youzan": "/platforms/youzan/oauth/authorize",
}
TITLES = {"douyin": "抖店", "taobao": "淘宝", "jd": "京东", "pdd": "拼多多", "youzan": "有赞"}
CLIENT_PARAM = {"taobao": "client_id", "jd": "app_key", "pdd": "client_id", "youzan": "client_id"}
TAOBAO_VIEWS = ("web", "tmall", "wap")

PAGE = """<!doctype html><html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width,initial-scale=1"><title>{{ title }}授权</title>
</head><body><h1>{{ title }} · 店铺授权（沙箱）</h1>
{% if error %}<p class="error">{{ error }}</p>{% else %}
<form method="post" action="{{ action }}">
<p>应用请求访问您店铺的订单与物流信息。</p>
<label>店铺ID <input name="shop_id" value="{{ shop_id }}" required></label>
<button name="decision" value="allow">授权</button>
<button name="decision" value="deny">取消</button>
</form>{% endif %}</body></html>"""


def _page(platform: str, error: str = "", shop_id: str = "", status: int = 200) -> Response:
    action = request.full_path if request.query_string else request.path
    html = render_template_string(
        PAGE, title=TITLES[platform], error=error, shop_id=shop_id, action=action
    )
    return Response(html, status=status, mimetype="text/html")


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))


def _check(platform: str, data: PlatformData, apps: dict) -> tuple[str, str]:
    """(redirect_uri, state) of a well-formed request; ValueError with the page's message."""
    args = request.args
    state = args.get("state", "")
    if platform == "douyin":
        if args.get("service_id") != current_sandbox().settings.get("DOUYIN_SERVICE_ID"):
            raise ValueError("服务不存在或已下架（service_id 无效）")
        if not data.config.redirect_uri:
            raise ValueError("服务未配置授权回调地址")
        return data.config.redirect_uri, state
    if args.get(CLIENT_PARAM[platform]) != apps[platform][0]:
        raise ValueError(f"{CLIENT_PARAM[platform]} 无效：应用不存在")
    if args.get("response_type") != "code":
        raise ValueError("response_type 必须为 code")
    if platform == "taobao" and args.get("view", "web") not in TAOBAO_VIEWS:
        raise ValueError("view 必须为 web、tmall 或 wap")
    redirect_uri = args.get("redirect_uri", "")
    if not redirect_uri.startswith(("http://", "https://")):
        raise ValueError("redirect_uri 缺失或无效")
    registered = data.config.redirect_uri
    if registered:
        # Taobao checks the domain against the app's callback; the others the whole address
        same = (
            urlsplit(redirect_uri).netloc == urlsplit(registered).netloc
            if platform == "taobao"
            else redirect_uri == registered
        )
        if not same:
            raise ValueError("redirect_uri 与应用登记的回调地址不一致")
    return redirect_uri, state


def authorize_page(platform: str):
    sb = current_sandbox()
    with sb.state.lock:
        data = sb.state.platforms[platform]
        try:
            redirect_uri, state = _check(platform, data, sb.platform_apps)
        except ValueError as error:
            return _page(platform, error=str(error), status=400)
        if request.method == "POST":
            shop_id, decision = request.form.get("shop_id", ""), request.form.get("decision")
        elif data.merchant is not None and data.merchant.decision != "ask":
            shop_id, decision = data.merchant.shop_id, data.merchant.decision
        else:
            shop_id = data.merchant.shop_id if data.merchant else ""
            return _page(platform, shop_id=shop_id)
        if decision == "allow" and shop_id:
            answer = {"code": data.issue_code(shop_id, redirect_uri, time.time())}
        elif platform == "douyin":
            answer = {}  # back without a code
        else:
            answer = {"error": "access_denied", "error_description": "用户取消授权"}
    return redirect(_with_query(redirect_uri, {**answer, "state": state}), 302)


def redeem(data: PlatformData, code: str, redirect_uri: str | None, now: float) -> Shop:
    """The shop a code was issued for, with fresh tokens; ApiError("code" / "redirect_uri")."""
    result = data.redeem(code, redirect_uri, now)
    if result == "code":
        raise ApiError("code", "code无效、已使用或已过期")
    if result == "redirect_uri":
        raise ApiError("redirect_uri", "redirect_uri与获取code时不一致")
    assert isinstance(result, Shop)
    return result


for _platform, _path in PAGES.items():
    bp.add_url_rule(
        _path,
        f"authorize_{_platform}",
        lambda _p=_platform: authorize_page(_p),
        methods=["GET", "POST"],
    )
