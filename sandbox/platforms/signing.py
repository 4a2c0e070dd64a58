"""The platforms' request signatures, written from docs/platforms.md (not from our adapters, so
the two cross-check). Every function returns the signature the platform expects."""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any


def canonical_json(value: Any) -> str:
    """Douyin's `param_json`: keys sorted at every level, compact, non-ASCII kept. The gateway
    re-serialises the body this way before signing (why the SDKs must sort keys)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def douyin_sign(
    secret: str,
    *,
    app_key: str,
    method: str,
    param_json: str,
    timestamp: str,
    v: str = "2",
    sign_method: str = "hmac-sha256",
) -> str:
    """hex(HMAC-SHA256(key=secret, pattern)) in lower case; the md5 variant is md5(pattern)."""
    pattern = (
        f"{secret}app_key{app_key}method{method}param_json{param_json}"
        f"timestamp{timestamp}v{v}{secret}"
    )
    if sign_method == "md5":
        return hashlib.md5(pattern.encode("utf-8")).hexdigest()
    return hmac.new(secret.encode("utf-8"), pattern.encode("utf-8"), hashlib.sha256).hexdigest()


def joined_params(params: dict[str, str]) -> str:
    """Every parameter but `sign`, sorted by name, as name + value."""
    return "".join(name + params[name] for name in sorted(params) if name != "sign")


def wrapped_md5(secret: str, params: dict[str, str]) -> str:
    """TOP (sign_method=md5), JD and PDD: MD5(secret + Σ name+value + secret), upper case."""
    text = secret + joined_params(params) + secret
    return hashlib.md5(text.encode("utf-8")).hexdigest().upper()


def top_sign(secret: str, params: dict[str, str]) -> str:
    """TOP: md5 as above; `hmac` (HMAC-MD5) and `hmac-sha256` take the secret as key and do not
    wrap the string. Upper case."""
    sign_method = params.get("sign_method", "md5")
    if sign_method == "md5":
        return wrapped_md5(secret, params)
    digest = hashlib.sha256 if sign_method == "hmac-sha256" else hashlib.md5
    text = joined_params(params).encode("utf-8")
    return hmac.new(secret.encode("utf-8"), text, digest).hexdigest().upper()


def same(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
