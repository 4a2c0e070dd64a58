"""The rq worker: `python -m jobs.worker [queue ...]` (with rq's scheduler for enqueue_at jobs)."""

import sys

from rq import Worker

from backend.app import create_app
from backend.queue import redis_client


def main(queues: list[str]) -> None:
    app = create_app()
    with app.app_context():
        worker = Worker(queues or ["default"], connection=redis_client())
        worker.work(with_scheduler=True)


if __name__ == "__main__":
    main(sys.argv[1:])
