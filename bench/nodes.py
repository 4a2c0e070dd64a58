"""Nodes of a deployment on one machine for benchmarks: every process the Procfile lists, each
in its own process group, on a port of its own."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.harness import procfile, spawn, wait_http


@dataclass
class Node:
    """One machine's set of Heli processes, each in its own process group."""

    name: str
    port: int
    env: dict
    logs: Path
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    killed: bool = False
    started_at: float = 0.0
    ended_at: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, process: str) -> Path:
        return self.logs / f"{self.name}-{process}.log"

    def start(self, commands: dict[str, str]) -> None:
        for process, command in commands.items():
            self.processes[process] = spawn(["/bin/sh", "-c", command], self.env, self.log(process))

    def exited(self) -> list[str]:
        return [name for name, process in self.processes.items() if process.poll() is not None]

    def pids(self) -> set[int]:
        """Every live process of the node (of its process groups)."""
        groups, found = {process.pid for process in self.processes.values()}, set()
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                state_ppid_group = stat.read_text().rsplit(")", 1)[1].split()[:3]
            except OSError:
                continue
            if int(state_ppid_group[2]) in groups:
                found.add(int(stat.parent.name))
        return found

    def kill(self) -> None:
        """Die as a machine does: SIGKILL to every process group, nothing gets to clean up."""
        self.killed, self.ended_at = True, time.monotonic()
        for process in self.processes.values():
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for process in self.processes.values():
            process.wait()


def start_nodes(env: dict, logs: Path, ports: tuple[int, int], web_workers: int) -> list[Node]:
    """Node A and node B, every Procfile process each, up and answering."""
    commands = procfile()
    nodes = []
    for name, port in zip("ab", ports, strict=True):
        node_env = {
            **env,
            "PATH": f"{Path(sys.executable).parent}:{env.get('PATH', '')}",
            "PORT": str(port),
            "WEB_CONCURRENCY": str(web_workers),
            "BOT_CONSUMER": f"cohost-node-{name}",  # a second machine has another host name
        }
        nodes.append(Node(name, port, node_env, logs))
        nodes[-1].start(commands)
    for node in nodes:
        wait_http(node.url + "/healthz", timeout=60)
        if node.exited():
            sys.exit(f"node {node.name}: {' '.join(node.exited())} exited at start (see its log)")
    return nodes
