"""One error shape: {"code": "UPPER_SNAKE", "message": "简体中文", "details": {...}}."""

from __future__ import annotations

from typing import Any, TypeVar

Row = TypeVar("Row")


class DomainError(Exception):
    status = 400
    code = "BAD_REQUEST"
    message = "请求有误"

    def __init__(
        self,
        message: str | None = None,
        *,
        code: str | None = None,
        details: dict | None = None,
        status: int | None = None,
    ):
        self.message = message or self.message
        self.code = code or self.code
        self.details = details or {}
        self.status = status or self.status
        super().__init__(f"{self.code}: {self.message}")

    def to_dict(self) -> dict:
        body = {"code": self.code, "message": self.message}
        if self.details:
            body["details"] = self.details
        return body


class BadRequest(DomainError):
    status, code, message = 400, "BAD_REQUEST", "请求有误"


class Unauthorized(DomainError):
    status, code, message = 401, "UNAUTHORIZED", "请先登录"


class Forbidden(DomainError):
    status, code, message = 403, "FORBIDDEN", "无权操作"


class NotFound(DomainError):
    status, code, message = 404, "NOT_FOUND", "未找到"


class Conflict(DomainError):
    status, code, message = 409, "CONFLICT", "状态冲突"


class SoldOut(Conflict):
    code, message = "SOLD_OUT", "库存不足，已抢光"


class RuleBroken(DomainError):
    status, code, message = 422, "RULE_BROKEN", "不符合业务规则"


class TooManyRequests(DomainError):
    """A rate is spent: `retry_after` seconds until it opens again (the Retry-After header)."""

    status, code, message = 429, "TOO_MANY_REQUESTS", "操作太频繁，请稍后再试"

    def __init__(self, message: str | None = None, *, retry_after: int = 60, **kwargs):
        self.retry_after = max(1, int(retry_after))
        details = {"retry_after": self.retry_after, **(kwargs.pop("details", None) or {})}
        super().__init__(message, details=details, **kwargs)

    @property
    def headers(self) -> dict:
        return {"Retry-After": str(self.retry_after)}


class UpstreamUnavailable(DomainError):
    """WeChat or WeChat Pay could not be reached or answered an error we cannot fix here."""

    status, code, message = 503, "UPSTREAM_UNAVAILABLE", "微信服务暂时不可用，请稍后再试"


class NotConfigured(DomainError):
    """A callback whose secret is not configured: it refuses to run rather than accept what it
    cannot authenticate."""

    status, code, message = 503, "NOT_CONFIGURED", "服务尚未配置完成，暂不受理"


class UpstreamIdTaken(DomainError):
    """WeChat or a platform handed out an id we already hold for something else: its state and
    ours disagree, and a person must look (never overwrite, never a 500)."""

    status, code, message = (
        502,
        "UPSTREAM_ID_TAKEN",
        "外部平台返回的编号已被占用，请联系技术人员核对",
    )


def get_or_404(session: Any, model: type[Row], ident: object, message: str, *, code: str) -> Row:
    """The row of model with this primary key; NotFound(message, code) when there is none."""
    row = session.get(model, ident)
    if row is None:
        raise NotFound(message, code=code)
    return row
