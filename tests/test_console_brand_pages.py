"""The console's brand pages over HTTP: licences, print runs and their exports, flagged codes."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from backend.catalogue.models import Product
from backend.extensions import db
from backend.inventory.models import Lot
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED, BrandLicence
from backend.staff.models import Staff
from backend.timeutil import utcnow
from backend.trace import persist
from backend.trace.models import PrintRun, TraceCode, TraceFlag
from tests import helpers
from tests.test_console_pages import csrf_token, log_in, text

WEIHAI = {"lat": 37.51, "lon": 122.12, "region": "山东省威海市"}
GUANGZHOU = {"lat": 23.13, "lon": 113.26, "region": "广东省广州市"}
BEIJING = {"lat": 39.9, "lon": 116.4, "region": "北京市"}
DEMO_LICENCES = 2701  # 3000 demo sellers, every tenth without a licence; and the store's


ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}  # the copy is scanned from another network


@pytest.fixture
def console(client, store):
    res = log_in(client)
    assert res.status_code == 302 and res.headers["Location"].endswith("/console/")
    return client


def new_seller(app, name: str) -> int:
    with app.app_context():
        seller = sellers.create_seller(db.session, name=name)
        db.session.commit()
        seller_id = seller.id
        db.session.remove()
    return seller_id


@pytest.fixture
def licensed(app, store):
    """A new seller licensed for every product, and the lot of 5-jin XL live oysters (200 packs)."""
    seller_id = new_seller(app, "海阳所老于家牡蛎")
    with app.app_context():
        sellers.grant_licence(
            db.session,
            seller_id=seller_id,
            product_ids=list(db.session.scalars(db.select(Product.id))),
            valid_from=sellers.today() - timedelta(days=10),
            valid_until=sellers.today() + timedelta(days=200),
            staff_id=None,
        )
        lot = db.session.scalar(db.select(Lot).where(Lot.sku_id == store["RS-LIVE-XL-5"]))
        values = {"seller_id": seller_id, "lot_id": lot.id, "lot_code": lot.code}
        db.session.remove()
    return values


def licence(app, **where) -> dict | None:
    with app.app_context():
        row = db.session.scalar(db.select(BrandLicence).filter_by(**where))
        values = None
        if row is not None:
            values = {
                "id": row.id,
                "number": row.number,
                "product_ids": row.product_ids,
                "valid_from": row.valid_from,
                "valid_until": row.valid_until,
                "status": row.status,
                "note": row.note,
                "granted_by": row.granted_by,
            }
        db.session.remove()
    return values


def count(app, model) -> int:
    with app.app_context():
        n = db.session.scalar(db.select(db.func.count()).select_from(model))
        db.session.remove()
    return n


def admin_id(app) -> int:
    with app.app_context():
        staff_id = db.session.scalar(db.select(Staff.id).where(Staff.username == "admin"))
        db.session.remove()
    return staff_id


def codes_of(app, run_id: int) -> list[str]:
    with app.app_context():
        found = list(
            db.session.scalars(
                db.select(TraceCode.code)
                .where(TraceCode.print_run_id == run_id)
                .order_by(TraceCode.serial)
            )
        )
        db.session.remove()
    return found


def post(console, path: str, page: str, **form):
    """Submit a form as the browser would: token taken from the page that shows the form."""
    token = csrf_token(console, page)
    return console.post(path, data={"csrf_token": token, **form}, follow_redirects=True)


def flash_error(res) -> str:
    found = re.findall(r'<div class="flash error">([^<]*)</div>', text(res))
    return " ".join(found)


def persist_scans(app) -> None:
    """What the persist-scans job does every few seconds: move the scan log into the database."""
    with app.app_context():
        persist.persist_scans(db.session)
        db.session.remove()


def day(offset: int) -> str:
    return (sellers.today() + timedelta(days=offset)).isoformat()


# --- login ------------------------------------------------------------------------------------


def test_brand_pages_need_a_login(app, client, store):
    for path in ("/console/licences", "/console/print-runs", "/console/print-runs/1"):
        res = client.get(path)
        assert res.status_code == 302 and "/console/login" in res.headers["Location"], path
    res = client.get("/console/trace-flags")
    assert res.status_code == 302 and "/console/login" in res.headers["Location"]
    token = csrf_token(client)
    for path in ("/console/licences", "/console/licences/1/suspend", "/console/print-runs"):
        res = client.post(path, data={"csrf_token": token, "seller_id": "2", "quantity": "1"})
        assert res.status_code == 302 and "/console/login" in res.headers["Location"], path
    assert licence(app, number="RSMH-DEMO-0002")["status"] == ACTIVE
    assert count(app, PrintRun) == 0


def test_nav_links_to_the_brand_pages(console):
    page = text(console.get("/console/"))
    for path, label in [
        ("/console/licences", "品牌授权"),
        ("/console/print-runs", "防伪码印制"),
        ("/console/trace-flags", "防伪预警"),
    ]:
        assert re.search(rf'<a href="{path}"\s+class="[^"]*">{label}</a>', page), label


# --- licences ---------------------------------------------------------------------------------


def test_licences_page_lists_the_demo_licences_newest_first(app, console):
    page = text(console.get("/console/licences"))
    assert f"共 {DEMO_LICENCES} 条，第 1 / 55 页" in page
    assert page.count('id="licence-') == 50
    assert page.index("RSMH-DEMO-2999") < page.index("RSMH-DEMO-2998")
    assert "RSMH-DEMO-0002" not in page
    second = text(console.get("/console/licences?page=2"))
    assert "第 2 / 55 页" in second and "RSMH-DEMO-2999" not in second


def test_licence_rows_show_scope_status_and_days_left(app, console):
    # Demo seller 0002 holds a licence for every product ending in 17 days, 0001's lapsed.
    page = text(console.get("/console/licences", query_string={"q": "0002号店"}))
    assert "共 1 条" in page and "RSMH-DEMO-0002" in page
    assert "乳山鲜活牡蛎" in page and f"至 {day(17)}" in page
    assert re.search(r'<tr class="expiring" id="licence-\d+">', page)
    assert re.search(r'class="num">17\s*<span class="badge warn">即将到期', page)
    assert "licence-ACTIVE" in page
    lapsed = text(console.get("/console/licences", query_string={"q": "0001号店"}))
    assert "RSMH-DEMO-0001" in lapsed and "licence-EXPIRED" in lapsed
    assert "即将到期</span>" not in lapsed and '<tr class="expiring"' not in lapsed
    by_number = text(console.get("/console/licences", query_string={"q": "RSMH-DEMO-0002"}))
    assert "共 1 条" in by_number


def test_licence_filters(app, console):
    today = sellers.today()
    with app.app_context():
        lapsed = db.session.scalar(
            db.select(db.func.count())
            .select_from(BrandLicence)
            .where(BrandLicence.valid_until < today)
        )
        soon = db.session.scalar(
            db.select(db.func.count())
            .select_from(BrandLicence)
            .where(BrandLicence.valid_until.between(today, today + timedelta(days=30)))
        )
        db.session.remove()
    assert 0 < lapsed < DEMO_LICENCES and 0 < soon < DEMO_LICENCES

    expired = text(console.get("/console/licences?status=EXPIRED"))
    assert f"共 {lapsed} 条" in expired
    assert expired.count("licence-EXPIRED") == min(lapsed, 50) and "licence-ACTIVE" not in expired
    active = text(console.get("/console/licences?status=ACTIVE"))
    assert f"共 {DEMO_LICENCES - lapsed} 条" in active and "licence-EXPIRED" not in active
    expiring = text(console.get("/console/licences?status=EXPIRING"))
    assert f"共 {soon} 条" in expiring
    assert expiring.count('<tr class="expiring"') == min(soon, 50)
    assert "暂无授权" in text(console.get("/console/licences?status=SUSPENDED"))
    assert f"共 {DEMO_LICENCES} 条" in text(console.get("/console/licences?status=bogus"))
    # The search is literal text, not a LIKE pattern.
    assert "暂无授权" in text(console.get("/console/licences", query_string={"q": "%"}))
    assert "暂无授权" in text(console.get("/console/licences", query_string={"q": "不存在的店"}))


def test_granting_a_licence_through_the_form(app, console):
    seller_id = new_seller(app, "白沙滩小王海鲜")
    res = console.post(
        "/console/licences",
        data={
            "csrf_token": csrf_token(console, "/console/licences"),
            "seller_id": str(seller_id),
            "product_ids": ["1", "3"],
            "valid_from": day(0),
            "valid_until": day(100),
            "note": "首次授权",
        },
        follow_redirects=True,
    )
    assert res.status_code == 200 and not flash_error(res)
    assert "已为 白沙滩小王海鲜 授予品牌授权 RSMH-" in text(res)
    granted = licence(app, seller_id=seller_id)
    assert granted["product_ids"] == [1, 3] and granted["status"] == ACTIVE
    assert (granted["valid_from"].isoformat(), granted["valid_until"].isoformat()) == (
        day(0),
        day(100),
    )
    assert granted["note"] == "首次授权" and granted["granted_by"] == admin_id(app)
    # The page it lands on shows the new licence and its scope by product name.
    page = text(res)
    assert "共 1 条" in page and granted["number"] in page
    with app.app_context():
        names = dict(db.session.execute(db.select(Product.id, Product.name)).tuples().all())
        db.session.remove()
    scope = re.search(r"<td>(\S*、\S*)</td>", page).group(1)
    assert scope == f"{names[1]}、{names[3]}"


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"product_ids": []}, "请至少勾选一个授权商品"),
        ({"product_ids": ["x"]}, "授权商品选择有误"),
        ({"product_ids": ["1", "99999999999999999999"]}, "授权商品选择有误"),
        ({"product_ids": ["999"]}, "授权范围中有不存在的商品"),
        ({"valid_until": "2025/13/01"}, "截止日期格式应为 年-月-日"),
        ({"valid_from": "明天"}, "开始日期格式应为 年-月-日"),
        ({"valid_from": ""}, "请填写开始日期"),
        ({"seller_id": ""}, "请填写卖家编号"),
        ({"seller_id": "abc"}, "卖家编号必须是整数"),
        ({"seller_id": "1.5"}, "卖家编号必须是整数"),
        ({"seller_id": "99999999999999999999"}, "卖家编号需在 1 到"),
        ({"seller_id": "999999"}, "卖家不存在"),
        ({"seller_id": "2"}, "该卖家已有有效授权，请续期或先暂停"),
        ({"valid_from": 10, "valid_until": 5}, "截止日期不能早于开始日期"),
        ({"valid_from": -30, "valid_until": -1}, "截止日期已过"),
        ({"note": "长" * 201}, "备注不能超过 200 个字"),
    ],
)
def test_a_bad_grant_form_shows_why_and_changes_nothing(app, console, form, message):
    seller_id = new_seller(app, "格式测试卖家")
    before = count(app, BrandLicence)
    data = {"seller_id": str(seller_id), "product_ids": ["1", "2"], "valid_from": day(0)}
    data["valid_until"] = day(30)
    data.update({k: day(v) if isinstance(v, int) else v for k, v in form.items()})
    res = post(console, "/console/licences", "/console/licences", **data)
    assert res.status_code == 200 and message in flash_error(res)
    assert "授予品牌授权" not in text(res)
    assert count(app, BrandLicence) == before
    assert licence(app, seller_id=seller_id) is None


def test_renewing_suspending_and_resuming_through_the_forms(app, console):
    demo = licence(app, number="RSMH-DEMO-0002")
    base = f"/console/licences/{demo['id']}"
    page = "/console/licences?q=0002号店"

    res = post(console, f"{base}/renew", page, valid_until=day(400), next=page)
    assert f"已将授权 RSMH-DEMO-0002 续期至 {day(400)}" in text(res)
    assert licence(app, id=demo["id"])["valid_until"].isoformat() == day(400)
    assert "licence-ACTIVE" in text(res) and '<tr class="expiring"' not in text(res)

    for valid_until, message in [
        (day(300), "续期后的截止日期必须晚于原截止日期和今天"),
        ("明年", "新截止日期格式应为 年-月-日"),
        ("", "请填写新截止日期"),
    ]:
        res = post(console, f"{base}/renew", page, valid_until=valid_until, next=page)
        assert message in flash_error(res)
        assert licence(app, id=demo["id"])["valid_until"].isoformat() == day(400)

    res = post(console, f"{base}/suspend", page, note="抽检不合格", next=page)
    assert "已暂停授权 RSMH-DEMO-0002，当前状态：已暂停" in text(res)
    after = licence(app, id=demo["id"])
    assert (after["status"], after["note"]) == (SUSPENDED, "抽检不合格")
    assert "licence-SUSPENDED" in text(res) and ">恢复</button>" in text(res)
    assert f'action="{base}/resume"' in text(res)

    res = post(console, f"{base}/renew", page, valid_until=day(500), next=page)
    assert "授权已暂停，请先恢复" in flash_error(res)
    assert licence(app, id=demo["id"])["valid_until"].isoformat() == day(400)
    res = post(console, f"{base}/suspend", page, note="长" * 201, next=page)
    assert "备注不能超过 200 个字" in flash_error(res)
    assert licence(app, id=demo["id"])["note"] == "抽检不合格"

    res = post(console, f"{base}/resume", page, note="整改完成", next=page)
    assert "已恢复授权 RSMH-DEMO-0002，当前状态：有效" in text(res)
    after = licence(app, id=demo["id"])
    assert (after["status"], after["note"]) == (ACTIVE, "整改完成")
    assert ">暂停</button>" in text(res)


def test_renewing_a_lapsed_licence_makes_it_active_again(app, console):
    lapsed = licence(app, number="RSMH-DEMO-0001")
    assert lapsed["status"] == EXPIRED
    page = "/console/licences?q=0001号店"
    res = post(console, f"/console/licences/{lapsed['id']}/renew", page, valid_until=day(90))
    assert "已将授权 RSMH-DEMO-0001 续期至" in text(res)
    assert licence(app, id=lapsed["id"])["status"] == ACTIVE
    missing = post(console, "/console/licences/999999/renew", page, valid_until=day(90))
    assert "授权不存在" in flash_error(missing)


def test_licence_forms_need_the_csrf_token(app, console):
    demo = licence(app, number="RSMH-DEMO-0002")
    res = console.post(f"/console/licences/{demo['id']}/suspend", data={"note": "x"})
    assert res.status_code == 400 and "表单已失效" in text(res)
    assert licence(app, id=demo["id"])["status"] == ACTIVE


# --- print runs -------------------------------------------------------------------------------


def create_run(console, **form):
    return post(console, "/console/print-runs", "/console/print-runs", **form)


def test_a_print_run_through_the_form_issues_codes_shown_with_their_qr(app, console, licensed):
    page = text(console.get("/console/print-runs"))
    assert "暂无印制记录" in page
    option = re.search(rf'<option value="{licensed["lot_id"]}" >([^<]*)</option>', page)
    assert option and licensed["lot_code"] in option.group(1)
    assert "RS-LIVE-XL-5" in option.group(1) and "还可印制 200" in option.group(1)

    res = create_run(
        console, seller_id=str(licensed["seller_id"]), lot_id=str(licensed["lot_id"]), quantity="30"
    )
    assert res.status_code == 200 and not flash_error(res)
    with app.app_context():
        run = db.session.scalar(db.select(PrintRun))
        run_id, created_by = run.id, run.created_by
        db.session.remove()
    assert created_by == admin_id(app)
    detail = text(res)
    assert f"已生成印制批次 #{run_id}：30 个防伪码" in detail
    assert "海阳所老于家牡蛎" in detail and licensed["lot_code"] in detail
    issued = codes_of(app, run_id)
    assert len(issued) == 30 and detail.count('id="code-') == 30
    for code in issued:
        assert f'src="/console/api/codes/{code}/qr.svg"' in detail
        assert f'href="/console/api/codes/{code}/wxacode.png"' in detail
    assert f'href="/console/api/print-runs/{run_id}/codes.csv"' in detail
    assert f'href="/console/api/print-runs/{run_id}/labels.zip?offset=0&amp;limit=1000"' in detail
    # The linked exports answer with the page's own login.
    qr = console.get(f"/console/api/codes/{issued[0]}/qr.svg")
    assert qr.status_code == 200 and b"<svg" in qr.data
    csv_rows = console.get(f"/console/api/print-runs/{run_id}/codes.csv").data.decode("utf-8-sig")
    assert issued[29] in csv_rows

    listing = text(console.get("/console/print-runs"))
    row = re.search(rf'<tr id="print-run-{run_id}">.*?</tr>', listing, re.S).group(0)
    for expected in (
        "海阳所老于家牡蛎",
        licensed["lot_code"],
        "RS-LIVE-XL-5",
        ">30<",
        "联盟管理员",
    ):
        assert expected in row
    assert f"/console/print-runs/{run_id}" in row and "labels.zip?offset=0" in row
    assert "还可印制 170" in listing


def test_the_detail_page_shows_scans_and_flags_per_code(app, client, console, licensed):
    create_run(
        console, seller_id=str(licensed["seller_id"]), lot_id=str(licensed["lot_id"]), quantity="3"
    )
    with app.app_context():
        run_id = db.session.scalar(db.select(PrintRun.id))
        db.session.remove()
    first, second, _ = codes_of(app, run_id)
    assert client.get(f"/api/v1/trace/{first}", query_string=WEIHAI).status_code == 200
    client.get(f"/api/v1/trace/{second}", query_string=WEIHAI)
    client.get(f"/api/v1/trace/{second}", query_string=GUANGZHOU, environ_base=ELSEWHERE)
    persist_scans(app)
    detail = text(console.get(f"/console/print-runs/{run_id}"))
    rows = re.findall(r'<tr id="code-(\d)">(.*?)</tr>', detail, re.S)
    assert [serial for serial, _ in rows] == ["1", "2", "3"]
    one, two, three = (body for _, body in rows)
    assert re.search(r'class="num">1</td>', one) and "山东省威海市" in one and "异地" not in one
    assert re.search(r'class="num">2</td>', two) and "异地同时查询" in two
    assert "未查询" in three
    assert re.search(r"<dt>已被查询</dt><dd>2 个</dd>", detail)
    assert re.search(r"<dt>已预警</dt><dd>1 个</dd>", detail)
    assert console.get("/console/print-runs/99999").status_code == 404


def test_a_big_print_run_links_label_zips_in_chunks_and_shows_the_first_100(app, console, licensed):
    [lot_id] = helpers.stock_up(app, {"RS-LIVE-S-5": 2500})
    res = create_run(
        console, seller_id=str(licensed["seller_id"]), lot_id=str(lot_id), quantity="2500"
    )
    assert not flash_error(res)
    detail = text(res)
    assert len(re.findall(r'<tr id="code-(\d+)">', detail)) == 100
    assert 'id="code-100"' in detail and 'id="code-101"' not in detail
    assert "仅显示前 100 个" in detail
    chunks = re.findall(r"labels\.zip\?offset=(\d+)&amp;limit=1000\"[^>]*>([^<]*)</a>", detail)
    assert chunks == [("0", "标签 1–1000"), ("1000", "标签 1001–2000"), ("2000", "标签 2001–2500")]
    with app.app_context():
        run_id = db.session.scalar(db.select(PrintRun.id))
        db.session.remove()
    assert len(codes_of(app, run_id)) == 2500
    last = console.get(f"/console/api/print-runs/{run_id}/labels.zip?offset=2000&limit=1000")
    assert last.status_code == 200 and last.data[:2] == b"PK"


def test_a_print_run_larger_than_the_lot_is_refused(app, console, licensed):
    form = {"seller_id": str(licensed["seller_id"]), "lot_id": str(licensed["lot_id"])}
    res = create_run(console, **form, quantity="201")  # the lot has 200 packs
    assert "防伪码数量不能超过该批次的包装数量" in flash_error(res)
    assert "最多还可印制 200 个" in flash_error(res)
    assert count(app, PrintRun) == 0 and count(app, TraceCode) == 0
    assert not flash_error(create_run(console, **form, quantity="150"))
    again = create_run(console, **form, quantity="51")
    assert "已发放 150 个，最多还可印制 50 个" in flash_error(again)
    assert count(app, PrintRun) == 1 and count(app, TraceCode) == 150


@pytest.mark.parametrize(
    ("form", "message"),
    [
        ({"quantity": "abc"}, "印制数量必须是整数"),
        ({"quantity": "0"}, "印制数量需在 1 到 100000 之间"),
        ({"quantity": "100001"}, "印制数量需在 1 到 100000 之间"),
        ({"lot_id": ""}, "请选择库存批次"),
        ({"lot_id": "99999"}, "批次库存不存在"),
        ({"seller_id": "x"}, "卖家编号必须是整数"),
        ({"seller_id": "10"}, "该卖家没有有效的品牌授权，不能申领防伪码"),  # every tenth: none
        ({"seller_id": "1"}, "该卖家没有有效的品牌授权，不能申领防伪码"),  # lapsed
    ],
)
def test_a_bad_print_run_form_shows_why_and_issues_nothing(app, console, licensed, form, message):
    data = {"seller_id": str(licensed["seller_id"]), "lot_id": str(licensed["lot_id"])}
    res = create_run(console, **{**data, "quantity": "5", **form})
    assert res.status_code == 200 and message in flash_error(res)
    assert count(app, PrintRun) == 0 and count(app, TraceCode) == 0


# --- flagged codes ----------------------------------------------------------------------------


def test_a_code_copied_to_guangzhou_shows_on_the_flags_page_and_map(app, client, console, licensed):
    dashboard = text(console.get("/console/"))
    assert re.search(r"近 7 天新增预警 <strong>0</strong> 条", dashboard)
    create_run(
        console, seller_id=str(licensed["seller_id"]), lot_id=str(licensed["lot_id"]), quantity="1"
    )
    with app.app_context():
        run_id = db.session.scalar(db.select(PrintRun.id))
        db.session.remove()
    [code] = codes_of(app, run_id)
    assert client.get(f"/api/v1/trace/{code}", query_string=WEIHAI).json["verdict"] == "GENUINE"
    copy = client.get(f"/api/v1/trace/{code}", query_string=GUANGZHOU, environ_base=ELSEWHERE).json
    assert copy["verdict"] == "SUSPICIOUS"
    persist_scans(app)

    page = text(console.get("/console/trace-flags"))
    row = re.search(r'<table class="flags">.*?</table>', page, re.S).group(0)
    assert code in row and "异地同时查询" in row and "公里" in row
    assert "海阳所老于家牡蛎" in row and "广东省广州市" in row
    # Guangzhou (23.13 N, 113.26 E) on the 10 px per degree box from 73 E, 54 N.
    point = re.search(
        r'<circle class="flag reason-IMPOSSIBLE_TRAVEL" cx="402\.6" cy="308\.7" r="5">\s*'
        r"<title>([^<]*)</title>",
        page,
    )
    assert point and point.group(1) == f"{code} · 异地同时查询 · 广东省广州市"
    assert page.count('<circle class="flag ') == 1
    by_region = re.search(r'<table class="by-region">.*?</table>', page, re.S).group(0)
    assert re.search(r">广东省广州市</a></td>\s*<td class=\"num\">1</td>", by_region)
    assert "山东省威海市" not in by_region
    by_seller = re.search(r'<table class="by-seller">.*?</table>', page, re.S).group(0)
    assert re.search(r">海阳所老于家牡蛎</a>.*?<td class=\"num\">1</td>", by_seller, re.S)

    dashboard = text(console.get("/console/"))
    assert re.search(r"近 7 天新增预警 <strong>1</strong> 条", dashboard)
    assert 'href="/console/trace-flags"' in dashboard.split('id="flag-box"')[1]


def test_flags_are_filtered_by_reason_seller_and_region(app, client, console, licensed):
    create_run(
        console, seller_id=str(licensed["seller_id"]), lot_id=str(licensed["lot_id"]), quantity="1"
    )
    with app.app_context():
        run_id = db.session.scalar(db.select(PrintRun.id))
        db.session.remove()
    [code] = codes_of(app, run_id)
    client.get(f"/api/v1/trace/{code}", query_string=WEIHAI)
    client.get(f"/api/v1/trace/{code}", query_string=GUANGZHOU, environ_base=ELSEWHERE)
    fake, abroad = "A" * 26, "B" * 26  # well formed, never issued
    assert client.get(f"/api/v1/trace/{fake}", query_string=BEIJING).status_code == 404
    singapore = {"lat": 1.35, "lon": 103.82, "region": "新加坡"}
    assert client.get(f"/api/v1/trace/{abroad}", query_string=singapore).status_code == 404
    persist_scans(app)

    def shown(**query) -> tuple[int, str]:
        page = text(console.get("/console/trace-flags", query_string=query))
        table = re.search(r'<table class="flags">.*?</table>', page, re.S)
        return (table.group(0).count("<tr>") - 1 if table else 0), page

    n, page = shown()
    assert n == 3 and page.count('<circle class="flag ') == 2
    assert "另有 1 条位置在范围外" in page
    n, page = shown(reason="NOT_OURS")
    assert n == 2 and fake in page and abroad in page and "非联盟码" in page
    assert code not in page.split("预警列表")[1]
    assert page.count('<circle class="flag ') == 1
    assert f"<title>{fake} · 非联盟码 · 北京市</title>" in page
    n, page = shown(reason="TOO_MANY_SCANS")
    assert n == 0 and "暂无预警" in page and '<circle class="flag ' not in page
    assert shown(seller_id=str(licensed["seller_id"]))[0] == 1
    assert shown(region="广东省广州市")[0] == 1 and shown(region="山东省威海市")[0] == 0
    n, page = shown(seller_id="abc")
    assert n == 3 and "卖家编号应为正整数，已忽略" in page
    assert shown(reason="bogus")[0] == 3


def test_the_dashboard_counts_only_the_last_7_days_of_flags(app, client, console):
    for n in range(3):
        client.get(f"/api/v1/trace/{chr(ord('A') + n) * 26}", query_string=BEIJING)
    persist_scans(app)
    with app.app_context():
        oldest = db.session.scalar(db.select(TraceFlag).order_by(TraceFlag.id))
        oldest.created_at = utcnow() - timedelta(days=8)
        db.session.commit()
        db.session.remove()
    assert re.search(r"近 7 天新增预警 <strong>2</strong> 条", text(console.get("/console/")))
