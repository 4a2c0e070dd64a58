"""Sandbox settings: test credentials from `sandbox/sandbox.env` plus behaviour knobs.

Two kinds of keys live in one flat dict:
- UPPER_CASE keys are the credentials of `sandbox.env` (the backend loads the same file);
- lower_case keys tune the emulators (lifetimes, delays, limits) so tests can run fast.
Anything passed to `create_app(settings)` overrides both.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

SANDBOX_DIR = Path(__file__).resolve().parent
REPO_ROOT = SANDBOX_DIR.parent
ENV_FILE = SANDBOX_DIR / "sandbox.env"

# Subscribe-message templates known out of the box: template id -> data keys. The type of a key is
# its name without the trailing digits (`amount2` is an `amount`), as on the real platform.
DEFAULT_TEMPLATES: dict[str, list[str]] = {
    # 认养生长动态: the unit, what was measured, when
    "TPL_ADOPTION_GROWTH": ["thing1", "thing2", "time3"],
    "TPL_ORDER_PAID": ["character_string1", "amount2", "thing3", "time4"],
    "TPL_ORDER_SHIPPED": ["character_string1", "thing2", "character_string3", "time4"],
    "TPL_REFUND": ["character_string1", "amount2", "phrase3", "time4", "thing5"],
    "TPL_LIVE_START": ["thing1", "time2", "name3", "thing4"],
    "TPL_ORDER_TO_PAY": ["character_string1", "amount2", "thing3", "time4"],
    "TPL_ORDER_DELIVERED": ["character_string1", "thing2", "time3"],
    "TPL_DELIVERY_TROUBLE": ["character_string1", "thing2", "thing3"],
    # 认养单元灭失通知: adoption no, unit, what happens
    "TPL_ADOPTION_LOSS": ["character_string1", "thing2", "thing3"],
}

# Official Account template messages: template id -> data keys. Two styles exist on the platform:
# the old industry templates (`first`, `keyword1..N`, `remark`; since 2023-05 the platform drops
# `first`/`remark`, so they are optional here) and the category templates of 2023 with typed keys
# like the subscribe messages (`character_string1`, `thing2`, `amount3`, ...).
DEFAULT_OA_TEMPLATES: dict[str, list[str]] = {
    # 订单状态通知 (to buyers): order no, goods, amount, status, time
    "OA_TPL_ORDER_STATUS": ["character_string1", "thing2", "amount3", "phrase4", "time5"],
    # 新订单提醒 (to sellers): order no, goods, amount, time
    "OA_TPL_NEW_ORDER": ["character_string1", "thing2", "amount3", "time4"],
    # 活动通知 (broadcast to followers), old style
    "OA_TPL_BROADCAST": ["first", "keyword1", "keyword2", "keyword3", "remark"],
}

# msgSecCheck samples: suggest "risky" ...
DEFAULT_SEC_CHECK_WORDS: dict[str, int] = {
    "加微信": 10001,  # ad: moving buyers off the platform
    "台独": 20001,
    "裸聊": 20002,
    "傻逼": 20003,
    "代开发票": 20006,
    "刷单": 20008,
}
# ... and suggest "review" (a person should look)
DEFAULT_SEC_CHECK_REVIEW_WORDS: dict[str, int] = {"私聊": 10001, "返现": 10001}

DEFAULTS: dict[str, Any] = {
    # WeChat access tokens
    "token_expires_in": 7200,
    "token_grace_seconds": 300,  # old cgi-bin/token stays valid this long after a new one
    "stable_token_prerefresh_seconds": 300,  # stable_token rotates itself in its last 5 minutes
    "stable_force_refresh_per_day": 20,
    "stable_force_refresh_min_interval": 30,
    # mini-program login
    "code_ttl_seconds": 300,
    "code2session_per_minute": 100,  # per openid, 45011 beyond
    # subscribe messages
    "subscribe_templates": DEFAULT_TEMPLATES,
    "pages": None,  # list of valid page paths; None = accept any page
    # temporary media (cgi-bin/media/upload)
    "media_ttl_seconds": 3 * 24 * 3600,
    # 小程序直播: daily quotas of the official docs, reset at midnight China time
    "live_create_room_per_day": 10_000,
    "live_getliveinfo_per_day": 100_000,
    "live_addgoods_per_day": 10_000,
    "live_push_per_day": 10_000,
    "live_goods_audit_per_day": 500,  # goods/add and goods/audit share it (300012 beyond)
    "live_goods_warehouse_per_day": 1000,
    "live_verified_wechats": ["heli_anchor", "heli_anchor2"],  # real-name verified 微信号
    "live_goods_audit_seconds": 60,  # under audit -> approved after this; None = control only
    "live_abnormal_grace_seconds": 900,  # 106 not recovered within 15 min -> 103
    "live_room_goods_max": 500,  # sandbox guess at the shelf size (300033 beyond)
    "live_push_busy_seconds": 0,  # a pushed card blocks the next push this long (300047)
    # msgSecCheck: word -> label (10001 ad, 20001 politics, 20002 porn, 20003 abuse,
    # 20006 illegal, 20008 fraud); matched case-insensitively in content/title/nickname
    "sec_check_words": DEFAULT_SEC_CHECK_WORDS,
    "sec_check_review_words": DEFAULT_SEC_CHECK_REVIEW_WORDS,
    "sec_check_visit_ttl_seconds": 7200,  # the openid must have visited within 2 hours
    # Official Account (公众号): callback pushes, template and custom (客服) messages
    "oa_original_id": "gh_heli_sandbox",  # ToUserName of every push
    "oa_callback_url": "http://127.0.0.1:8000/callbacks/wechat-oa",  # POST /sandbox/oa/config
    "oa_push_timeout": 5.0,  # WeChat waits 5 s for the callback's answer ...
    "oa_push_attempts": 3,  # ... and tries 3 times in all
    "oa_encrypt": True,  # safe (AES) mode for the pushes the sandbox makes on its own
    "oa_templates": DEFAULT_OA_TEMPLATES,
    "oa_template_per_day": 100_000,  # 45009 beyond (reset at midnight China time)
    "oa_template_per_second": None,  # burst cap, 45009 "api freq out of limit"; None = off
    "oa_template_finish_delay": 0.2,  # seconds until TEMPLATESENDJOBFINISH is pushed
    "oa_client_msg_id_ttl": 600,  # same touser + client_msg_id within 10 min is not resent
    "oa_custom_window_seconds": 48 * 3600,  # custom messages only within 48 h of an interaction
    "oa_custom_per_interaction": 20,  # 45047 beyond
    "oa_custom_per_day": 500_000,  # 45009 beyond
    # OA web authorisation (oa_oauth.py, api-facts §7.3)
    "oauth_code_ttl_seconds": 300,  # a code unused this long answers 40029
    "oauth_token_expires_in": 7200,
    "oauth_refresh_days": 30,
    "oauth_authorize_per_minute": 60,  # per user, page error 10009 beyond (sandbox guess)
    "oauth_domains": None,  # 网页授权域名 (host or host:port); None = any (10003 otherwise)
    # mini-program shipping information management (wechat_shipping*.py, api-facts §7.1)
    "shipping_ingest_delay_seconds": 0,  # a payment this young is not found yet (10060001)
    "shipping_auto_confirm_seconds": 10 * 24 * 3600,  # express: receipt auto-confirmed (UNVERIFIED)
    "shipping_auto_confirm_other_seconds": 2 * 24 * 3600,  # other logistics types (UNVERIFIED)
    "shipping_settlement_delay_seconds": 24 * 3600,  # receipt confirmed -> settled (sandbox guess)
    "shipping_remind_after_seconds": 48 * 3600,  # unshipped this long -> remind_shipping push
    "shipping_split_max": 15,  # packages per payment (current doc; an older one says 10)
    "wxa_original_id": "gh_heli_miniapp",  # ToUserName of the mini-program's message pushes
    "wxa_message_url": None,  # 消息推送 URL (JSON, plain); None = pushes are only recorded
    "wxa_push_timeout": 5.0,  # WeChat waits 5 s for `success` ...
    "wxa_push_retry_delays": [1, 2],  # ... and tries 3 times in all (compressed schedule)
    # order platforms (sandbox/platforms/): Douyin, Taobao/Tmall, JD, Pinduoduo, Youzan. Each
    # platform's POST /sandbox/platforms/{p}/config changes its copy of these at runtime.
    "token_ttl_seconds": 86400,  # access tokens of the shops (POST .../shops, refresh)
    "platform_token_grace_seconds": 300,  # a refreshed-away access token keeps working this long
    "fault_timeout_seconds": 10,  # the `timeout` fault sleeps this long before answering
    "douyin_max_window_seconds": 24 * 3600,  # order.searchList span (unpublished upstream)
    "platform_rate_per_second": None,  # token bucket per platform app; None = no limit
    # message pushes of Douyin and Youzan (sandbox/platforms/pushes.py): platform -> URL
    # (None = recorded, never sent); each platform's /config changes them at runtime. The
    # resend schedules are unpublished upstream: a compressed sandbox choice.
    "platform_push_urls": {},
    "platform_push_timeout": 5.0,
    "platform_push_retry_delays": [1, 2, 5],
    "douyin_push_batch_size": 20,  # Douyin batches messages in one POST (its size: unpublished)
    # 快递100 (sandbox/courier*.py): the callback must answer within 20 s (documented); the resend
    # schedule is unpublished, so these delays are a sandbox choice.
    "courier_push_timeout": 20.0,
    "courier_push_retry_delays": [60, 300, 900, 1800],
    "courier_repeat_order_id": "first",  # a repeated e-waybill orderId: "first" waybill or "new"
    # WeChat Pay
    "pay_max_clock_skew": 300,  # seconds between the request timestamp and the sandbox clock
    "notify_retry_delays": [0.5, 1, 2, 5, 10, 30],  # real: 15s, 15s, 30s, 3m, 10m, ...
    "notify_http_hosts": ["127.0.0.1", "localhost", "::1"],  # plain-http notify_url hosts; None=any
    "notify_timeout": 5.0,
    # optional callable(url, headers, body) -> HTTP status, to deliver into an in-process test app
    "notify_transport": None,
    "refund_delay_seconds": 0.2,
    "refund_query_qps": 300,
    "stale_timestamp_age": 600,
    # where ids handed out survive a restart (sandbox/ids.py); None = in memory only.
    # `python -m sandbox` uses $SANDBOX_STATE_DIR, default instance/sandbox.
    "state_dir": None,
    # key files (relative to the repository root unless absolute)
    "merchant_public_key_file": "sandbox/keys/merchant_public_key.pem",
    "platform_private_key_file": "sandbox/keys/wechatpay_private_key.pem",
}


def parse_env_file(path: Path | str = ENV_FILE) -> dict[str, str]:
    """Read plain `KEY=VALUE` lines; `#` comments and blank lines are skipped, quotes are not."""
    values: dict[str, str] = {}
    for raw_line in Path(path).read_text(encoding="utf-8").splitlines():
        line = raw_line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, value = line.split("=", 1)
        values[key.strip()] = value.strip()
    return values


def build_settings(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Defaults, then the env file, then the caller's overrides."""
    settings: dict[str, Any] = dict(DEFAULTS)
    settings.update(parse_env_file())
    settings.update(overrides or {})
    return settings


def repo_path(value: str) -> Path:
    """Resolve a path from the env file, which is written relative to the repository root."""
    path = Path(value)
    return path if path.is_absolute() else REPO_ROOT / path
