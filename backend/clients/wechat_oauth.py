"""The Official Account's web authorisation (网页授权, api-facts §7.3) through wechatpy's
WeChatOAuth: the authorise URL a phone is sent to, and a code exchanged for the user's openid.
One WeChatOAuth per call: it keeps the fetched token on the instance, so a shared one races."""

from __future__ import annotations

import requests
from flask import current_app
from wechatpy import WeChatOAuth
from wechatpy.exceptions import WeChatClientException

from backend.clients.wechat import WeChatError

SCOPE = "snsapi_base"  # silent: the openid is all a seller's login needs


def _oauth(redirect_uri: str = "", state: str = "") -> WeChatOAuth:
    config = current_app.config
    oauth = WeChatOAuth(
        config["WECHAT_OA_APPID"], config["WECHAT_OA_SECRET"], redirect_uri, SCOPE, state
    )
    # set on the instance (the class stays untouched); both keep their trailing "/"
    oauth.API_BASE_URL = config["WECHAT_API_BASE"].rstrip("/") + "/"
    oauth.OAUTH_BASE_URL = config["WECHAT_OAUTH_BASE"].rstrip("/") + "/"
    return oauth


def authorize_url(*, redirect_uri: str, state: str) -> str:
    """Where the phone's WeChat asks the user (silently, for snsapi_base) and comes back to
    redirect_uri?code&state."""
    return _oauth(redirect_uri, state).authorize_url


def openid_of_code(code: str) -> str:
    """The openid a code stands for; WeChatError with WeChat's errcode (40029 invalid, 40163
    used: a code is never tried twice), errcode None when WeChat could not be reached."""
    oauth = _oauth()
    timeout = current_app.config["HTTP_TIMEOUT_SECONDS"]
    original = oauth._http.request
    oauth._http.request = lambda *a, **kw: original(*a, **{"timeout": timeout, **kw})
    try:
        return oauth.fetch_access_token(code)["openid"]
    except WeChatClientException as refused:
        raise WeChatError(refused.errcode, refused.errmsg or "") from refused
    except requests.RequestException as failed:
        raise WeChatError(None, str(failed)) from failed
