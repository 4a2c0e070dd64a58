"""`python -m bench.counted_worker queue ...`: the platform queue's worker as `jobs.worker
--no-fork` runs it (rq's SimpleWorker with its scheduler), counting the SQL statements its jobs
send (a SQLAlchemy event, executemany counted once); after each job the count is added to
Redis under KEY, for bench.order_pull's statements_per_order."""

from __future__ import annotations

import sys

from rq import SimpleWorker
from sqlalchemy import event

from backend.app import create_app
from backend.extensions import db
from backend.queue import redis_client

KEY = "heli:bench:sql-statements"


def main(queues: list[str]) -> None:
    app = create_app()
    with app.app_context():
        sent = [0]

        @event.listens_for(db.engine, "before_cursor_execute")
        def count(*_):
            sent[0] += 1

        class CountingWorker(SimpleWorker):
            def execute_job(self, job, queue):
                try:
                    return super().execute_job(job, queue)
                finally:
                    redis_client().incrby(KEY, sent[0])
                    sent[0] = 0

        CountingWorker(queues, connection=redis_client()).work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:] or ["platforms"])
