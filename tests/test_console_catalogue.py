"""Staff change prices, put SKUs and products on and off sale and upload product pictures in
the console; the mini-program shows each change at once, and the audit trail records who did
what, before and after, and cannot be edited."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image

from backend.audit.models import AuditRecord, AuditRecordsAreKept
from backend.catalogue import service as catalogue
from backend.catalogue.models import Sku
from backend.errors import RuleBroken
from backend.extensions import db
from tests import helpers

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
BIG = "RS-LIVE-L-5"  # 乳山鲜活牡蛎 大 5斤装


def csrf(console, path: str = "/console/catalogue") -> str:
    page = console.get(path)
    assert page.status_code == 200, page.status_code
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def sku_row(app, code: str) -> dict:
    with app.app_context():
        sku = db.session.scalar(db.select(Sku).where(Sku.code == code))
        row = {"id": sku.id, "price": sku.price, "product_id": sku.product_id}
        db.session.remove()
    return row


def store_price(client, product_id: int, sku_id: int) -> int:
    product = client.get(f"/api/v1/products/{product_id}").json
    return next(sku["price"] for sku in product["skus"] if sku["id"] == sku_id)


def audit_rows(app) -> list[AuditRecord]:
    with app.app_context():
        rows = list(db.session.scalars(db.select(AuditRecord).order_by(AuditRecord.id)))
        db.session.expunge_all()
        db.session.remove()
    return rows


def test_a_price_change_shows_in_the_store_at_once_and_is_audited(app, client, console_as):
    console = console_as("operations")
    big = sku_row(app, BIG)
    assert store_price(client, big["product_id"], big["id"]) == big["price"]
    res = console.post(
        f"/console/skus/{big['id']}/price", data={"csrf_token": csrf(console), "price": "98.50"}
    )
    assert res.status_code == 302
    assert store_price(client, big["product_id"], big["id"]) == 9850
    [entry] = audit_rows(app)
    assert (entry.staff_id, entry.action, entry.target_id) == (
        console.staff_id,
        "sku.price",
        str(big["id"]),
    )
    assert entry.before == {"price": big["price"]} and entry.after == {"price": 9850}
    page = console_as("finance").get("/console/audit?action=sku.price").get_data(as_text=True)
    assert "测试operations" in page and "¥98.50" in page


@pytest.mark.parametrize(
    ("typed", "why"),
    [("0", "大于 0"), ("-5", "大于 0"), ("98.555", "两位小数"), ("九十八", "数字"), ("", "数字")],
)
def test_a_bad_price_is_refused_with_why_and_changes_nothing(app, client, console_as, typed, why):
    console = console_as("operations")
    big = sku_row(app, BIG)
    res = console.post(
        f"/console/skus/{big['id']}/price",
        data={"csrf_token": csrf(console), "price": typed},
        follow_redirects=True,
    )
    assert why in res.get_data(as_text=True)
    assert sku_row(app, BIG)["price"] == big["price"] and audit_rows(app) == []


@pytest.mark.parametrize("price", [0, -100, 98.5, "9850", True, 10**9])
def test_the_service_takes_only_whole_fen_in_range(app, store, price):
    with app.app_context():
        sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == BIG))
        with pytest.raises(RuleBroken):
            catalogue.change_sku(db.session, sku_id=sku_id, staff=None, price=price)
        db.session.rollback()
        db.session.remove()


def test_off_sale_hides_a_sku_from_the_store_and_back(app, client, console_as):
    console = console_as("operations")
    big = sku_row(app, BIG)
    token = csrf(console)
    console.post(f"/console/skus/{big['id']}/on-sale", data={"csrf_token": token, "on_sale": "0"})
    product = client.get(f"/api/v1/products/{big['product_id']}").json
    assert big["id"] not in [sku["id"] for sku in product["skus"]]
    console.post(f"/console/skus/{big['id']}/on-sale", data={"csrf_token": token, "on_sale": "1"})
    product = client.get(f"/api/v1/products/{big['product_id']}").json
    assert big["id"] in [sku["id"] for sku in product["skus"]]
    assert [row.action for row in audit_rows(app)] == ["sku.on_sale", "sku.on_sale"]


def test_an_uploaded_picture_shows_in_the_store_resized(app, client, console_as):
    console = console_as("operations")
    big = sku_row(app, BIG)
    picture = helpers.png(1200, 900)
    res = console.post(
        f"/console/products/{big['product_id']}/picture",
        data={"csrf_token": csrf(console), "picture": (io.BytesIO(picture), "oyster.png")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 302
    url = client.get(f"/api/v1/products/{big['product_id']}").json["image_url"]
    assert url.startswith("/api/v1/pictures/")
    original = client.get(url)
    assert original.status_code == 200 and original.data == picture
    small = client.get(f"{url}?w=400")
    assert small.status_code == 200 and small.mimetype == "image/jpeg"
    assert Image.open(io.BytesIO(small.data)).size == (400, 300)
    assert client.get(f"{url}?w=333").status_code == 400
    assert client.get("/api/v1/pictures/p" + "x" * 31).status_code == 404
    [entry] = audit_rows(app)
    assert entry.action == "product.picture" and entry.after == {"image_url": url}


@pytest.mark.parametrize(
    ("upload", "why"),
    [(b"%PDF-1.4 not a picture", "格式"), (b"", "选择"), ("big", "不能超过")],
)
def test_a_picture_that_is_not_one_or_too_large_is_refused(app, client, console_as, upload, why):
    console = console_as("operations")
    big = sku_row(app, BIG)
    before = client.get(f"/api/v1/products/{big['product_id']}").json["image_url"]
    if upload == "big":
        upload = b"\x89PNG" + b"0" * app.config["PHOTO_MAX_BYTES"]
    res = console.post(
        f"/console/products/{big['product_id']}/picture",
        data={"csrf_token": csrf(console), "picture": (io.BytesIO(upload), "x.png")},
        content_type="multipart/form-data",
        follow_redirects=True,
    )
    assert why in res.get_data(as_text=True)
    assert client.get(f"/api/v1/products/{big['product_id']}").json["image_url"] == before
    assert audit_rows(app) == []


def test_audit_records_cannot_be_edited_or_deleted(app, store):
    with app.app_context():
        sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == BIG))
        catalogue.change_sku(db.session, sku_id=sku_id, staff=None, price=12345)
        entry = db.session.scalars(db.select(AuditRecord)).one()
        assert entry.staff_name == "系统"
        entry.after = {"price": 1}
        with pytest.raises(AuditRecordsAreKept):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.scalars(db.select(AuditRecord)).one())
        with pytest.raises(AuditRecordsAreKept):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_only_roles_that_may_see_the_pages(console_as):
    warehouse = console_as("warehouse")
    assert warehouse.get("/console/catalogue").status_code == 403
    assert warehouse.get("/console/audit").status_code == 403
    assert console_as("operations").get("/console/audit").status_code == 403
