"""A throwaway PostgreSQL cluster on loopback for benchmarks (Debian's binaries), if installed."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from contextlib import contextmanager

from bench.harness import free_port


def binaries() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"))
    return found[-1] if found else None


@contextmanager
def temp_postgres():
    """Yield a DATABASE_URL of a fresh cluster, or None when PostgreSQL is not installed."""
    bin_dir = binaries()
    if bin_dir is None:
        yield None
        return
    root = tempfile.mkdtemp(prefix="heli-bench-pg-")
    run_as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    if run_as:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    data = os.path.join(root, "data")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "check": True}
    subprocess.run(
        [*run_as, f"{bin_dir}/initdb", "-D", data, "-A", "trust", "-U", "postgres"], **quiet
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=200"
    subprocess.run(
        [
            *run_as,
            f"{bin_dir}/pg_ctl",
            "-D",
            data,
            "-l",
            f"{root}/log",
            "-w",
            "-o",
            options,
            "start",
        ],
        **quiet,
    )
    try:
        subprocess.run(
            [
                *run_as,
                f"{bin_dir}/createdb",
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "postgres",
                "bench",
            ],
            **quiet,
        )
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/bench"
    finally:
        subprocess.run(
            [*run_as, f"{bin_dir}/pg_ctl", "-D", data, "-m", "immediate", "stop"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)
