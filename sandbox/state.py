"""In-memory state of the sandbox. One re-entrant lock guards all of it: the app is threaded and
notification/refund workers run in background threads. Never hold the lock while doing HTTP."""

from __future__ import annotations

import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from .faults import Faults
from .ids import Ids
from .oa_state import OaData, Outbox
from .platforms.store import PlatformData, build_platforms
from .settings import build_settings
from .wxa_state import WxaData


@dataclass
class Token:
    value: str
    appid: str
    kind: str  # "token" (cgi-bin/token) or "stable" (cgi-bin/stable_token)
    expires_at: float
    cut_at: float | None = None  # superseded: valid until then, then answers 40001


@dataclass
class LoginCode:
    openid: str
    unionid: str | None
    appid: str
    expires_at: float


@dataclass
class WeChatData:
    tokens: dict[str, Token] = field(default_factory=dict)
    latest_token: dict[str, str] = field(default_factory=dict)  # appid -> newest cgi-bin/token
    stable_token: dict[str, str] = field(default_factory=dict)  # appid -> current stable token
    force_refreshes: dict[str, list[float]] = field(default_factory=dict)
    token_calls: Counter = field(default_factory=Counter)
    codes: dict[str, LoginCode] = field(default_factory=dict)
    session_keys: dict[str, str] = field(default_factory=dict)  # openid -> latest session_key
    known_openids: set[str] = field(default_factory=set)
    login_calls: dict[str, deque] = field(default_factory=dict)  # openid -> call times
    credits: Counter = field(default_factory=Counter)  # (openid, template_id) -> credits
    templates: dict[str, list[str]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)
    wxacodes: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Order:
    out_trade_no: str
    request: dict[str, Any]  # the JSAPI body as received: replays are compared against it
    prepay_id: str
    created_at: float
    trade_state: str = "NOTPAY"
    transaction_id: str | None = None
    success_time: str | None = None


@dataclass
class Refund:
    out_refund_no: str
    refund_id: str
    out_trade_no: str
    transaction_id: str
    refund: int
    total: int
    reason: str | None
    notify_url: str | None
    create_time: str
    status: str = "PROCESSING"
    success_time: str | None = None


@dataclass
class PayData:
    orders: dict[str, Order] = field(default_factory=dict)
    by_prepay_id: dict[str, str] = field(default_factory=dict)
    by_transaction_id: dict[str, str] = field(default_factory=dict)
    refunds: dict[str, Refund] = field(default_factory=dict)
    notifications: list[dict[str, Any]] = field(default_factory=list)
    refund_queries: deque = field(default_factory=deque)  # recent query times, for the QPS cap


class SandboxState:
    def __init__(self, templates: dict[str, list[str]], settings: dict[str, Any] | None = None):
        self.lock = threading.RLock()
        self._default_templates = templates
        self._settings = build_settings() if settings is None else settings
        self.clock_offset = 0.0
        self.generation = 0
        self.ids = Ids(self._settings.get("state_dir"))  # kept across reset and restart
        self.cancelled = threading.Event()
        self.faults = Faults()
        self.wechat = WeChatData(templates={k: list(v) for k, v in templates.items()})
        self.pay = PayData()
        self.wxa = WxaData()  # temporary media, live rooms and goods, msgSecCheck
        self.oa = OaData()  # Official Account: followers, messages, quotas, its faults
        self.oauth = None  # web authorisation (oa_oauth.py makes it on first use)
        self.oa_outbox = Outbox()  # delayed pushes to the OA callback (TEMPLATESENDJOBFINISH)
        self.oa_callback_url: str | None = None  # set at runtime; kept across reset (config)
        # the five order platforms: shops, tokens, orders, faults, stats, runtime config
        self.platforms: dict[str, PlatformData] = build_platforms(self._settings)

    def now(self) -> float:
        """The WeChat clock (token/code lifetimes, rate windows); tests may push it forward."""
        return time.time() + self.clock_offset

    def reset(self) -> None:
        """Forget everything and stop the background workers of the previous generation."""
        with self.lock:
            self.cancelled.set()
            self.cancelled = threading.Event()
            self.generation += 1
            self.clock_offset = 0.0
            self.faults = Faults()
            self.wechat = WeChatData(
                templates={k: list(v) for k, v in self._default_templates.items()}
            )
            self.pay = PayData()
            self.wxa = WxaData()
            self.oa = OaData()
            self.oauth = None
            self.oa_outbox.clear()
            self.platforms = build_platforms(self._settings)

    def stop(self) -> None:
        """Wake and end every background worker (server shutdown)."""
        with self.lock:
            self.generation += 1
            self.cancelled.set()
        self.oa_outbox.stop()

    def pause(self, seconds: float, generation: int) -> bool:
        """Sleep in a worker; False when the sandbox was reset or stopped meanwhile."""
        with self.lock:
            if generation != self.generation:
                return False
            cancelled = self.cancelled
        cancelled.wait(max(0.0, seconds))
        with self.lock:
            return generation == self.generation
