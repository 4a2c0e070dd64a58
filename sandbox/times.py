"""Times as WeChat Pay writes them: RFC3339 in China Standard Time."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

CST = timezone(timedelta(hours=8))


def rfc3339_now() -> str:
    return datetime.now(CST).isoformat(timespec="seconds")
