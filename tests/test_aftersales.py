from datetime import timedelta

import requests

from backend.extensions import db
from backend.orders.models import Order
from backend.payments.models import Refund
from backend.timeutil import utcnow
from tests.helpers import limit_stock, run_jobs, wait_for


def _ship(staff_client, order_id):
    res = staff_client.post(
        f"/console/api/orders/{order_id}/ship",
        json={"carrier": "顺丰", "tracking_no": "SF1234567890"},
    )
    assert res.status_code == 200, res.json
    return res


def _order(app, order_id):
    with app.app_context():
        order = db.session.get(Order, order_id)
        db.session.expunge_all()
        return order


def test_refund_before_shipping_is_approved_refunded_and_restocked(
    app, shopper, staff_client, store
):
    sku = store["RS-LIVE-L-5"]
    order = shopper.buy([(sku, 2)])
    res = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "拍错了规格"},
    )
    # nothing shipped yet: the goods and the shipping fee (2 × 3 kg to 山东) come back
    assert res.status_code == 201 and res.json["refund_amount"] == 19600 + 2800
    assert _order(app, order["id"]).status == "REFUNDING"
    approved = staff_client.post(f"/console/api/after-sales/{res.json['id']}/approve", json={})
    assert approved.status_code == 200 and approved.json["status"] == "REFUNDING"
    run_jobs(app, "default")  # submits the refund; the sandbox then notifies REFUND.SUCCESS
    wait_for(lambda: _order(app, order["id"]).status == "REFUNDED")
    assert _order(app, order["id"]).refunded_total == 19600 + 2800
    stock = next(
        s
        for p in shopper.client.get("/api/v1/products").json["items"]
        for s in p["skus"]
        if s["id"] == sku
    )["stock"]
    assert stock == 400


def test_a_refund_approved_twice_is_refunded_once(app, shopper, staff_client, store, sandbox):
    order = shopper.buy([(store["RS-LIVE-L-5"], 1)])
    case = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "不想要了"},
    ).json
    first = staff_client.post(f"/console/api/after-sales/{case['id']}/approve", json={})
    second = staff_client.post(f"/console/api/after-sales/{case['id']}/approve", json={})
    assert first.status_code == 200
    assert second.status_code == 409 and second.json["code"] == "AFTER_SALE_NOT_PENDING"
    run_jobs(app, "default")
    with app.app_context():
        from jobs.payments import submit_refund

        refund_id = db.session.scalar(db.select(Refund.id))
        assert submit_refund(refund_id) == "nothing_to_do"
    wait_for(lambda: _order(app, order["id"]).status == "REFUNDED")
    remote = requests.get(f"{sandbox.url}/sandbox/pay/orders/{order['number']}", timeout=5).json()
    # the goods and the shipping fee of one 3 kg pack to 山东
    assert len(remote["refunds"]) == 1 and remote["refunds"][0]["amount"]["refund"] == 9800 + 2200
    second_case = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "再退一次"},
    )
    assert second_case.status_code == 422


def test_dead_on_arrival_claim_refunds_the_dead_share(app, shopper, staff_client, store):
    sku = store["RS-LIVE-M-5"]  # 6900 fen, about 30 pieces a pack
    order = shopper.buy([(sku, 2)])
    _ship(staff_client, order["id"])
    photos = shopper.photo_keys()
    res = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "到货有死蚝", "photos": photos, "dead_count": 7},
    )
    assert res.status_code == 201
    assert res.json["refund_amount"] == -(-13800 * 7 // 60)  # 1610 fen
    assert _order(app, order["id"]).status == "SHIPPED"
    staff_client.post(f"/console/api/after-sales/{res.json['id']}/approve", json={})
    run_jobs(app, "default")
    wait_for(lambda: _order(app, order["id"]).refunded_total == 1610)
    assert _order(app, order["id"]).status == "SHIPPED"


def test_dead_on_arrival_bad_claims(app, shopper, staff_client, store):
    order = shopper.buy([(store["RS-LIVE-M-5"], 1)])
    PHOTOS = shopper.photo_keys()  # noqa: N806
    before_ship = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "photos": PHOTOS, "dead_count": 1},
    )
    assert before_ship.status_code == 422 and before_ship.json["code"] == "DOA_WINDOW_CLOSED"
    _ship(staff_client, order["id"])
    no_photos = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "dead_count": 3},
    )
    assert no_photos.status_code == 400 and no_photos.json["code"] == "PHOTOS_REQUIRED"
    too_many = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "photos": PHOTOS, "dead_count": 31},
    )
    assert too_many.status_code == 422 and too_many.json["code"] == "DEAD_COUNT_TOO_LARGE"
    bad_photo = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={
            "type": "DEAD_ON_ARRIVAL",
            "reason": "死了",
            "photos": ["javascript:alert(1)"],
            "dead_count": 1,
        },
    )
    assert bad_photo.status_code == 400
    with app.app_context():
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(shipped_at=utcnow() - timedelta(days=4))
        )
        db.session.commit()
    late = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "photos": PHOTOS, "dead_count": 1},
    )
    assert late.status_code == 422


def test_after_sales_on_unpaid_or_foreign_orders(shopper, other_shopper, store):
    order = shopper.order([(store["RS-LIVE-M-5"], 1)]).json
    unpaid = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales", json={"type": "REFUND_ONLY", "reason": "x"}
    )
    assert unpaid.status_code == 422
    foreign = other_shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales", json={"type": "REFUND_ONLY", "reason": "x"}
    )
    assert foreign.status_code == 404
    bad_type = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales", json={"type": "FREE_MONEY", "reason": "x"}
    )
    assert bad_type.status_code == 400


def test_rejection_restores_the_order_and_staff_routes_need_login(
    app, client, shopper, staff_client, store
):
    order = shopper.buy([(store["RS-LIVE-M-5"], 1)])
    case = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "不想要了"},
    ).json
    anonymous = app.test_client().post(f"/console/api/after-sales/{case['id']}/approve", json={})
    assert anonymous.status_code == 401
    res = staff_client.post(
        f"/console/api/after-sales/{case['id']}/reject", json={"note": "已发往冷库，无法拦截"}
    )
    assert res.status_code == 200 and res.json["status"] == "REJECTED"
    assert _order(app, order["id"]).status == "PAID"
    listed = staff_client.get("/console/api/after-sales?status=REJECTED").json
    assert listed["total"] == 1


def test_paid_after_expiry_with_stock_gone_is_refunded_and_flagged(app, shopper, store):
    from jobs.orders import expire_unpaid_order

    sku = store["RS-GIFT-XL-8"]
    order = shopper.order([(sku, 1)]).json
    params = shopper.pay(order["id"])
    with app.app_context():
        from backend.payments.models import Payment, PaymentAnomaly

        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(pay_deadline=utcnow() - timedelta(seconds=1))
        )
        # WeChat Pay could not close it in time: pretend we never made a prepay.
        db.session.execute(db.delete(Payment))
        db.session.commit()
        assert expire_unpaid_order(order["id"]) == "cancelled"
    limit_stock(app, sku, 0)
    with app.app_context():
        db.session.add(
            Payment(
                order_id=order["id"],
                out_trade_no=order["number"],
                amount=order["total"],
                payer_openid=shopper.openid,
                prepay_id=params["package"][10:],
                prepay_expires_at=utcnow(),
            )
        )
        db.session.commit()
    shopper.confirm_payment(params)
    wait_for(lambda: _order(app, order["id"]).status in ("REFUNDING", "REFUNDED"))
    with app.app_context():
        kinds = list(db.session.scalars(db.select(PaymentAnomaly.kind)))
    assert kinds == ["PAID_AFTER_CANCEL"]
    run_jobs(app, "default")
    wait_for(lambda: _order(app, order["id"]).status == "REFUNDED")


def test_returned_goods_rejoin_their_lot_once(app, shopper, staff_client, store):
    sku = store["RS-FROZEN-HALF-1KG"]
    order = shopper.buy([(sku, 3)])
    early = staff_client.post(f"/console/api/orders/{order['id']}/restock", json={})
    assert early.status_code == 409 and early.json["code"] == "ORDER_NOT_SHIPPED"
    _ship(staff_client, order["id"])
    first = staff_client.post(f"/console/api/orders/{order['id']}/restock", json={})
    again = staff_client.post(f"/console/api/orders/{order['id']}/restock", json={})
    assert first.json["restocked_units"] == 3 and again.json["restocked_units"] == 0
    frozen = next(
        s
        for p in shopper.client.get("/api/v1/products").json["items"]
        for s in p["skus"]
        if s["id"] == sku
    )
    assert frozen["stock"] == 500


def test_photos_are_real_pictures_kept_by_us_and_shown_to_their_owner(
    app, shopper, other_shopper, staff_client, store
):
    from tests.helpers import png

    uploaded = shopper.upload_photo()
    assert uploaded.status_code == 201, uploaded.json
    key = uploaded.json["key"]
    assert len(key) == 32 and uploaded.json["width"] == 320
    mine = shopper.get(f"/api/v1/photos/{key}")
    assert mine.status_code == 200 and mine.mimetype == "image/png" and mine.data == png()
    assert other_shopper.get(f"/api/v1/photos/{key}").status_code == 404
    fake = shopper.upload_photo(b"<svg onload=alert(1)>", name="dead.png")
    assert fake.status_code == 422 and fake.json["code"] == "PHOTO_TYPE"
    huge = shopper.upload_photo(b"\x89PNG\r\n\x1a\n" + b"0" * (5 * 1024 * 1024 + 10))
    assert huge.status_code == 422 and huge.json["code"] == "PHOTO_TOO_LARGE"
    tiny = shopper.upload_photo(png(8, 8))
    assert tiny.status_code == 422 and tiny.json["code"] == "PHOTO_SIZE"
    missing = shopper.client.post(
        "/api/v1/photos",
        data={},
        headers={"Authorization": f"Bearer {shopper.token}"},
        content_type="multipart/form-data",
    )
    assert missing.status_code == 400
    # A claim may carry only the claimant's own photos; staff see them on the desk.
    order = other_shopper.buy([(store["RS-LIVE-M-5"], 1)])
    _ship(staff_client, order["id"])
    stolen = other_shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "photos": [key], "dead_count": 1},
    )
    assert stolen.status_code == 404 and stolen.json["code"] == "PHOTO_NOT_FOUND"
    own = other_shopper.photo_keys(1)
    claim = other_shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "DEAD_ON_ARRIVAL", "reason": "死了", "photos": own, "dead_count": 1},
    )
    assert claim.status_code == 201 and claim.json["photos"] == own
    shown = staff_client.get(f"/console/after-sales/photos/{own[0]}")
    assert shown.status_code == 200 and shown.mimetype == "image/png"
