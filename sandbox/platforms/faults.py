"""Scripted faults and the token-bucket rate limit of the platform stand-ins.

A rule fires for a matching call (its shop, if it names one) with probability `rate` (None =
always), for the next `times` firings (None = no limit) until `until` (wall clock, None = no limit).
Rules are tried in order; the first that fires wins. Callers hold the sandbox lock.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass, field
from typing import Any

FAULT_KINDS = ("rate_limit", "server_error", "http_500", "timeout", "token_expired", "malformed")
MALFORMED_VARIANTS = ("truncated", "missing_list")


@dataclass
class FaultRule:
    kind: str
    times: int | None
    until: float | None
    rate: float | None
    shop_id: str | None
    variant: str | None = None  # malformed only; None alternates truncated / missing_list
    seed: int | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def expired(self, now: float) -> bool:
        return (self.times is not None and self.times <= 0) or (
            self.until is not None and now >= self.until
        )

    def fire(self, shop_id: str | None, has_token: bool) -> bool:
        if self.shop_id is not None and self.shop_id != shop_id:
            return False
        if self.kind == "token_expired" and not has_token:
            return False  # token calls (refresh, /auth/token) carry no access token to refuse
        if self.rate is not None and self.rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        self.fired += 1
        return True

    def malformed_variant(self) -> str:
        """The kind of broken answer this firing gives."""
        if self.variant is not None:
            return self.variant
        return MALFORMED_VARIANTS[(self.fired - 1) % 2]

    def view(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "times_left": self.times,
            "until": self.until,
            "rate": self.rate,
            "shop_id": self.shop_id,
            "variant": self.variant,
            "seed": self.seed,
            "fired": self.fired,
        }


def take_fault(
    rules: list[FaultRule], now: float, shop_id: str | None, has_token: bool
) -> FaultRule | None:
    """The rule this call meets, if any; expired rules are dropped on the way."""
    rules[:] = [rule for rule in rules if not rule.expired(now)]
    for rule in rules:
        if rule.fire(shop_id, has_token):
            return rule
    return None


class TokenBucket:
    """`rate` calls per second on average, bursts up to max(1, rate)."""

    def __init__(self, rate: float):
        self.rate = float(rate)
        self.capacity = max(1.0, self.rate)
        self.tokens = self.capacity
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1.0:
            return False
        self.tokens -= 1.0
        return True
