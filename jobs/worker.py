"""The rq worker: `python -m jobs.worker [--no-fork] [queue ...]`. It runs jobs only: rq's
scheduler (enqueue_at jobs, delayed retries) lives in the scheduler process, so killing a worker
delays nothing but the job it held. `--no-fork` runs jobs in the worker process itself (rq's
SimpleWorker): the platform-pull queue gets thousands of short jobs, where a fork per job is
most of the cost."""

import sys

from rq import SimpleWorker, Worker

from backend.app import create_app
from backend.queue import redis_client


def main(args: list[str]) -> None:
    no_fork = "--no-fork" in args
    queues = [arg for arg in args if arg != "--no-fork"] or ["default"]
    app = create_app()
    with app.app_context():
        worker_class = SimpleWorker if no_fork else Worker
        worker = worker_class(queues, connection=redis_client())
        worker.work(with_scheduler=False)


if __name__ == "__main__":
    main(sys.argv[1:])
