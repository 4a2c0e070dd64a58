"""Order pushes of Douyin and Youzan (the sandbox's stand-ins push to our callbacks, signed over
the raw body): a paid order reaches its seller over WeChat in seconds, with its amount; bad
signatures, duplicates, out-of-order and not-yet-readable pushes, unknown shops, and a lost push
that the pull still catches."""

from __future__ import annotations

import hashlib
import json
import time

import pytest
import requests
from rq import Queue

from backend.extensions import db
from backend.notices.models import SellerNotice
from backend.platforms.models import PlatformOrder
from jobs import platforms as platform_jobs
from tests.helpers import run_jobs, wait_for
from tests.test_platform_orders import Platform, register, rows, set_cursor
from tests.test_seller_notices import make_sellers, messages, seller_headers

PUSHING = ("douyin", "youzan")


@pytest.fixture
def seller(app, sandbox, staff_client, store):
    """A seller bound to the Official Account, with a seller-API token."""
    [seller_id] = make_sellers(app, sandbox, 1)
    return {"id": seller_id, "headers": seller_headers(staff_client, seller_id)}


def pushing(app, sandbox, code: str, **faults) -> Platform:
    platform = Platform(sandbox, code)
    url = f"{app.config['PUBLIC_BASE_URL']}/callbacks/platforms/{code}"
    platform.call("POST", "/config", push_url=url, push_retry_delays=[0.2, 0.5], **faults)
    return platform


def pushes(platform: Platform) -> list[dict]:
    return requests.get(f"{platform.base}/pushes", timeout=10).json()["pushes"]


def wait_pushed(platform: Platform, count: int) -> list[dict]:
    return wait_for(lambda: len(found := pushes(platform)) >= count and found)


def queued_reads(app) -> int:
    with app.app_context():
        return Queue("platform_pushes", connection=app.extensions["heli_redis"]).count


def notices_of(app, seller_id: int) -> list[SellerNotice]:
    with app.app_context():
        found = list(
            db.session.scalars(db.select(SellerNotice).where(SellerNotice.seller_id == seller_id))
        )
        db.session.expunge_all()
        db.session.remove()
    return found


@pytest.mark.parametrize("code", PUSHING)
def test_a_paid_order_reaches_its_seller_in_seconds_with_its_amount(
    app, client, sandbox, seller, code
):
    platform = pushing(app, sandbox, code)
    shop = register(client, seller, platform, f"{code}-push-1")
    paid_at = time.time()
    order_no = platform.order(f"{code}-push-1", "PAID", minutes_ago=0)
    sent = wait_pushed(platform, 1)  # TradeCreate + TradePaid (one Douyin POST, two Youzan)
    assert all(push["ok"] for push in sent), sent
    assert queued_reads(app) == 1  # one read of the shop for both messages
    run_jobs(app, "platform_pushes")
    [row] = rows(app, shop["id"])
    assert (row.order_no, row.status) == (order_no, "PAID")
    run_jobs(app)
    [message] = messages(sandbox, f"oa-seller-{seller['id']}")
    amount = f"{row.total / 100:.2f}"
    assert message["data"]["keyword2"]["value"].startswith(f"金额 {amount} 元，订单")
    assert message["url"].endswith(f"/seller/orders/{row.id}")
    assert message["at"] - paid_at < 10


def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(app, client, sandbox, seller):
    platform = pushing(app, sandbox, "douyin")
    register(client, seller, platform, "douyin-push-2")
    platform.order("douyin-push-2", "PAID", minutes_ago=0)
    [good] = wait_pushed(platform, 1)
    raw = good["body"].encode()
    url = "/callbacks/platforms/douyin"
    headers = {k: v for k, v in good["headers"].items() if k != "event-sign"}
    forged = hashlib.md5(b"x" + raw + b"y").hexdigest()
    for attempt in ({**headers, "event-sign": forged}, headers):
        # the real message ids, the real body: only the signature is wrong or missing
        app.extensions["heli_redis"].flushdb()
        res = client.post(url, data=raw, headers=attempt)
        assert res.status_code == 401 and res.json["code"] != 0
        assert queued_reads(app) == 0
    tampered = raw.replace(b'"tag":"100"', b'"tag":"102"')
    assert tampered != raw
    res = client.post(url, data=tampered, headers=good["headers"])  # signed other bytes
    assert res.status_code == 401
    res = client.post("/callbacks/platforms/youzan", data=raw, headers=good["headers"])
    assert res.status_code == 401  # Douyin's headers mean nothing to the Youzan receiver
    assert queued_reads(app) == 0


def test_duplicate_pushes_make_one_read_and_one_notice(app, client, sandbox, seller):
    platform = pushing(app, sandbox, "youzan", push_copies=2)
    shop = register(client, seller, platform, "77001")
    platform.order("77001", "PAID", minutes_ago=0)
    sent = wait_pushed(platform, 4)  # two messages, each sent twice
    assert len({tuple(push["msg_ids"]) for push in sent}) == 2 and all(p["ok"] for p in sent)
    assert queued_reads(app) == 1
    run_jobs(app, "platform_pushes")
    before = requests.get(f"{platform.base}/stats", timeout=10).json()["calls"]
    client.post(  # the same message once more, much later: still a duplicate
        "/callbacks/platforms/youzan",
        data=sent[0]["body"].encode(),
        headers=sent[0]["headers"],
    )
    assert queued_reads(app) == 0
    run_jobs(app, "platform_pushes")
    assert requests.get(f"{platform.base}/stats", timeout=10).json()["calls"] == before
    run_jobs(app)
    assert len(rows(app, shop["id"])) == 1
    assert len(notices_of(app, seller["id"])) == 1
    assert len(messages(sandbox, f"oa-seller-{seller['id']}")) == 1


@pytest.mark.parametrize("code", PUSHING)
def test_out_of_order_pushes_before_the_order_is_readable_end_in_its_true_state(
    app, client, sandbox, seller, code
):
    platform = pushing(
        app, sandbox, code, push_reverse=True, push_readable_after_seconds=1.5, push_batch_size=5
    )
    shop_key = f"{code}-push-4" if code == "douyin" else "77004"
    shop = register(client, seller, platform, shop_key)
    order_no = platform.order(shop_key, "PAID", minutes_ago=0)
    platform.set_status(order_no, "REFUNDED", minutes_ago=0)  # refunded within the second
    wait_pushed(platform, 2)
    run_jobs(app, "platform_pushes")  # the order API does not list it yet: read again later
    assert rows(app, shop["id"]) == []

    def settled():
        run_jobs(app, "platform_pushes")
        found = rows(app, shop["id"])
        return found and found[0].status == "REFUNDED" and found

    [row] = wait_for(settled, timeout=15)
    [truth] = platform.truth(shop_key)
    assert truth["status"] == "REFUNDED" and row.order_no == order_no


def test_a_push_for_a_shop_we_do_not_know_is_acknowledged_and_ignored(app, client, sandbox):
    platform = pushing(app, sandbox, "douyin")
    platform.authorise("douyin-stranger")
    platform.order("douyin-stranger", "PAID", minutes_ago=0)
    [push] = wait_pushed(platform, 1)
    assert push["ok"] and json.loads(push["reply"])["code"] == 0
    assert queued_reads(app) == 0
    assert rows(app) == []


def test_the_pull_still_catches_an_order_whose_push_was_lost(app, client, sandbox, seller):
    platform = pushing(app, sandbox, "douyin", push_lost=True)
    shop = register(client, seller, platform, "douyin-push-6")
    order_no = platform.order("douyin-push-6", "PAID", minutes_ago=5)
    [push] = wait_pushed(platform, 1)
    assert not push["ok"] and push["http_status"] is None
    assert queued_reads(app) == 0
    set_cursor(app, shop["id"], 30)
    with app.app_context():
        platform_jobs.pull_shop(shop["id"])
        db.session.remove()
    [row] = rows(app, shop["id"])
    assert (row.order_no, row.status) == (order_no, "PAID")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(PlatformOrder)) == 1
        db.session.remove()
