"""Scratch Redis servers (tests, benchmarks) never outlive the process that started them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import redis

from backend.config import PROJECT_ROOT
from backend.embedded import ScratchRedis

START = """
import sys, time
from pathlib import Path
import redis
from backend.embedded import scratch_redis_url
url = scratch_redis_url(Path(sys.argv[1]))
client = redis.Redis.from_url(url)  # connected, as an app is when it crashes
client.ping()
print(url, flush=True)
if sys.argv[2] == "raise":
    raise RuntimeError("the benchmark crashed")
time.sleep(60)
"""


def servers_on(socket_file: str) -> list[int]:
    """Pids of live processes whose command line names this socket (redis-server shows it)."""
    pids = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if socket_file.encode() in (proc / "cmdline").read_bytes():
                    pids.append(int(proc.name))
            except OSError:
                pass
    return pids


def gone(socket_file: str, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not servers_on(socket_file):
            return True
        time.sleep(0.1)
    return False


def start(tmp_path: Path, mode: str) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, "-c", START, str(tmp_path / "r.db"), mode],
        cwd=PROJECT_ROOT,
        env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    url = process.stdout.readline().strip()
    assert url.startswith("unix://"), url
    return process, url.removeprefix("unix://")


def test_a_process_that_raises_leaves_no_server(tmp_path):
    process, socket_file = start(tmp_path, "raise")
    assert process.wait(timeout=30) == 1
    assert gone(socket_file), f"redis-server still serving {socket_file}"


def test_a_killed_process_leaves_no_server(tmp_path):
    process, socket_file = start(tmp_path, "sleep")
    assert servers_on(socket_file), "the server should run while its owner lives"
    os.kill(process.pid, signal.SIGKILL)  # no finally, no atexit: only the watchdog is left
    process.wait(timeout=10)
    assert gone(socket_file), f"redis-server still serving {socket_file}"


def test_closing_stops_the_server_even_with_clients_connected(tmp_path):
    with ScratchRedis(tmp_path / "r.db") as server:
        client = redis.Redis.from_url(server.url)
        client.set("k", "v")
        assert servers_on(server.socket_file)
    assert not servers_on(server.socket_file)
