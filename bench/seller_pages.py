"""Seller-pages benchmark: the phone pages sellers open most (today and the order list) under
gunicorn, against the bare Flask route under the same settings, and the time from a platform
payment to the seller's WeChat notice.

    python -m bench.seller_pages [--postgres] [--smoke] [--rounds N]

Before the stack starts, every seller of the demo alliance (3000) gets a shop, 50 orders and
30 notices (--smoke: 60 sellers, 10 orders, 5 notices). Sellers then log in as staff would
let them (a login link, opened and confirmed over HTTP) and wrk asks for their pages in turn,
each request carrying the next seller's cookie. The bare route, today and the order list are
measured in turns (bare, today, orders, bare, ...) so that a neighbour's load falls on all of
them: each ratio is the median of its turns' ratios (goal >= 0.3).

notice_p95_s comes from bench.seller_notices over 500 platform orders (--smoke: 20). The exit
status is 1 when a page answers anything but 200, or the notices miss their goal.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import statistics
import sys
import tempfile
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import requests

from bench import seller_notices
from bench.harness import (
    app_for,
    arguments,
    database,
    free_port,
    gunicorn,
    print_figures,
    stack,
    stop_all,
    wait_http,
    wrk,
)

SIZES = {
    # sellers, orders each, notices each, sellers logged in, seconds a turn, warm-up seconds
    "full": (3000, 50, 30, 300, 8, 2),
    "smoke": (60, 10, 5, 10, 1, 1),
}
NOTICE_ORDERS = {"full": (500, 50, 10.0), "smoke": (20, 4, 10.0)}
ROUNDS = 3
PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")
STATUSES = ("PAID",) * 4 + ("SHIPPED",) * 8 + ("COMPLETED",) * 7 + ("REFUNDING",)
CHUNK = 5000


def fill(env: dict, sellers: int, orders_each: int, notices_each: int) -> None:
    """A shop per seller, with its orders and the seller's notices (bulk inserts: the pages
    read what the pulls and notices would have written). The shops are not due for a pull
    during the run, so the scheduler leaves them alone."""
    from sqlalchemy import insert, select

    from backend.catalogue.models import Sku
    from backend.extensions import db
    from backend.notices.models import SellerNotice
    from backend.platforms import vault
    from backend.platforms.models import PlatformOrder, Shop
    from backend.sellers.models import Seller
    from backend.timeutil import utcnow

    rng = random.Random(17)
    now = utcnow()
    with app_for(env).app_context():
        session = db.session
        seller_ids = list(session.scalars(select(Seller.id).order_by(Seller.id).limit(sellers)))
        skus = list(session.execute(select(Sku.id, Sku.code, Sku.price)).all())
        token = vault.seal("bench-token")
        session.execute(
            insert(Shop),
            [
                {
                    "seller_id": seller_id,
                    "platform": PLATFORMS[i % len(PLATFORMS)],
                    "shop_key": f"bench-{seller_id}",
                    "name": f"乳山海鲜{seller_id}号店",
                    "access_token": token,
                    "refresh_token": token,
                    "token_expires_at": now + timedelta(days=60),
                    "status": "ACTIVE",
                    "self_fulfilled": i % 3 == 0,
                    "next_pull_at": now + timedelta(days=30),
                    "last_error": "",
                }
                for i, seller_id in enumerate(seller_ids)
            ],
        )
        shops = dict(session.execute(select(Shop.seller_id, Shop.id)).all())
        orders = []
        for seller_id in seller_ids:
            for n in range(orders_each):
                sku_id, code, price = rng.choice(skus)
                quantity = rng.randint(1, 3)
                status = rng.choice(STATUSES)
                placed = now - timedelta(minutes=rng.randint(1, 60 * 24 * 30))
                sent = status in ("SHIPPED", "COMPLETED")
                orders.append(
                    {
                        "platform": PLATFORMS[seller_id % len(PLATFORMS)],
                        "order_no": f"B{seller_id:05d}{n:04d}",
                        "shop_id": shops[seller_id],
                        "seller_id": seller_id,
                        "status": status,
                        "platform_status": status,
                        "placed_at": placed,
                        "platform_updated_at": placed,
                        "paid_at": placed,
                        "total": price * quantity,
                        "shipping_fee": 0,
                        "lines": [
                            {
                                "sku_code": code,
                                "platform_sku_id": f"P{sku_id}",
                                "title": f"乳山牡蛎 {code}",
                                "quantity": quantity,
                                "unit_price": price,
                                "sku_id": sku_id,
                            }
                        ],
                        "receiver": {"name": "王**", "phone": "138****0000", "address": "山东省**"},
                        "stock_state": "SHIPPED" if sent else "SOLD",
                        "carrier": "SF" if sent else None,
                        "tracking_no": f"SF{seller_id:05d}{n:06d}" if sent else None,
                    }
                )
        for start in range(0, len(orders), CHUNK):
            session.execute(insert(PlatformOrder), orders[start : start + CHUNK])
        notices = [
            {
                "seller_id": seller_id,
                "kind": "ORDER_NEW" if n % 3 else "BROADCAST",
                "title": "新订单" if n % 3 else "联盟通知：本周大规格牡蛎供货价调整",
                "body": "您的店铺有一笔新订单，请留意发货时间。" * 3,
                "data": {},
                "dedupe_key": f"bench:{seller_id}:{n}",
                "link": "/seller/orders",
                "created_at": now - timedelta(hours=n),
                "read_at": now if n % 4 else None,
            }
            for seller_id in seller_ids
            for n in range(notices_each)
        ]
        for start in range(0, len(notices), CHUNK):
            session.execute(insert(SellerNotice), notices[start : start + CHUNK])
        session.commit()
        db.session.remove()


def log_in(env: dict, web: str, seller_ids: list[int]) -> list[str]:
    """Each seller's cookie header, got as a seller gets it: a staff login link, opened and
    confirmed in the page."""
    from backend.extensions import db
    from backend.workspace import login

    cookies = []
    with app_for(env).app_context():
        links = [login.issue_login_link(db.session, seller_id=i)["url"] for i in seller_ids]
        # the link names the public address; this run's web server is elsewhere
        links = [web + "/seller/" + link.split("/seller/", 1)[1] for link in links]
        db.session.remove()
    for url in links:
        with requests.Session() as http:
            page = http.get(url, timeout=10)
            csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            done = http.post(page.url, data={"csrf_token": csrf}, allow_redirects=False)
            if done.status_code != 302 or "heli_seller" not in done.cookies:
                raise RuntimeError(f"login link refused {done.status_code}: {done.text[:200]}")
            cookies.append(f"heli_seller={done.cookies['heli_seller']}")
    return cookies


def rotating_cookies(cookies: list[str], scratch: Path) -> str:
    """A wrk script that sends each request with the next seller's cookie."""
    script = scratch / "sellers.lua"
    script.write_text(
        f"local cookies = {{{', '.join(json.dumps(c) for c in cookies)}}}\n"
        "local n = 0\n"
        "request = function()\n"
        "  n = n % #cookies + 1\n"
        '  return wrk.format("GET", nil, {["Cookie"] = cookies[n]})\n'
        "end\n",
        "utf-8",
    )
    return str(script)


def measure_pages(postgres: bool, size: str, rounds: int) -> tuple[dict, list[str]]:
    sellers, orders_each, notices_each, logged_in, seconds, warm_up = SIZES[size]
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-seller-pages-"))
    turns: dict[str, list[tuple[float, float]]] = {"bare": [], "today": [], "orders": []}
    broken: list[str] = []
    try:
        with database(postgres, scratch, "pages.db") as url:
            prepare = lambda env: fill(env, sellers, orders_each, notices_each)  # noqa: E731
            with stack(prepare=prepare, database_url=url) as (env, urls):
                web = urls["web"]
                with app_for(env).app_context():
                    from backend.extensions import db
                    from backend.platforms.models import Shop

                    ids = list(db.session.scalars(db.select(Shop.seller_id).order_by(Shop.id)))
                    db.session.remove()
                chosen = random.Random(5).sample(ids, min(logged_in, len(ids)))
                script = rotating_cookies(log_in(env, web, chosen), scratch)
                for path in ("/seller/today", "/seller/orders"):
                    check = requests.get(
                        web + path,
                        headers={"Cookie": script_cookie(script)},
                        allow_redirects=False,
                        timeout=10,
                    )
                    if check.status_code != 200:
                        broken.append(f"{path} answered {check.status_code}")
                bare_port = free_port()
                routes = {
                    "bare": f"http://127.0.0.1:{bare_port}/bare",
                    "today": f"{web}/seller/today",
                    "orders": f"{web}/seller/orders",
                }
                bare = gunicorn("bench.bare_app:app", bare_port, env)
                try:
                    wait_http(routes["bare"])
                    for route in routes.values():
                        wrk(route, seconds=warm_up, script=script)
                    for _ in range(rounds):
                        for name, route in routes.items():
                            turns[name].append(wrk(route, seconds=seconds, script=script))
                finally:
                    stop_all([bare])
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    def median(name: str, index: int) -> float:
        return statistics.median(turn[index] for turn in turns[name])

    def ratio(name: str) -> float:
        return statistics.median(
            rps / bare for (rps, _), (bare, _) in zip(turns[name], turns["bare"], strict=True)
        )

    figures = {
        "sellers": sellers,
        "orders_per_seller": orders_each,
        "notices_per_seller": notices_each,
        "sellers_logged_in": logged_in,
        "bare_flask_rps": round(median("bare", 0)),
        "bare_flask_p99_ms": median("bare", 1),
        "today_rps": round(median("today", 0)),
        "today_p99_ms": median("today", 1),
        "today_ratio": ratio("today"),
        "orders_rps": round(median("orders", 0)),
        "orders_p99_ms": median("orders", 1),
        "orders_ratio": ratio("orders"),
    }
    return figures, broken


def script_cookie(script: str) -> str:
    """The first cookie of a rotating-cookie script (to check a page before measuring it)."""
    return re.search(r'"(heli_seller=[^"]+)"', Path(script).read_text("utf-8")).group(1)


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--rounds", type=int, help=f"turns of each route (default {ROUNDS})")
    options = parser.parse_args()
    size = "smoke" if options.smoke else "full"
    rounds = options.rounds or (1 if options.smoke else ROUNDS)
    orders, shops, rate = NOTICE_ORDERS[size]
    notices_args = SimpleNamespace(orders=orders, shops=shops, rate=rate)
    broken: list[str] = []
    # --postgres measures on PostgreSQL alone, as the other benchmarks do (figures "…_postgres")
    for suffix, postgres in [("_postgres", True)] if options.postgres else [("", False)]:
        figures, refused = measure_pages(postgres, size, rounds)
        figures |= seller_notices.measure(notices_args, postgres=postgres)
        print_figures({name + suffix: value for name, value in figures.items()})
        broken += [f"{problem}{suffix}" for problem in refused]
        if figures["notices_missing"]:
            broken.append(f"notices_missing{suffix}: {figures['notices_missing']}")
        if not figures["notice_p95_s"] < seller_notices.GOAL_P95_SECONDS:
            broken.append(f"notice_p95_s{suffix}: {figures['notice_p95_s']:.2f}")
    if broken:
        sys.exit("broken: " + ", ".join(broken))


if __name__ == "__main__":
    main()
