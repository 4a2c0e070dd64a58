"""Flash sales: units leave the lots at start, claims race through one Redis script and are
answered at once, a worker writes them as orders to pay (exactly once, even after a death),
unpaid units come back, leftovers return at the end, and everything reconciles."""

import hashlib
import threading
import uuid

import pytest

from backend.extensions import db
from backend.inventory import queries as inventory_queries
from backend.live import flash_claims, flash_sales
from backend.live.models import FlashClaim
from backend.orders.models import Order
from tests.helpers import ADDRESS, Shopper, run_jobs, sku_stock


@pytest.fixture
def sale(app, staff_client, store):
    """50 units of 5-jin large live oysters at 59 yuan, limit 2 a person, for 10 minutes."""
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 50,
            "price": 5900,
            "seconds": 600,
            "per_person_limit": 2,
            "pay_minutes": 5,
        },
    )
    assert res.status_code == 201, res.json
    return res.json


def _claim(shopper, sale_id, quantity=1, key=None, **body):
    return shopper.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": quantity, **body},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def _outcome(shopper, sale_id, key):
    return shopper.get(f"/api/v1/flash-sales/{sale_id}/claims/{key}")


def _won(app, shopper, sale_id, quantity=1, key=None, **body):
    """Claim, let the claim writer run, and answer the order the claim became."""
    key = key or uuid.uuid4().hex
    res = _claim(shopper, sale_id, quantity, key, **body)
    assert res.status_code == 202 and res.json["status"] == "PENDING", res.json
    run_jobs(app)
    done = _outcome(shopper, sale_id, key)
    assert done.status_code == 200 and done.json["status"] == "ORDERED", done.json
    return done.json["order"]


def _reconcile(app, sale_id):
    with app.app_context():
        return flash_sales.reconcile(db.session, sale_id=sale_id)


def test_a_claim_is_answered_at_once_and_becomes_an_order_at_the_sale_price(
    app, shopper, sale, store
):
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 50)  # the sale holds its units
    res = _claim(shopper, sale["id"], 2, key="claim-key-0001")
    assert res.status_code == 202
    assert res.json == {
        "status": "PENDING",
        "message": "抢到了！订单生成中，请稍候查看",
        "code": None,
        "quantity": 2,
        "order": None,
    }
    waiting = _outcome(shopper, sale["id"], "claim-key-0001")
    assert waiting.status_code == 200 and waiting.json["status"] == "PENDING"
    assert _reconcile(app, sale["id"])["in_flight"] == 2  # not written yet, and balanced
    run_jobs(app)  # the writer the claim kicked
    done = _outcome(shopper, sale["id"], "claim-key-0001").json
    assert done["status"] == "ORDERED" and "支付" in done["message"]
    order = done["order"]
    assert order["status"] == "PENDING_PAYMENT" and order["total"] == 11800
    assert order["items"][0]["unit_price"] == 5900
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"], view["paid"]) == (48, 2, 0)
    assert 0 < view["seconds_left"] <= 600
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 50)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_claims_need_an_address_before_paying_and_pay_normally(app, shopper, sale):
    order = _won(app, shopper, sale["id"])
    no_address = shopper.post(f"/api/v1/orders/{order['id']}/pay")
    assert no_address.status_code == 422 and no_address.json["code"] == "ADDRESS_REQUIRED"
    assert shopper.put(f"/api/v1/orders/{order['id']}/address", json=ADDRESS).status_code == 200
    shopper.confirm_payment(shopper.pay(order["id"]))
    from tests.helpers import wait_for

    wait_for(lambda: shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "PAID")
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["held"], view["paid"]) == (0, 1)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_per_person_limit_and_replayed_keys(app, shopper, sale):
    first = _claim(shopper, sale["id"], 1, key="claim-key-0001")
    again = _claim(shopper, sale["id"], 1, key="claim-key-0001")
    assert first.status_code == 202 and again.status_code == 200
    assert again.json["status"] == "PENDING"
    run_jobs(app)
    written = _claim(shopper, sale["id"], 1, key="claim-key-0001")
    assert written.status_code == 200 and written.json["status"] == "ORDERED"
    assert (
        written.json["order"]["id"]
        == _outcome(shopper, sale["id"], "claim-key-0001").json["order"]["id"]
    )
    assert _claim(shopper, sale["id"], 1).status_code == 202
    over = _claim(shopper, sale["id"], 1)
    assert over.status_code == 422 and over.json["code"] == "OVER_PERSON_LIMIT"
    assert "限购" in over.json["message"]
    run_jobs(app)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(FlashClaim)) == 2


def test_bad_claims(app, client, shopper, sale):
    for quantity in (0, -1, 100, 1.5, "1"):
        assert _claim(shopper, sale["id"], quantity).status_code == 400
    assert (
        shopper.post(f"/api/v1/flash-sales/{sale['id']}/claims", json={"quantity": 1}).status_code
        == 400
    )  # no Idempotency-Key
    anonymous = client.post(
        f"/api/v1/flash-sales/{sale['id']}/claims",
        json={"quantity": 1},
        headers={"Idempotency-Key": "anon-key-0001"},
    )
    assert anonymous.status_code == 401
    unknown = _claim(shopper, 999999)
    assert unknown.status_code == 404 and unknown.json["code"] == "FLASH_SALE_NOT_FOUND"
    never = _outcome(shopper, sale["id"], "never-claimed-1")
    assert never.status_code == 404 and never.json["code"] == "CLAIM_NOT_FOUND"
    assert _outcome(shopper, sale["id"], "bad key!").status_code == 404


def test_claims_after_the_end_are_refused_and_leftovers_go_back(
    app, shopper, staff_client, sale, store
):
    _won(app, shopper, sale["id"], 2)
    stopped = staff_client.post(f"/console/api/flash-sales/{sale['id']}/stop", json={})
    assert stopped.status_code == 200 and stopped.json["status"] == "ENDED"
    late = _claim(shopper, sale["id"], 1)
    assert late.status_code == 422 and late.json["code"] == "FLASH_SALE_ENDED"
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 2)  # 48 units back on sale
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_unpaid_claims_return_units_to_the_running_sale(app, shopper, other_shopper, sale):
    order = _won(app, shopper, sale["id"], 2)
    assert shopper.post(f"/api/v1/orders/{order['id']}/cancel").status_code == 200
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"]) == (50, 0)
    _won(app, shopper, sale["id"], 2)  # the limit was given back too
    assert _reconcile(app, sale["id"])["balanced"] is True
    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []


def test_unpaid_claims_after_the_end_go_back_to_stock(app, shopper, staff_client, sale, store):
    order = _won(app, shopper, sale["id"], 2)
    staff_client.post(f"/console/api/flash-sales/{sale['id']}/stop", json={})
    from datetime import timedelta

    from backend.timeutil import utcnow
    from jobs.orders import expire_unpaid_order

    with app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(pay_deadline=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        assert expire_unpaid_order(order["id"]) == "cancelled"
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 0)
    assert _reconcile(app, sale["id"])["balanced"] is True


def test_units_lost_to_an_expired_lot_leave_the_running_sale(app, shopper, sale, store):
    """The lots holding the sale's units reach their use-by with no other lot to take them from:
    the sale offers none of them any more, staff are told, and the books still balance."""
    from datetime import timedelta

    from backend.inventory.models import Lot
    from backend.staff.models import StaffAlert
    from backend.timeutil import utcnow
    from jobs.inventory import expire_lot

    with app.app_context():
        lot_ids = list(db.session.scalars(db.select(Lot.id).where(Lot.sku_id == sale["sku_id"])))
        db.session.execute(
            db.update(Lot).where(Lot.id.in_(lot_ids)).values(use_by=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        lost = [pair for lot_id in lot_ids for pair in expire_lot(lot_id)["unmoved_sale"]]
        assert sum(units for _, units in lost) == 50
        alerts = db.session.scalars(
            db.select(StaffAlert).where(StaffAlert.kind == "FLASH_SALE_LOT_EXPIRED")
        ).all()
        assert sum(alert.details["units"] for alert in alerts) == 50
        assert {alert.details["flash_sale_id"] for alert in alerts} == {sale["id"]}
        assert inventory_queries.ledger_mismatches(db.session) == []
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["sold_out"]) == (0, True)
    refused = _claim(shopper, sale["id"], 1)
    assert refused.status_code == 409 and refused.json["code"] == "SOLD_OUT"
    report = _reconcile(app, sale["id"])
    assert (report["in_sale"], report["redis_remaining"], report["released"]) == (0, 0, 50)
    assert report["balanced"] is True


def test_an_unpaid_claim_on_an_expired_lot_is_cancelled_and_the_sale_balances(app, shopper, sale):
    """The claim's own hold cannot move either: its order is cancelled, and its units went back
    to the expired lot, not to the sale (nothing is given back in Redis)."""
    from datetime import timedelta

    from backend.inventory.models import Lot
    from backend.timeutil import utcnow
    from jobs.inventory import expire_lot

    order = _won(app, shopper, sale["id"], 2)
    with app.app_context():
        lot_ids = list(db.session.scalars(db.select(Lot.id).where(Lot.sku_id == sale["sku_id"])))
        db.session.execute(
            db.update(Lot).where(Lot.id.in_(lot_ids)).values(use_by=utcnow() - timedelta(seconds=1))
        )
        db.session.commit()
        for lot_id in lot_ids:
            expire_lot(lot_id)
    assert shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "CANCELLED"
    view = shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert (view["remaining"], view["held"]) == (0, 0)
    report = _reconcile(app, sale["id"])
    assert (report["in_sale"], report["redis_remaining"], report["released"]) == (0, 0, 50)
    assert report["balanced"] is True


def test_a_sale_larger_than_sellable_stock_is_refused(staff_client, store):
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-GIFT-XL-8"],
            "units": 121,
            "price": 9900,
            "seconds": 60,
            "per_person_limit": 1,
        },
    )
    assert (
        res.status_code == 409 and res.json["code"] == "SOLD_OUT" and "库存" in res.json["message"]
    )
    limit = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-GIFT-XL-8"],
            "units": 5,
            "price": 9900,
            "seconds": 60,
            "per_person_limit": 6,
        },
    )
    assert limit.status_code == 400


def test_racing_viewers_get_exactly_the_units(app, sandbox, staff_client, store):
    res = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-M-5"],
            "units": 20,
            "price": 3900,
            "seconds": 600,
            "per_person_limit": 3,
        },
    )
    sale_id = res.json["id"]
    viewers = [Shopper.login(app.test_client(), sandbox, f"o_viewer_{i}") for i in range(16)]
    answers: list[int] = []

    def race(viewer):
        mine = Shopper(app.test_client(), sandbox, viewer.token, viewer.openid)
        for _ in range(2):
            answers.append(_claim(mine, sale_id, 2).status_code)

    threads = [threading.Thread(target=race, args=(v,)) for v in viewers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers.count(202) == 10  # 20 units, 2 each
    assert set(answers) <= {202, 409, 422}
    run_jobs(app)
    report = _reconcile(app, sale_id)
    assert report["balanced"] is True and report["held"] == 20 and report["redis_remaining"] == 0
    assert sku_stock(app, store["RS-LIVE-M-5"]) == (600, 20)
    with app.app_context():
        assert inventory_queries.ledger_mismatches(db.session) == []


def _stream(app):
    redis = app.extensions["heli_redis"]
    return redis, [entry_id for entry_id, _ in redis.xrange(flash_claims.STREAM)]


def test_a_claim_whose_web_worker_died_after_the_script_is_still_written(app, shopper, sale):
    """SIGKILL right after the script: the answer never went out, and no job was enqueued (the
    kick was taken). The claim is in the stream all the same; the next writer writes it."""
    _claim(shopper, sale["id"], 1, key="lost-answer-01")
    app.extensions["heli_redis"].delete("rq:queue:default")  # the kicked job died with it
    run_jobs(app)
    assert _outcome(shopper, sale["id"], "lost-answer-01").json["status"] == "PENDING"
    _claim(other := Shopper.login(shopper.client, shopper.sandbox, "o_later"), sale["id"], 1)
    assert _reconcile(app, sale["id"])["balanced"] is True
    app.extensions["heli_redis"].delete(flash_claims.KICK)  # the kick lapsed
    # any later claim, even a refused one, sees claims waiting and kicks a writer again
    assert _claim(other, sale["id"], 2, key="kicks-again-01").status_code == 422
    run_jobs(app)
    assert _outcome(shopper, sale["id"], "lost-answer-01").json["status"] == "ORDERED"
    report = _reconcile(app, sale["id"])
    assert (report["held"], report["in_flight"], report["balanced"]) == (2, 0, True)
    assert _stream(app)[1] == []  # acknowledged and deleted


def test_a_writer_killed_mid_batch_is_taken_over_and_writes_each_claim_once(
    app, shopper, other_shopper, sale
):
    """A writer took the entries and died before (or after) committing: after
    STALE_CLAIM_SECONDS another writer takes them over; the database row decides, so a claim
    already written is finished, not written twice."""
    for key in ("taken-then-died-1", "taken-then-died-2"):
        _claim(shopper, sale["id"], 1, key=key)
    redis, ids = _stream(app)
    with app.app_context():
        redis.xgroup_create(flash_claims.STREAM, flash_claims.GROUP, id="0", mkstream=True)
        taken = redis.xreadgroup(flash_claims.GROUP, "dead-writer", {flash_claims.STREAM: ">"})
        assert [entry_id for entry_id, _ in taken[0][1]] == ids
        # it had committed the first claim's order, then died before telling Redis
        first = flash_claims.pending_claims(sale["id"])
        first = [c for c in first if c.idempotency_key == "taken-then-died-1"]
        outcome = flash_claims._decide(db.session, sale["id"], first)
        db.session.commit()
        db.session.remove()
        assert outcome[first[0].field].status == "ORDERED"
        # not yet stale: a writer now leaves them to their (maybe living) owner, and says it
        # is not done (its job comes again)
        assert flash_claims.write_from_stream(db.session, consumer="w2", seconds=0.3) is False
        assert len(flash_claims.pending_claims(sale["id"])) == 2
        db.session.remove()
    for key in ("taken-then-died-1", "taken-then-died-2"):
        assert _outcome(shopper, sale["id"], key).json["status"] == "PENDING"
    # Redis keeps the entries' idle time: age them instead of waiting
    with app.app_context():
        redis.xclaim(
            flash_claims.STREAM,
            flash_claims.GROUP,
            "dead-writer",
            0,
            ids,
            idle=flash_claims.STALE_CLAIM_SECONDS * 1000 + 1,
        )
        assert flash_claims.write_from_stream(db.session, consumer="w2", seconds=5) is True
        db.session.remove()
    orders = [
        _outcome(shopper, sale["id"], k).json for k in ("taken-then-died-1", "taken-then-died-2")
    ]
    assert [o["status"] for o in orders] == ["ORDERED", "ORDERED"]
    assert orders[0]["order"]["id"] == outcome[first[0].field].order_id
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(FlashClaim)) == 2
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 2
    report = _reconcile(app, sale["id"])
    assert (report["held"], report["redis_remaining"], report["balanced"]) == (2, 48, True)
    assert redis.xpending(flash_claims.STREAM, flash_claims.GROUP)["pending"] == 0


def test_reconcile_writes_claims_no_writer_finished(app, shopper, sale):
    """The stream's copy is gone too (or no worker runs at all): the minute reconcile writes
    claims PENDING for longer than STALE_CLAIM_SECONDS from the answers hash."""
    import time

    _claim(shopper, sale["id"], 1, key="orphan-claim-01")
    redis = app.extensions["heli_redis"]
    redis.delete(flash_claims.STREAM, "rq:queue:default")
    field = next(iter(redis.hkeys(flash_claims.keys(sale["id"])[2]))).decode()
    marker = redis.hget(flash_claims.keys(sale["id"])[2], field).decode().split("|")
    marker[2] = str(time.time() - flash_claims.STALE_CLAIM_SECONDS - 1)
    redis.hset(flash_claims.keys(sale["id"])[2], field, "|".join(marker))
    report = _reconcile(app, sale["id"])
    assert (report["held"], report["in_flight"], report["balanced"]) == (1, 0, True)
    assert _outcome(shopper, sale["id"], "orphan-claim-01").json["status"] == "ORDERED"


def test_the_sales_end_writes_every_claim_it_granted_first(app, shopper, staff_client, sale, store):
    """Claims still being written when the host stops the sale keep their units: they become
    orders, and only the rest goes back to stock."""
    for n in range(3):
        _claim(
            shopper if n < 2 else Shopper.login(shopper.client, shopper.sandbox, "o_c"),
            sale["id"],
            1,
            key=f"before-end-{n:04d}",
        )
    stopped = staff_client.post(f"/console/api/flash-sales/{sale['id']}/stop", json={})
    assert stopped.status_code == 200 and stopped.json["held"] == 3
    assert sku_stock(app, store["RS-LIVE-L-5"]) == (400, 3)
    run_jobs(app)  # the kicked writer finds them written
    assert _outcome(shopper, sale["id"], "before-end-0000").json["status"] == "ORDERED"
    report = _reconcile(app, sale["id"])
    assert (report["held"], report["released"], report["balanced"]) == (3, 47, True)


def test_a_claim_before_the_start_is_refused(app, shopper, sale):
    import time

    app.extensions["heli_redis"].hset(flash_claims.keys(sale["id"])[0], "starts", time.time() + 60)
    early = _claim(shopper, sale["id"])
    assert early.status_code == 422 and early.json["code"] == "FLASH_SALE_NOT_STARTED"
    assert "还未开始" in early.json["message"]


def test_claims_still_being_written_do_not_raise_false_alarms(app, shopper, sale):
    _claim(shopper, sale["id"], 1)
    report = _reconcile(app, sale["id"])
    assert report["balanced"] is True and report["in_flight"] == 1
    assert report["redis_remaining"] == 49 and report["held"] == 0  # a writer will write it
    with app.app_context():
        from backend.staff.models import StaffAlert

        assert db.session.scalar(db.select(db.func.count()).select_from(StaffAlert)) == 0


def test_the_claim_itself_never_waits_for_the_database(app, shopper, sale):
    """Token, rates, limits and the race are all answered from Redis: no SQL statement at all,
    for a win, a replay and a refusal alike."""
    from sqlalchemy import event

    statements = []

    def count(*_args):
        statements.append(1)

    with app.app_context():
        event.listen(db.engine, "before_cursor_execute", count)
    try:
        assert _claim(shopper, sale["id"], 2, key="no-database-1").status_code == 202
        assert _claim(shopper, sale["id"], 2, key="no-database-1").status_code == 200
        assert _claim(shopper, sale["id"], 1).status_code == 422  # the person's limit
    finally:
        with app.app_context():
            event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


def test_the_token_rates_and_race_are_one_redis_round_trip(app, shopper, sale):
    """What the app sends Redis for a claim, as MONITOR sees it (commands a script runs are
    marked lua): one script call, nothing else."""
    redis = app.extensions["heli_redis"]
    _claim(shopper, sale["id"], 1)  # the script is loaded once
    with redis.monitor() as monitor:
        assert _claim(shopper, sale["id"], 1).status_code == 202
        redis.echo("claim-done")
        sent = []
        for command in monitor.listen():
            if command["command"] == "ECHO claim-done":
                break
            if command.get("client_type") != "lua":
                sent.append(command["command"].split()[0])
    assert sent == ["EVALSHA"]


def test_the_claim_checks_the_session_itself(app, client, sandbox, shopper, other_shopper, sale):
    """A logged-out token, a token naming someone else and an unknown token are 401 and count
    nothing; a live session Redis forgot is found in the database and the claim goes on."""
    redis = app.extensions["heli_redis"]
    victim_id, _, secret = other_shopper.token.partition(".")
    mine_id = shopper.token.partition(".")[0]
    forged = Shopper(client, sandbox, f"{victim_id}.{shopper.token.partition('.')[2]}", "x")
    assert _claim(forged, sale["id"]).status_code == 401
    swapped = Shopper(client, sandbox, f"{mine_id}.{secret}", "x")  # other's secret, my id
    assert _claim(swapped, sale["id"]).status_code == 401
    assert _claim(Shopper(client, sandbox, "7.not-a-token", "x"), sale["id"]).status_code == 401
    session_key = f"heli:session:{hashlib.sha256(shopper.token.encode()).hexdigest()}"
    redis.delete(session_key)  # Redis restarted
    assert _claim(shopper, sale["id"], 1).status_code == 202
    assert redis.exists(session_key)  # the cache is filled again
    assert shopper.post("/api/v1/auth/logout").status_code == 204
    out = _claim(shopper, sale["id"], 1)
    assert out.status_code == 401 and out.json["message"] == "请先登录"
    view = client.get(f"/api/v1/flash-sales/{sale['id']}").json
    assert view["remaining"] == 49  # only the one claim
    assert not any(
        k.startswith(b"heli:rate:claim-customer") and k.endswith(victim_id.encode())
        for k in redis.keys("heli:rate:*")
    )


def test_well_formed_claims_are_answered_below_flask_exactly_as_the_route_would(
    app, shopper, other_shopper, sale
):
    """The hot path (miniprogram_api/fast_claims.py) answers a plain claim without Flask's
    request cycle; a claim it does not take (here: one with an address) goes to the route. Both
    answer the same body, status and headers."""
    from flask import request_started

    entered = []

    def note(sender, **_extra):
        entered.append(1)

    request_started.connect(note, app)
    try:
        fast = _claim(shopper, sale["id"], 1, key="fast-path-0001")
        assert entered == []
        routed = _claim(other_shopper, sale["id"], 1, key="fast-path-0002", address=ADDRESS)
        assert entered == [1]
    finally:
        request_started.disconnect(note, app)
    assert fast.status_code == routed.status_code == 202
    assert fast.json == routed.json
    for name in ("Content-Type", "X-Content-Type-Options", "Content-Security-Policy"):
        assert fast.headers[name] == routed.headers[name]
    replay = _claim(shopper, sale["id"], 1, key="fast-path-0001")
    assert replay.status_code == 200 and replay.json == fast.json


def test_refusals_on_the_hot_path_keep_the_error_shape(app, shopper, sale):
    assert _claim(shopper, sale["id"], 2).status_code == 202
    over = _claim(shopper, sale["id"], 1)
    assert over.status_code == 422
    assert over.json == {
        "code": "OVER_PERSON_LIMIT",
        "message": "每人限购，您最多还能抢 0 份",
        "details": {"left_for_you": 0},
    }
    assert over.headers["Content-Type"] == "application/json"
    unknown = _claim(shopper, 999999)
    assert unknown.status_code == 404 and unknown.json["code"] == "FLASH_SALE_NOT_FOUND"


def test_odd_claims_go_to_the_route_and_get_its_full_answer(app, shopper, sale):
    url = f"/api/v1/flash-sales/{sale['id']}/claims"
    odd = shopper.post(
        url,
        data='{"quantity": 1, "quantity": true}',
        content_type="application/json",
        headers={"Idempotency-Key": "odd-claim-0001"},
    )
    assert odd.status_code == 400 and odd.json["code"] == "VALIDATION_ERROR"
    extra = shopper.post(
        url, json={"quantity": 1, "note": "x"}, headers={"Idempotency-Key": "odd-claim-0002"}
    )
    assert extra.status_code == 202  # unknown fields are ignored, by the route as everywhere
    not_json = shopper.post(
        url,
        data="quantity=1",
        content_type="text/plain",
        headers={"Idempotency-Key": "odd-claim-0003"},
    )
    assert not_json.status_code in (400, 415) and "code" in not_json.json
    assert _claim(shopper, sale["id"], 1, key="odd-claim-0004").status_code == 202
    assert _claim(shopper, sale["id"], 1, key="odd-claim-0005").status_code == 422
