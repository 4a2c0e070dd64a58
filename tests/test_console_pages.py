"""The staff console pages over HTTP: session login, real demo data, stock adjustments, CSRF."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest

from backend.batches.models import Batch
from backend.extensions import db
from backend.inventory.models import ADJUST, Lot, StockMovement
from backend.staff import service as staff_service
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, utcnow
from tests import helpers

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
PAGES = ["/console/", "/console/batches", "/console/batches/1", "/console/lots", "/console/ledger"]


def csrf_token(client, path: str = "/console/login") -> str:
    page = client.get(path)
    assert page.status_code == 200
    return TOKEN.search(page.get_data(as_text=True)).group(1)


def log_in(client, username: str = "admin", password: str = "heli-demo", **extra):
    form = {"csrf_token": csrf_token(client), "username": username, "password": password}
    return client.post("/console/login", data={**form, **extra})


def text(res) -> str:
    return res.get_data(as_text=True)


@pytest.fixture
def console(client, store):
    res = log_in(client)
    assert res.status_code == 302 and res.headers["Location"].endswith("/console/")
    return client


def lot_of(app, sku_code: str) -> dict:
    with app.app_context():
        lot = db.session.scalar(
            db.select(Lot).where(Lot.code.like(f"%-{sku_code}-%")).order_by(Lot.id)
        )
        values = {"id": lot.id, "code": lot.code, "on_hand": lot.on_hand, "reserved": lot.reserved}
        db.session.remove()
    return values


def movements(app, lot_id: int, kind: str) -> list[StockMovement]:
    with app.app_context():
        rows = list(
            db.session.scalars(
                db.select(StockMovement).where(
                    StockMovement.lot_id == lot_id, StockMovement.kind == kind
                )
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return rows


def adjust(console, lot_id: int, **form):
    token = csrf_token(console, "/console/lots")
    return console.post(
        f"/console/lots/{lot_id}/adjust",
        data={"csrf_token": token, **form},
        follow_redirects=True,
    )


def test_every_page_redirects_to_login_when_logged_out(client, store):
    for path in PAGES:
        res = client.get(path)
        assert res.status_code == 302, path
        assert "/console/login" in res.headers["Location"]
    token = csrf_token(client)
    res = client.post("/console/lots/1/adjust", data={"csrf_token": token, "delta": "1"})
    assert res.status_code == 302 and "/console/login" in res.headers["Location"]


def test_login_returns_to_the_page_asked_for_and_logout_ends_the_session(client, store):
    first = client.get("/console/lots")
    login_page = client.get(first.headers["Location"])
    assert "员工登录" in text(login_page)
    res = log_in(client, next="/console/lots")
    assert res.status_code == 302 and res.headers["Location"].endswith("/console/lots")
    assert client.get("/console/lots").status_code == 200

    res = client.post("/console/logout", data={"csrf_token": csrf_token(client, "/console/")})
    assert res.status_code == 302
    assert client.get("/console/").status_code == 302


def test_login_never_redirects_off_the_console(client, store):
    res = log_in(client, next="https://evil.example/console/")
    assert res.headers["Location"].endswith("/console/")
    assert "evil" not in res.headers["Location"]


def test_wrong_password_shows_a_chinese_error_and_stays_logged_out(client, store):
    res = log_in(client, password="wrong")
    assert res.status_code == 200
    assert "用户名或密码错误" in text(res)
    assert client.get("/console/").status_code == 302
    assert "请输入用户名和密码" in text(log_in(client, username="", password=""))


def test_dashboard_shows_alerts_and_lots_expiring_within_a_day(app, console):
    helpers.stock_up(app, {"RS-LIVE-M-5": 10}, packed_at=utcnow() - timedelta(hours=60))
    with app.app_context():
        staff_service.raise_alert(db.session, kind="HOLD_UNMOVED", title="订单 42 的库存无法转移")
        db.session.commit()
        db.session.remove()
    page = text(console.get("/console/"))
    assert "订单 42 的库存无法转移" in page
    expiring = page.split("小时内到期的库存批次")[1].split("最新提醒")[0]
    assert expiring.count('<tr class="expiring">') == 1
    assert "RS-LIVE-M-5" in expiring and "RS-LIVE-XL-5" not in expiring


def test_batch_list_filters_by_status(app, console):
    page = text(console.get("/console/batches"))
    assert "已包装" in page and "海阳所东湾 1 号海区" in page and "共 1 条" in page
    assert "暂无批次" in text(console.get("/console/batches?status=OPEN"))
    assert "共 1 条" in text(console.get("/console/batches?status=PACKED"))


def test_batch_detail_shows_harvest_steps_grades_inspection_and_lots(app, console):
    with app.app_context():
        batch = db.session.scalar(db.select(Batch))
        batch_id, code = batch.id, batch.code
        db.session.remove()
    page = text(console.get(f"/console/batches/{batch_id}"))
    assert code in page and "RS-HYS-01" in page
    for expected in ("水温：12.5 °C", "清洗时长：30 分钟", "净化时长：24 小时", "盐度：31 ‰"):
        assert expected in page
    assert page.index("清洗") < page.index("机器分级") < page.index("净化") < page.index("包装时间")
    # XL: 200 packs x 2.5 kg + 120 gift boxes x 4 kg = 980 kg sorted, 980000 g // 150 pieces.
    assert re.search(
        r"特大（XL）</td>\s*<td class=\"num\">6533</td>\s*<td class=\"num\">980 kg", page
    )
    assert "合格" in page and f"RS-QC-{code}" in page and "乳山市水产品检测中心" in page
    assert len(re.findall(rf">[^<>]*-{code}-[^<>]*</a>", page)) == 8  # the lots packed from it
    assert console.get("/console/batches/99999").status_code == 404


def test_lots_page_lists_the_demo_lots_and_filters(app, console):
    page = text(console.get("/console/lots"))
    for sku_code, count in helpers.DEMO_STOCK.items():
        assert re.search(rf"{sku_code}<br>.*?<td class=\"num\">{count}</td>", page, re.S)
    assert "共 8 条" in page
    only_xl = text(console.get("/console/lots?sku=RS-LIVE-XL-5"))
    assert "共 1 条" in only_xl and "RS-LIVE-L-5<br>" not in only_xl
    assert "暂无库存批次" in text(console.get("/console/lots?status=EXPIRED"))
    assert "共 8 条" in text(console.get("/console/lots?status=SELLABLE"))


def test_lots_page_highlights_lots_expiring_within_a_day(app, console):
    soon = helpers.stock_up(app, {"RS-LIVE-S-5": 10}, packed_at=utcnow() - timedelta(hours=60))
    page = text(console.get("/console/lots"))
    assert f'<tr class="expiring" id="lot-{soon[0]}">' in page
    assert page.count('<tr class="expiring"') == 1


def test_ledger_shows_receive_rows_and_filters_narrow_them(app, console):
    page = text(console.get("/console/ledger"))
    assert page.count('<tr class="kind-RECEIVE">') == 8 and "包装入库" in page
    xl = lot_of(app, "RS-LIVE-XL-5")
    assert text(console.get("/console/ledger?sku=RS-LIVE-XL-5")).count("kind-RECEIVE") == 1
    by_lot = text(console.get(f"/console/ledger?lot={xl['code']}"))
    assert by_lot.count("kind-RECEIVE") == 1 and xl["code"] in by_lot
    assert "暂无记录" in text(console.get("/console/ledger?kind=ADJUST"))
    assert text(console.get("/console/ledger?kind=RECEIVE")).count("kind-RECEIVE") == 8

    today = datetime.now(SHANGHAI).date()
    day = timedelta(days=1)
    assert text(console.get(f"/console/ledger?from={today}&to={today}")).count("kind-") == 8
    assert "暂无记录" in text(console.get(f"/console/ledger?from={today + day}"))
    assert "暂无记录" in text(console.get(f"/console/ledger?to={today - day}"))
    bad = console.get("/console/ledger?from=yesterday")
    assert bad.status_code == 200 and "开始日期格式应为" in text(bad)


def test_ledger_is_paginated_newest_first(app, console):
    lot = lot_of(app, "RS-LIVE-M-5")
    for n in range(45):
        assert adjust(console, lot["id"], delta="-1", reason=f"盘点{n}").status_code == 200
    first = text(console.get("/console/ledger"))
    assert "共 53 条，第 1 / 2 页" in first and first.count("kind-") == 50
    assert first.index("盘点44") < first.index("盘点43")
    second = text(console.get("/console/ledger?page=2"))
    assert second.count("kind-") == 3 and second.count("kind-RECEIVE") == 3


def test_adjustment_writes_an_adjust_row_with_staff_and_reason(app, console):
    lot = lot_of(app, "RS-LIVE-L-5")
    res = adjust(console, lot["id"], delta="-3", reason="破损 3 盒")
    assert res.status_code == 200 and "已调整" in text(res)
    assert lot_of(app, "RS-LIVE-L-5")["on_hand"] == lot["on_hand"] - 3
    with app.app_context():
        admin_id = db.session.scalar(db.select(Staff.id).where(Staff.username == "admin"))
        db.session.remove()
    [row] = movements(app, lot["id"], ADJUST)
    assert (row.on_hand_delta, row.staff_id, row.reason) == (-3, admin_id, "破损 3 盒")
    ledger = text(console.get("/console/ledger?kind=ADJUST"))
    assert "破损 3 盒" in ledger and "联盟管理员" in ledger and "-3" in ledger


def test_adjustment_below_zero_or_below_reserved_is_refused(app, console, shopper, store):
    lot = lot_of(app, "RS-LIVE-XL-5")
    res = adjust(console, lot["id"], delta=str(-lot["on_hand"] - 1), reason="盘亏")
    assert res.status_code == 200 and "调整后库存不能少于已锁定数量，也不能为负" in text(res)

    assert shopper.order([(store["RS-LIVE-XL-5"], 5)]).status_code == 201
    held = lot_of(app, "RS-LIVE-XL-5")
    assert held["reserved"] == 5
    res = adjust(console, lot["id"], delta=str(-(held["on_hand"] - 4)), reason="盘亏")
    assert "调整后库存不能少于已锁定数量，也不能为负" in text(res)
    assert lot_of(app, "RS-LIVE-XL-5") == held
    assert movements(app, lot["id"], ADJUST) == []


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"delta": "abc", "reason": "盘点"}, "调整数量必须是整数"),
        ({"delta": "1.5", "reason": "盘点"}, "调整数量必须是整数"),
        ({"delta": "", "reason": "盘点"}, "调整数量必须是整数"),
        ({"delta": "0", "reason": "盘点"}, "调整数量不能为 0"),
        ({"delta": "99999999999999999999", "reason": "盘点"}, "单次调整数量不能超过"),
        ({"delta": "2", "reason": "   "}, "请填写调整原因"),
        ({"delta": "2"}, "请填写调整原因"),
        ({"delta": "2", "reason": "长" * 121}, "调整原因不能超过 120 个字"),
    ],
)
def test_bad_adjustment_input_gets_a_chinese_message(app, console, form, message):
    lot = lot_of(app, "RS-LIVE-S-5")
    res = adjust(console, lot["id"], **form)
    assert res.status_code == 200 and message in text(res)
    assert lot_of(app, "RS-LIVE-S-5") == lot
    assert movements(app, lot["id"], ADJUST) == []


def test_adjusting_a_missing_lot_shows_the_not_found_message(console):
    res = adjust(console, 99999, delta="1", reason="盘点")
    assert res.status_code == 200 and "批次库存不存在" in text(res)


def test_form_posts_without_a_csrf_token_are_refused(app, console):
    lot = lot_of(app, "RS-LIVE-L-5")
    res = console.post(f"/console/lots/{lot['id']}/adjust", data={"delta": "5", "reason": "x"})
    assert res.status_code == 400 and "表单已失效" in text(res)
    bad = {"csrf_token": "forged", "delta": "5", "reason": "x"}
    assert console.post(f"/console/lots/{lot['id']}/adjust", data=bad).status_code == 400
    assert lot_of(app, "RS-LIVE-L-5") == lot
    assert console.post("/console/logout").status_code == 400
    assert console.get("/console/").status_code == 200  # still logged in
    anonymous = app.test_client()
    assert anonymous.post("/console/login", data={"username": "admin"}).status_code == 400


def test_json_apis_keep_working_without_a_csrf_token(app, store, shopper):
    api = app.test_client()
    res = api.post("/console/api/login", json={"username": "admin", "password": "heli-demo"})
    assert res.status_code == 200
    assert api.get("/console/api/payment-anomalies").status_code == 200
    assert api.post("/console/api/logout", json={}).status_code == 200
    assert shopper.order([(store["RS-LIVE-M-5"], 1)]).status_code == 201
    # Reached the handlers (their own answers), not refused by the CSRF check.
    assert api.post("/callbacks/wechatpay", data=b"{}").json["code"] == "FAIL"
    assert api.post("/api/processing/batches", json={}).json["code"] == "SIGNATURE_MISSING"
