"""The console's 认养 section over HTTP, on the demo alliance (于家养殖户: raft 3 = 24 cages at
¥398, raft 5 = 24 ropes at ¥268): staff lay out units from a form in 元 and 斤, bad input is
refused in Chinese, roles reach only their part, and each household's income adds up in fen."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from sqlalchemy import select

from backend.adoption import units as unit_rules
from backend.adoption.models import AdoptionUnit
from backend.batches.models import Farm, SeaArea
from backend.extensions import db
from tests.helpers import audit_rows
from tests.test_adoption import _adopt, adopt_and_pay
from tests.test_console_pages import csrf_token, text

DAY = unit_rules.today


def _form(**changes) -> dict:
    day = DAY()
    return {
        "sea_area_code": "RS-HYS-02",
        "farm_id": "",  # filled in by the test: the 王家滩 household
        "product_line_code": "oyster",
        "raft": "7",
        "positions": "1-10,12",
        "kind": "grid",
        "seeded_on": (day - timedelta(days=10)).isoformat(),
        "adopt_until": (day + timedelta(days=20)).isoformat(),
        "harvest_from": (day + timedelta(days=60)).isoformat(),
        "harvest_to": (day + timedelta(days=90)).isoformat(),
        "price_yuan": "123.45",
        "yield_jin": "7.5",
        "max_parcels": "3",
        "loss_terms": "refund",
        "loss_refund_percent": "70",
        **changes,
    }


def _farm_id(app, name: str) -> int:
    with app.app_context():
        farm_id = db.session.scalar(select(Farm.id).where(Farm.name == name))
        db.session.remove()
    return farm_id


def _units(app, **where) -> list[tuple]:
    with app.app_context():
        rows = db.session.execute(
            select(AdoptionUnit.position, AdoptionUnit.price, AdoptionUnit.yield_g)
            .join(SeaArea, SeaArea.id == AdoptionUnit.sea_area_id)
            .filter_by(**where)
            .order_by(AdoptionUnit.position)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def _post_units(console, form_page="/console/adoption/units/new", **changes):
    token = csrf_token(console, form_page)
    return console.post("/console/adoption/units", data={"csrf_token": token, **_form(**changes)})


def test_staff_lay_out_a_raft_in_yuan_and_jin_and_see_it_on_the_grid(app, console_as):
    console = console_as("operations")
    wang = str(_farm_id(app, "王家滩合作社"))
    made = _post_units(console, farm_id=wang)
    assert made.status_code == 302, text(made)
    # 123.45 元 → 12345 fen, 7.5 斤 → 3750 g, positions 1-10 and 12
    assert _units(app, raft=7) == [(p, 12345, 3750) for p in [*range(1, 11), 12]]
    grid = console.get(made.headers["Location"])
    page = text(grid)
    assert "已新建 11 个认养单元：王家滩外海 2 号海区 7号筏 1-10,12" in page
    assert page.count('data-state="FREE"') == 11 and "7号筏" in page
    [entry] = [r for r in audit_rows(app) if r.action == "adoption.units_create"]
    assert entry.target_id == "RS-HYS-02-R7" and "¥123.45" in entry.summary
    assert entry.after["positions"] == "1-10,12" and entry.after["price"] == 12345

    # the whole demo: 48 units of 于家 plus these, all free, each one opens
    overview = console.get("/console/api/adoption/units").json
    assert overview["counts"]["FREE"] == 59 and overview["total"] == 59
    unit_id = overview["areas"][0]["rafts"][0]["units"][11]["id"]  # 3号筏 12号笼
    detail = text(console.get(f"/console/adoption/units/{unit_id}"))
    assert "3号筏 12号笼" in detail and "¥398.00" in detail and "还没有人认养这个单元" in detail
    state = text(console.get("/console/adoption/units?raft=7&state=ADOPTED"))
    assert state.count(" dim") == 11  # the raft stays in place, its free units greyed


def test_bad_unit_input_is_refused_in_chinese_and_makes_nothing(app, console_as):
    console = console_as("operations")
    wang = str(_farm_id(app, "王家滩合作社"))
    day = DAY()
    cases = [
        ({"price_yuan": "三百"}, 400, "认养价格请填写金额（元）"),
        ({"price_yuan": "0"}, 400, "认养价格需大于 0 元"),
        ({"price_yuan": "9.999"}, 400, "认养价格最多精确到分"),
        ({"yield_jin": "-2"}, 400, "收获重量需大于 0 斤"),
        ({"positions": "24-1"}, 400, "位置范围“24-1”不对"),
        ({"positions": "一号"}, 400, "位置“一号”看不懂"),
        ({"raft": "0", "max_parcels": "99"}, 400, "筏号需在 1 到 999 之间；最多包裹数需在 1 到 20"),
        ({"seeded_on": "2026/1/1"}, 400, "投苗日期格式应为 年-月-日"),
        ({"harvest_from": (day - timedelta(days=20)).isoformat()}, 422, "日期顺序应为"),
        ({"loss_refund_percent": "0"}, 400, "损失退款比例（%）需在 1 到 100 之间"),
        ({"sea_area_code": "RS-NOWHERE"}, 404, "养殖海区不存在"),
        # 于家's raft 3 is the demo's: its cages 1-3 exist already
        ({"sea_area_code": "RS-HYS-01", "raft": "3", "positions": "1-3,30"}, 409,
         "这些位置已有认养单元：1-3"),
    ]  # fmt: skip
    for change, status, message in cases:
        res = _post_units(console, farm_id=wang, **change)
        assert res.status_code == status, (change, text(res))
        assert message in text(res), change
        # the form keeps what staff typed
        assert 'value="1-10,12"' in text(res) or "positions" in change
    assert _units(app, raft=7) == [] and len(_units(app, raft=3)) == 24
    assert not [r for r in audit_rows(app) if r.action == "adoption.units_create"]


def test_roles_reach_only_their_part_of_adoption(console_as, app):
    host = console_as("host")
    assert "无权执行此操作" in text(host.get("/console/adoption/units"))
    assert host.get("/console/api/adoption/income").json["code"] == "PERMISSION_DENIED"
    assert "认养" not in text(host.get("/console/")).split("<main>")[0]
    finance = console_as("finance")
    assert finance.get("/console/adoption/income").status_code == 200
    assert "新建单元" not in text(finance.get("/console/adoption"))
    wang = str(_farm_id(app, "王家滩合作社"))
    refused = _post_units(finance, form_page="/console/adoption", farm_id=wang)
    assert refused.status_code == 403 and _units(app, raft=7) == []
    header = text(console_as("operations").get("/console/adoption")).split("<main>")[0]
    assert 'class="active">认养</a>' in header


def test_income_per_household_adds_the_paid_prices_in_fen(app, console_as, shopper, other_shopper):
    console = console_as("finance")
    admin = console_as("admin")
    wang = _farm_id(app, "王家滩合作社")
    body = {**_form(farm_id=wang, raft=7, max_parcels=3, loss_refund_percent=70)}
    body = {k: v for k, v in body.items() if k not in ("price_yuan", "yield_jin")}
    made = admin.post("/console/api/adoption/units", json={**body, "price": 12345, "yield_g": 3750})
    assert made.status_code == 201 and made.json["created"] == 11
    grid = admin.get("/console/api/adoption/units").json
    rafts = {(a["code"], r["raft"]): r["units"] for a in grid["areas"] for r in a["rafts"]}
    cage_12 = rafts[("RS-HYS-01", 3)][11]["id"]
    rope_1 = rafts[("RS-HYS-01", 5)][0]["id"]
    wang_1 = rafts[("RS-HYS-02", 7)][0]["id"]
    adopt_and_pay(shopper, cage_12)  # ¥398.00
    adopt_and_pay(other_shopper, rope_1)  # ¥268.00
    adopt_and_pay(shopper, wang_1)  # ¥123.45
    # a buyer still paying counts as held, not as income
    assert _adopt(shopper, unit_id=rafts[("RS-HYS-01", 5)][1]["id"]).status_code == 201

    income = console.get("/console/api/adoption/income").json
    rows = {r["household"]: r for r in income["rows"]}
    yu, wang_row = rows["于家养殖户"], rows["王家滩合作社"]
    assert (yu["adoptions_paid"], yu["income"], yu["net"]) == (2, 66600, 66600)
    assert (yu["units"], yu["adopted"], yu["free"]) == (48, 3, 45)
    assert (wang_row["adoptions_paid"], wang_row["income"]) == (1, 12345)
    assert (wang_row["units"], wang_row["adopted"], wang_row["free"]) == (11, 1, 10)
    assert income["totals"]["income"] == 78945 and income["totals"]["adoptions_paid"] == 3
    earlier = console.get("/console/api/adoption/income?month=2020-01").json
    assert earlier["totals"]["income"] == 0
    for month in ("2026-13", "9999-12", "0001-01"):
        bad = console.get(f"/console/api/adoption/income?month={month}")
        assert bad.status_code == 400 and bad.json["code"] == "INVALID_MONTH", month
    far = console.get("/console/adoption/income?month=9999-12")
    assert far.status_code == 200 and "2000 年至 2100 年" in text(far)

    page = text(console.get("/console/adoption/income"))
    assert "¥666.00" in page and "¥123.45" in page and "¥789.45" in page
    download = console.get(f"/console/adoption/income?month={income['month']}&format=csv")
    assert download.mimetype == "text/csv"
    assert f"adoption-income-{income['month']}.csv" in download.headers["Content-Disposition"]
    table = list(csv.reader(io.StringIO(download.get_data(as_text=True).removeprefix("\ufeff"))))
    assert table[0][:4] == ["养殖户", "合作社", "当月认养（笔）", "认养收入（元）"]
    by_household = {line[0]: line for line in table[1:]}
    assert by_household["于家养殖户"][2:6] == ["2", "666.00", "0.00", "666.00"]
    assert by_household["王家滩合作社"][3] == "123.45"
    assert by_household["合计"][2:4] == ["3", "789.45"]
    adopters = text(console.get("/console/adoption/adopters"))
    assert adopters.count("<td>认养中") == 3 and adopters.count("<td>待支付") == 1
    assert "3号筏 12号笼" in adopters
    home = text(console.get("/console/adoption"))
    assert "¥789.45" in home and "已认养单元" in home


def _declare(console, **form):
    token = csrf_token(console, "/console/adoption/losses")
    body = {"csrf_token": token, "reason_kind": "台风", **form}
    return console.post("/console/adoption/losses", data=body, follow_redirects=True)


def test_a_typhoon_marks_raft_5_lost_from_the_form_once(app, console_as, shopper, other_shopper):
    rope = adopt_and_pay(shopper, _unit_id(app, 5, 1))  # refund 60 % of ¥268
    cage = adopt_and_pay(other_shopper, _unit_id(app, 3, 5))  # replaced by another cage
    console = console_as("operations")
    area = str(_area_id(app, "RS-HYS-01"))
    missing = _declare(console, sea_area_id=area, raft="3", positions="5,30")
    assert missing.status_code == 404 and "这个筏上没有这些位置的认养单元：30" in text(missing)
    assert 'value="5,30"' in text(missing)  # the form keeps what staff typed

    raft5 = _declare(console, sea_area_id=area, raft="5", reason_note="9 月“海葵”")
    page = text(raft5)
    assert "已标记 24 个单元损失：换单元 0 户，退款 1 户（共 ¥160.80），取消待支付 0 笔" in page
    assert f"{rope['number']} 退 ¥160.80" in page
    assert "台风：9 月“海葵”" in page  # the recent losses
    cage5 = text(_declare(console, sea_area_id=area, raft="3", positions="5", reason_kind="病害"))
    assert "已标记 1 个单元损失：换单元 1 户" in cage5 and f"{cage['number']} 换为" in cage5
    again = _declare(console, sea_area_id=area, raft="5", positions="1-2")
    assert again.status_code == 409 and "未能标记损失：2 个单元已登记过损失" in text(again)

    twice = console.post(
        "/console/api/adoption/losses", json={"unit_ids": [_unit_id(app, 5, 1)], "reason": "台风"}
    )
    assert twice.status_code == 409 and twice.json["code"] == "LOSS_ALREADY_DECLARED"
    body = {"sea_area_id": int(area), "raft": 3, "positions": "6", "reason": "病害"}
    assert console_as("finance").post("/console/api/adoption/losses", json=body).status_code == 403

    grid = console.get("/console/api/adoption/units?raft=5").json
    assert grid["counts"]["LOST"] == 24 and grid["total"] == 24
    income = console.get("/console/api/adoption/income").json["rows"][0]
    assert (income["income"], income["refunded"], income["net"]) == (
        26800 + 39800,
        16080,
        26800 + 39800 - 16080,
    )
    assert (income["units"], income["lost"]) == (48, 25)


def _unit_id(app, raft: int, position: int) -> int:
    with app.app_context():
        unit_id = db.session.scalar(
            select(AdoptionUnit.id).where(
                AdoptionUnit.raft == raft, AdoptionUnit.position == position
            )
        )
        db.session.remove()
    return unit_id


def _area_id(app, code: str) -> int:
    with app.app_context():
        area_id = db.session.scalar(select(SeaArea.id).where(SeaArea.code == code))
        db.session.remove()
    return area_id


def test_a_harvest_calendar_of_a_far_year_is_refused_or_opens_today(console_as):
    console = console_as("operations")
    far = console.get("/console/api/adoption-harvests?from=9999-12-31")
    assert far.status_code == 400 and "2000 年至 2100 年" in str(far.json), far.json
    page = console.get("/console/adoption-harvest?from=9999-12-31")
    assert page.status_code == 200 and "认养收获日历" in text(page)
