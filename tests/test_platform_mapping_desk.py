"""The platform-order desk shows each waiting item's title from the platform and suggests our
SKU from the grade, weight and form words of its title and code, with the reason; a mapping is
audited."""

from __future__ import annotations

import pytest

from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.platforms import suggestions
from tests.test_platform_orders import Platform, pull, register, rows, seller  # noqa: F401


@pytest.fixture
def choices(app, store):
    with app.app_context():
        found = suggestions.sku_choices(db.session)
        db.session.remove()
    return found


@pytest.mark.parametrize(
    ("title", "code", "suggested", "reason"),
    [
        ("乳山鲜活生蚝 特大号 5斤装 顺丰包邮", "WANG-01", "RS-LIVE-XL-5", "「特大」→ 等级XL"),
        ("乳山牡蛎 大号 5斤", "LAOWANG-5J", "RS-LIVE-L-5", "「5斤」→ 2500 克装"),
        ("生蚝礼盒 特大 8斤 年货", "GIFT-A", "RS-GIFT-XL-8", "「礼盒」→ 礼盒"),
        ("冷冻半壳生蚝 1kg", "HALF", "RS-FROZEN-HALF-1KG", "「冷冻」→ 冷冻"),
        ("醉蚝 500g 罐装", "ZUI", "RS-RTE-DRUNK-500G", "「500g」→ 500 克装"),
        ("乳山生蚝", "WANG-OYSTER-XL", "RS-LIVE-XL-5", "「XL」→ 等级XL"),  # not the gift box
        ("乳山生蚝 大号", "W", None, "RS-LIVE-L-5、RS-FROZEN-HALF-1KG 同样符合"),
        ("乳山生蚝 顺丰包邮", "WANG-OYSTER-BIG", None, "没有等级或重量"),
        ("特大生蚝 3斤", "W3", None, "没有同时符合的联盟规格"),
    ],
)
def test_a_suggestion_names_the_words_it_rests_on(choices, title, code, suggested, reason):
    tip = suggestions.suggest(title, code, choices)
    assert (tip.code or None) == suggested
    assert reason in tip.reason


def test_the_desk_shows_titles_and_suggestions_and_a_mapping_is_audited(
    app,
    client,
    sandbox,
    staff_client,
    store,
    seller,  # noqa: F811
):
    platform = Platform(sandbox, "douyin")
    shop = register(client, seller, platform, "dy-titles")
    item = {"outer_id": "LAOWANG-HAOSHENG-TEDA-5J-0001", "quantity": 2, "unit_price_fen": 13800}
    platform.order("dy-titles", items=[{**item, "title": "乳山鲜活生蚝 特大号 5斤装"}])
    pull(app, shop["id"])
    [row] = rows(app)
    assert row.stock_state == "UNMAPPED" and row.lines[0]["title"] == "乳山鲜活生蚝 特大号 5斤装"
    page = staff_client.get("/console/platform-orders").get_data(as_text=True)
    assert "乳山鲜活生蚝 特大号 5斤装" in page and "乳山口老王海鲜" in page
    assert "建议 <b>RS-LIVE-XL-5</b>" in page
    # the long code is shortened, its full value on hover
    assert 'title="LAOWANG-HAOSHENG-TEDA-5J-0001"' in page and "LAOWANG-HA…0001" in page
    assert f'<option value="{store["RS-LIVE-XL-5"]}" selected>' in page
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    staff_client.post(
        "/console/platform-orders/mappings",
        data={
            "csrf_token": token,
            "platform": "douyin",
            "code": item["outer_id"],
            "sku_id": store["RS-LIVE-XL-5"],
        },
    )
    assert rows(app)[0].stock_state == "SOLD"
    with app.app_context():
        mapped = db.select(AuditRecord).where(AuditRecord.action == "platform.sku_map")
        [entry] = db.session.scalars(mapped).all()
        assert entry.action == "platform.sku_map" and entry.after == {"sku": "RS-LIVE-XL-5"}
        assert "LAOWANG-HAOSHENG-TEDA-5J-0001" in entry.summary
        db.session.remove()
