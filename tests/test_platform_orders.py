"""Orders from the sellers' shops on Douyin, Taobao/Tmall, JD, Pinduoduo and Youzan, pulled from
the sandbox's stand-ins (real signing, windows, paging, faults) into the shared stock."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import requests

from backend.extensions import db
from backend.inventory.models import StockReservation
from backend.notices.models import SellerNotice
from backend.platforms import vault
from backend.platforms.models import PlatformOrder, Shop
from backend.queue import redis_client
from backend.sellers import service as sellers
from backend.staff.models import StaffAlert
from backend.timeutil import utcnow
from jobs import platforms as platform_jobs
from tests.helpers import limit_stock, run_jobs, sku_stock, stock_up

PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")


class Platform:
    """One platform's stand-in, seen through its control endpoints."""

    def __init__(self, sandbox, code: str):
        self.base = f"{sandbox.url}/sandbox/platforms/{code}"
        self.code = code

    def call(self, method: str, path: str, **body):
        res = requests.request(method, self.base + path, json=body or None, timeout=30)
        assert res.status_code in (200, 201), res.text
        return res.json()

    def authorise(self, shop_id: str) -> dict:
        return self.call("POST", "/shops", shop_id=shop_id, name=f"{self.code}小店")

    def order(self, shop_id: str, status: str = "PAID", minutes_ago: float = 5, **extra) -> str:
        body = {
            "shop_id": shop_id,
            "items": extra.pop(
                "items", [{"outer_id": "RS-LIVE-L-5", "quantity": 2, "unit_price_fen": 9800}]
            ),
            "status": status,
            "update_time": int(time.time() - minutes_ago * 60),
        }
        return str(self.call("POST", "/orders", **body)["order_id"])

    def set_status(self, order_id: str, status: str, minutes_ago: float = 5) -> None:
        self.call(
            "POST",
            f"/orders/{order_id}/status",
            status=status,
            update_time=int(time.time() - minutes_ago * 60),
        )

    def truth(self, shop_id: str) -> list[dict]:
        return requests.get(f"{self.base}/truth", params={"shop_id": shop_id}, timeout=30).json()[
            "orders"
        ]

    def shipments(self, shop_id: str) -> list[dict]:
        return requests.get(
            f"{self.base}/shipments", params={"shop_id": shop_id}, timeout=30
        ).json()["shipments"]

    def fault(self, **body) -> None:
        self.call("POST", "/faults", **body)


@pytest.fixture
def seller(app, client, staff_client, store):
    """A seller with a seller-API token: {"id", "headers"}."""
    with app.app_context():
        seller = sellers.create_seller(db.session, name="乳山口老王海鲜")
        db.session.commit()
        seller_id = seller.id
        db.session.remove()
    token = staff_client.post(f"/console/api/sellers/{seller_id}/api-tokens", json={}).json["token"]
    return {"id": seller_id, "headers": {"Authorization": f"Bearer {token}"}}


def register(client, seller, platform: Platform, shop_key: str) -> dict:
    grant = platform.authorise(shop_key)
    res = client.post(
        "/api/seller/v1/shops",
        headers=seller["headers"],
        json={
            "platform": platform.code,
            "shop_key": shop_key,
            "name": f"{platform.code}小店",
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "expires_in": 86400,
        },
    )
    assert res.status_code == 201, res.json
    return res.json


def pull(app, shop_id: int) -> dict:
    with app.app_context():
        result = platform_jobs.pull_shop(shop_id)
        db.session.remove()
    return result


def rows(app, shop_id: int | None = None) -> list[PlatformOrder]:
    with app.app_context():
        query = db.select(PlatformOrder).order_by(PlatformOrder.id)
        if shop_id is not None:
            query = query.where(PlatformOrder.shop_id == shop_id)
        found = list(db.session.scalars(query))
        db.session.expunge_all()
        db.session.remove()
    return found


def set_cursor(app, shop_id: int, minutes_ago: float) -> None:
    with app.app_context():
        db.session.get(Shop, shop_id).synced_through = utcnow() - timedelta(minutes=minutes_ago)
        db.session.commit()
        db.session.remove()


@pytest.mark.parametrize("code", PLATFORMS)
def test_an_order_appears_once_takes_the_stock_reaches_its_seller_and_ships_back(
    app, client, sandbox, store, seller, code
):
    platform = Platform(sandbox, code)
    shop = register(client, seller, platform, f"{code}-shop-1")
    sku = store["RS-LIVE-L-5"]
    on_hand, reserved = sku_stock(app, sku)
    order_no = platform.order(
        f"{code}-shop-1",
        "PAID",
        items=[
            {"outer_id": "RS-LIVE-L-5", "quantity": 2, "unit_price_fen": 9800},
            {"outer_id": "RS-LIVE-M-5", "quantity": 1, "unit_price_fen": 6900},
        ],
    )
    first = pull(app, shop["id"])
    assert first["orders"] == 1
    again = pull(app, shop["id"])  # the overlap reads it again: nothing changes
    assert again["orders"] == 1
    [row] = rows(app)
    assert (row.platform, row.order_no, row.status, row.stock_state) == (
        code,
        order_no,
        "PAID",
        "SOLD",
    )
    assert row.total >= 2 * 9800 + 6900
    assert sorted((line["sku_code"], line["quantity"]) for line in row.lines) == [
        ("RS-LIVE-L-5", 2),
        ("RS-LIVE-M-5", 1),
    ]
    assert sku_stock(app, sku) == (on_hand, reserved + 2)
    with app.app_context():
        notices = list(
            db.session.scalars(
                db.select(SellerNotice).where(SellerNotice.seller_id == seller["id"])
            )
        )
        db.session.remove()
    assert [n.kind for n in notices] == ["PLATFORM_ORDER_PAID"]

    listed = client.get("/api/seller/v1/orders", headers=seller["headers"]).json
    assert [o["order_no"] for o in listed["items"]] == [order_no]
    shipped = client.post(
        f"/api/seller/v1/orders/{row.id}/ship",
        headers=seller["headers"],
        json={"carrier": "SF", "tracking_no": "SF1234567890"},
    )
    assert shipped.status_code == 200, shipped.json
    assert sku_stock(app, sku) == (on_hand - 2, reserved)
    run_jobs(app)
    [shipment] = platform.shipments(f"{code}-shop-1")
    assert str(shipment["order_id"]) == order_no and shipment["tracking_no"] == "SF1234567890"
    assert client.get(f"/api/seller/v1/orders/{row.id}", headers=seller["headers"]).json[
        "written_back"
    ]


def test_another_seller_sees_and_ships_nothing_of_theirs(
    app, client, sandbox, staff_client, seller
):
    platform = Platform(sandbox, "jd")
    shop = register(client, seller, platform, "jd-owner")
    platform.order("jd-owner")
    pull(app, shop["id"])
    [row] = rows(app)
    with app.app_context():
        other = sellers.create_seller(db.session, name="别人家")
        db.session.commit()
        other_id = other.id
        db.session.remove()
    token = staff_client.post(f"/console/api/sellers/{other_id}/api-tokens", json={}).json["token"]
    headers = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/seller/v1/orders", headers=headers).json["items"] == []
    assert client.get(f"/api/seller/v1/orders/{row.id}", headers=headers).status_code == 404
    ship = client.post(
        f"/api/seller/v1/orders/{row.id}/ship",
        headers=headers,
        json={"carrier": "SF", "tracking_no": "SF000000001"},
    )
    assert ship.status_code == 404
    assert client.get("/api/seller/v1/orders").status_code == 401


def test_a_shop_registered_twice(app, client, sandbox, staff_client, seller):
    platform = Platform(sandbox, "taobao")
    first = register(client, seller, platform, "tb-dup")
    again = register(client, seller, platform, "tb-dup")  # re-authorised: new tokens
    assert again["id"] == first["id"]
    with app.app_context():
        other = sellers.create_seller(db.session, name="抢注的")
        db.session.commit()
        other_id = other.id
        db.session.remove()
    token = staff_client.post(f"/console/api/sellers/{other_id}/api-tokens", json={}).json["token"]
    grant = platform.authorise("tb-dup")
    taken = client.post(
        "/api/seller/v1/shops",
        headers={"Authorization": f"Bearer {token}"},
        json={
            "platform": "taobao",
            "shop_key": "tb-dup",
            "access_token": grant["access_token"],
            "refresh_token": grant["refresh_token"],
            "expires_in": 86400,
        },
    )
    assert taken.status_code == 409 and taken.json["code"] == "SHOP_ALREADY_REGISTERED"
    bad = client.post(
        "/api/seller/v1/shops",
        headers=seller["headers"],
        json={"platform": "amazon", "shop_key": "x", "access_token": "t", "expires_in": 100},
    )
    assert bad.status_code == 400


def test_tokens_are_encrypted_at_rest(app, client, sandbox, seller):
    platform = Platform(sandbox, "douyin")
    grant = platform.authorise("dy-secret")
    shop = register(client, seller, platform, "dy-secret")
    with app.app_context():
        stored = db.session.get(Shop, shop["id"])
        assert grant["access_token"] not in stored.access_token
        assert vault.unseal(stored.access_token) != ""
        db.session.remove()


def test_pdd_pulls_half_hour_windows_and_catches_up_after_an_hour_down(
    app, client, sandbox, seller
):
    platform = Platform(sandbox, "pdd")
    shop = register(client, seller, platform, "pdd-down")
    set_cursor(app, shop["id"], minutes_ago=75)
    made = [platform.order("pdd-down", minutes_ago=m) for m in (70, 55, 40, 25, 12, 5)]
    platform.fault(kind="http_500", seconds=30)
    with pytest.raises(Exception):  # noqa: B017  (rq retries it with backoff)
        pull(app, shop["id"])
    with app.app_context():
        cursor = db.session.get(Shop, shop["id"]).synced_through
        db.session.remove()
    assert utcnow() - cursor > timedelta(minutes=74)  # nothing skipped
    requests.delete(f"{platform.base}/faults", timeout=5)
    done = pull(app, shop["id"])
    assert done["windows"] >= 3  # 30-minute windows
    assert sorted(row.order_no for row in rows(app)) == sorted(made)


def test_orders_moving_between_pages_are_neither_lost_nor_doubled(app, client, sandbox, seller):
    platform = Platform(sandbox, "taobao")
    shop = register(client, seller, platform, "tb-busy")
    platform.call(
        "POST",
        "/orders/bulk",
        orders=[
            {
                "shop_id": "tb-busy",
                "items": [{"outer_id": "RS-LIVE-S-5", "quantity": 1, "unit_price_fen": 4900}],
                "status": "PAID",
                "update_time": int(time.time()) - 3600 + i * 10,
            }
            for i in range(250)
        ],
    )
    platform.call("POST", "/config", mutate_while_paging=True)
    set_cursor(app, shop["id"], minutes_ago=70)
    pull(app, shop["id"])
    truth = {o["order_id"] for o in platform.truth("tb-busy")}
    stored = [row.order_no for row in rows(app)]
    assert len(stored) == len(set(stored)) == 250
    assert set(stored) == {str(order_id) for order_id in truth}
    with app.app_context():
        held = db.session.scalar(
            db.select(db.func.sum(StockReservation.quantity)).where(
                StockReservation.platform_order_id.is_not(None)
            )
        )
        db.session.remove()
    assert held == 250


def test_updates_late_and_repeated_refunds_and_cancellations(app, client, sandbox, store, seller):
    platform = Platform(sandbox, "youzan")
    shop = register(client, seller, platform, "yz-life")
    sku = store["RS-LIVE-L-5"]
    before = sku_stock(app, sku)
    paid = platform.order("yz-life", "PAID", minutes_ago=20)
    never_seen = platform.order("yz-life", "REFUNDED", minutes_ago=15)
    pull(app, shop["id"])
    assert sku_stock(app, sku) == (before[0], before[1] + 2)
    platform.set_status(paid, "REFUNDED", minutes_ago=6)  # a late update inside the overlap
    pull(app, shop["id"])
    by_no = {row.order_no: row for row in rows(app)}
    assert by_no[paid].status == "REFUNDED" and by_no[paid].stock_state == "RELEASED"
    assert by_no[never_seen].status == "REFUNDED" and by_no[never_seen].stock_state == "NONE"
    assert sku_stock(app, sku) == before
    with app.app_context():
        kinds = sorted(db.session.scalars(db.select(SellerNotice.kind)))
        db.session.remove()
    assert kinds == ["PLATFORM_ORDER_PAID", "PLATFORM_ORDER_REFUNDED", "PLATFORM_ORDER_REFUNDED"]


def test_an_unmapped_sku_waits_for_staff(app, client, sandbox, staff_client, store, seller):
    platform = Platform(sandbox, "douyin")
    shop = register(client, seller, platform, "dy-own-codes")
    platform.order(
        "dy-own-codes",
        items=[{"outer_id": "LAOWANG-HAOSHENG-5J", "quantity": 3, "unit_price_fen": 9900}],
    )
    pull(app, shop["id"])
    [row] = rows(app)
    assert row.stock_state == "UNMAPPED"
    waiting = staff_client.get("/console/api/platform-orders/waiting").json["items"]
    assert [w["order_no"] for w in waiting] == [row.order_no]
    with app.app_context():
        assert db.session.scalar(
            db.select(StaffAlert.id).where(StaffAlert.kind == "PLATFORM_SKU_UNMAPPED")
        )
        db.session.remove()
    before = sku_stock(app, store["RS-LIVE-XL-5"])
    mapped = staff_client.post(
        "/console/api/platform-sku-mappings",
        json={"platform": "douyin", "code": "LAOWANG-HAOSHENG-5J", "sku_id": store["RS-LIVE-XL-5"]},
    )
    assert mapped.status_code == 201 and mapped.json["orders_settled"] == 1
    assert rows(app)[0].stock_state == "SOLD"
    assert sku_stock(app, store["RS-LIVE-XL-5"]) == (before[0], before[1] + 3)


def test_an_expired_token_is_refreshed_and_a_broken_one_tells_the_seller(
    app, client, sandbox, seller
):
    platform = Platform(sandbox, "jd")
    shop = register(client, seller, platform, "jd-tokens")
    platform.order("jd-tokens")
    platform.call("POST", "/tokens/expire", shop_id="jd-tokens")
    assert pull(app, shop["id"])["orders"] == 1  # refreshed, then read
    platform.call("POST", "/tokens/expire", shop_id="jd-tokens")
    with app.app_context():  # the refresh token was revoked on the platform's side
        stored = db.session.get(Shop, shop["id"])
        stored.refresh_token = vault.seal("revoked-refresh-token")
        db.session.commit()
        db.session.remove()
    assert pull(app, shop["id"])["skipped"] == "authorisation broken"
    with app.app_context():
        stored = db.session.get(Shop, shop["id"])
        assert stored.status == "AUTH_BROKEN"
        assert (
            db.session.scalar(
                db.select(SellerNotice.title).where(SellerNotice.kind == "SHOP_AUTH_BROKEN")
            )
            == "京东店铺授权已失效"
        )
        db.session.remove()


@pytest.mark.parametrize("kind", ["malformed", "server_error", "rate_limit", "timeout"])
def test_a_failed_page_moves_no_cursor(app, client, sandbox, seller, kind, monkeypatch):
    platform = Platform(sandbox, "douyin")
    shop = register(client, seller, platform, f"dy-{kind}")
    set_cursor(app, shop["id"], minutes_ago=30)
    platform.order(f"dy-{kind}", minutes_ago=20)
    platform.call("POST", "/config", fault_timeout_seconds=2)
    platform.fault(kind=kind, times=4)  # more than a pull tries a window at once
    with monkeypatch.context() as patched:
        patched.setitem(app.config, "HTTP_TIMEOUT_SECONDS", 1)
        with pytest.raises(Exception):  # noqa: B017  (the job fails; rq retries it)
            pull(app, shop["id"])
    with app.app_context():
        cursor = db.session.get(Shop, shop["id"]).synced_through
        db.session.remove()
    assert utcnow() - cursor > timedelta(minutes=29)
    assert pull(app, shop["id"])["orders"] == 1


def test_a_wrong_app_secret_is_refused_and_not_retried(app, client, sandbox, seller, monkeypatch):
    platform = Platform(sandbox, "pdd")
    shop = register(client, seller, platform, "pdd-wrong-secret")
    monkeypatch.setitem(app.config, "PDD_CLIENT_SECRET", "not-our-secret")
    result = pull(app, shop["id"])
    assert "failed" in result


def test_one_pull_per_shop_at_a_time_and_the_schedule(app, client, sandbox, seller):
    platform = Platform(sandbox, "youzan")
    shop = register(client, seller, platform, "yz-locked")
    with app.app_context():
        lock = redis_client().lock(f"heli:platform:pull:{shop['id']}", timeout=30)
        assert lock.acquire(blocking=False)
        assert platform_jobs.pull_shop(shop["id"])["skipped"] == "another pull holds the shop"
        lock.release()
        db.session.get(Shop, shop["id"]).next_pull_at = utcnow() - timedelta(seconds=1)
        db.session.commit()
        assert platform_jobs.schedule_pulls() == 1
        assert platform_jobs.schedule_pulls() == 0  # its next turn is an interval away
        db.session.remove()
    run_jobs(app, "platforms")
    with app.app_context():
        assert db.session.get(Shop, shop["id"]).pulled_at is not None
        db.session.remove()


def test_a_short_hiccup_is_tried_again_within_the_pull(app, client, sandbox, seller):
    platform = Platform(sandbox, "taobao")
    shop = register(client, seller, platform, "tb-hiccup")
    platform.order("tb-hiccup")
    platform.fault(kind="server_error", times=2)
    assert pull(app, shop["id"])["orders"] == 1


def test_a_platform_clock_far_from_ours_is_refused_and_nothing_moves(app, client, sandbox, seller):
    platform = Platform(sandbox, "pdd")
    shop = register(client, seller, platform, "pdd-skew")
    set_cursor(app, shop["id"], minutes_ago=20)
    platform.order("pdd-skew")
    platform.call("POST", "/config", clock_offset_seconds=900)  # 15 minutes ahead of us
    assert "failed" in pull(app, shop["id"])  # refused, not retried in a loop
    with app.app_context():
        stored = db.session.get(Shop, shop["id"])
        assert utcnow() - stored.synced_through > timedelta(minutes=19)
        assert "invalid" in stored.last_error
        db.session.remove()
    platform.call("POST", "/config", clock_offset_seconds=120)  # within the platform's 10 min
    assert pull(app, shop["id"])["orders"] == 1


def test_too_little_stock_waits_for_staff_and_takes_nothing(
    app, client, sandbox, staff_client, store, seller
):
    platform = Platform(sandbox, "taobao")
    shop = register(client, seller, platform, "tb-short")
    sku = store["RS-GIFT-XL-8"]
    limit_stock(app, sku, 1)
    before = sku_stock(app, sku)
    platform.order(
        "tb-short",
        items=[
            {"outer_id": "RS-LIVE-S-5", "quantity": 1, "unit_price_fen": 4900},
            {"outer_id": "RS-GIFT-XL-8", "quantity": 2, "unit_price_fen": 26800},
        ],
    )
    pull(app, shop["id"])
    [row] = rows(app)
    assert row.stock_state == "SHORT"
    assert sku_stock(app, sku) == before
    with app.app_context():
        held = db.session.scalar(
            db.select(db.func.count())
            .select_from(StockReservation)
            .where(
                StockReservation.platform_order_id == row.id,
                StockReservation.status == "COMMITTED",
            )
        )
        db.session.remove()
    assert held == 0  # the line that fitted was given back too
    assert (
        staff_client.post(f"/console/api/platform-orders/{row.id}/retry-stock", json={}).json[
            "stock_state"
        ]
        == "SHORT"
    )
    stock_up(app, {"RS-GIFT-XL-8": 5})
    retried = staff_client.post(f"/console/api/platform-orders/{row.id}/retry-stock", json={}).json
    assert retried["stock_state"] == "SOLD"
    page = staff_client.get("/console/platform-orders").get_data(as_text=True)
    assert "没有等待处理的平台订单" in page
