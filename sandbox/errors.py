"""The two error shapes the real platforms answer with."""

from __future__ import annotations

import secrets


class WeChatError(Exception):
    """api.weixin.qq.com answers HTTP 200 with `{"errcode": N, "errmsg": "..."}`."""

    def __init__(self, errcode: int, errmsg: str):
        super().__init__(f"{errcode} {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg

    def body(self) -> dict:
        # the real errmsg ends with a request id; keep it so logs look like production ones
        return {"errcode": self.errcode, "errmsg": f"{self.errmsg} rid: {secrets.token_hex(8)}"}


class PayError(Exception):
    """api.mch.weixin.qq.com answers a 4xx/5xx with `{"code": "PARAM_ERROR", "message": "..."}`."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(f"{status} {code} {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict:
        return {"code": self.code, "message": self.message}


def param_error(message: str) -> PayError:
    return PayError(400, "PARAM_ERROR", message)


class ControlError(Exception):
    """A bad call to a `/sandbox/...` control endpoint: HTTP 400 `{"error": "..."}`."""

    def __init__(self, message: str, status: int = 400):
        super().__init__(message)
        self.message = message
        self.status = status
