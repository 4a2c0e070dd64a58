"""Which outside services Heli talks to for real and which to the sandbox stand-ins: read from
the same settings the clients take their base URLs from (backend/config.py: with SANDBOX_URL
set, every base not set on its own points at the sandbox). Only hosts are shown, never a key:
of the credentials, only whether each is set."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from backend.config import Config

SANDBOX, REAL = "沙箱", "正式"


@dataclass(frozen=True)
class Outside:
    name: str
    base_settings: tuple[str, ...]  # the base URLs its client uses
    credentials: tuple[str, ...]  # settings that must be set to call it for real


OUTSIDE = [
    Outside("微信小程序接口", ("WECHAT_API_BASE",), ("WECHAT_APPID", "WECHAT_SECRET")),
    Outside(
        "微信公众号（网页授权）",
        ("WECHAT_OAUTH_BASE",),
        ("WECHAT_OA_APPID", "WECHAT_OA_SECRET", "WECHAT_OA_TOKEN"),
    ),
    Outside(
        "微信支付",
        ("WECHATPAY_API_BASE",),
        (
            "WECHATPAY_MCHID",
            "WECHATPAY_CERT_SERIAL",
            "WECHATPAY_PRIVATE_KEY",
            "WECHATPAY_APIV3_KEY",
        ),
    ),
    Outside(
        "抖店", ("DOUYIN_API_BASE", "DOUYIN_OAUTH_BASE"), ("DOUYIN_APP_KEY", "DOUYIN_APP_SECRET")
    ),
    Outside(
        "淘宝", ("TAOBAO_API_BASE", "TAOBAO_OAUTH_BASE"), ("TAOBAO_APP_KEY", "TAOBAO_APP_SECRET")
    ),
    Outside("京东", ("JD_API_BASE", "JD_OAUTH_BASE"), ("JD_APP_KEY", "JD_APP_SECRET")),
    Outside("拼多多", ("PDD_API_BASE", "PDD_OAUTH_BASE"), ("PDD_CLIENT_ID", "PDD_CLIENT_SECRET")),
    Outside(
        "有赞",
        ("YOUZAN_API_BASE", "YOUZAN_OAUTH_BASE"),
        ("YOUZAN_CLIENT_ID", "YOUZAN_CLIENT_SECRET"),
    ),
    Outside(
        "快递100（电子面单、物流跟踪）",
        ("KUAIDI100_API_BASE", "KUAIDI100_POLL_BASE"),
        ("KUAIDI100_KEY", "KUAIDI100_SECRET", "KUAIDI100_CUSTOMER"),
    ),
]


@dataclass(frozen=True)
class Base:
    setting: str
    host: str  # host[:port] of the URL, nothing else of it
    mode: str  # 沙箱 / 正式
    usual: bool  # the service's own host (the setting's default), for 正式


@dataclass(frozen=True)
class Connection:
    name: str
    bases: list[Base]
    credentials_set: int
    credentials_needed: int

    @property
    def mode(self) -> str:
        """沙箱 when any of its bases goes to the sandbox (a mixed one is not real)."""
        return SANDBOX if any(base.mode == SANDBOX for base in self.bases) else REAL


def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.netloc.rsplit("@", 1)[-1] or url.split("/", 1)[0]


def _local(url: str) -> bool:
    name = urlsplit(url).hostname or ""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _mode(url: str, sandbox: str) -> str:
    if sandbox and url.startswith(sandbox.rstrip("/")):
        return SANDBOX
    return SANDBOX if _local(url) else REAL


def connections(config: Mapping) -> list[Connection]:
    """Each outside service: sandbox or real, the host of each base URL, how many of its
    credentials are set."""
    sandbox = config.get("SANDBOX_URL") or ""
    defaults = Config()
    answers = []
    for outside in OUTSIDE:
        bases = []
        for setting in outside.base_settings:
            url = config.get(setting) or getattr(defaults, setting)
            host = _host(url)
            bases.append(
                Base(
                    setting=setting,
                    host=host,
                    mode=_mode(url, sandbox),
                    usual=host == _host(getattr(defaults, setting)),
                )
            )
        answers.append(
            Connection(
                name=outside.name,
                bases=bases,
                credentials_set=sum(1 for name in outside.credentials if config.get(name)),
                credentials_needed=len(outside.credentials),
            )
        )
    return answers
