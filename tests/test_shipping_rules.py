"""Where and how we ship, as data: the fee by province and weight with the cold-chain surcharge,
live products refused for the regions they cannot reach alive, the fee a flash-sale order gets
when its address is set, the quote endpoint, the cut-off text, the console's zones page and API,
and the co-host bot's shipping answer read from the same zones."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from backend.extensions import db
from backend.shipping import service as shipping
from backend.timeutil import SHANGHAI
from bots.cohost import answers
from tests.helpers import ADDRESS, run_jobs, sku_stock, wait_for
from tests.test_console_pages import csrf_token, text

NOT_LIVE = {
    "新疆维吾尔自治区": "新疆维吾尔自治区",
    "新疆": "新疆维吾尔自治区",
    "西藏自治区": "西藏自治区",
    "青海省": "青海省",
    "香港": "香港特别行政区",
    "澳门特别行政区": "澳门特别行政区",
    "台湾省": "台湾省",
}
# A pack ships as its graded weight and a 500 g cold box: 5-jin live 3 kg, frozen 1 kg and
# ready-to-eat 500 g 2 kg each (a kilogram begun is a kilogram).


def to(province: str) -> dict:
    return {**ADDRESS, "province": province}


def _fee(first, extra, kilograms, cold):
    return first + (kilograms - 1) * extra + cold


@pytest.mark.parametrize(
    "province, code, quantity, fee",
    [
        ("山东省", "RS-LIVE-XL-5", 1, _fee(1000, 200, 3, 800)),  # at home: cheapest
        ("山东", "RS-LIVE-L-5", 2, _fee(1000, 200, 6, 800)),
        ("北京", "RS-LIVE-M-5", 2, _fee(1400, 400, 6, 1200)),
        ("内蒙古", "RS-GIFT-XL-8", 1, _fee(2200, 800, 5, 2000)),  # 4 kg + box
        ("内蒙古自治区", "RS-GIFT-XL-8", 1, _fee(2200, 800, 5, 2000)),
        ("广西壮族自治区", "RS-FROZEN-HALF-1KG", 1, _fee(1800, 600, 2, 0)),  # default, no cold
        ("广西", "RS-RTE-DRUNK-500G", 3, _fee(1800, 600, 6, 1500)),  # chilled: cold chain
        ("新疆维吾尔自治区", "RS-RTE-DRUNK-500G", 1, _fee(2800, 1200, 2, 2500)),
    ],
)
def test_the_fee_follows_the_province_the_weight_and_the_cold_chain(
    app, shopper, store, province, code, quantity, fee
):
    placed = shopper.order([(store[code], quantity)], address=to(province))
    assert placed.status_code == 201, placed.json
    order = placed.json
    assert order["shipping_fee"] == fee
    assert order["total"] == order["goods_total"] + fee
    assert order["goods_total"] == sum(item["subtotal"] for item in order["items"])


def test_one_parcel_pays_the_cold_chain_once_and_weighs_every_line(app, shopper, store):
    lines = [(store["RS-LIVE-XL-5"], 1), (store["RS-FROZEN-HALF-1KG"], 2)]
    order = shopper.order(lines, address=to("江苏省")).json
    assert order["shipping_fee"] == _fee(1400, 400, 6, 1200)  # 3 kg + 2 × 1.5 kg


@pytest.mark.parametrize("typed, named", NOT_LIVE.items())
def test_live_products_are_refused_for_regions_they_cannot_reach_alive(
    app, shopper, store, typed, named
):
    sku = store["RS-LIVE-L-5"]
    before = sku_stock(app, sku)
    refused = shopper.order([(sku, 1)], address=to(typed))
    assert refused.status_code == 422, refused.json
    assert refused.json["code"] == "REGION_NOT_SHIPPED"
    assert refused.json["message"].startswith(f"鲜活产品暂不发往{named}")
    assert refused.json["details"] == {"province": named, "sku_ids": [sku]}
    assert sku_stock(app, sku) == before  # nothing held
    assert shopper.get("/api/v1/orders").json["total"] == 0


def test_an_order_with_a_live_product_among_others_is_refused_too(app, shopper, store):
    lines = [(store["RS-RTE-DRUNK-500G"], 1), (store["RS-GIFT-L-8"], 1)]
    refused = shopper.order(lines, address=to("西藏"))
    assert refused.status_code == 422 and refused.json["code"] == "REGION_NOT_SHIPPED"
    assert "乳山牡蛎礼盒" in refused.json["message"]
    assert refused.json["details"]["sku_ids"] == [store["RS-GIFT-L-8"]]


@pytest.mark.parametrize("province", list(NOT_LIVE))
def test_products_that_are_not_live_do_go_there(app, shopper, store, province):
    placed = shopper.order([(store["RS-RTE-DRUNK-500G"], 1)], address=to(province))
    assert placed.status_code == 201, placed.json
    assert placed.json["shipping_fee"] > 0


def test_an_address_abroad_or_unreadable_is_refused(app, shopper, store):
    for province in ("California", "火星基地", "海外"):
        refused = shopper.order([(store["RS-RTE-DRUNK-500G"], 1)], address=to(province))
        assert refused.status_code == 422, refused.json
        assert refused.json["code"] == "PROVINCE_UNKNOWN" and "海外" in refused.json["message"]


# ---- flash-sale orders: the fee comes with the address ----------------------------------------


@pytest.fixture
def sale(app, staff_client, store):
    """50 units of 5-jin large live oysters at 59 yuan, limit 2 a person."""
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


def _claim(app, shopper, sale_id, **body):
    key = uuid.uuid4().hex
    res = shopper.post(
        f"/api/v1/flash-sales/{sale_id}/claims",
        json={"quantity": 1, **body},
        headers={"Idempotency-Key": key},
    )
    assert res.status_code == 202, res.json
    run_jobs(app)
    return shopper.get(f"/api/v1/flash-sales/{sale_id}/claims/{key}").json


def test_a_flash_order_gets_its_fee_when_the_address_is_set_and_pays_it(app, shopper, sale):
    order = _claim(app, shopper, sale["id"])["order"]
    assert (order["goods_total"], order["shipping_fee"], order["total"]) == (5900, 0, 5900)
    path = f"/api/v1/orders/{order['id']}/address"

    refused = shopper.put(path, json=to("新疆维吾尔自治区"))
    assert refused.status_code == 422 and refused.json["code"] == "REGION_NOT_SHIPPED"
    assert "新疆维吾尔自治区" in refused.json["message"]
    unchanged = shopper.get(f"/api/v1/orders/{order['id']}").json
    assert (unchanged["address"], unchanged["total"]) == ({}, 5900)

    far = shopper.put(path, json=to("北京市"))
    assert far.status_code == 200 and far.json["shipping_fee"] == _fee(1400, 400, 3, 1200)
    home = shopper.put(path, json=to("山东省"))
    fee = _fee(1000, 200, 3, 800)
    assert (home.json["shipping_fee"], home.json["total"]) == (fee, 5900 + fee)

    params = shopper.pay(order["id"])
    # WeChat Pay now holds the total: an address costing another fee waits for a new order
    locked = shopper.put(path, json=to("北京市"))
    assert locked.status_code == 409 and locked.json["code"] == "SHIPPING_FEE_LOCKED"
    same_fee = shopper.put(path, json={**to("山东"), "detail": "白沙滩镇 6 号"})
    assert same_fee.status_code == 200 and same_fee.json["total"] == 5900 + fee

    shopper.confirm_payment(params)
    paid = wait_for(
        lambda: (o := shopper.get(f"/api/v1/orders/{order['id']}").json)["status"] == "PAID" and o
    )
    assert paid["total"] == 5900 + fee
    after = shopper.put(path, json=to("山东省"))
    assert after.status_code == 409 and after.json["code"] == "ORDER_NOT_PENDING"


def test_a_claim_sent_with_an_address_live_products_do_not_reach_is_refused(app, shopper, sale):
    outcome = _claim(app, shopper, sale["id"], address=to("青海省"))
    assert outcome["status"] == "REFUSED" and outcome["code"] == "REGION_NOT_SHIPPED"
    assert "青海省" in outcome["message"]
    assert shopper.client.get(f"/api/v1/flash-sales/{sale['id']}").json["remaining"] == 50
    good = _claim(app, shopper, sale["id"], address=to("山东省"))["order"]
    assert good["shipping_fee"] == _fee(1000, 200, 3, 800)
    assert good["total"] == 5900 + good["shipping_fee"]


# ---- the quote endpoint and the cut-off --------------------------------------------------------


def test_the_quote_endpoint_answers_fee_days_and_cut_off(app, client, store):
    sku = store["RS-LIVE-L-5"]
    res = client.get(f"/api/v1/shipping/quote?sku_id={sku}&quantity=2&province=山东")
    assert res.status_code == 200, res.json
    body = res.json
    assert body["ships"] is True and body["province"] == "山东省"
    assert (body["fee"], body["cold_chain_fee"]) == (_fee(1000, 200, 6, 800), 800)
    assert body["days"] == "次日达" and body["weight_grams"] == 6000
    assert body["cutoff_text"] in _both_cutoff_texts("14点")
    assert "运费" in body["message"]

    no = client.get(f"/api/v1/shipping/quote?sku_id={sku}&province=新疆").json
    assert no["ships"] is False and no["fee"] == 0
    assert no["message"].startswith("鲜活产品暂不发往新疆维吾尔自治区")
    frozen = store["RS-FROZEN-HALF-1KG"]
    yes = client.get(f"/api/v1/shipping/quote?sku_id={frozen}&province=新疆").json
    assert yes["ships"] is True and yes["cold_chain_fee"] == 0


@pytest.mark.parametrize(
    "query, status, code",
    [
        ("quantity=1&province=山东", 400, "VALIDATION_ERROR"),  # no sku
        ("sku_id={sku}", 400, "VALIDATION_ERROR"),  # no province
        ("sku_id={sku}&quantity=0&province=山东", 400, "VALIDATION_ERROR"),
        ("sku_id={sku}&quantity=abc&province=山东", 400, "VALIDATION_ERROR"),
        ("sku_id={sku}&province=" + "山" * 21, 400, "VALIDATION_ERROR"),
        ("sku_id={sku}&province=火星", 422, "PROVINCE_UNKNOWN"),
        ("sku_id=999999&province=山东", 404, "SKU_NOT_FOUND"),
    ],
)
def test_the_quote_endpoint_refuses_bad_input_in_chinese(app, client, store, query, status, code):
    res = client.get("/api/v1/shipping/quote?" + query.format(sku=store["RS-LIVE-L-5"]))
    assert res.status_code == status, res.json
    assert res.json["code"] == code
    assert any("\u4e00" <= ch <= "\u9fff" for ch in res.json["message"])


def _both_cutoff_texts(label: str) -> set[str]:
    return {f"今日{label}前付款，当天发出", f"已过今日{label}发货截止，明日发出"}


def test_the_cut_off_text_turns_at_the_cut_off_in_shanghai(app, ctx):
    before = datetime(2026, 12, 7, 13, 59, tzinfo=SHANGHAI)
    at = datetime(2026, 12, 7, 14, 0, tzinfo=SHANGHAI)
    assert shipping.cutoff_text(before) == "今日14点前付款，当天发出"
    assert shipping.cutoff_text(at) == "已过今日14点发货截止，明日发出"
    # a stored (naive UTC) time is read in Shanghai: 05:59 UTC is 13:59 there
    assert shipping.cutoff_text(datetime(2026, 12, 7, 5, 59)) == "今日14点前付款，当天发出"
    assert shipping.cutoff_text(datetime(2026, 12, 7, 6, 0, tzinfo=UTC)).endswith("明日发出")
    saved = app.config["FULFIL_CUTOFFS"]
    app.config["FULFIL_CUTOFFS"] = "10:00,16:30"
    try:
        assert shipping.cutoff_text(at) == "今日16:30前付款，当天发出"
        late = datetime(2026, 12, 7, 16, 30, tzinfo=SHANGHAI)
        assert shipping.cutoff_text(late) == "已过今日16:30发货截止，明日发出"
    finally:
        app.config["FULFIL_CUTOFFS"] = saved


def test_the_product_page_says_when_an_order_paid_now_ships(app, client, store):
    product = client.get("/api/v1/products").json["items"][0]
    detail = client.get(f"/api/v1/products/{product['id']}")
    assert detail.status_code == 200
    assert detail.json["cutoff_text"] in _both_cutoff_texts("14点")


# ---- the console -------------------------------------------------------------------------------


def _zones(client) -> dict[str, dict]:
    res = client.get("/console/api/shipping-zones")
    assert res.status_code == 200, res.json
    return {zone["province"]: zone for zone in res.json["items"]}


def test_the_console_page_shows_and_edits_the_zones(app, staff_client, store):
    page = staff_client.get("/console/shipping")
    assert page.status_code == 200
    html = text(page)
    assert "配送与运费" in html and "新疆维吾尔自治区" in html and "其他省份（默认）" in html
    form = {
        "csrf_token": csrf_token(staff_client, "/console/shipping"),
        "province": "广东",
        "ships_live": "on",
        "first_weight_fee": "1600",
        "extra_kg_fee": "500",
        "cold_chain_fee": "1300",
        "days": "2天",
    }
    saved = staff_client.post("/console/shipping", data=form)
    assert saved.status_code == 302, text(saved)
    assert "已保存 广东省 的配送规则" in text(staff_client.get("/console/shipping"))
    assert _zones(staff_client)["广东省"]["first_weight_fee"] == 1600
    quote = staff_client.get(
        f"/api/v1/shipping/quote?sku_id={store['RS-LIVE-S-5']}&province=广东省"
    ).json
    assert (quote["fee"], quote["days"]) == (_fee(1600, 500, 3, 1300), "2天")

    # 青海 may now receive live products: unticked means "does not", ticked means "does"
    qinghai = _zones(staff_client)["青海省"]
    again = {**form, "province": "青海省", "days": "4天", "csrf_token": form["csrf_token"]}
    assert staff_client.post("/console/shipping", data=again).status_code == 302
    assert _zones(staff_client)["青海省"]["ships_live"] is True
    del again["ships_live"]
    assert staff_client.post("/console/shipping", data=again).status_code == 302
    assert _zones(staff_client)["青海省"]["ships_live"] is False
    assert _zones(staff_client)["青海省"]["id"] == qinghai["id"]

    delete = staff_client.post(
        f"/console/shipping/{_zones(staff_client)['广东省']['id']}/delete",
        data={"csrf_token": form["csrf_token"]},
    )
    assert delete.status_code == 302 and "广东省" not in _zones(staff_client)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"first_weight_fee": "-100"}, "首重运费（分）需在 0 到 100000 之间"),
        ({"cold_chain_fee": "12.5"}, "冷链附加费（分）"),
        ({"province": "火星"}, "无法识别省份“火星”"),
        ({"days": ""}, "请填写送达时效"),
    ],
)
def test_the_console_page_refuses_bad_input_clearly(app, staff_client, store, change, message):
    form = {
        "csrf_token": csrf_token(staff_client, "/console/shipping"),
        "province": "山东省",
        "ships_live": "on",
        "first_weight_fee": "900",
        "extra_kg_fee": "200",
        "cold_chain_fee": "800",
        "days": "次日达",
        **change,
    }
    refused = staff_client.post("/console/shipping", data=form)
    assert refused.status_code == 400
    assert message in text(refused)
    assert _zones(staff_client)["山东省"]["first_weight_fee"] == 1000  # unchanged


def test_the_console_page_needs_a_csrf_token(app, staff_client, store):
    form = {"province": "山东省", "first_weight_fee": "1", "extra_kg_fee": "1"}
    refused = staff_client.post("/console/shipping", data={**form, "csrf_token": "forged"})
    assert refused.status_code == 400 and "表单已失效" in text(refused)
    assert _zones(staff_client)["山东省"]["first_weight_fee"] == 1000


def test_the_console_api_sets_and_removes_zones(app, staff_client, store):
    body = {
        "province": "黑龙江",
        "ships_live": True,
        "first_weight_fee": 2000,
        "extra_kg_fee": 700,
        "cold_chain_fee": 1800,
        "days": "3天",
    }
    res = staff_client.put("/console/api/shipping-zones", json=body)
    assert res.status_code == 200, res.json
    assert res.json["province"] == "黑龙江省" and res.json["label"] == "黑龙江省"
    default = staff_client.put(
        "/console/api/shipping-zones", json={**body, "province": "默认", "days": "2-4天"}
    )
    assert default.status_code == 200 and default.json["province"] == "*"
    zones = _zones(staff_client)
    assert zones["*"]["days"] == "2-4天" and zones["黑龙江省"]["extra_kg_fee"] == 700

    negative = staff_client.put("/console/api/shipping-zones", json={**body, "extra_kg_fee": -1})
    assert negative.status_code == 400 and negative.json["code"] == "VALIDATION_ERROR"
    unknown = staff_client.put("/console/api/shipping-zones", json={**body, "province": "火星"})
    assert unknown.status_code == 400 and unknown.json["code"] == "PROVINCE_UNKNOWN"
    assert "火星" in unknown.json["message"]

    kept = staff_client.delete(f"/console/api/shipping-zones/{zones['*']['id']}", json={})
    assert kept.status_code == 409 and kept.json["code"] == "DEFAULT_ZONE_KEPT"
    gone = staff_client.delete(f"/console/api/shipping-zones/{zones['黑龙江省']['id']}", json={})
    assert gone.status_code == 200 and "黑龙江省" not in _zones(staff_client)
    missing = staff_client.delete(f"/console/api/shipping-zones/{zones['黑龙江省']['id']}", json={})
    assert missing.status_code == 404 and missing.json["code"] == "ZONE_NOT_FOUND"


def test_operations_may_edit_the_zones_and_the_warehouse_may_not(app, console_as, store):
    assert console_as("operations").get("/console/api/shipping-zones").status_code == 200
    warehouse = console_as("warehouse")
    refused = warehouse.get("/console/api/shipping-zones")
    assert refused.status_code == 403 and refused.json["code"] == "PERMISSION_DENIED"
    assert warehouse.get("/console/shipping").status_code == 403


# ---- the co-host bot reads the same zones ------------------------------------------------------


def _bot_says(app, form: str | None = "live") -> str:
    with app.app_context():
        facts = {"shelf": [], "on_screen": None, "shipping": shipping.shop_facts(db.session)}
        if form:
            facts["shelf"] = [{"number": 1, "form": form}]
            facts["on_screen"] = 1
        sentences, unanswered = answers.answer_questions(
            ["shipping"], facts, app.config, number=None
        )
        db.session.remove()
    assert not unanswered
    return sentences[0]


def test_the_bot_names_the_regions_live_products_do_not_reach_from_the_zones(
    app, staff_client, store
):
    said = _bot_says(app)
    assert "每天14点前付款当天发" in said and "大部分地区2-3天到" in said
    assert "鲜活产品暂不发往西藏、青海、新疆、台湾、香港、澳门及海外" in said
    assert "暂不发往" not in _bot_says(app, "frozen")  # frozen goes everywhere
    qinghai = _zones(staff_client)["青海省"]
    body = {**qinghai, "ships_live": True}
    assert staff_client.put("/console/api/shipping-zones", json=body).status_code == 200
    assert "暂不发往西藏、新疆、台湾、香港、澳门及海外" in _bot_says(app)
