"""rq's scheduler: it moves enqueue_at / enqueue_in jobs (pay deadlines, a broadcast's time,
delayed retries, rq's own retry backoff) to their queues when they are due. It runs in the
scheduler process (`python -m jobs.scheduler`), never inside a worker that may be killed.

Any number of scheduler processes, on any number of machines, may run it:
- each queue's rq lock (rq:scheduler-lock:<queue>) is a lease of LEASE_SECONDS renewed every
  TICK_SECONDS, and every tick tries to take the locks it lacks, so a killed scheduler's queues
  are taken over within seconds (rq's own lease lasts a minute and is re-tried every two);
- a due job moves from the scheduled registry to its queue in one Redis transaction that fails
  when anyone else moved it first (WATCH), so two schedulers that both believe they hold a lock
  (one paused past its lease) still never enqueue a job twice.
"""

from __future__ import annotations

import logging
import time

from redis import Redis
from redis.exceptions import WatchError
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry
from rq.scheduler import RQScheduler
from rq.scripts import acquire_or_refresh_lock
from rq.utils import current_timestamp

from backend.queue import QUEUES

TICK_SECONDS = 0.5
LEASE_SECONDS = 5  # a dead scheduler's queues wait this long at most for another one
BATCH = 500  # due jobs moved per transaction

log = logging.getLogger(__name__)


class DelayedJobs(RQScheduler):
    """rq's scheduler with a lease of seconds and a move that cannot double a job."""

    def __init__(self, connection: Redis, queues: tuple[str, ...] = QUEUES):
        # rq's interval only sets how long its record lives; the loop below ticks faster
        super().__init__(list(queues), connection=connection, interval=1)

    def tick(self) -> int:
        """Hold (or take over) each queue's lock, then move the due jobs of the queues held;
        answers how many jobs moved."""
        held = set()
        for name in sorted(self._queue_names):
            lock = self.get_locking_key(name)
            if acquire_or_refresh_lock(self.connection, lock, self.name, LEASE_SECONDS) != "taken":
                held.add(name)
        if held != self._acquired_locks:
            log.info("rq scheduler %s holds %s", self.name, ", ".join(sorted(held)) or "nothing")
        self._acquired_locks = held
        return sum(self.move_due(name) for name in sorted(held))

    def move_due(self, queue_name: str) -> int:
        """Move the queue's due jobs to it; answers how many."""
        registry = ScheduledJobRegistry(queue_name, connection=self.connection)
        queue = Queue(queue_name, connection=self.connection)
        moved = 0
        with self.connection.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(registry.key)
                    due = [
                        job_id.decode()
                        for job_id in pipe.zrangebyscore(
                            registry.key, 0, current_timestamp(), start=0, num=BATCH
                        )
                    ]
                    if not due:
                        return moved
                    jobs = Job.fetch_many(due, connection=self.connection)
                    pipe.multi()
                    for job in jobs:
                        if job is not None:  # expired meanwhile: only its registry entry is left
                            queue._enqueue_job(
                                job, pipeline=pipe, at_front=job.should_enqueue_at_front()
                            )
                    pipe.zrem(registry.key, *due)
                    pipe.execute()
                    moved += len(due)
                except WatchError:  # another scheduler, or a new scheduled job: read again
                    continue
                finally:
                    pipe.reset()

    def work(self) -> None:
        """Tick until SIGTERM or SIGINT, then give the locks back."""
        self._install_signal_handlers()
        self.register_birth()
        log.info("rq scheduler %s for %s", self.name, ", ".join(sorted(self._queue_names)))
        while not self._stop_requested:
            began = time.monotonic()
            try:
                self.tick()
                self.connection.expire(self.key, LEASE_SECONDS + 60)  # its record, for rq info
            except Exception:  # Redis away for a moment: the next tick tries again
                log.exception("rq scheduler tick failed")
            time.sleep(max(0.0, TICK_SECONDS - (time.monotonic() - began)))
        self.stop()
