"""Anti-counterfeit codes: 128 random bits from `secrets`, written in RFC 4648 base32.

26 characters of A–Z and 2–7 fit a mini-program code's `scene` (≤ 32 visible characters of an
allowed set) and read unambiguously off a printed label (no 0/O or 1/l).
"""

from __future__ import annotations

import base64
import re
import secrets

CODE_PATTERN = re.compile(r"^[A-Z2-7]{26}$")


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")


def normalize(raw: str) -> str | None:
    """The code in canonical form, or None when it cannot be one of ours."""
    candidate = raw.strip().upper()
    return candidate if CODE_PATTERN.match(candidate) else None
