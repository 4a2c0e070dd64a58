"""Rate budgets shared by every worker: token buckets in Redis holding a tenth of a second's
worth, so no second ever sees much more than the rate. take() waits for a token. Used per
outside-platform app and per WeChat channel."""

from __future__ import annotations

import time

from backend.queue import redis_client

# KEYS: the bucket. ARGV: rate per second, capacity, now in ms. Answers the ms to wait
# (0: a token was taken).
TAKE = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bucket = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(bucket[1]) or capacity
local at = tonumber(bucket[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate / 1000)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = math.ceil((1 - tokens) * 1000 / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], 60000)
return wait
"""
MAX_WAIT_SECONDS = 30


def take(bucket: str, per_second: float) -> None:
    """Wait until the bucket allows one more call (TimeoutError after MAX_WAIT_SECONDS)."""
    redis = redis_client()
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        now_ms = int(time.time() * 1000)
        capacity = max(1.0, per_second / 10)
        wait_ms = int(redis.eval(TAKE, 1, f"heli:budget:{bucket}", per_second, capacity, now_ms))
        if wait_ms == 0:
            return
        if time.monotonic() + wait_ms / 1000 > deadline:
            raise TimeoutError(f"{bucket} budget exhausted for {MAX_WAIT_SECONDS}s")
        time.sleep(wait_ms / 1000)
