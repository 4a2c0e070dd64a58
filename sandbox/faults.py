"""Injected faults: scripted errors so tests can prove the backend copes with a failing vendor.

`times` semantics for both error kinds: None = every call until cleared, N = the next N calls.
Callers hold the sandbox lock while they use a `Faults` object.
"""

from __future__ import annotations

from typing import Any

REFUND_RESULTS = ("SUCCESS", "ABNORMAL", "CLOSED")

# errmsg the real platform uses for the errcodes tests most often inject
WECHAT_ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40014: "invalid access_token",
    42001: "access_token expired",
    45009: "reach max api daily quota limit",
    40164: "invalid ip, not in whitelist",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    48001: "api unauthorized",
}

PAY_ERROR_CODES = {429: "FREQUENCY_LIMITED", 401: "SIGN_ERROR", 403: "NO_AUTH", 404: "NOT_FOUND"}

FAULT_KEYS = (
    "wechat_errcode",
    "wechat_errmsg",
    "wechat_errcode_times",
    "token_errcode",
    "token_errcode_times",
    "pay_http_status",
    "pay_error_code",
    "pay_times",
    "latency_ms",
    "refund_result",
)


class Faults:
    def __init__(self) -> None:
        self.wechat_errcode: int | None = None
        self.wechat_errmsg: str | None = None
        self.wechat_errcode_times: int | None = None
        self.token_errcode: int | None = None  # cgi-bin/token and stable_token, e.g. 40164, -1
        self.token_errcode_times: int | None = None
        self.pay_http_status: int | None = None
        self.pay_error_code: str | None = None
        self.pay_times: int | None = None
        self.latency_ms: int = 0
        self.refund_result: str = "SUCCESS"

    def update(self, payload: dict[str, Any]) -> None:
        """Merge a `POST /sandbox/faults` body; raises ValueError on a bad key or value."""
        unknown = set(payload) - set(FAULT_KEYS)
        if unknown:
            raise ValueError(f"unknown fault keys: {sorted(unknown)}")
        for key in ("wechat_errcode", "token_errcode", "pay_http_status", "latency_ms"):
            if key in payload and not isinstance(payload[key], int | None):
                raise ValueError(f"{key} must be an integer or null")
        for key in ("wechat_errcode_times", "token_errcode_times", "pay_times"):
            value = payload.get(key)
            if value is not None and (not isinstance(value, int) or value < 0):
                raise ValueError(f"{key} must be a non-negative integer or null")
        if payload.get("refund_result", "SUCCESS") not in REFUND_RESULTS:
            raise ValueError(f"refund_result must be one of {REFUND_RESULTS}")
        # a new error without a count means "forever", whatever an earlier fault left behind
        if "wechat_errcode" in payload and "wechat_errcode_times" not in payload:
            self.wechat_errcode_times = None
        if "token_errcode" in payload and "token_errcode_times" not in payload:
            self.token_errcode_times = None
        if "pay_http_status" in payload and "pay_times" not in payload:
            self.pay_times = None
        for key, value in payload.items():
            setattr(self, key, value)
        if self.latency_ms is None:
            self.latency_ms = 0

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, key) for key in FAULT_KEYS}

    def take_wechat_error(self) -> tuple[int, str] | None:
        """The errcode this WeChat API call must answer, consuming one of its `times`."""
        if not self.wechat_errcode or not _take(self, "wechat_errcode_times"):
            return None
        errcode = self.wechat_errcode
        return errcode, self.wechat_errmsg or WECHAT_ERRMSG.get(errcode, "injected fault")

    def take_token_error(self) -> tuple[int, str] | None:
        """The errcode this token fetch must answer (WeChat API faults spare token calls)."""
        if not self.token_errcode or not _take(self, "token_errcode_times"):
            return None
        errcode = self.token_errcode
        return errcode, WECHAT_ERRMSG.get(errcode, "injected fault")

    def take_pay_error(self) -> tuple[int, str, str] | None:
        """(HTTP status, code, message) this WeChat Pay call must answer, if any."""
        if not self.pay_http_status or not _take(self, "pay_times"):
            return None
        status = self.pay_http_status
        code = self.pay_error_code or PAY_ERROR_CODES.get(status, "SYSTEM_ERROR")
        return status, code, "系统繁忙，请稍后重试" if status >= 500 else "injected fault"


def _take(faults: Faults, times_attr: str) -> bool:
    remaining = getattr(faults, times_attr)
    if remaining is None:
        return True
    if remaining <= 0:
        return False
    setattr(faults, times_attr, remaining - 1)
    return True
