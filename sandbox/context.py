"""The object every route works with: settings, keys and state of one sandbox app."""

from __future__ import annotations

import time
from typing import Any

from flask import current_app

from .crypto import load_private_key, load_public_key
from .settings import build_settings, repo_path
from .state import SandboxState


class Sandbox:
    def __init__(self, overrides: dict[str, Any] | None = None):
        self.settings = build_settings(overrides)
        s = self.settings
        self.appid: str = s["WECHAT_APPID"]
        self.mchid: str = s["WECHATPAY_MCHID"]
        self.cert_serial: str = s["WECHATPAY_CERT_SERIAL"]
        self.apiv3_key: str = s["WECHATPAY_APIV3_KEY"]
        self.public_key_id: str = s["WECHATPAY_PUBLIC_KEY_ID"]
        if len(self.apiv3_key.encode("utf-8")) != 32:
            raise ValueError("WECHATPAY_APIV3_KEY must be exactly 32 bytes (AES-256)")
        # appid -> secret of every app the WeChat stand-in knows (mini-program, official account)
        self.apps: dict[str, str] = {self.appid: s["WECHAT_SECRET"]}
        if s.get("WECHAT_OA_APPID"):
            self.apps[s["WECHAT_OA_APPID"]] = s.get("WECHAT_OA_SECRET", "")
        # platform -> (app key / client id, secret) of the alliance's ISV app on each order platform
        self.platform_apps: dict[str, tuple[str, str]] = {
            "douyin": (s["DOUYIN_APP_KEY"], s["DOUYIN_APP_SECRET"]),
            "taobao": (s["TAOBAO_APP_KEY"], s["TAOBAO_APP_SECRET"]),
            "jd": (s["JD_APP_KEY"], s["JD_APP_SECRET"]),
            "pdd": (s["PDD_CLIENT_ID"], s["PDD_CLIENT_SECRET"]),
            "youzan": (s["YOUZAN_CLIENT_ID"], s["YOUZAN_CLIENT_SECRET"]),
        }
        self.merchant_public_key = load_public_key(repo_path(s["merchant_public_key_file"]))
        self.platform_private_key = load_private_key(repo_path(s["platform_private_key_file"]))
        self.state = SandboxState(templates=s["subscribe_templates"], settings=s)

    def wechat_now(self) -> float:
        return self.state.now()

    @staticmethod
    def real_now() -> float:
        """WeChat Pay signs with wall-clock timestamps: the skew check must not see test offsets."""
        return time.time()


def current_sandbox() -> Sandbox:
    return current_app.extensions["sandbox"]
