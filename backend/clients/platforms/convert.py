"""Conversions the platform adapters share: yuan to integer fen (exactly, through Decimal),
platform times to naive UTC and back, tolerant readers for numbers the platforms send as
strings, and the JSON/MD5 forms the signatures cover."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal

from backend.timeutil import naive_utc_from_timestamp, to_naive_utc

# China has kept UTC+8 all year since 1991; a fixed offset keeps conversions DST-free.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")
TIME_FORMAT = "%Y-%m-%d %H:%M:%S"


def to_fen(value) -> int:
    """A yuan amount ("138.00", Decimal, or a JSON number) as integer fen, exactly."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"not an amount: {value!r}")
    amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    return int((amount * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def as_int(value) -> int:
    """An integer the platform may send as a number or a string ("12", 12, "12.00" fen)."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"not an integer: {value!r}")
    number = Decimal(str(value).strip())
    if number != number.to_integral_value():
        raise ValueError(f"not an integer: {value!r}")
    return int(number)


def split_fen(line_total: int, quantity: int) -> int:
    """The unit price of a line given as a total (rounded half up if it does not divide)."""
    if quantity <= 0:
        return line_total
    return int((Decimal(line_total) / quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_unix(value) -> datetime | None:
    """Unix seconds as naive UTC; 0 / empty means "not yet" (None)."""
    if value in (None, "", 0, "0"):
        return None
    return naive_utc_from_timestamp(as_int(value))


def from_china(text) -> datetime | None:
    """An Asia/Shanghai wall time "yyyy-MM-dd HH:mm:ss" as naive UTC; empty means None."""
    if text is None:
        return None
    text = str(text).strip()
    if not text or text.startswith(("0000", "0001")):
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA)
    return to_naive_utc(value)


def naive_utc(value: datetime) -> datetime:
    if value.tzinfo is not None:
        value = to_naive_utc(value)
    return value


def to_china(value: datetime) -> str:
    """A naive UTC time as the platforms' Asia/Shanghai string (seconds truncated)."""
    return value.replace(tzinfo=UTC).astimezone(CHINA).strftime(TIME_FORMAT)


def to_unix(value: datetime) -> int:
    """A naive UTC time as unix seconds (truncated, like the platforms' own times)."""
    return math.floor(value.replace(tzinfo=UTC).timestamp())


def required(value, what: str):
    if value is None or value == "":
        raise ValueError(f"missing {what}")
    return value


def as_list(container, key: str) -> list:
    """container[key], which must be a list: a page without its list is malformed."""
    value = container[key]
    if not isinstance(value, list):
        raise ValueError(f"{key} is not a list")
    return value


def as_bool(value) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def optional_int(value) -> int | None:
    return None if value is None or value == "" else as_int(value)


def compact_json(value) -> str:
    """JSON with keys sorted at every level, no spaces, non-ASCII kept (what the signs cover)."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def md5_sign(secret: str, params: dict[str, str]) -> str:
    """TOP / JD / PDD: MD5(secret + Σ sorted(k + v) + secret), upper-case hex; `sign` excluded."""
    joined = "".join(k + str(params[k]) for k in sorted(params) if k != "sign")
    return hashlib.md5((secret + joined + secret).encode("utf-8")).hexdigest().upper()


def form_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
