"""One id per piece of work, on every log line it writes: a web request (the caller's valid
X-Request-ID, else a new one; answered in the same header), the rq jobs enqueued while it ran
(carried in the job's meta, bound by the job wrapper while the job runs) and each batch of
comments the co-host bot handles. `grep <id>` follows one request through web, jobs and bots.

The id lives in a context variable: WSGI threads and rq's work horse each have their own."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

HEADER = "X-Request-ID"
META_KEY = "request_id"  # where an rq job carries the id of the request that enqueued it
# What a caller may send: ids from proxies and tracers (UUIDs, hex, `req-...`), nothing that
# could forge a log line or carry a payload. Anything else is replaced by a new id.
VALID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{7,63}")
LOG_FORMAT = "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"
NONE = "-"  # on log lines written outside any request, job or batch

_current: ContextVar[str | None] = ContextVar("heli_request_id", default=None)


def new() -> str:
    return uuid.uuid4().hex


def valid(raw: str | None) -> str | None:
    """The id as sent when it is acceptable, else None."""
    return raw if raw is not None and VALID.fullmatch(raw) else None


def current() -> str | None:
    return _current.get()


@contextmanager
def bound(request_id: str) -> Iterator[str]:
    """Log lines written inside carry request_id."""
    token = _current.set(request_id)
    try:
        yield request_id
    finally:
        _current.reset(token)


class RequestIdFilter(logging.Filter):
    """Puts the current id on every record as `request_id` (`-` outside any)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _current.get() or NONE
        return True


def configure_logging(level: int = logging.INFO) -> None:
    """Every process's logging: INFO and above to stderr with the id on each line (unless
    something configured the root logger already), and the filter on every root handler."""
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=level, format=LOG_FORMAT)
    for handler in root.handlers:
        if not any(isinstance(f, RequestIdFilter) for f in handler.filters):
            handler.addFilter(RequestIdFilter())


class RequestIds:
    """WSGI middleware, outermost: it binds the id around the whole request (the answers of
    miniprogram_api/hot_paths.py too, which never reach Flask) and answers it in the header."""

    def __init__(self, wsgi_app: Callable):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = valid(environ.get("HTTP_X_REQUEST_ID")) or new()
        environ["heli.request_id"] = request_id

        def start_with_id(status, headers, exc_info=None):
            headers = [(k, v) for k, v in headers if k.lower() != "x-request-id"]
            headers.append((HEADER, request_id))
            return start_response(status, headers, exc_info)

        with bound(request_id):
            return self.wsgi_app(environ, start_with_id)
