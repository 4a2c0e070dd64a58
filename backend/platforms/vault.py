"""Platform tokens at rest: Fernet (AES-128-CBC + HMAC) with keys from PLATFORM_TOKEN_KEYS;
the first key encrypts, every key decrypts, so keys can be rotated."""

from __future__ import annotations

from cryptography.fernet import Fernet, MultiFernet
from flask import current_app


def _box() -> MultiFernet:
    keys = [
        key.strip() for key in current_app.config["PLATFORM_TOKEN_KEYS"].split(",") if key.strip()
    ]
    if not keys:
        raise RuntimeError("PLATFORM_TOKEN_KEYS is not set: platform tokens cannot be stored")
    return MultiFernet([Fernet(key) for key in keys])


def seal(secret: str | None) -> str | None:
    return None if secret is None else _box().encrypt(secret.encode()).decode()


def unseal(sealed: str | None) -> str | None:
    return None if sealed is None else _box().decrypt(sealed.encode()).decode()
