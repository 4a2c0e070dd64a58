"""Console login throttling in Redis, per username and per client IP.

Each attempt is counted before its password is checked (atomically, so parallel guesses cannot
slip past), and a success takes its count back. Past a few free attempts every further one locks
the door for twice as long as the last (30 s, 60 s, 2 min, ... up to an hour); while it is locked
even the right password is refused. Counts are forgotten a day after the last attempt, or when
the username signs in or an administrator resets its password."""

from __future__ import annotations

import math

from flask import current_app

from backend.errors import TooManyRequests
from backend.queue import redis_client

# KEYS: user count, user lock, ip count, ip lock. ARGV: free attempts per user, per ip, first
# lock ms, longest lock ms, ms to remember. Answers the ms still locked (0: the attempt may go on).
ATTEMPT = """
local wait = math.max(redis.call('PTTL', KEYS[2]), redis.call('PTTL', KEYS[4]), 0)
if wait > 0 then return wait end
local first, longest, remember = tonumber(ARGV[3]), tonumber(ARGV[4]), tonumber(ARGV[5])
local function count(key, lock, free)
  local n = redis.call('INCR', key)
  redis.call('PEXPIRE', key, remember)
  if n > free then
    local ms = math.min(first * 2 ^ math.min(n - free - 1, 40), longest)
    redis.call('SET', lock, '1', 'PX', math.floor(ms))
  end
end
count(KEYS[1], KEYS[2], tonumber(ARGV[1]))
count(KEYS[3], KEYS[4], tonumber(ARGV[2]))
return 0
"""


class LoginLocked(TooManyRequests):
    code = "LOGIN_LOCKED"

    def __init__(self, seconds: int):
        minutes = math.ceil(seconds / 60)
        wait = f"{seconds} 秒" if seconds < 60 else f"{minutes} 分钟"
        super().__init__(
            f"登录失败次数过多，账号已暂时锁定，请 {wait}后再试",
            details={"retry_after": seconds},
        )
        self.retry_after = seconds


def _keys(username: str, ip: str) -> list[str]:
    user = username.strip().lower()
    return [
        f"heli:login:user:{user}",
        f"heli:login:user:{user}:lock",
        f"heli:login:ip:{ip}",
        f"heli:login:ip:{ip}:lock",
    ]


def attempt(username: str, ip: str) -> None:
    """Count a login attempt; LoginLocked (429) while the username or the IP is locked."""
    config = current_app.config
    wait_ms = int(
        redis_client().eval(
            ATTEMPT,
            4,
            *_keys(username, ip),
            config["LOGIN_FREE_ATTEMPTS_PER_USER"],
            config["LOGIN_FREE_ATTEMPTS_PER_IP"],
            config["LOGIN_FIRST_LOCK_SECONDS"] * 1000,
            config["LOGIN_LONGEST_LOCK_SECONDS"] * 1000,
            config["LOGIN_REMEMBER_SECONDS"] * 1000,
        )
    )
    if wait_ms:
        raise LoginLocked(math.ceil(wait_ms / 1000))


def succeeded(username: str, ip: str) -> None:
    """The right password: the username starts afresh, and the IP gets this attempt back."""
    user_count, user_lock, ip_count, _ = _keys(username, ip)
    redis = redis_client()
    redis.delete(user_count, user_lock)
    if int(redis.decr(ip_count)) < 0:
        redis.delete(ip_count)


def forget(username: str) -> None:
    """An administrator set a new password: the username's failures no longer count."""
    user_count, user_lock, _, _ = _keys(username, "")
    redis_client().delete(user_count, user_lock)
