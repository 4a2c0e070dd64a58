"""One rate budget per platform app, shared by every worker: a token bucket in Redis
(PLATFORM_CALLS_PER_SECOND, bursts up to one second's worth). take() waits for a token."""

from __future__ import annotations

import time

from flask import current_app

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


def take(platform: str) -> None:
    """Wait until the platform app's budget allows one more call."""
    rate = current_app.config["PLATFORM_CALLS_PER_SECOND"]
    redis = redis_client()
    deadline = time.monotonic() + MAX_WAIT_SECONDS
    while True:
        wait_ms = int(
            redis.eval(
                TAKE, 1, f"heli:platform:budget:{platform}", rate, rate, int(time.time() * 1000)
            )
        )
        if wait_ms == 0:
            return
        if time.monotonic() + wait_ms / 1000 > deadline:
            raise TimeoutError(f"{platform} call budget exhausted for {MAX_WAIT_SECONDS}s")
        time.sleep(wait_ms / 1000)
