"""Sellers' applications from the public /apply page, staff review, and licence renewal."""

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.notices.models import SellerNotice
from backend.onboarding import service as onboarding
from backend.sellers import service as sellers
from backend.sellers.models import BrandLicence, Seller
from backend.staff.models import Staff

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _form(client) -> str:
    page = client.get("/apply/")
    assert page.status_code == 200 and "卖家入驻" in page.text
    return TOKEN.search(page.text).group(1)


def _apply(client, app, store, **overrides):
    product = next(iter(_products(app)))
    body = {
        "csrf_token": _form(client),
        "name": "于海生",
        "phone": "13805451234",
        "town": "海阳所镇",
        "cooperative": "乳山口牡蛎合作社",
        "platforms": ["douyin", "pdd"],
        "product_ids": [str(product)],
        "wants_licence": "1",
        **overrides,
    }
    return client.post("/apply/", data=body)


def _products(app) -> list[int]:
    with app.app_context():
        from backend.catalogue.models import Product

        return list(db.session.scalars(select(Product.id)))


def _admin_id(app) -> int:
    with app.app_context():
        return db.session.scalar(select(Staff.id).where(Staff.username == "admin"))


def test_an_application_is_filed_and_its_phone_cannot_apply_twice(app, client, store):
    res = _apply(client, app, store)
    assert res.status_code == 303, res.text
    status = client.get(res.headers["Location"])
    assert status.status_code == 200 and "审核中" in status.text
    again = _apply(client, app, store, name="别人")
    assert again.status_code == 409 and "该手机号已注册为联盟卖家或已有待审核的申请" in again.text
    bad = _apply(client, app, store, phone="12345")
    assert bad.status_code == 400 and "11 位中国大陆手机号" in bad.text
    no_token = client.post("/apply/", data={"name": "x"})
    assert no_token.status_code == 400 and "页面已过期" in no_token.text
    with app.app_context():  # a seller's phone is refused too
        sellers.create_seller(db.session, name="老店", phone="13900000000")
        db.session.commit()
    taken = _apply(client, app, store, phone="13900000000")
    assert taken.status_code == 409


def test_applications_are_rate_limited_per_network(app, client, store, monkeypatch):
    monkeypatch.setitem(app.config, "APPLY_RATE_PER_IP", "2/hour")
    assert _apply(client, app, store, phone="13800000001").status_code == 303
    assert _apply(client, app, store, phone="13800000002").status_code == 303
    third = _apply(client, app, store, phone="13800000003")
    assert third.status_code == 429 and "太频繁" in third.text


def test_a_rejected_applicant_reads_the_reason_and_may_apply_again(
    app, client, staff_client, store
):
    res = _apply(client, app, store)
    status_url = res.headers["Location"]
    [row] = staff_client.get("/console/api/applications?status=PENDING").json["items"]
    refused = staff_client.post(
        f"/console/api/applications/{row['id']}/reject", json={"reason": "营业执照信息不完整"}
    )
    assert refused.status_code == 200 and refused.json["status"] == "REJECTED"
    page = client.get(status_url)
    assert "未通过" in page.text and "营业执照信息不完整" in page.text
    twice = staff_client.post(f"/console/api/applications/{row['id']}/reject", json={"reason": "x"})
    assert twice.status_code == 409
    assert _apply(client, app, store).status_code == 303  # the phone is free again


def test_approval_makes_a_licensed_seller_with_a_bind_code_and_a_welcome(
    app, client, staff_client, store
):
    status_url = _apply(client, app, store).headers["Location"]
    [row] = staff_client.get("/console/api/applications").json["items"]
    done = staff_client.post(f"/console/api/applications/{row['id']}/approve", json={})
    assert done.status_code == 200, done.json
    code = done.json["bind_code"]
    assert re.fullmatch(r"\d{8}", code)
    with app.app_context():
        seller = db.session.get(Seller, done.json["seller_id"])
        assert (seller.phone, seller.contact_name, seller.town) == (
            "13805451234",
            "于海生",
            "海阳所镇",
        )
        licence = db.session.get(BrandLicence, done.json["licence_id"])
        assert licence.seller_id == seller.id and licence.status == "ACTIVE"
        assert licence.valid_until >= sellers.today() + timedelta(days=360)
        kinds = db.session.scalars(
            select(SellerNotice.kind).where(SellerNotice.seller_id == seller.id)
        ).all()
        assert kinds == ["WELCOME"]
        assert app.extensions["heli_redis"].get(f"heli:oa:bind:{code}") is not None
    page = client.get(status_url)
    assert "已通过" in page.text and code in page.text
    html = staff_client.get("/console/applications?status=APPROVED")
    assert html.status_code == 200 and code in html.text


def test_renewal_approved_extends_the_licence_and_rejected_says_why(app, licensed):
    seller_id = licensed["seller_id"]
    staff_id = _admin_id(app)
    with app.app_context():
        renewal = onboarding.request_renewal(db.session, seller_id=seller_id)
        with pytest.raises(Exception) as twice:
            onboarding.request_renewal(db.session, seller_id=seller_id)
        assert getattr(twice.value, "code", "") == "RENEWAL_PENDING"
        db.session.rollback()
        before = db.session.scalar(
            select(BrandLicence.valid_until).where(BrandLicence.seller_id == seller_id)
        )
        onboarding.approve_renewal(db.session, renewal_id=renewal.id, staff_id=staff_id)
        after = db.session.scalar(
            select(BrandLicence.valid_until).where(BrandLicence.seller_id == seller_id)
        )
        assert after == before + timedelta(days=365)
        second = onboarding.request_renewal(db.session, seller_id=seller_id)
        onboarding.reject_renewal(
            db.session, renewal_id=second.id, staff_id=staff_id, reason="近期有违规使用记录"
        )
        bodies = {
            n.kind: n.body
            for n in db.session.scalars(
                select(SellerNotice).where(SellerNotice.seller_id == seller_id)
            )
        }
        assert "续期至" in bodies["LICENCE_RENEWED"]
        assert "近期有违规使用记录" in bodies["LICENCE_RENEWAL_REJECTED"]
        decided = [
            (r.action, r.staff_id, r.after["status"])
            for r in db.session.scalars(
                select(AuditRecord)
                .where(AuditRecord.action.like("renewal.%"))
                .order_by(AuditRecord.id)
            )
        ]
        assert decided == [
            ("renewal.approve", staff_id, "APPROVED"),
            ("renewal.reject", staff_id, "REJECTED"),
        ]


def test_staff_decide_renewals_on_the_console(app, licensed, staff_client):
    with app.app_context():
        renewal_id = onboarding.request_renewal(db.session, seller_id=licensed["seller_id"]).id
    page = staff_client.get("/console/licence-renewals")
    assert page.status_code == 200 and "续期一年" in page.text
    listed = staff_client.get("/console/api/licence-renewals?status=PENDING").json
    assert [r["id"] for r in listed["items"]] == [renewal_id]
    done = staff_client.post(f"/console/api/licence-renewals/{renewal_id}/approve", json={})
    assert done.status_code == 200 and done.json["status"] == "APPROVED"
