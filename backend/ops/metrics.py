"""/metrics in Prometheus' text format (prometheus_client):

- every HTTP request, counted and timed per endpoint (the Flask endpoint's name; answers of
  miniprogram_api/hot_paths.py, which never reach Flask, by the route they stand for), by a WSGI
  middleware outside everything else;
- read at each scrape from Redis and the database: jobs per queue and state, failed jobs,
  workers, notices still waiting, and each periodic job's last finish.

Under gunicorn's several workers each process counts its own requests. With
PROMETHEUS_MULTIPROC_DIR set (gunicorn.conf.py sets it for `web`) prometheus_client keeps the
counters in memory-mapped files there and a scrape of any worker adds up all of them; without it
(a single process: tests, `flask run`) the process's own registry is exported."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from datetime import UTC

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from redis import Redis
from sqlalchemy.orm import Session
from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map

from backend.ops import service

CONTENT_TYPE = CONTENT_TYPE_LATEST
UNMATCHED = "unmatched"  # 404s and 405s: one label, whatever path was asked

REQUESTS = Counter(
    "heli_http_requests_total",
    "HTTP requests answered, by endpoint, method and status",
    ["endpoint", "method", "status"],
)
LATENCY = Histogram(
    "heli_http_request_duration_seconds",
    "Time to answer an HTTP request, by endpoint and method",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class RequestMetrics:
    """WSGI middleware: counts and times every request by the endpoint that answered it."""

    def __init__(self, wsgi_app: Callable, url_map: Map):
        self.wsgi_app = wsgi_app
        self.url_map = url_map

    def __call__(self, environ, start_response):
        began = time.perf_counter()
        status = ["500"]

        def start(code, headers, exc_info=None):
            status[0] = code.split(" ", 1)[0]
            return start_response(code, headers, exc_info)

        try:
            return self.wsgi_app(environ, start)
        finally:
            endpoint = self._endpoint(environ)
            method = environ.get("REQUEST_METHOD", "GET")
            REQUESTS.labels(endpoint, method, status[0]).inc()
            LATENCY.labels(endpoint, method).observe(time.perf_counter() - began)

    def _endpoint(self, environ) -> str:
        # Flask's request, once it routed it (the hot paths parse with one that never routes)
        rule = getattr(environ.get("werkzeug.request"), "url_rule", None)
        if rule is not None:
            return rule.endpoint
        try:  # answered below Flask, or by no route: name it by the route it stands for
            endpoint, _ = self.url_map.bind_to_environ(environ).match()
        except HTTPException:
            return UNMATCHED
        return endpoint


class LiveFigures:
    """Gauges read at scrape time from Redis and the database (the same in every process)."""

    def __init__(self, redis: Redis, session: Session, schedule: Sequence):
        self.redis, self.session, self.schedule = redis, session, schedule

    def collect(self):
        by_state = GaugeMetricFamily(
            "heli_queue_jobs", "rq jobs per queue and state", labels=["queue", "state"]
        )
        failed = GaugeMetricFamily(
            "heli_queue_failed_jobs", "Jobs in each queue's failed registry", labels=["queue"]
        )
        for queue in service.queues(self.redis):
            for state in ("queued", "started", "scheduled", "deferred"):
                by_state.add_metric([queue.name, state], getattr(queue, state))
            failed.add_metric([queue.name], queue.failed)
        yield by_state
        yield failed
        yield GaugeMetricFamily(
            "heli_workers", "rq workers alive", value=len(service.workers(self.redis))
        )
        yield GaugeMetricFamily(
            "heli_notices_pending",
            "Seller notices waiting to be handed to WeChat",
            value=service.notices_pending(self.session),
        )
        last = GaugeMetricFamily(
            "heli_periodic_last_finish_timestamp_seconds",
            "When each periodic job last finished, by outcome",
            labels=["job", "outcome"],
        )
        for job in service.scheduled_jobs(self.redis, self.schedule):
            if job.last.finished_at is not None and job.last.outcome:
                finished = job.last.finished_at.replace(tzinfo=UTC).timestamp()
                last.add_metric([job.id, job.last.outcome], finished)
        yield last


def counted() -> bytes:
    """The request counters and timings: of every process of the directory in multiprocess
    mode, else of this process (with its own process figures)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def exposition(redis: Redis, session: Session, schedule: Sequence) -> bytes:
    """The whole text a scrape answers."""
    live = CollectorRegistry(auto_describe=False)
    live.register(LiveFigures(redis, session, schedule))
    return counted() + generate_latest(live)
