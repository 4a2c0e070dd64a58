"""The path every platform call takes: the platform's own authentication (app key, signature,
timestamp), the token bucket, scripted faults, the access-token check, the method, the stats.

Each platform module describes itself with an `Api` (how to authenticate, its methods, how it
writes errors) and its routes call `serve(api)`. Errors are raised as `ApiError(kind)`; the
platform turns the kind into its own code and envelope.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Response, request

from ..context import Sandbox, current_sandbox
from .orders import Order
from .store import PlatformData

ERROR_KINDS = (
    "app_key",  # unknown app key / client id
    "signature",
    "timestamp",  # more than 600 s from the platform's clock
    "token",  # access token missing, unknown or expired
    "refresh_token",  # refresh token unknown or already used
    "code",  # authorisation code unknown, used or expired
    "redirect_uri",  # the exchange names another redirect_uri than the code was sent to
    "missing",  # a required parameter is absent
    "parameter",  # a parameter is invalid (window too wide, page size over 100, ...)
    "window",  # the window is too wide (Youzan has its own code; others answer "parameter")
    "method",  # unknown method / API
    "business",  # the platform refuses the operation (shipping an order that is not PAID)
    "rate_limited",
    "server_error",  # transient
)
MAX_SKEW_SECONDS = 600
MAX_PAGE_SIZE = 100
HTML_500 = (
    "<html>\r\n<head><title>500 Internal Server Error</title></head>\r\n<body>\r\n"
    "<center><h1>500 Internal Server Error</h1></center>\r\n<hr><center>Tengine</center>\r\n"
    "</body>\r\n</html>\r\n"
)


class ApiError(Exception):
    def __init__(self, kind: str, message: str = ""):
        if kind not in ERROR_KINDS:
            raise ValueError(f"unknown error kind {kind}")
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass
class Call:
    """An authenticated request: which method, its business params, and who it acts for."""

    method: str
    params: dict[str, Any]
    access_token: str | None = None
    refresh_token: str | None = None  # a refresh call: faults may name the shop it belongs to
    shop_hint: str | None = None  # a token call naming its shop (Youzan grant_id)


@dataclass
class Ctx:
    """What a method handler gets; it runs under the sandbox lock."""

    sb: Sandbox
    data: PlatformData
    call: Call
    shop_id: str | None
    now: float
    outcome: str | None = None  # a refusal answered inside a success envelope (JD shipment)

    @property
    def params(self) -> dict[str, Any]:
        return self.call.params


@dataclass
class Method:
    handler: Callable[[Ctx], dict[str, Any]]
    needs_token: bool = True


@dataclass
class Api:
    platform: str
    authenticate: Callable[[Sandbox], Call]  # raises ApiError
    methods: dict[str, Method]
    render_error: Callable[[ApiError], tuple[dict[str, Any], int]]
    strip_list: Callable[[dict[str, Any]], bool] = field(default=lambda body: False)


def json_response(body: Any, status: int = 200) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status=status, mimetype="application/json")


def serve(api: Api) -> Response:
    """Answer one platform call the way the platform would."""
    sb = current_sandbox()
    method, outcome, fault = "?", "ok", None
    try:
        call = api.authenticate(sb)
        method = call.method
        spec = api.methods.get(method)
        if spec is None:
            raise ApiError("method", f"unknown method {method}")
        with sb.state.lock:
            data = sb.state.platforms[api.platform]
            if data.bucket is not None and not data.bucket.take():
                raise ApiError("rate_limited", "rate_per_second exceeded")
            if call.access_token is not None:
                shop_id = data.token_owner(call.access_token)
            elif call.refresh_token is not None:
                shop_id = data.refresh_tokens.get(call.refresh_token)
            else:
                shop_id = call.shop_hint
            rule = data.take_fault(time.time(), shop_id, spec.needs_token)
            fault = rule.kind if rule else None
            if fault:
                data.stats[f"fault:{fault}"] += 1  # now: a timed-out call is counted late
            variant = rule.malformed_variant() if fault == "malformed" else None
            delay = data.config.fault_timeout_seconds
            cancelled = sb.state.cancelled
        if fault == "timeout":
            cancelled.wait(delay)  # then answer normally: the client has given up by now
        elif fault == "http_500":
            outcome = "http_500"
            return Response(HTML_500, status=500, mimetype="text/html")
        elif fault == "rate_limit":
            raise ApiError("rate_limited", "injected fault")
        elif fault == "server_error":
            raise ApiError("server_error", "injected fault")
        elif fault == "token_expired":
            raise ApiError("token", "injected fault")
        with sb.state.lock:
            data = sb.state.platforms[api.platform]
            now = time.time()
            shop_id = None
            if spec.needs_token:
                shop_id = data.valid_shop(call.access_token, now)
                if shop_id is None:
                    raise ApiError("token", "access token missing, unknown or expired")
            ctx = Ctx(sb, data, call, shop_id, now)
            body = spec.handler(ctx)
            outcome = ctx.outcome or outcome
        if fault == "malformed":
            outcome = "malformed"
            return _malformed(api, body, variant)
        return json_response(body)
    except ApiError as error:
        outcome = error.kind
        body, status = api.render_error(error)
        return json_response(body, status)
    finally:
        _record(sb, api.platform, method, outcome)
        from . import pushes  # (imports the platform modules, which import this one)

        pushes.flush(sb, api.platform)  # a write-back ship is a change the platform pushes


def _malformed(api: Api, body: dict[str, Any], variant: str | None) -> Response:
    if variant == "missing_list" and api.strip_list(body):
        return json_response(body)
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text[: max(1, len(text) // 2)], mimetype="application/json")


def _record(sb: Sandbox, platform: str, method: str, outcome: str) -> None:
    with sb.state.lock:
        stats = sb.state.platforms[platform].stats
        stats["calls"] += 1
        stats[f"method:{method}"] += 1
        stats[f"outcome:{outcome}"] += 1
        stats[f"method_outcome:{method}:{outcome}"] += 1


def list_page(
    ctx: Ctx,
    start: int,
    end: int,
    number: int,
    size: int,
    render: Callable[[Order, PlatformData], dict[str, Any]],
    desc: bool = True,
    accept: Callable[[Order], bool] | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """Render page `number` (0-based) of the shop's window; with `mutate_while_paging`, then
    touch one order of the window so it moves while the client pages."""
    data = ctx.data
    assert ctx.shop_id is not None
    page = data.page(ctx.shop_id, start, end, number, size, desc, accept)
    rows = [render(order, data) for order in page.orders]
    data.stats["pages"] += 1
    if data.config.mutate_while_paging and page.in_window is not None:
        data.touch(page.in_window, ctx.now)
    return rows, page.total


# ---- business parameters, as the platforms accept them (numbers may come as strings)


def int_param(
    params: dict[str, Any],
    name: str,
    default: int | None = None,
    low: int | None = None,
    high: int | None = None,
) -> int:
    value = params.get(name)
    if value is None or value == "":
        if default is None:
            raise ApiError("missing", f"{name} is required")
        return default
    if isinstance(value, bool):
        raise ApiError("parameter", f"{name} must be an integer")
    if isinstance(value, str):
        text = value.strip()
        if not text.lstrip("-").isdigit():
            raise ApiError("parameter", f"{name} must be an integer")
        value = int(text)
    elif isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int):
        raise ApiError("parameter", f"{name} must be an integer")
    if (low is not None and value < low) or (high is not None and value > high):
        raise ApiError("parameter", f"{name} must be between {low} and {high}, got {value}")
    return value


def str_param(params: dict[str, Any], name: str) -> str:
    value = params.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise ApiError("missing", f"{name} is required")
    return value.strip()


def bool_param(params: dict[str, Any], name: str, default: bool) -> bool:
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise ApiError("parameter", f"{name} must be true or false")


def check_window(data: PlatformData, start: int, end: int) -> None:
    if end < start:
        raise ApiError("parameter", "the window ends before it starts")
    limit = data.config.max_window_seconds
    if end - start > limit:
        raise ApiError("window", f"the window spans {end - start} s, at most {limit} s")


def page_size(params: dict[str, Any], name: str, default: int) -> int:
    return int_param(params, name, default, 1, MAX_PAGE_SIZE)


def check_skew(unix: float, platform: str) -> None:
    """Against the platform's clock: real time plus its `clock_offset_seconds` (a test can
    put the platform's clock ahead of ours)."""
    sb = current_sandbox()
    with sb.state.lock:
        offset = sb.state.platforms[platform].config.clock_offset_seconds
    if abs(unix - (time.time() + offset)) > MAX_SKEW_SECONDS:
        raise ApiError("timestamp", f"timestamp is more than {MAX_SKEW_SECONDS} s off")


def form_params() -> dict[str, str]:
    """Query and form parameters of a gateway call as one dict (the form wins a clash)."""
    return {**request.args.to_dict(), **request.form.to_dict()}
