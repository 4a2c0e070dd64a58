"""Seller-notice benchmark: how long from a platform payment to the seller's WeChat.

The real stack (sandbox, gunicorn, the notices worker, the platform worker serving
`platform_pushes` then `platforms`, the scheduler with its minute pulls) on a scratch database
and Redis. Sellers of the demo alliance follow and bound the Official Account; each has a
Douyin or a Youzan shop whose stand-in pushes to our callbacks. 500 orders (--smoke: 20) are
paid across the shops at --rate per second; the payment time is taken just before the
stand-in records the paid order, the arrival time is when the sandbox's WeChat accepted the
seller's template message (it records each with its time).

Prints notice_p50_s, notice_p95_s (goal < 30) and notice_max_s over the orders, and
notices_missing (paid orders whose seller got no notice within the wait). Taobao, JD and
Pinduoduo shops are not measured: they have no push here and are pulled every
PLATFORM_PULL_MINUTES. Exits non-zero when a notice is missing or the p95 misses the goal.

    python -m bench.seller_notices [--orders 500] [--shops 50] [--rate 10] [--postgres] [--smoke]
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import requests

from bench.harness import app_for, arguments, database, print_figures, spawn, stack, stop_all

PUSHING = ("douyin", "youzan")
PLATFORM_WORKER = [
    sys.executable,
    "-m",
    "jobs.worker",
    "--no-fork",
    "platform_pushes",
    "platforms",
]
SMOKE = {"orders": 20, "shops": 4, "rate": 10.0}
GOAL_P95_SECONDS = 30
WAIT_SECONDS = 120  # after the last payment, for the last notices


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def prepare_shops(app, sandbox: str, web: str, count: int) -> list[tuple[str, str, int]]:
    """count sellers, bound to the Official Account, each with a Douyin or Youzan shop that
    pushes to our callbacks; answers (platform, shop key, seller id) per shop."""
    from backend.extensions import db
    from backend.officialaccount.models import OAFollower
    from backend.platforms import service as platforms
    from backend.sellers.models import Seller
    from backend.timeutil import utcnow

    shops = []
    with app.app_context():
        seller_ids = list(db.session.scalars(db.select(Seller.id).order_by(Seller.id).limit(count)))
        for i, seller_id in enumerate(seller_ids):
            openid = f"bench-seller-{seller_id}"
            requests.post(
                f"{sandbox}/sandbox/oa/users",
                json={"openid": openid, "follow": True, "push": False},
                timeout=10,
            ).raise_for_status()
            db.session.add(OAFollower(openid=openid, seller_id=seller_id, following=True))
            db.session.commit()
            platform = PUSHING[i % len(PUSHING)]
            shop_key = f"bench-dy-{i:04d}" if platform == "douyin" else str(880_000 + i)
            grant = requests.post(
                f"{sandbox}/sandbox/platforms/{platform}/shops",
                json={"shop_id": shop_key},
                timeout=10,
            ).json()
            platforms.register_shop(
                db.session,
                seller_id=seller_id,
                platform=platform,
                shop_key=shop_key,
                name=f"压测店铺{i}",
                access_token=grant["access_token"],
                refresh_token=grant["refresh_token"],
                expires_at=utcnow() + timedelta(days=1),
            )
            shops.append((platform, shop_key, seller_id))
        db.session.remove()
    for platform in PUSHING:
        requests.post(
            f"{sandbox}/sandbox/platforms/{platform}/config",
            json={"push_url": f"{web}/callbacks/platforms/{platform}"},
            timeout=10,
        ).raise_for_status()
    return shops


def pay_orders(sandbox: str, shops: list, orders: int, rate: float) -> dict:
    """Pay orders round the shops at rate per second; answers {(platform, order no): paid at}."""
    paid = {}
    started = time.monotonic()
    for n in range(orders):
        platform, shop_key, _ = shops[n % len(shops)]
        wait = started + n / rate - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        at = time.time()
        answer = requests.post(
            f"{sandbox}/sandbox/platforms/{platform}/orders",
            json={
                "shop_id": shop_key,
                "items": [
                    {"outer_id": "RS-LIVE-L-5", "quantity": 1 + n % 3, "unit_price_fen": 9800}
                ],
                "status": "PAID",
            },
            timeout=10,
        )
        answer.raise_for_status()
        paid[(platform, str(answer.json()["order_id"]))] = at
    return paid


def arrivals(app, sandbox: str) -> dict:
    """{(platform, order no): when the seller's template message reached the sandbox's WeChat}."""
    from backend.extensions import db
    from backend.platforms.models import PlatformOrder

    messages = requests.get(
        f"{sandbox}/sandbox/oa/messages", params={"kind": "template"}, timeout=30
    ).json()["messages"]
    by_id = {}
    for message in messages:
        url = message.get("url") or ""
        if "/orders/" in url:
            by_id.setdefault(int(url.rsplit("/", 1)[1]), message["at"])
    with app.app_context():
        rows = db.session.execute(
            db.select(PlatformOrder.id, PlatformOrder.platform, PlatformOrder.order_no).where(
                PlatformOrder.id.in_(by_id)
            )
        ).all()
        db.session.remove()
    return {(platform, order_no): by_id[row_id] for row_id, platform, order_no in rows}


def measure(args, postgres: bool) -> dict:
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-notices-"))
    environ = dict(os.environ)
    try:
        with database(postgres, scratch, "notices.db") as database_url:
            with stack(database_url=database_url) as (env, urls):
                worker = spawn(PLATFORM_WORKER, env)
                try:
                    os.environ.update(env)  # the platform API bases follow SANDBOX_URL
                    app = app_for(env)
                    shops = prepare_shops(app, urls["sandbox"], urls["web"], args.shops)
                    paid = pay_orders(urls["sandbox"], shops, args.orders, args.rate)
                    deadline = time.monotonic() + WAIT_SECONDS
                    got = arrivals(app, urls["sandbox"])
                    while len(set(paid) & set(got)) < len(paid) and time.monotonic() < deadline:
                        time.sleep(0.5)
                        got = arrivals(app, urls["sandbox"])
                finally:
                    stop_all([worker])
    finally:
        os.environ.clear()
        os.environ.update(environ)
        shutil.rmtree(scratch, ignore_errors=True)
    latencies = [got[key] - at for key, at in paid.items() if key in got]
    return {
        "notices_received": len(latencies),
        "notices_missing": len(paid) - len(latencies),
        "notice_p50_s": percentile(latencies, 0.5),
        "notice_p95_s": percentile(latencies, 0.95),
        "notice_max_s": max(latencies) if latencies else float("nan"),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--shops", type=int, default=50)
    parser.add_argument("--rate", type=float, default=10.0, help="payments per second")
    args = parser.parse_args()
    if args.smoke:
        args.orders, args.shops, args.rate = SMOKE["orders"], SMOKE["shops"], SMOKE["rate"]
    print_figures({"orders": args.orders, "shops": args.shops, "payments_per_s": args.rate})
    runs = [("", measure(args, postgres=False))]
    if args.postgres:
        runs.append(("_postgres", measure(args, postgres=True)))
    broken = []
    for suffix, figures in runs:
        print_figures({name + suffix: value for name, value in figures.items()})
        if figures["notices_missing"]:
            broken.append(f"notices_missing{suffix}: {figures['notices_missing']}")
        if not figures["notice_p95_s"] < GOAL_P95_SECONDS:
            broken.append(f"notice_p95_s{suffix}: {figures['notice_p95_s']:.2f}")
    if broken:
        sys.exit("broken: " + ", ".join(broken))


if __name__ == "__main__":
    main()
