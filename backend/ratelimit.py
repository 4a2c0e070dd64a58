"""Rates shared by every worker, in Redis. Budgets for our calls out: token buckets holding a
tenth of a second's worth, so no second ever sees much more than the rate; take() waits for a
token (per outside-platform app and per WeChat channel). Business-flow rates for calls in:
count() refuses a login, order, claim or trace scan beyond its setting's rate with 429 and
Retry-After; SPEND lets a script count its rates and do its work in one round trip."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import lru_cache

from flask import current_app
from limits import parse_many

from backend.errors import TooManyRequests
from backend.queue import redis_client, run_script

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
# holds stock, mints an account or costs a lookup. Each reads its setting (limits' notation,
# "10/minute" or "10/minute;60/hour") and says in Chinese what was refused.
FLOW_RATES = {
    "login-ip": ("LOGIN_RATE_PER_IP", "登录太频繁，请稍后再试"),
    "order-customer": ("ORDER_RATE_PER_CUSTOMER", "下单太频繁，请稍后再试"),
    "order-ip": ("ORDER_RATE_PER_IP", "当前网络下单太频繁，请稍后再试"),
    "claim-customer": ("CLAIM_RATE_PER_CUSTOMER", "抢购太频繁，请稍后再试"),
    "claim-ip": ("CLAIM_RATE_PER_IP", "当前网络抢购太频繁，请稍后再试"),
    "live-comment": ("LIVE_COMMENT_RATE", "评论太频繁，请稍后再试"),
    "seller-code": ("SELLER_CODE_RATE", "验证码发送太频繁，请稍后再试"),
    "apply-ip": ("APPLY_RATE_PER_IP", "当前网络提交申请太频繁，请稍后再试"),
    # Trace scans: one budget per network for the /t/ page and the API together, and one per
    # code in its normalised spelling; reports of fakes spend the network's budget too.
    "trace-network": ("TRACE_RATE_PER_IP", TooManyRequests.message),
    "trace-code": ("TRACE_RATE_PER_CODE", TooManyRequests.message),
    "trace-report": ("TRACE_REPORT_RATE", TooManyRequests.message),
}

# Fixed windows that open at their first hit, as a Lua function that a script doing the
# attempt's own work can call first, in the same round trip. keys: counters; limits: each key's
# limit and window in ms, in turn. A spent window refuses without counting anything: answers
# the ms until the longest-spent one opens again and its index (1-based); else every counter
# counts one: 0, 0.
SPEND = """
local function spend(keys, limits)
  local wait, spent = 0, 0
  for i, key in ipairs(keys) do
    if tonumber(redis.call('GET', key) or '0') >= tonumber(limits[2 * i - 1]) then
      local left = redis.call('PTTL', key)
      if left < 0 then left = tonumber(limits[2 * i]) end
      if left > wait then wait, spent = left, i end
    end
  end
  if wait > 0 then return wait, spent end
  for i, key in ipairs(keys) do
    if redis.call('INCR', key) == 1 then redis.call('PEXPIRE', key, limits[2 * i]) end
  end
  return 0, 0
end
"""
# KEYS: counters. ARGV: each key's limit and window in ms, in turn. Answers {wait, spent}.
HIT = SPEND + "local wait, spent = spend(KEYS, ARGV)\nreturn {wait, spent}\n"


@lru_cache(maxsize=64)
def _windows_of(setting: str) -> tuple[tuple[int, int], ...]:
    """(limit, window in ms) of each rate in a setting's notation."""
    return tuple((item.amount, item.get_expiry() * 1000) for item in parse_many(setting))


@dataclass(frozen=True)
class Windows:
    """The counters one attempt spends: their keys, each key's limit and window in ms in turn
    (the arguments of SPEND), and what to say when each is spent."""

    keys: tuple[str, ...]
    limits: tuple[int, ...]
    messages: tuple[str, ...]

    def check(self, wait_ms: int, spent: int) -> None:
        """Refuse with TooManyRequests (429 and Retry-After) when SPEND answered a spent one."""
        if wait_ms:
            raise TooManyRequests(self.messages[spent - 1], retry_after=math.ceil(wait_ms / 1000))

    def count(self) -> None:
        """Count one attempt on every counter in one Redis call, or refuse (see check)."""
        if self.keys:
            self.check(*(int(n) for n in run_script(HIT, self.keys, self.limits)))


def windows(*attempts: tuple[str, object]) -> Windows:
    """The counters of each (flow rate, who) at the current settings; a `who` of None or ""
    is not counted."""
    config = current_app.config
    keys, limits, messages = [], [], []
    for rule, who in attempts:
        if who is None or who == "":
            continue
        setting, message = FLOW_RATES[rule]
        for amount, window_ms in _windows_of(config[setting]):
            keys.append(f"heli:rate:{rule}:{amount}/{window_ms // 1000}:{who}")
            limits += [amount, window_ms]
            messages.append(message)
    return Windows(tuple(keys), tuple(limits), tuple(messages))


def count(*attempts: tuple[str, object]) -> None:
    """Count one attempt of each (flow rate, who) in one Redis call, or refuse with
    TooManyRequests (429 and Retry-After) when any is spent; a `who` of None is not counted."""
    windows(*attempts).count()
