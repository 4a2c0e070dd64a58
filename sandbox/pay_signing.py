"""APIv3 signatures in both directions.

Requests: the merchant signs `METHOD\\nPATH?QUERY\\ntimestamp\\nnonce\\nbody\\n` in the
Authorization header, checked with the merchant public key. Responses and notifications: the
platform signs `timestamp\\nnonce\\nbody\\n` (Wechatpay-* headers) with its private key; clients
verify with the WeChat Pay public key whose id is `Wechatpay-Serial`.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from flask import Request, Response

from .context import Sandbox
from .crypto import AUTH_SCHEME, parse_authorization, random_nonce, rsa_sign, rsa_verify
from .errors import PayError

_AUTH_PARAMS = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")


def _path_with_query(request: Request) -> str:
    # the signed URL is the one on the wire; werkzeug's server keeps it as RAW_URI
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw:
        return raw
    query = request.query_string.decode("latin-1")
    return quote(request.path) + (f"?{query}" if query else "")


def verify_request(sb: Sandbox, request: Request) -> None:
    """Raise PayError unless the Authorization header is a valid merchant signature."""
    params = parse_authorization(request.headers.get("Authorization", ""))
    if params is None:
        raise PayError(401, "SIGN_ERROR", f"Authorization 缺失或认证类型不是 {AUTH_SCHEME}")
    missing = [name for name in _AUTH_PARAMS if not params.get(name)]
    if missing:
        raise PayError(401, "SIGN_ERROR", f"Authorization 缺少参数: {', '.join(missing)}")
    if params["mchid"] != sb.mchid:
        raise PayError(400, "MCH_NOT_EXISTS", "商户号不存在")
    if params["serial_no"].upper() != sb.cert_serial.upper():
        raise PayError(401, "SIGN_ERROR", "商户证书序列号有误，请检查 serial_no")
    try:
        timestamp = int(params["timestamp"])
    except ValueError:
        raise PayError(401, "SIGN_ERROR", "timestamp 不是整数") from None
    if abs(sb.real_now() - timestamp) > float(sb.settings["pay_max_clock_skew"]):
        raise PayError(401, "SIGN_ERROR", "请求时间戳与当前时间相差超过 5 分钟")
    try:
        body = request.get_data(cache=True).decode("utf-8")
    except UnicodeDecodeError:
        raise PayError(400, "PARAM_ERROR", "请求体不是 UTF-8") from None
    message = (
        f"{request.method}\n{_path_with_query(request)}\n{params['timestamp']}\n"
        f"{params['nonce_str']}\n{body}\n"
    )
    if not rsa_verify(sb.merchant_public_key, message, params["signature"]):
        raise PayError(401, "SIGN_ERROR", "签名错误，请检查签名串与商户私钥")


def platform_headers(
    sb: Sandbox, body: str, *, timestamp: int | None = None, signature: str | None = None
) -> dict[str, str]:
    """The Wechatpay-* headers of a response or notification; `signature` overrides for faults."""
    ts = str(timestamp if timestamp is not None else int(sb.real_now()))
    nonce = random_nonce(32)
    if signature is None:
        signature = rsa_sign(sb.platform_private_key, f"{ts}\n{nonce}\n{body}\n")
    return {
        "Wechatpay-Timestamp": ts,
        "Wechatpay-Nonce": nonce,
        "Wechatpay-Signature": signature,
        "Wechatpay-Serial": sb.public_key_id,
        "Wechatpay-Signature-Type": AUTH_SCHEME,
    }


def sign_response(sb: Sandbox, response: Response) -> Response:
    body = response.get_data().decode("utf-8")
    response.headers.update(platform_headers(sb, body))
    response.headers["Request-ID"] = random_nonce(24)
    return response


def pay_json(data: Any, status: int = 200) -> Response:
    """Real responses are compact UTF-8 JSON with Chinese left unescaped."""
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return Response(body, status=status, mimetype="application/json")
