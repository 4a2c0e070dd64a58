"""Anti-counterfeit codes: 128 random bits from `secrets`, written in RFC 4648 base32.

26 characters of A–Z and 2–7 fit a mini-program code's `scene` (≤ 32 visible characters of an
allowed set) and read unambiguously off a printed label (no 0/O or 1/l).

A code is normalised once, at the door (`clean`): full-width letters typed on a Chinese
keyboard become ASCII, spaces and hyphens (a code read out in groups) go, letters are
upper-cased. Limits, lookups and flags all use that one spelling, so "abcd…", "ABCD… " and
"ABCD-…" are one code everywhere, and one counter.
"""

from __future__ import annotations

import base64
import re
import secrets
import unicodedata

CODE_PATTERN = re.compile(r"^[A-Z2-7]{26}$")
_SEPARATORS = re.compile(r"[\s\-]+")
MAX_RAW = 64  # what a scan log keeps of whatever was sent


def new_code() -> str:
    return base64.b32encode(secrets.token_bytes(16)).decode().rstrip("=")


def clean(raw: str) -> str:
    """One spelling of whatever was sent (used also when it is not a code, e.g. as a limit key)."""
    folded = unicodedata.normalize("NFKC", raw[: MAX_RAW * 4])
    return _SEPARATORS.sub("", folded).upper()[:MAX_RAW]


def normalize(raw: str) -> str | None:
    """The code in canonical form, or None when it cannot be one of ours."""
    candidate = clean(raw)
    return candidate if CODE_PATTERN.match(candidate) else None
