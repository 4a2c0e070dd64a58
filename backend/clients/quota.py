"""Daily calls of the WeChat APIs that have a daily quota (getliveinfo 100 000 a day, the goods
warehouse 1 000, ...), counted per Asia/Shanghai day as WeChat counts them, so that pollers can
pace themselves; and the day an API answered 45009 (the day's quota is spent), which holds until
WeChat's midnight."""

from __future__ import annotations

import time
from datetime import datetime, timedelta

from backend.queue import redis_client
from backend.timeutil import SHANGHAI

QUOTA_SPENT = 45009  # "reach max api daily quota limit"
KEEP_SECONDS = 2 * 24 * 3600


def _day(now: float | None) -> str:
    return datetime.fromtimestamp(time.time() if now is None else now, SHANGHAI).date().isoformat()


def _key(api: str, now: float | None, what: str = "used") -> str:
    return f"heli:wxquota:{api}:{_day(now)}:{what}"


def spend(api: str, calls: int = 1, now: float | None = None) -> int:
    """Count calls about to be made today; answers today's count with them."""
    key = _key(api, now)
    pipe = redis_client().pipeline()
    pipe.incrby(key, calls)
    pipe.expire(key, KEEP_SECONDS)
    return int(pipe.execute()[0])


def used(api: str, now: float | None = None) -> int:
    return int(redis_client().get(_key(api, now)) or 0)


def mark_spent(api: str) -> None:
    """WeChat answered 45009: the API is closed to us until its midnight."""
    redis_client().set(_key(api, None, "spent"), "1", ex=KEEP_SECONDS)


def is_spent(api: str, now: float | None = None) -> bool:
    return bool(redis_client().exists(_key(api, now, "spent")))


def seconds_to_midnight(now: float | None = None) -> float:
    """Until the quotas start over (midnight in China)."""
    moment = datetime.fromtimestamp(time.time() if now is None else now, SHANGHAI)
    midnight = (moment + timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
    return max(1.0, (midnight - moment).total_seconds())
