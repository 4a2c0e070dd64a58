"""What the five platform stand-ins share: fault rules, the rate limit, tokens, bulk orders, the
control endpoints and reset. Calls go through Youzan, the one platform without a signature."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
import requests

CHINA = timezone(timedelta(hours=8))
PLATFORMS = ("douyin", "taobao", "jd", "pdd", "youzan")


def china(unix: float) -> str:
    return datetime.fromtimestamp(unix, CHINA).strftime("%Y-%m-%d %H:%M:%S")


class Trades:
    """youzan.trades.sold.get for one shop over the last hour."""

    def __init__(self, url: str, token: str):
        self.url = url + "/platforms/youzan/api/youzan.trades.sold.get/4.0.4"
        self.token = token

    def get(self, timeout: float = 10) -> requests.Response:
        now = time.time()
        body = {"start_update": china(now - 3600), "end_update": china(now), "page_size": 100}
        return requests.post(
            self.url, params={"access_token": self.token}, json=body, timeout=timeout
        )

    def code(self) -> int:
        return self.get().json()["code"]


@pytest.fixture
def kit(platform_kit):
    return platform_kit("youzan")


@pytest.fixture
def trades(sandbox, kit):
    """`trades(shop_id)`: a caller for that (authorised) shop."""
    return lambda shop_id: Trades(sandbox.url, kit.shop(shop_id)["access_token"])


def test_fault_times_and_seconds(kit, trades):
    shop = trades("1001")
    kit.fault(kind="server_error", times=2)
    assert [shop.code() for _ in range(3)] == [5000, 5000, 200]
    (rule,) = kit.fault(kind="rate_limit", seconds=0.3)
    assert rule["times_left"] is None and rule["until"] > time.time()
    assert [shop.code() for _ in range(3)] == [4003] * 3
    time.sleep(0.35)
    assert shop.code() == 200
    assert kit.get("/faults")["faults"] == []


def test_fault_rate_and_shop(kit, trades):
    one, two = trades("2001"), trades("2002")
    kit.fault(kind="server_error", rate=0.5, seed=7)
    codes = [one.code() for _ in range(40)]
    assert 5 < codes.count(5000) < 35 and set(codes) == {200, 5000}
    requests.delete(kit.base + "/faults", timeout=5)
    kit.fault(kind="token_expired", shop_id="2002")
    assert [one.code(), two.code(), one.code(), two.code()] == [200, 4203, 200, 4203]
    requests.delete(kit.base + "/faults", timeout=5)
    assert two.code() == 200


def test_fault_timeout(kit, trades):
    shop = trades("3001")
    kit.config(fault_timeout_seconds=0.5)
    kit.fault(kind="timeout", times=1)
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        shop.get(timeout=0.2)
    assert time.monotonic() - started < 0.45
    assert shop.code() == 200
    assert kit.stats()["faults"] == {"timeout": 1}


def test_http_500_and_malformed_alternating(kit, trades):
    shop = trades("3002")
    kit.fault(kind="http_500", times=1)
    response = shop.get()
    assert response.status_code == 500 and response.headers["Content-Type"].startswith("text/html")
    kit.fault(kind="malformed", times=2)
    first, second = shop.get(), shop.get()
    assert first.status_code == second.status_code == 200
    with pytest.raises(ValueError):
        first.json()
    assert "full_order_info_list" not in second.json()["data"]


def test_rate_per_second_is_a_token_bucket(kit, trades):
    shop = trades("4001")
    assert kit.config(rate_per_second=5)["rate_per_second"] == 5
    codes = [shop.code() for _ in range(15)]
    assert codes[:5] == [200] * 5 and 4003 in codes[5:]
    time.sleep(0.45)
    assert shop.code() == 200  # refilled at 5 per second
    kit.config(rate_per_second=None)
    assert all(shop.code() == 200 for _ in range(10))
    assert kit.stats()["by_outcome"]["rate_limited"] >= 1


def test_refreshed_token_grace(kit, sandbox):
    auth = sandbox.url + "/platforms/youzan/auth/token"
    apps = sandbox.sandbox.platform_apps["youzan"]
    body = {"client_id": apps[0], "client_secret": apps[1], "authorize_type": "silent"}
    old = kit.shop("5001")["access_token"]
    new = requests.post(auth, json={**body, "grant_id": "5001", "refresh": True}, timeout=5).json()
    assert new["data"]["access_token"] != old
    assert Trades(sandbox.url, old).code() == 200  # the old one lives out its grace period
    kit.config(token_grace_seconds=0)
    newer = requests.post(auth, json={**body, "grant_id": "5001", "refresh": True}, timeout=5)
    assert Trades(sandbox.url, new["data"]["access_token"]).code() == 4203
    assert Trades(sandbox.url, newer.json()["data"]["access_token"]).code() == 200
    assert kit.config(token_ttl_seconds=60)["token_ttl_seconds"] == 60
    assert kit.shop("5002")["expires_at"] <= time.time() + 61


def test_bulk_orders_are_quick_and_queryable(platform_kit):
    kit = platform_kit("jd")
    now = int(time.time())
    bodies = [
        {
            "shop_id": f"jd-{i % 500:04d}",
            "status": "PAID" if (i // 500) % 10 else "UNPAID",
            "update_time": now - 86400 + (i * 37) % 86000,
            "items": [{"outer_id": "RS-LIVE-XL-5", "quantity": 1 + i % 3, "unit_price_fen": 9800}],
        }
        for i in range(20_000)
    ]
    started = time.monotonic()
    ids = []
    for start in range(0, len(bodies), 5000):
        ids += kit.post("/orders/bulk", {"orders": bodies[start : start + 5000]})["order_ids"]
    elapsed = time.monotonic() - started
    assert len(set(ids)) == 20_000
    assert elapsed < 20, elapsed  # a few seconds on a laptop; only a runaway would fail this
    truth = kit.truth("jd-0007")
    assert len(truth) == 40 and sum(o["listed"] for o in truth.values()) == 36
    assert kit.stats()["orders"] == 20_000


def test_control_validation(kit, platform_kit):
    kit.post("/shops", {}, expect=400)
    platform_kit("ebay").post("/shops", {"shop_id": "1"}, expect=404)
    kit.post("/orders", {"shop_id": "1", "items": [], "status": "PAID"}, expect=400)
    kit.post(
        "/orders",
        {
            "shop_id": "1",
            "status": "LOST",
            "items": [{"outer_id": "A", "quantity": 1, "unit_price_fen": 1}],
        },
        expect=400,
    )
    future = int(time.time()) + 3600
    kit.post(
        "/orders",
        {
            "shop_id": "1",
            "update_time": future,
            "items": [{"outer_id": "A", "quantity": 1, "unit_price_fen": 1}],
        },
        expect=400,
    )
    paid = kit.order("1", "PAID")["order_id"]
    unpaid = kit.order("1", "UNPAID")["order_id"]
    kit.status(paid, "CANCELLED", expect=400)
    kit.status(unpaid, "REFUNDED", expect=400)
    kit.status("no-such-order", "PAID", expect=404)
    bad = {
        "orders": [
            {"shop_id": "1", "items": [{"outer_id": "A", "quantity": 1, "unit_price_fen": 1}]},
            {"shop_id": "1"},
        ]
    }
    assert "orders[1]" in kit.post("/orders/bulk", bad, expect=400)["error"]
    assert len(kit.truth("1")) == 2  # nothing of the refused bulk was made
    kit.post("/faults", {"kind": "meteor"}, expect=400)
    kit.post("/faults", {"kind": "server_error", "rate": 2}, expect=400)
    kit.post("/config", {"page_size": 500}, expect=400)
    kit.post("/tokens/expire", {"shop_id": "never-seen"}, expect=404)


def test_reset_forgets_every_platform(sandbox, platform_kit):
    for platform in PLATFORMS:
        kit = platform_kit(platform)
        kit.shop("1")
        kit.order("1", "PAID")
        kit.fault(kind="server_error")
        kit.config(mutate_while_paging=True, max_window_seconds=60)
    requests.post(sandbox.url + "/sandbox/reset", timeout=5)
    for platform in PLATFORMS:
        kit = platform_kit(platform)
        assert kit.get("/truth")["orders"] == [] and kit.get("/faults")["faults"] == []
        config = kit.get("/config")
        assert config["mutate_while_paging"] is False and config["max_window_seconds"] > 60
        assert kit.stats()["shops"] == 0


def test_concurrent_callers_and_changes(kit, trades):
    shop = trades("6001")
    now = int(time.time())
    ids = kit.orders("6001", [now - 3000 + i for i in range(300)])
    errors: list[str] = []

    def read() -> None:
        for _ in range(15):
            answer = shop.get().json()
            if answer["code"] != 200:
                errors.append(str(answer))

    def change() -> None:
        for order_id in ids[:100]:
            kit.status(order_id, "SHIPPED")

    threads = [threading.Thread(target=read) for _ in range(6)] + [threading.Thread(target=change)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    truth = kit.truth("6001")
    assert sum(o["status"] == "SHIPPED" for o in truth.values()) == 100
    assert shop.get().json()["data"]["total_results"] == 300


def test_stats_by_method_and_outcome(kit, trades):
    shop = trades("7001")
    shop.code()
    Trades(shop.url.split("/platforms")[0], "bad-token").code()
    stats = kit.stats()
    assert stats["calls"] == 2 and stats["pages"] == 1
    assert stats["by_method"] == {"youzan.trades.sold.get/4.0.4": 2}
    assert stats["by_outcome"] == {"ok": 1, "token": 1}
    assert stats["by_method_outcome"]["youzan.trades.sold.get/4.0.4"] == {"ok": 1, "token": 1}


def test_bulk_status_changes(kit):
    now = int(time.time())
    paid, other = kit.orders("8001", [now - 600, now - 500])
    changes = [
        {"order_id": paid, "status": "SHIPPED", "update_time": now - 100},
        {"order_id": other, "status": "REFUNDED"},
        {"order_id": "nope", "status": "PAID"},
    ]
    kit.status(other, "UNPAID", expect=400)  # paid at creation: can no longer be unpaid
    results = kit.post("/orders/bulk-status", {"changes": changes})["results"]
    assert [r["ok"] for r in results] == [True, True, False]
    truth = kit.truth("8001")
    assert truth[paid]["status"] == "SHIPPED" and truth[paid]["update_time"] == now - 100
    kit.post("/orders/bulk-status", {"changes": [{"order_id": paid, "status": "X"}]}, expect=400)
