"""Brand licences: grant, renew, suspend; reminders 30, 7 and 1 days ahead; then no codes."""

from datetime import timedelta

import pytest

from backend.catalogue.models import Product
from backend.extensions import db
from backend.inventory.models import Lot
from backend.notices.models import SellerNotice
from backend.sellers import service as sellers
from backend.sellers.models import BrandLicence


@pytest.fixture
def seller_id(app, store):
    with app.app_context():
        seller = sellers.create_seller(db.session, name="白沙滩小王海鲜")
        db.session.commit()
        seller_id = seller.id
        db.session.remove()
    return seller_id


def _grant(staff_client, seller_id, days_left: int, **extra):
    today = sellers.today()
    return staff_client.post(
        "/console/api/licences",
        json={
            "seller_id": seller_id,
            "product_ids": [1, 2, 3, 4],
            "valid_from": (today - timedelta(days=300)).isoformat(),
            "valid_until": (today + timedelta(days=days_left)).isoformat(),
            **extra,
        },
    )


def _notices(app, seller_id) -> list[tuple[str, str]]:
    with app.app_context():
        return [
            (n.kind, n.title)
            for n in db.session.scalars(
                db.select(SellerNotice)
                .where(SellerNotice.seller_id == seller_id)
                .order_by(SellerNotice.id)
            )
        ]


def _run_reminders(app, days_from_now: int = 0) -> dict:
    """The daily job, as it would run `days_from_now` days from today."""
    with app.app_context():
        return sellers.remind_and_expire(
            db.session, day=sellers.today() + timedelta(days=days_from_now)
        )


def test_holders_are_reminded_30_7_and_1_days_ahead_once_each(app, staff_client, seller_id):
    _grant(staff_client, seller_id, 31)
    counts = []
    for day in (0, 1, 1, 11, 24, 30):  # days left: 31, 30, 30 again, 20, 7, 1
        _run_reminders(app, day)
        counts.append(len(_notices(app, seller_id)))
    assert counts == [0, 1, 1, 1, 2, 3]
    assert [title for _, title in _notices(app, seller_id)] == [
        "品牌授权将于 30 天后到期",
        "品牌授权将于 7 天后到期",
        "品牌授权将于 1 天后到期",
    ]


def test_a_missed_day_still_gets_the_nearest_reminder(app, staff_client, seller_id):
    _grant(staff_client, seller_id, 5)
    _run_reminders(app)
    assert _notices(app, seller_id) == [("LICENCE_EXPIRING", "品牌授权将于 5 天后到期")]


def test_at_expiry_code_issuing_stops(app, staff_client, seller_id, store):
    licence = _grant(staff_client, seller_id, 1).json
    with app.app_context():
        lot_id = db.session.scalar(db.select(Lot.id).where(Lot.sku_id == store["RS-LIVE-M-5"]))
    body = {"seller_id": seller_id, "lot_id": lot_id, "quantity": 5}
    assert staff_client.post("/console/api/print-runs", json=body).status_code == 201
    assert _run_reminders(app, 2)["expired"] >= 1
    with app.app_context():
        assert db.session.get(BrandLicence, licence["id"]).status == "EXPIRED"
    assert _notices(app, seller_id)[-1] == ("LICENCE_EXPIRED", "品牌授权已到期")
    refused = staff_client.post("/console/api/print-runs", json=body)
    assert refused.status_code == 422 and refused.json["code"] == "NO_VALID_LICENCE"
    renewed = staff_client.post(
        f"/console/api/licences/{licence['id']}/renew",
        json={"valid_until": (sellers.today() + timedelta(days=365)).isoformat()},
    )
    assert renewed.status_code == 200 and renewed.json["status"] == "ACTIVE"
    assert staff_client.post("/console/api/print-runs", json=body).status_code == 201


def test_grant_validation(app, staff_client, seller_id):
    today = sellers.today()
    backwards = staff_client.post(
        "/console/api/licences",
        json={
            "seller_id": seller_id,
            "product_ids": [1],
            "valid_from": today.isoformat(),
            "valid_until": (today - timedelta(days=1)).isoformat(),
        },
    )
    assert backwards.status_code == 400 and backwards.json["code"] == "INVALID_PERIOD"
    unknown_product = _grant(staff_client, seller_id, 10, product_ids=[999])
    assert unknown_product.status_code == 404
    unknown_seller = _grant(staff_client, 999999, 10)
    assert unknown_seller.status_code == 404
    assert _grant(staff_client, seller_id, 10).status_code == 201
    twice = _grant(staff_client, seller_id, 20)
    assert twice.status_code == 409 and twice.json["code"] == "LICENCE_EXISTS"
    bad_date = staff_client.post(
        "/console/api/licences",
        json={
            "seller_id": seller_id,
            "product_ids": [1],
            "valid_from": "2026-13-40",
            "valid_until": "tomorrow",
        },
    )
    assert bad_date.status_code == 400
    assert app.test_client().post("/console/api/licences", json={}).status_code == 401


def test_demo_alliance_has_3000_sellers_most_licensed(app, store):
    with app.app_context():
        from backend.sellers.models import Seller

        # 3000 small sellers, and the alliance's own store (its print runs label store parcels)
        assert db.session.scalar(db.select(db.func.count()).select_from(Seller)) == 3001
        store_seller = db.session.scalar(
            db.select(Seller).where(Seller.name == app.config["STORE_SELLER_NAME"])
        )
        assert store_seller is not None
        active = db.session.scalar(
            db.select(db.func.count())
            .select_from(BrandLicence)
            .where(BrandLicence.status == "ACTIVE")
        )
        assert 2000 < active < 2700
        assert db.session.scalar(db.select(db.func.count()).select_from(Product)) == 4
