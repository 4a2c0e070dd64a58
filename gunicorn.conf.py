"""gunicorn reads this file from the working directory (`web` in the Procfile). Its one job:
prometheus_client's multiprocess mode, so that /metrics answered by any worker counts the
requests of all of them (backend/ops/metrics.py)."""

import os
import shutil
from pathlib import Path

# Must be set before any worker imports prometheus_client: the workers inherit it.
METRICS_DIR = Path(
    os.environ.setdefault(
        "PROMETHEUS_MULTIPROC_DIR", str(Path(__file__).resolve().parent / "instance" / "metrics")
    )
)


def on_starting(server):
    """A new master: the counters of the last run's workers are gone with them."""
    shutil.rmtree(METRICS_DIR, ignore_errors=True)
    METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)
