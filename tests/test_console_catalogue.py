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


def test_a_price_change_shows_in_the_store_at_once_and_is_audited(app, client, console_as):
    console = console_as("operations")
    big = sku_row(app, BIG)
    assert store_price(client, big["product_id"], big["id"]) == big["price"]
    res = console.post(
        f"/console/skus/{big['id']}/price", data={"csrf_token": csrf(console), "price": "98.50"}
    )
    assert res.status_code == 302
    assert store_price(client, big["product_id"], big["id"]) == 9850
    [entry] = helpers.audit_rows(app)
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
    assert sku_row(app, BIG)["price"] == big["price"] and helpers.audit_rows(app) == []


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
    assert [row.action for row in helpers.audit_rows(app)] == ["sku.on_sale", "sku.on_sale"]


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
    [entry] = helpers.audit_rows(app)
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
    assert helpers.audit_rows(app) == []


def test_audit_records_cannot_be_edited_or_deleted(app, store):
    with app.app_context():
        sku_id = db.session.scalar(db.select(Sku.id).where(Sku.code == BIG))
        catalogue.change_sku(db.session, sku_id=sku_id, staff=None, price=12345)
        price_changes = db.select(AuditRecord).where(AuditRecord.action == "sku.price")
        entry = db.session.scalars(price_changes).one()
        assert entry.staff_name == "系统"
        entry.after = {"price": 1}
        with pytest.raises(AuditRecordsAreKept):
            db.session.commit()
        db.session.rollback()
        db.session.delete(db.session.scalars(price_changes).one())
        with pytest.raises(AuditRecordsAreKept):
            db.session.commit()
        db.session.rollback()
        db.session.remove()


def test_only_roles_that_may_see_the_pages(console_as):
    warehouse = console_as("warehouse")
    assert warehouse.get("/console/catalogue").status_code == 403
    assert warehouse.get("/console/audit").status_code == 403
    assert console_as("operations").get("/console/audit").status_code == 403


def form(console, path: str, **values) -> str:
    res = console.post(path, data={"csrf_token": csrf(console), **values}, follow_redirects=True)
    assert res.status_code == 200, res.status_code
    return res.get_data(as_text=True)


def test_staff_add_a_gift_box_with_a_sku_and_it_sells_once_on_sale(app, client, console_as):
    console = console_as("operations")
    with app.app_context():
        from backend.catalogue.models import Grade, Product, ProductLine

        line = db.session.scalars(db.select(ProductLine)).first()
        grade = db.session.scalar(db.select(Grade).where(Grade.product_line_id == line.id))
        line_id, grade_id = line.id, grade.id
        db.session.remove()
    page = form(
        console,
        "/console/products",
        product_line_id=str(line_id),
        name="开海节礼盒",
        category="礼盒",
    )
    assert "已新建商品 开海节礼盒" in page
    with app.app_context():
        product_id = db.session.scalar(db.select(Product.id).where(Product.name == "开海节礼盒"))
        db.session.remove()
    page = form(
        console,
        f"/console/products/{product_id}/skus",
        grade_id=str(grade_id),
        spec="8斤礼盒 约24只",
        code="rs-gift-fest-8",
        form="live",
        pack_weight_g="4000",
        pieces_per_pack="24",
        price="268",
    )
    assert "已新增规格 开海节礼盒 8斤礼盒 约24只" in page
    # off sale until staff put it on: then the store lists it
    assert client.get(f"/api/v1/products/{product_id}").status_code == 404
    form(console, f"/console/products/{product_id}/on-sale", on_sale="1")
    shown = client.get(f"/api/v1/products/{product_id}").json
    assert [(s["price"], s["spec"]) for s in shown["skus"]] == [(26800, "8斤礼盒 约24只")]
    again = form(
        console,
        f"/console/products/{product_id}/skus",
        grade_id=str(grade_id),
        spec="x",
        code="RS-GIFT-FEST-8",
        form="live",
        pack_weight_g="4000",
        price="1",
    )
    assert "已被使用" in again
    assert [r.action for r in helpers.audit_rows(app)] == [
        "product.create",
        "sku.create",
        "product.on_sale",
    ]


def test_a_sku_with_open_orders_or_stock_cannot_be_deleted(app, shopper, console_as, store):
    console = console_as("operations")
    shopper.buy([(store[BIG], 1)])
    page = form(console, f"/console/skus/{store[BIG]}/delete")
    assert "还有 1 个未完成的订单，不能删除" in page
    page = form(console, f"/console/skus/{store['RS-LIVE-XL-5']}/delete")
    assert "库存批次里还有" in page
    assert sku_row(app, BIG)["id"] == store[BIG]
    assert helpers.audit_rows(app) == []


def test_grades_and_shelf_life_are_edited_as_data(app, console_as, store):
    console = console_as("operations")
    with app.app_context():
        from backend.catalogue.models import Grade, ProductLine

        grade = db.session.scalars(db.select(Grade).order_by(Grade.id)).first()
        grade_id, line_id = grade.id, grade.product_line_id
        db.session.remove()
    page = form(
        console,
        f"/console/grades/{grade_id}",
        name="特大",
        min_pieces_per_kg="30",
        max_pieces_per_kg="10",
    )
    assert "最少只数不能大于最多只数" in page
    page = form(
        console,
        f"/console/grades/{grade_id}",
        name="特大",
        min_pieces_per_kg="8",
        max_pieces_per_kg="12",
    )
    assert "已保存" in page
    page = form(console, f"/console/product-lines/{line_id}/shelf-life", form="live", hours="0")
    assert "保质期（小时）须为" in page
    page = form(console, f"/console/product-lines/{line_id}/shelf-life", form="live", hours="96")
    assert "之后包装的批次按新保质期" in page
    with app.app_context():
        assert db.session.get(ProductLine, line_id).shelf_life_hours["live"] == 96
        assert (
            db.session.get(Grade, grade_id).min_pieces_per_kg,
            db.session.get(Grade, grade_id).max_pieces_per_kg,
        ) == (8, 12)
        db.session.remove()
    assert [r.action for r in helpers.audit_rows(app)] == ["grade.edit", "line.shelf_life"]
