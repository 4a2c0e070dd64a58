"""Rendered catalogue pages, cached per process and invalidated by a version number in Redis.

Any change to products, prices or stock bumps the version after its transaction commits. The
process that committed it sees the new version at once; the others ask Redis at most every
VERSION_CHECK_SECONDS, so most hits cost no round trip (a Redis GET costs twice a whole bare Flask
request) and a page is never more than that older than the last committed change. Pages also age
out after a second, since a lot reaching its use-by changes stock without a commit.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

from sqlalchemy.orm import Session

from backend.queue import redis_client
from backend.transactions import on_commit

VERSION_KEY = "heli:catalogue:version"
_MAX_ENTRIES = 256
# Lots leave sale by the clock, not only by a change; no page outlives this.
MAX_AGE_SECONDS = 1.0
VERSION_CHECK_SECONDS = 0.1
_pages: dict[tuple, object] = {}
_SEEN = "_heli_catalogue_version"  # (version, when read), kept on the Redis client it came from


def _current_version() -> bytes:
    redis = redis_client()
    now = time.monotonic()
    seen = getattr(redis, _SEEN, None)
    if seen is not None and now - seen[1] < VERSION_CHECK_SECONDS:
        return seen[0]
    version = redis.get(VERSION_KEY)
    if version is None:
        # A fresh Redis must not match pages cached under an old one, so versions are random.
        redis.set(VERSION_KEY, uuid.uuid4().hex, nx=True)
        version = redis.get(VERSION_KEY)
    setattr(redis, _SEEN, (version, now))
    return version


def _bump() -> None:
    redis, version = redis_client(), uuid.uuid4().hex.encode()
    redis.set(VERSION_KEY, version)
    setattr(redis, _SEEN, (version, time.monotonic()))


def cached(key: tuple, build: Callable[[], object]) -> object:
    version = _current_version()
    full_key = (version, *key)
    now = time.monotonic()
    entry = _pages.get(full_key)
    if entry is None or now - entry[0] > MAX_AGE_SECONDS:
        if len(_pages) >= _MAX_ENTRIES:
            _pages.clear()
        entry = _pages[full_key] = (now, build())
    return entry[1]


def invalidate(session: Session) -> None:
    """Mark the catalogue stale once session's transaction commits."""
    on_commit(session, _bump, key="catalogue")
