"""Live adoption drop benchmark: a host puts 300 cages of a raft on screen (认养上屏, through the
console's API) and 5,000 distinct logged-in viewers race for them through the real claim route
(POST /api/v1/live/rooms/{id}/adoption-claims) over 200 connections against gunicorn, next to a
bare Flask route served the same way in the same run. Then some winners pay through the
sandbox, some holds lapse (their units go back) and a second wave of the losers takes those
units again; at the end every unit must be free or held/adopted by exactly one adoption.

    python -m bench.adoption              # 300 units, 5,000 viewers, on scratch SQLite
    python -m bench.adoption --postgres   # the same on a scratch PostgreSQL cluster

Figures: adoptions_per_s (units adopted per second, from the first request to the last
adoption), claims_per_s (claim answers per second), p50/p99 of the claim route against the bare
route's (p99_ratio), double_adopted (a unit with two live adoptions or two paid orders) and
units_lost (a unit held or adopted without its one adoption, an adoption whose unit is not
held for it, a paid order whose adoption is not active, a 201 answer with no adoption). The exit
status is 1 when either is not 0, on 5xx answers, socket errors or timeouts.
"""

from __future__ import annotations

import shutil
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path

import requests

from bench.flash_sale import bare_baseline, claim_load, errors_in, pay
from bench.harness import (
    app_for,
    arguments,
    customers_with_tokens,
    database,
    print_figures,
    stack,
    viewers_script,
)


@dataclass(frozen=True)
class Sizes:
    units: int = 300
    viewers: int = 5_000
    connections: int = 200
    min_seconds: float = 5  # and until every viewer has been answered once
    max_seconds: int = 60
    paid: int = 10
    lapsed: int = 30  # unpaid holds that lapse; the second wave takes their units again
    bare_seconds: int = 8


SMOKE = Sizes(
    units=20,
    viewers=200,
    connections=20,
    min_seconds=0.5,
    max_seconds=20,
    paid=2,
    lapsed=5,
    bare_seconds=1,
)
SEA_AREA, RAFT = "RS-HYS-01", 30  # a raft of its own next to the demo's rafts 3 and 5


class Bench:
    def __init__(self, scratch: Path, sizes: Sizes):
        self.scratch, self.sizes = scratch, sizes
        self.tokens: dict[int, str] = {}
        self.app = None
        self.urls: dict = {}

    def prepare(self, env: dict) -> None:
        """The viewers, logged in before the show, and the raft's units, all free."""
        from backend.adoption import units as unit_rules
        from backend.batches.models import Farm, SeaArea
        from backend.extensions import db

        self.app = app_for(env)
        self.tokens = customers_with_tokens(self.app, "o_adopt_", self.sizes.viewers)
        with self.app.app_context():
            session = db.session
            area = session.scalar(db.select(SeaArea).where(SeaArea.code == SEA_AREA))
            farm_id = session.scalar(db.select(Farm.id).order_by(Farm.id))
            day = unit_rules.today()
            unit_rules.create_units(
                session,
                sea_area_code=area.code,
                farm_id=farm_id,
                product_line_code="oyster",
                raft=RAFT,
                positions=list(range(1, self.sizes.units + 1)),
                kind="cage",
                seeded_on=day - timedelta(days=30),
                adopt_until=day + timedelta(days=30),
                harvest_from=day + timedelta(days=60),
                harvest_to=day + timedelta(days=120),
                price=39800,
                yield_g=5000,
                max_parcels=4,
                loss_terms="replace",
            )
            session.commit()
            session.remove()

    def script(self, name: str, customer_ids: list[int]) -> tuple[str, str]:
        """A claim script for these viewers: (its path, its marker files' prefix)."""
        tokens = self.scratch / f"{name}.tokens"
        tokens.write_text("\n".join(self.tokens[c] for c in customer_ids) + "\n")
        path, marks = self.scratch / f"{name}.lua", str(self.scratch / f"{name}.covered.")
        path.write_text(viewers_script(tokens=tokens, marks=marks, key="ad", body="{}"))
        return str(path), marks


def adoptions_of_room(bench: Bench, room_id: int) -> list:
    from backend.adoption.models import Adoption
    from backend.extensions import db

    with bench.app.app_context():
        rows = db.session.execute(
            db.select(
                Adoption.id,
                Adoption.customer_id,
                Adoption.order_id,
                Adoption.status,
                Adoption.created_at,
            )
            .where(Adoption.live_room_id == room_id)
            .order_by(Adoption.id)
        ).all()
        db.session.remove()
    return rows


def lapse(bench: Bench, room_id: int, count: int) -> int:
    """Move `count` unpaid holds' pay deadlines (and their units' holds) into the past and run
    their expiry job, as the worker would at the deadline: their units go back."""
    from backend.adoption.models import PENDING, Adoption
    from backend.extensions import db
    from backend.orders.models import Order
    from backend.timeutil import utcnow
    from jobs.orders import expire_unpaid_order

    with bench.app.app_context():
        ids = list(
            db.session.scalars(
                db.select(Adoption.order_id)
                .where(Adoption.live_room_id == room_id, Adoption.status == PENDING)
                .order_by(Adoption.id.desc())
                .limit(count)
            )
        )
        db.session.execute(
            db.update(Order)
            .where(Order.id.in_(ids))
            .values(pay_deadline=utcnow() - timedelta(minutes=5))
        )
        db.session.commit()
        db.session.remove()
        return sum(expire_unpaid_order(order_id) == "cancelled" for order_id in ids)


def account(bench: Bench, room_id: int, created_answers: int) -> dict:
    """Every unit of the raft free, or held/adopted by exactly one live adoption; each paid
    order an active adoption; each 201 answer one adoption."""
    from backend.adoption import adopting
    from backend.adoption.models import (
        ACTIVE,
        ADOPTED,
        FREE,
        HELD,
        PENDING,
        Adoption,
        AdoptionUnit,
    )
    from backend.extensions import db
    from backend.orders.models import Order

    with bench.app.app_context():
        session = db.session
        adopting.sweep(session)  # as the scheduler does every 30 s: paid → active
        units = dict(
            session.execute(
                db.select(AdoptionUnit.id, AdoptionUnit.status).where(AdoptionUnit.raft == RAFT)
            ).all()
        )
        live = session.execute(
            db.select(Adoption.unit_id, Adoption.holding_unit_id, Adoption.status).where(
                Adoption.unit_id.in_(units), Adoption.status.in_((PENDING, ACTIVE))
            )
        ).all()
        paid = session.execute(
            db.select(Adoption.unit_id, Adoption.status)
            .join(Order, Order.id == Adoption.order_id)
            .where(Adoption.unit_id.in_(units), Order.status.in_(adopting.PAID_STATES))
        ).all()
        made = session.scalar(
            db.select(db.func.count()).select_from(Adoption).where(Adoption.live_room_id == room_id)
        )
        session.remove()
    holders: dict[int, int] = {}
    for unit_id, _holding, _status in live:
        holders[unit_id] = holders.get(unit_id, 0) + 1
    paid_per_unit: dict[int, int] = {}
    for unit_id, _status in paid:
        paid_per_unit[unit_id] = paid_per_unit.get(unit_id, 0) + 1
    double = sum(1 for n in holders.values() if n > 1)
    double += sum(1 for n in paid_per_unit.values() if n > 1)
    wanted = {PENDING: HELD, ACTIVE: ADOPTED}
    lost = sum(  # held or adopted, but by no live adoption
        1
        for unit_id, status in units.items()
        if status in (HELD, ADOPTED) and unit_id not in holders
    )
    lost += sum(  # a live adoption whose unit is not held for it
        1
        for unit_id, holding, status in live
        if holding != unit_id or units[unit_id] != wanted[status]
    )
    lost += sum(1 for _unit_id, status in paid if status != ACTIVE)  # charged, no unit
    lost += abs(made - created_answers)  # a 201 with no adoption, or one nobody was told of
    counted = {s: sum(1 for v in units.values() if v == s) for s in (FREE, HELD, ADOPTED)}
    return {
        "units_free": counted[FREE],
        "units_held": counted[HELD],
        "units_adopted": counted[ADOPTED],
        "adoptions_made": made,
        "double_adopted": double,
        "units_lost": lost,
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--seconds", type=float, help="least load time of the drop")
    parser.add_argument("--units", type=int, help="units on screen (300; smoke 20)")
    parser.add_argument("--viewers", type=int, help="viewers racing (5,000; smoke 200)")
    args = parser.parse_args()
    sizes = SMOKE if args.smoke else Sizes()
    sizes = replace(sizes, units=args.units or sizes.units, viewers=args.viewers or sizes.viewers)
    scratch = Path(tempfile.mkdtemp(prefix="heli-bench-adoption-"))
    bench = Bench(scratch, sizes)
    server_log = scratch / "gunicorn.log"
    try:
        with (
            database(args.postgres, scratch) as url,
            stack(
                {
                    "GUNICORN_CMD_ARGS": f"--error-logfile {server_log}",
                    "SESSION_COOKIE_SECURE": "0",
                },
                prepare=bench.prepare,
                database_url=url,
            ) as (env, urls),
        ):
            bench.urls = urls
            figures, loads = run(bench, env, args.seconds or sizes.min_seconds)
        server_errors = sorted(set(errors_in(server_log)))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    figures["database"] = "postgresql" if args.postgres else "sqlite"
    print_figures(figures)
    failures = [
        what
        for what, bad in (
            ("units adopted twice", figures["double_adopted"]),
            ("units lost", figures["units_lost"]),
            ("5xx answers", figures["server_errors"]),
            ("socket errors", figures["socket_errors"]),
            ("timeouts", figures["timeouts"]),
            ("answers other than 200/201/409", figures["unexpected_answers"]),
            ("nothing adopted", figures["units_adopted"] + figures["units_held"] == 0),
        )
        if bad
    ]
    if figures["server_errors"]:
        print("server_errors_seen:", *server_errors, sep="\n  ")
    if failures:
        sys.exit("FAILED: " + "; ".join(failures))


def run(bench: Bench, env: dict, seconds: float) -> tuple[dict, list]:
    from backend.adoption import live_offers
    from backend.timeutil import to_aware_utc

    sizes, web = bench.sizes, bench.urls["web"]
    bares = [bare_baseline(env, sizes)]
    console = requests.Session()
    login = console.post(
        f"{web}/console/api/login", json={"username": "admin", "password": "heli-demo"}
    )
    assert login.status_code == 200, login.text
    room = console.post(
        f"{web}/console/api/live/rooms",
        json={
            "name": "格子海认养专场",
            "anchor_name": "小于",
            "anchor_wechat": "heli_anchor",
            "starts_at": _at(20),
            "ends_at": _at(140),
        },
    )
    assert room.status_code == 201, room.text
    room_id = room.json()["id"]
    url = f"{web}/api/v1/live/rooms/{room_id}/adoption-claims"
    viewers = sorted(bench.tokens)
    # Warm every worker on the claim path (an unknown room: token, schema, 404).
    claim_load(
        f"{web}/api/v1/live/rooms/999999/adoption-claims",
        bench.script("warm", viewers[:200]),
        1,
        3,
        sizes.connections,
    )
    offer = console.post(
        f"{web}/console/api/live/rooms/{room_id}/adoption-offer",
        json={"sea_area": SEA_AREA, "raft": RAFT, "pay_minutes": 30},
    )
    assert offer.status_code == 201 and offer.json()["free"] == sizes.units, offer.text
    started = time.time()
    drop = claim_load(
        url, bench.script("drop", viewers), seconds, sizes.max_seconds, sizes.connections
    )
    won = adoptions_of_room(bench, room_id)
    last = max(to_aware_utc(row.created_at).timestamp() for row in won) if won else started

    # Some winners pay; some holds lapse and the losers race again for those units.
    to_pay = [row for row in won if row.status == "PENDING"][: sizes.paid]
    with ThreadPoolExecutor(5) as pool:
        list(
            pool.map(
                lambda row: pay(bench.urls, bench.tokens[row.customer_id], row.order_id), to_pay
            )
        )
    lapsed = lapse(bench, room_id, sizes.lapsed)
    winners = {row.customer_id for row in won}
    losers = [c for c in viewers if c not in winners]
    # The losers keep tapping for longer than the gate takes to notice units came back.
    again = claim_load(
        url,
        bench.script("again", losers),
        2 * live_offers.RECOUNT_SECONDS,
        sizes.max_seconds,
        sizes.connections,
    )
    bares.append(bare_baseline(env, sizes))
    loads = [drop, again]
    created = sum(load["statuses"].get(201, 0) for load in loads)
    checks = account(bench, room_id, created)
    bare_p99 = statistics.mean(p99 for _, p99 in bares)
    statuses = drop["statuses"]
    answered = sum(statuses.get(code, 0) for code in (200, 201, 409))
    figures = {
        "units": sizes.units,
        "viewers": sizes.viewers,
        "adoptions_per_s": len(won) / max(last - started, 1e-3),
        "claims_per_s": answered / (drop["duration_us"] / 1e6),
        "sold_out_s": last - started,
        "p50_ms": drop["p50_us"] / 1000,
        "p99_ms": drop["p99_us"] / 1000,
        "bare_flask_rps": round(statistics.mean(rps for rps, _ in bares)),
        "bare_p99_ms": bare_p99,
        "p99_ratio": drop["p99_us"] / 1000 / bare_p99,
        "won": statuses.get(201, 0),
        "same_hold_again": statuses.get(200, 0),
        "none_left": statuses.get(409, 0),
        "viewers_reached": drop.get("reached", 0),
        "paid": len(to_pay),
        "lapsed": lapsed,
        "won_again": again["statuses"].get(201, 0),
        "server_errors": sum(
            n for load in loads for code, n in load["statuses"].items() if code >= 500
        ),
        "socket_errors": sum(
            load.get(kind, 0)
            for load in loads
            for kind in ("connect_errors", "read_errors", "write_errors")
        ),
        "timeouts": sum(load.get("timeouts", 0) for load in loads),
        "unexpected_answers": sum(
            n
            for load in loads
            for code, n in load["statuses"].items()
            if code not in (200, 201, 409) and code < 500
        ),
        **checks,
    }
    return figures, loads


def _at(minutes: int) -> str:
    from backend.timeutil import SHANGHAI, to_aware_utc, utcnow

    moment = to_aware_utc(utcnow() + timedelta(minutes=minutes)).astimezone(SHANGHAI)
    return moment.isoformat()


if __name__ == "__main__":
    main()
