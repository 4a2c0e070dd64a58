"""Start the real stack in a scratch directory for a benchmark: sandbox, gunicorn, worker."""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
# The Procfile's worker: jobs run in the worker process itself (no fork per job).
WORKER = [sys.executable, "-m", "jobs.worker", "--no-fork", "notices", "default", "broadcasts"]
GUNICORN_WORKERS = int(os.environ.get("BENCH_WORKERS", "5"))
# Where every benchmark's buyers have their oysters delivered.
ADDRESS = {
    "name": "王海",
    "phone": "13800138000",
    "province": "山东省",
    "city": "威海市",
    "district": "乳山市",
    "detail": "海阳所镇 88 号",
}
# The benchmarks are bot farms by design: thousands of buyers from 127.0.0.1, a few accounts
# ordering as fast as they can. The business-flow limits, which refuse exactly that, are opened
# for them (an environment variable of the same name still wins).
OPEN_LIMITS = {
    "LOGIN_RATE_PER_IP": "1000000/minute",
    "ORDER_RATE_PER_IP": "1000000/minute",
    "ORDER_RATE_PER_CUSTOMER": "1000000/minute",
    "CLAIM_RATE_PER_IP": "1000000/minute",
    "CLAIM_RATE_PER_CUSTOMER": "1000000/minute",
    "CLAIMS_PER_IP_PER_SALE": 1_000_000,
    "MAX_UNPAID_ORDERS_PER_CUSTOMER": 1_000_000,
    "MAX_HELD_UNITS_PER_CUSTOMER": 1_000_000,
    "MAX_HELD_UNITS_PER_SKU_PER_CUSTOMER": 1_000_000,
}


def arguments(doc: str | None) -> argparse.ArgumentParser:
    """The options every benchmark takes: --postgres (a scratch cluster of its own instead of
    scratch SQLite) and --smoke (tiny sizes: the test suite's proof that the benchmark runs)."""
    parser = argparse.ArgumentParser(description=(doc or "").split("\n\n")[0])
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL cluster")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, to prove it runs")
    return parser


@contextmanager
def database(postgres: bool, scratch: Path, name: str = "bench.db"):
    """Yield the DATABASE_URL of a fresh database: a scratch PostgreSQL cluster when postgres
    (exits if PostgreSQL is not installed), else a SQLite file under scratch."""
    if not postgres:
        yield f"sqlite:///{scratch / name}"
        return
    from bench.postgres import temp_postgres

    with temp_postgres() as url:
        if url is None:
            sys.exit("--postgres needs PostgreSQL's binaries: apt-get install postgresql")
        yield url


def print_figures(figures: dict, prefix: str = "") -> None:
    """Each figure as a `name: value` line (floats to two places, booleans lower case)."""
    for name, value in figures.items():
        if isinstance(value, bool):
            shown = str(value).lower()
        elif isinstance(value, float):
            shown = f"{value:.2f}"
        else:
            shown = value
        print(f"{prefix}{name}: {shown}", flush=True)


def scratch_env(scratch: Path, database: str, **extra: str) -> dict:
    """The environment of a benchmark: the sandbox's test credentials, the database (a URL, or
    a SQLite file name under scratch), a scratch Redis that dies with the benchmark (unless
    REDIS_URL is set) and the sandbox's state under scratch, then extra."""
    sys.path.insert(0, str(ROOT))
    from backend.config import load_env_file
    from backend.embedded import scratch_redis_url

    load_env_file(ROOT / "sandbox" / "sandbox.env")
    return {
        **{name: str(value) for name, value in OPEN_LIMITS.items()},
        "SESSION_COOKIE_SECURE": "0",  # the console's cookie over plain http on loopback
        **os.environ,
        "DATABASE_URL": database
        if "://" in database
        else os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / database}",
        "REDIS_URL": os.environ.get("REDIS_URL") or scratch_redis_url(scratch / "redis.db"),
        "SANDBOX_STATE_DIR": str(scratch / "sandbox"),
        "SECRET_KEY": "bench",
        "FLASK_APP": "wsgi",
        **extra,
    }


def run_flask(env: dict, *commands: list[str]) -> None:
    """Run flask commands (["db", "upgrade"], ["seed-demo"], ...) in env, one after another."""
    for command in commands:
        subprocess.run(
            [sys.executable, "-m", "flask", *command],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )


def app_for(env: dict, **settings):
    """Heli's app on env's database and Redis, the rest of its config from the environment
    (the business-flow limits opened unless set there), then settings."""
    from backend.app import create_app
    from backend.config import Config

    config = Config.from_env()
    config.DATABASE_URL, config.REDIS_URL = env["DATABASE_URL"], env["REDIS_URL"]
    for name, value in OPEN_LIMITS.items():
        if name not in os.environ:
            setattr(config, name, value)
    for name, value in settings.items():
        setattr(config, name, value)
    return create_app(config)


def free_units(app, sku_id: int) -> int:
    """Units of a SKU on its lots that nothing holds."""
    from backend.extensions import db
    from backend.inventory.models import Lot

    with app.app_context():
        free = db.session.scalar(
            db.select(db.func.sum(Lot.on_hand - Lot.reserved)).where(Lot.sku_id == sku_id)
        )
        db.session.remove()
    return int(free or 0)


def children(pid: int) -> list[int]:
    """The processes pid started (Linux)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


def ensure_wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk:
        return wrk
    if os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "wrk"],
            check=False,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("wrk is needed for this benchmark: apt-get install wrk")
    return wrk


def wrk(
    url: str, *, seconds: int = 8, connections: int = 50, script: str | None = None
) -> tuple[float, float]:
    """Requests per second and p99 latency in ms for GET url (or what a Lua script requests).

    A turn in which no request finished says nothing about throughput (on a loaded machine a
    one-second smoke turn can end while every connection still waits): it is measured again,
    twice as long, up to three times."""
    extra = ["-s", script] if script else []
    for _ in range(3):
        out = subprocess.run(
            [ensure_wrk(), "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", *extra, url],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        if "Non-2xx" in out:
            raise RuntimeError(f"errors while benchmarking {url}:\n{out}")
        if int(re.search(r"(\d+) requests in", out).group(1)):
            break
        seconds *= 2
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    value, unit = re.search(r"99%\s+([\d.]+)(us|ms|s)", out).groups()
    p99 = float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
    return rps, p99


def gunicorn(app: str, port: int, env: dict) -> subprocess.Popen:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(GUNICORN_WORKERS),
            "--log-level",
            "warning",
            app,
        ],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: stop_all() reaches its workers too
    )


def spawn(command: list[str], env: dict, log: Path | None = None) -> subprocess.Popen:
    """Start a process of the stack in its own process group (see stop_all); its output goes to
    log (appended), else nowhere."""
    out = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 (the child keeps it)
    try:
        return subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT if log else subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        if log:
            out.close()


def procfile(path: Path = ROOT / "Procfile") -> dict[str, str]:
    """The processes of one deployment, as the Procfile lists them: {name: shell command}."""
    from honcho.environ import parse_procfile

    return dict(parse_procfile(path.read_text()).processes)


def customers_with_tokens(app, prefix: str, count: int) -> dict[int, str]:
    """count customers (openid prefix + number) logged in as login does it, in bulk: the tokens'
    sha256 stored and their sessions cached in Redis. Answers {customer id: token}."""
    from backend.customers import service as customers
    from backend.customers.models import AuthToken, Customer
    from backend.extensions import db
    from backend.timeutil import utcnow

    with app.app_context():
        session = db.session
        session.execute(
            db.insert(Customer),
            [{"openid": f"{prefix}{i:05d}", "nickname": f"买家{i}"} for i in range(count)],
        )
        ids = list(
            session.scalars(
                db.select(Customer.id)
                .where(Customer.openid.like(f"{prefix}%"))
                .order_by(Customer.id)
            )
        )
        tokens = {customer_id: customers.new_token(customer_id) for customer_id in ids}
        expires = utcnow() + timedelta(days=1)
        rows = [
            {
                "customer_id": customer_id,
                "token_hash": hashlib.sha256(token.encode()).hexdigest(),
                "expires_at": expires,
            }
            for customer_id, token in tokens.items()
        ]
        session.execute(db.insert(AuthToken), rows)
        session.commit()
        for row in rows:
            customers.remember_session(row["token_hash"], row["customer_id"], expires)
        session.remove()
    return tokens


def stop_all(processes: list[subprocess.Popen], timeout: float = 10) -> None:
    """Stop each process with its whole group (gunicorn's workers, rq's work horses): TERM, then
    KILL."""
    for process in processes:
        _signal_group(process, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)  # stragglers of the group, even if the leader exited
        process.wait()


def _signal_group(process: subprocess.Popen, sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass


@contextmanager
def stack(extra_env: dict | None = None, prepare=None, database_url: str = "bench.db"):
    """Yield (env, urls) for a running sandbox + Heli web + rq worker + scheduler on a scratch
    Redis and database_url (scratch SQLite by default).

    prepare(env), if given, runs after the demo data is loaded and before the processes start."""
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-"))
    sandbox_port, web_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{sandbox_port}"
    env = scratch_env(
        scratch,
        database_url,
        SANDBOX_URL=sandbox_url,
        SANDBOX_PORT=str(sandbox_port),
        WECHAT_API_BASE=sandbox_url + "/",
        WECHATPAY_API_BASE=sandbox_url,
        PUBLIC_BASE_URL=f"http://127.0.0.1:{web_port}",
        **(extra_env or {}),
    )
    processes = []
    try:
        run_flask(env, ["db", "upgrade"], ["seed-demo"])
        if prepare is not None:
            prepare(env)
        processes.append(spawn([sys.executable, "-m", "sandbox"], env))
        processes.append(gunicorn("wsgi:app", web_port, env))
        processes.append(spawn(WORKER, env))
        processes.append(spawn([sys.executable, "-m", "jobs.scheduler"], env))  # rq's delayed jobs
        web = f"http://127.0.0.1:{web_port}"
        wait_http(sandbox_url + "/sandbox/health")
        wait_http(web + "/healthz")
        yield env, {"web": web, "sandbox": sandbox_url}
    finally:
        stop_all(processes)
        shutil.rmtree(scratch, ignore_errors=True)


# Viewers racing through a claim route (bench.flash_sale, bench.adoption). Each wrk thread takes
# its own slice of the tokens; every request is the slice's next viewer with a fresh
# Idempotency-Key. Once its whole slice has been answered a thread leaves a marker file; the
# Python side then stops wrk with SIGINT (wrk's main thread sleeps the whole -d otherwise) and
# parses what done() prints.
_VIEWERS_SCRIPT = """
threads, tokens, statuses = {}, {}, {}
index, size, sent, answered = 0, 0, 0, 0

function setup(thread)
  thread:set("index", #threads)
  threads[#threads + 1] = thread
end

function init(args)
  local all = {}
  for line in io.lines("@TOKENS@") do all[#all + 1] = line end
  local share = math.ceil(#all / 2)
  for i = index * share + 1, math.min(#all, (index + 1) * share) do tokens[#tokens + 1] = all[i] end
  size = #tokens
  math.randomseed(os.time() * 1000 + index)
end

function request()
  sent = sent + 1
  return wrk.format("POST", nil, {
    ["Authorization"] = "Bearer " .. tokens[(sent - 1) % size + 1],
    ["Idempotency-Key"] = string.format("@KEY@%d-%d-%d", index, sent, math.random(1, 1000000000)),
    ["Content-Type"] = "application/json",
  }, '@BODY@')
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  answered = answered + 1
  if answered == size then io.open("@MARKS@" .. index, "w"):close() end
end

function done(summary, latency, requests)
  local counts, reached = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do counts[status] = (counts[status] or 0) + n end
    reached = reached + math.min(thread:get("sent"), thread:get("size"))
  end
  for status, n in pairs(counts) do io.write(string.format("status %d %d\\n", status, n)) end
  local e = summary.errors
  io.write(string.format("reached %d\\nduration_us %d\\np50_us %d\\np99_us %d\\n", reached,
    summary.duration, latency:percentile(50), latency:percentile(99)))
  io.write(string.format("connect_errors %d\\nread_errors %d\\nwrite_errors %d\\n", e.connect,
    e.read, e.write))
  io.write(string.format("timeouts %d\\n", e.timeout))
end
"""


def viewers_script(*, tokens: Path, marks: str, key: str, body: str) -> str:
    """The wrk script above: viewers' tokens one a line in `tokens`, each POSTing `body` with an
    Idempotency-Key starting `key`; the marker files are `marks` and the thread's number."""
    return (
        _VIEWERS_SCRIPT.replace("@TOKENS@", str(tokens))
        .replace("@MARKS@", marks)
        .replace("@KEY@", key)
        .replace("@BODY@", body)
    )
