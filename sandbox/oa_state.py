"""State of the Official Account (公众号) stand-in: followers, sent messages, quotas, scripted
faults, and the outbox that pushes TEMPLATESENDJOBFINISH events later.

Kept apart from state.py (like wxa_state.py); `SandboxState` holds one `OaData`, replaced on reset,
and one `Outbox`, which lives as long as the sandbox. Callers hold the sandbox lock for `OaData`.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger("sandbox.oa")

FAULT_APIS = ("template", "custom", "user_info")
FINISH_FAILURES = ("failed: system failed", "failed:user block")


@dataclass
class Follower:
    openid: str  # the OA openid: not the same string as the user's mini-program openid
    unionid: str | None = None
    nickname: str | None = None  # control-side only: user/info stopped returning it in 2021
    subscribe: bool = False
    subscribe_time: int | None = None
    subscribe_scene: str = "ADD_SCENE_SEARCH"
    qr_scene: int = 0
    qr_scene_str: str = ""
    block_templates: bool = False  # the user turned template messages off: finish "user block"
    last_interaction: float | None = None  # sandbox clock; opens the 48 h custom-message window
    window_sent: int = 0  # custom messages sent since that interaction (45047 beyond the cap)

    def view(self) -> dict[str, Any]:
        return {
            "openid": self.openid,
            "unionid": self.unionid,
            "nickname": self.nickname,
            "subscribe": self.subscribe,
            "subscribe_time": self.subscribe_time,
            "subscribe_scene": self.subscribe_scene,
            "block_templates": self.block_templates,
            "last_interaction": self.last_interaction,
            "window_sent": self.window_sent,
        }


@dataclass
class FaultRule:
    """One scripted failure: an errcode for template/custom/user_info calls, or a failed
    TEMPLATESENDJOBFINISH status. Fires for the next `times` matches (None = no limit), until
    `until` (sandbox clock, None = no limit), each time with probability `rate` (None = always)."""

    errcode: int | None
    errmsg: str | None
    finish_status: str | None
    apis: tuple[str, ...]
    times: int | None
    until: float | None
    rate: float | None
    seed: int | None = None
    fired: int = 0
    rng: random.Random = field(default_factory=random.Random)

    def expired(self, now: float) -> bool:
        return (self.times is not None and self.times <= 0) or (
            self.until is not None and now >= self.until
        )

    def fire(self, api: str) -> bool:
        if api not in self.apis:
            return False
        if self.rate is not None and self.rng.random() >= self.rate:
            return False
        if self.times is not None:
            self.times -= 1
        self.fired += 1
        return True

    def view(self) -> dict[str, Any]:
        return {
            "errcode": self.errcode,
            "errmsg": self.errmsg,
            "finish_status": self.finish_status,
            "apis": list(self.apis),
            "times_left": self.times,
            "until": self.until,
            "rate": self.rate,
            "seed": self.seed,
            "fired": self.fired,
        }


@dataclass
class OaData:
    followers: dict[str, Follower] = field(default_factory=dict)
    templates: dict[str, list[str]] | None = None  # None = the `oa_templates` setting
    messages: list[dict[str, Any]] = field(default_factory=list)  # custom + template, in order
    by_msgid: dict[int, dict[str, Any]] = field(default_factory=dict)  # template messages
    client_msg_ids: dict[tuple[str, str], tuple[int, float]] = field(default_factory=dict)
    quota_used: Counter = field(default_factory=Counter)  # (api, CST date) -> calls
    recent_templates: deque = field(default_factory=deque)  # send times, per-second cap
    faults: list[FaultRule] = field(default_factory=list)
    stats: Counter = field(default_factory=Counter)
    pushes: list[dict[str, Any]] = field(default_factory=list)  # every delivery to the callback


class Outbox:
    """Jobs to run after a delay on a few worker threads (WeChat's asynchronous pushes).

    Lives as long as the sandbox: `clear()` drops pending jobs on reset, `stop()` ends the workers.
    Jobs must check the sandbox generation themselves; they run without the sandbox lock.
    """

    def __init__(self, workers: int = 4):
        self._workers = max(1, workers)
        self._heap: list[tuple[float, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self._cond = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._stopped = False
        self._running = 0

    def schedule(self, delay: float, job: Callable[[], None]) -> None:
        with self._cond:
            if self._stopped:
                return
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), next(self._seq), job))
            if len(self._threads) < self._workers:
                thread = threading.Thread(target=self._work, daemon=True, name="sandbox-oa-outbox")
                self._threads.append(thread)
                thread.start()
            self._cond.notify()

    def pending(self) -> int:
        """Jobs waiting or running."""
        with self._cond:
            return len(self._heap) + self._running

    def clear(self) -> None:
        with self._cond:
            self._heap.clear()

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._heap.clear()
            self._cond.notify_all()

    def _next_job(self) -> Callable[[], None] | None:
        with self._cond:
            while not self._stopped:
                if self._heap and self._heap[0][0] <= time.monotonic():
                    self._running += 1
                    return heapq.heappop(self._heap)[2]
                timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                self._cond.wait(timeout)
            return None

    def _work(self) -> None:
        while (job := self._next_job()) is not None:
            try:
                job()
            except Exception:  # a broken job must not kill the worker
                log.exception("OA outbox job failed")
            finally:
                with self._cond:
                    self._running -= 1
