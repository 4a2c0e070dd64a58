"""Every rq job a benchmark's processes enqueued, to prove none was doubled."""

from __future__ import annotations

import sys
import threading
from collections import Counter
from datetime import datetime

import redis

POLL_SECONDS = 2  # rq keeps a finished job (and its results) 500 s: none is missed


class JobLog:
    """Every rq job of the run, read from Redis every POLL_SECONDS (rq keeps a job's hash and
    results result_ttl = 500 s after it ran), to find periodic jobs enqueued twice for one tick
    and jobs run to success twice."""

    def __init__(self, redis_url: str):
        self.redis = redis.Redis.from_url(redis_url)
        self.jobs: dict[str, tuple[str, datetime, int | None]] = {}  # id → description, created
        self.successes: Counter = Counter()  # id → most SUCCESSFUL results seen at once
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._follow, daemon=True)
        self.error: Exception | None = None

    def _follow(self) -> None:
        while not self.stop.wait(POLL_SECONDS):
            try:
                self.poll()
            except Exception as exc:
                self.error = exc

    def poll(self) -> None:
        new = [
            key.decode()[len("rq:job:") :]
            for key in self.redis.scan_iter("rq:job:*", count=1000)
            if key.count(b":") == 2
        ]
        new = [job_id for job_id in new if job_id not in self.jobs]
        pipe = self.redis.pipeline(transaction=False)
        for job_id in new:
            pipe.hmget(f"rq:job:{job_id}", "description", "created_at", "result_ttl")
        for job_id, (description, created, ttl) in zip(new, pipe.execute(), strict=True):
            if description and created:
                self.jobs[job_id] = (
                    description.decode(),
                    datetime.fromisoformat(created.decode().replace("Z", "+00:00")),
                    int(ttl) if ttl else None,
                )
        ids = list(self.jobs)
        pipe = self.redis.pipeline(transaction=False)
        for job_id in ids:
            pipe.xrange(f"rq:results:{job_id}")
        for job_id, results in zip(ids, pipe.execute(), strict=True):
            done = sum(fields.get(b"type") == b"1" for _, fields in results)
            self.successes[job_id] = max(self.successes[job_id], done)

    def scheduler_pids(self) -> dict[str, int]:
        """{queue: pid of the rq scheduler holding its lock} (it alone moves due enqueue_at jobs
        of that queue into it)."""
        found = {}
        for key in self.redis.scan_iter("rq:scheduler-lock:*"):
            name = self.redis.get(key)
            pid = name and self.redis.hget(b"rq:scheduler:" + name, "pid")
            if pid:
                found[key.decode().rsplit(":", 1)[1]] = int(pid)
        return found

    def figures(self) -> dict:
        """Periodic enqueues less than half an interval after the previous one of the same job
        (two schedulers, or one, firing for one tick), jobs with two successful runs, and
        intervals of more than 1.5 ticks without a run (informative)."""
        from jobs.scheduler import SCHEDULE

        if self.error:
            raise self.error
        doubled, missed, enqueues = 0, 0, 0
        for entry in SCHEDULE:
            if getattr(entry, "daily_at", None):
                continue
            runs = sorted(
                (created, ttl)
                for description, created, ttl in self.jobs.values()
                if description.startswith(entry.func_path + "(")
            )
            if any(ttl is not None and ttl < 10 * POLL_SECONDS for _, ttl in runs):
                sys.exit(
                    f"{entry.func_path} keeps its result < {10 * POLL_SECONDS} s: unmeasurable"
                )
            enqueues += len(runs)
            gaps = [(b[0] - a[0]).total_seconds() for a, b in zip(runs, runs[1:], strict=False)]
            doubled += sum(gap < entry.seconds / 2 for gap in gaps)
            missed += sum(gap > entry.seconds * 1.5 for gap in gaps)
        twice = [job_id for job_id, n in self.successes.items() if n > 1]
        return {
            "jobs_recorded": len(self.jobs),
            "periodic_enqueues": enqueues,
            "periodic_doubled": doubled,
            "periodic_ticks_missed": missed,
            "jobs_run_twice": len(twice),
            "jobs_run_twice_ids": " ".join(twice[:10]),
        }
