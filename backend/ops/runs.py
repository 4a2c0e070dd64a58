"""The last run of each periodic job, kept in Redis by the job wrapper (jobs/base.py): when it
started, when it finished, how it ended. The scheduler marks a periodic job's rq job with its
schedule id (meta `periodic`); what the job itself does is unchanged."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime

from redis import Redis

META_KEY = "periodic"  # rq job meta: the SCHEDULE id of the run
RUNNING, OK, FAILED = "running", "ok", "failed"
ERROR_CHARS = 300


def key(periodic_id: str) -> str:
    return f"heli:periodic:last-run:{periodic_id}"


def started(redis: Redis, periodic_id: str, *, job_id: str | None, at: float | None = None) -> None:
    """A run began: the previous run's finish and outcome stay until this one ends."""
    redis.hset(
        key(periodic_id),
        mapping={
            "started_at": repr(time.time() if at is None else at),
            "state": RUNNING,
            "job_id": job_id or "",
        },
    )


def finished(
    redis: Redis,
    periodic_id: str,
    *,
    outcome: str,
    error: str = "",
    at: float | None = None,
) -> None:
    redis.hset(
        key(periodic_id),
        mapping={
            "finished_at": repr(time.time() if at is None else at),
            "state": outcome,
            "outcome": outcome,
            "error": error[:ERROR_CHARS],
        },
    )


@dataclass(frozen=True)
class LastRun:
    state: str | None  # running / ok / failed; None: never ran since Redis was emptied
    started_at: datetime | None  # UTC, naive (as stored times are)
    finished_at: datetime | None
    outcome: str | None  # how the last finished run ended
    error: str
    job_id: str

    @property
    def seconds(self) -> float | None:
        """How long the last finished run took (None while one runs, or before any)."""
        if self.started_at is None or self.finished_at is None or self.state == RUNNING:
            return None
        return max((self.finished_at - self.started_at).total_seconds(), 0.0)


def _time(raw: bytes | None) -> datetime | None:
    if not raw:
        return None
    return datetime.fromtimestamp(float(raw), UTC).replace(tzinfo=None)


def last_runs(redis: Redis, periodic_ids: list[str]) -> dict[str, LastRun]:
    """Each id's last run, in one round trip."""
    pipe = redis.pipeline(transaction=False)
    for periodic_id in periodic_ids:
        pipe.hgetall(key(periodic_id))
    answers = {}
    for periodic_id, fields in zip(periodic_ids, pipe.execute(), strict=True):
        text = {k.decode(): v for k, v in fields.items()}
        answers[periodic_id] = LastRun(
            state=text["state"].decode() if "state" in text else None,
            started_at=_time(text.get("started_at")),
            finished_at=_time(text.get("finished_at")),
            outcome=text["outcome"].decode() if "outcome" in text else None,
            error=text.get("error", b"").decode(),
            job_id=text.get("job_id", b"").decode(),
        )
    return answers
