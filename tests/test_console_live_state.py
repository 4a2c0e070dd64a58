"""The control room's JSON state and page over HTTP: everything the page shows is in the state it
polls (the show's figures, the running sale with its claims, the last sale's result, the shelf
and stock, the product card), and the start-sale form comes filled for a one-tap sale."""

from __future__ import annotations

import re
import uuid

import pytest

from backend.extensions import db
from backend.live import summary
from backend.live.models import LiveGoods
from backend.queue import redis_client
from tests.helpers import ADDRESS, Shopper, limit_stock, run_jobs, wait_for
from tests.test_console_live_pages import make_room, post_form, start_sale, state
from tests.test_console_pages import log_in, text


@pytest.fixture
def console(client, store):
    res = log_in(client)
    assert res.status_code == 302 and res.headers["Location"].endswith("/console/")
    return client


def _claim(app, sandbox, sale_id: int, quantity: int) -> Shopper:
    viewer = Shopper.login(app.test_client(), sandbox, f"o_state_{uuid.uuid4().hex[:6]}")
    res = viewer.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": quantity},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert res.status_code == 202, res.json
    return viewer


def _pay(viewer: Shopper) -> None:
    order = viewer.get("/api/v1/orders").json["items"][0]
    assert viewer.put(f"/api/v1/orders/{order['id']}/address", json=ADDRESS).status_code == 200
    viewer.confirm_payment(viewer.pay(order["id"]))
    wait_for(lambda: viewer.get(f"/api/v1/orders/{order['id']}").json["status"] == "PAID")


def test_the_shows_figures_are_in_every_poll(app, sandbox, console, store):
    room_id = make_room(app)
    first = state(console, room_id)["summary"]
    assert first["final"] is False and (first["comments"], first["paid_orders"]) == (0, 0)
    with app.app_context():  # the co-host bot counts as the show goes
        pipe = redis_client().pipeline()
        summary.record_comment(
            pipe, room_id, customer_id=7, text="几号发货", questions=["shipping"], unanswered=False
        )
        summary.record_comment(
            pipe, room_id, customer_id=8, text="这是啥", questions=[], unanswered=True
        )
        pipe.execute()
    start_sale(console, room_id, sku_id=str(store["RS-LIVE-L-5"]), units="5", price="59.9")
    sale_id = state(console, room_id)["flash_sale"]["id"]
    viewer = _claim(app, sandbox, sale_id, 2)
    run_jobs(app)  # the claim writer
    _pay(viewer)
    polled = state(console, room_id)
    figures = polled["summary"]
    assert (figures["viewers"], figures["comments"], figures["unanswered_count"]) == (2, 2, 1)
    assert figures["top_questions"] == [{"intent": "shipping", "name": "发货快递", "count": 1}]
    assert figures["unanswered"] == ["这是啥"]
    assert figures["paid_orders"] == 1 and figures["gmv"] >= 2 * 5990
    sale = polled["flash_sale"]
    assert (sale["paid"], sale["claims"], sale["sold"], sale["remaining"]) == (2, 1, 2, 3)
    assert polled["stock"][str(store["RS-LIVE-L-5"])] == 395  # 5 went into the sale


def test_a_stopped_sale_keeps_its_result_on_the_page(app, sandbox, console, store):
    room_id = make_room(app)
    sku_id = store["RS-LIVE-M-5"]
    start_sale(console, room_id, sku_id=str(sku_id), units="8", price="39", per_person_limit="3")
    sale_id = state(console, room_id)["flash_sale"]["id"]
    payer = _claim(app, sandbox, sale_id, 3)
    dawdler = _claim(app, sandbox, sale_id, 2)
    run_jobs(app)
    _pay(payer)
    room_page = f"/console/live/rooms/{room_id}"
    res = post_form(console, f"{room_page}/flash-sale/stop", room_page, sale_id=str(sale_id))
    assert "秒杀已停止：已支付 3 份，待支付 2 份，3 份退回库存" in text(res)
    result = state(console, room_id)["last_sale"]
    assert result["id"] == sale_id and result["status"] == "ENDED"
    assert (result["sold"], result["claims"], result["paid"], result["held"]) == (5, 2, 3, 2)
    assert (result["unpaid_released"], result["returned_to_stock"]) == (0, 3)
    assert result["paid_amount"] >= 3 * 3900 and result["ended_at"].endswith("+08:00")

    late = dawdler.get("/api/v1/orders").json["items"][0]
    assert dawdler.post(f"/api/v1/orders/{late['id']}/cancel").status_code == 200
    result = state(console, room_id)["last_sale"]  # follows what happens after the end
    assert (result["sold"], result["held"], result["unpaid_released"]) == (3, 0, 2)
    assert result["returned_to_stock"] == 5
    page = text(console.get(room_page))  # on the page itself, not in a flash message
    assert "上一场秒杀结果" in page and 'id="result-paid">3<' in page
    assert 'id="result-released">2<' in page


def test_the_form_comes_filled_for_a_one_tap_sale(app, console, store):
    room_id = make_room(app)
    sku_id = store["RS-GIFT-XL-8"]
    limit_stock(app, sku_id, 30)
    room_page = f"/console/live/rooms/{room_id}"
    post_form(console, f"{room_page}/on-screen", room_page, sku_id=str(sku_id))
    page = text(console.get(room_page))
    assert re.search(rf'<option value="{sku_id}"[^>]*selected', page)
    assert 'name="units" value="30"' in page  # 50, or what stock allows
    assert 'name="price" value="268.00"' in page  # the product's own price at first
    assert 'name="seconds" value="300"' in page and 'name="per_person_limit" value="2"' in page
    start_sale(console, room_id, sku_id=str(sku_id), units="5", price="299")
    sale_id = state(console, room_id)["flash_sale"]["id"]
    running = text(console.get(room_page))
    assert 'id="sale-form" method="post" hidden' in running  # one sale at a time
    post_form(console, f"{room_page}/flash-sale/stop", room_page, sale_id=str(sale_id))
    again = text(console.get(room_page))
    assert 'name="price" value="299.00"' in again  # its last sale's price in this room
    assert 'id="sale-form" method="post" hidden' not in again


def test_the_card_under_audit_is_a_warning_in_the_state(app, console, store):
    room_id = make_room(app)  # a room the live stand-in never saw: WeChat cannot push there
    room_page = f"/console/live/rooms/{room_id}"
    res = post_form(console, f"{room_page}/on-screen", room_page, sku_id=str(store["RS-LIVE-L-5"]))
    assert 'class="flash warning"' in text(res) and "商品卡片正在审核" in text(res)
    card = state(console, room_id)["room"]["card"]
    assert card == {
        "state": "auditing",
        "tone": "warn",
        "text": "微信审核中，观众暂时看不到；审核通过后自动推送",
    }
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(LiveGoods)) == 1
        db.session.remove()
    assert state(console, room_id)["room"]["following"] == {
        "synced_at": None,
        "every": None,
        "error": None,
    }
