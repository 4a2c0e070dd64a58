"""Times are stored in UTC (naive, as SQLite keeps them) and shown in Asia/Shanghai."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

SHANGHAI = ZoneInfo("Asia/Shanghai")


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def to_naive_utc(value: datetime) -> datetime:
    """An aware time as the database stores it: UTC, without tzinfo."""
    return value.astimezone(UTC).replace(tzinfo=None)


def naive_utc_from_timestamp(timestamp: float) -> datetime:
    """Unix seconds as the database stores them: UTC, without tzinfo."""
    return datetime.fromtimestamp(timestamp, UTC).replace(tzinfo=None)


def to_shanghai_iso(value: datetime | None) -> str | None:
    """Render a stored UTC time as an ISO-8601 string with the +08:00 offset."""
    if value is None:
        return None
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).isoformat(timespec="seconds")


def to_aware_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)
