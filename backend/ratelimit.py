"""Rates shared by every worker, in Redis. Budgets for our calls out: token buckets holding a
tenth of a second's worth, so no second ever sees much more than the rate; take() waits for a
token (per outside-platform app and per WeChat channel). Business-flow rates for calls in:
count() refuses a login, order or claim beyond its setting's rate with 429 and Retry-After."""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass

from flask import current_app
from limits import parse_many

from backend.errors import TooManyRequests
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


# Business-flow rates (OWASP API6): how often one account or one address may try a flow that
# holds stock or mints an account. Each reads its setting (limits' notation, "10/minute" or
# "10/minute;60/hour") and says in Chinese what was refused.
FLOW_RATES = {
    "login-ip": ("LOGIN_RATE_PER_IP", "登录太频繁，请稍后再试"),
    "order-customer": ("ORDER_RATE_PER_CUSTOMER", "下单太频繁，请稍后再试"),
    "order-ip": ("ORDER_RATE_PER_IP", "当前网络下单太频繁，请稍后再试"),
    "claim-customer": ("CLAIM_RATE_PER_CUSTOMER", "抢购太频繁，请稍后再试"),
    "claim-ip": ("CLAIM_RATE_PER_IP", "当前网络抢购太频繁，请稍后再试"),
}

# Fixed windows that open at their first hit, as a Lua function other scripts include to count
# their rates in their own round trip. hit(first, argv_first): KEYS[first..] are counters, ARGV
# from argv_first each one's limit and window in ms, in turn. A spent window refuses without
# counting anything: answers the ms until the longest-spent one opens again and its index (from
# 1); else every counter counts one: 0, 0.
HIT_FUNCTION = """
local function hit(first, argv_first)
  local wait, spent = 0, 0
  for i = first, #KEYS do
    local at = argv_first + 2 * (i - first)
    if tonumber(redis.call('GET', KEYS[i]) or '0') >= tonumber(ARGV[at]) then
      local left = redis.call('PTTL', KEYS[i])
      if left < 0 then left = tonumber(ARGV[at + 1]) end
      if left > wait then wait, spent = left, i - first + 1 end
    end
  end
  if wait > 0 then return wait, spent end
  for i = first, #KEYS do
    if redis.call('INCR', KEYS[i]) == 1 then
      redis.call('PEXPIRE', KEYS[i], ARGV[argv_first + 2 * (i - first) + 1])
    end
  end
  return 0, 0
end
"""
HIT = HIT_FUNCTION + "local wait, spent = hit(1, 1)\nreturn {wait, spent}\n"


@dataclass
class Attempts:
    """The counters of some (flow rate, who) attempts, as a script takes them."""

    keys: list[str]
    args: list[int]
    messages: list[str]

    def refuse(self, wait_ms: int, spent: int) -> None:
        """TooManyRequests (429, Retry-After) when a script said counter `spent` is spent."""
        if wait_ms:
            raise TooManyRequests(self.messages[spent - 1], retry_after=math.ceil(wait_ms / 1000))


@functools.lru_cache(maxsize=64)
def _windows(notation: str) -> tuple[tuple[int, int], ...]:
    return tuple((item.amount, item.get_expiry()) for item in parse_many(notation))


def attempts(*tried: tuple[str, object]) -> Attempts:
    """The counters one attempt of each (flow rate, who) counts; a `who` of None is not counted."""
    config, found = current_app.config, Attempts([], [], [])
    for rule, who in tried:
        if who is None or who == "":
            continue
        setting, message = FLOW_RATES[rule]
        for amount, seconds in _windows(config[setting]):
            found.keys.append(f"heli:rate:{rule}:{amount}/{seconds}:{who}")
            found.args += [amount, seconds * 1000]
            found.messages.append(message)
    return found


def count(*tried: tuple[str, object]) -> None:
    """Count one attempt of each (flow rate, who) in one Redis call, or refuse with
    TooManyRequests (429 and Retry-After) when any is spent; a `who` of None is not counted."""
    counted = attempts(*tried)
    if not counted.keys:
        return
    answer = redis_client().eval(HIT, len(counted.keys), *counted.keys, *counted.args)
    counted.refuse(*(int(n) for n in answer))
