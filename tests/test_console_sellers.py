"""Staff find a seller among the alliance's 3000 in the console's directory, open the seller's
page (shops, licences, orders, notices and their delivery, statements, WeChat binding), and issue
and revoke the seller's API tokens and bind codes there, each audited; everywhere else a seller
shows by name, linking to that page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import event

from backend.console.seller_pages import seller_link
from backend.extensions import db
from backend.flows import seller_directory as directory
from backend.notices.models import NoticeDelivery, SellerNotice
from backend.officialaccount.models import OAFollower
from backend.onboarding import service as onboarding
from backend.platforms.models import STOCK_UNMAPPED, PlatformOrder, Shop
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED, BrandLicence, Seller, SellerToken
from backend.settlement.models import COST, SettlementEntry
from backend.timeutil import utcnow
from tests.helpers import audit_rows

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
SHOWN_TOKEN = re.compile(r'<code id="issued-value">([^<]+)</code>')


def csrf(console, path: str = "/console/sellers") -> str:
    page = console.get(path)
    assert page.status_code == 200, page.status_code
    return CSRF.search(page.get_data(as_text=True)).group(1)


def rich_seller(app) -> dict:
    """A seller with a 抖店 shop and one of its orders (waiting for a SKU mapping), a suspended
    licence, a notice WeChat could not deliver, a statement, and a WeChat binding that refuses
    template messages."""
    with app.app_context():
        seller = sellers.create_seller(
            db.session,
            name="白沙滩老宫家生蚝",
            contact_name="宫大姐",
            phone="18605310077",
            town="白沙滩镇",
            cooperative="白沙滩蛎农合作社",
        )
        today = sellers.today()
        db.session.add(
            BrandLicence(
                number="RSMH-TEST-GONG",
                seller_id=seller.id,
                product_ids=[],
                valid_from=today - timedelta(days=100),
                valid_until=today + timedelta(days=100),
                status=SUSPENDED,
            )
        )
        shop = Shop(
            seller_id=seller.id,
            platform="douyin",
            shop_key="dy-gong-0001",
            name="老宫家抖店",
            access_token="sealed",
            token_expires_at=utcnow() + timedelta(days=1),
        )
        db.session.add(shop)
        db.session.flush()
        order = PlatformOrder(
            platform="douyin",
            order_no="DY-GONG-778899",
            shop_id=shop.id,
            seller_id=seller.id,
            status="PAID",
            platform_status="2",
            placed_at=utcnow(),
            platform_updated_at=utcnow(),
            total=25800,
            lines=[{"sku_code": "GONG-BIG", "title": "老宫家大生蚝 5斤", "quantity": 1}],
            receiver={},
            stock_state=STOCK_UNMAPPED,
        )
        db.session.add(order)
        db.session.flush()
        notice = SellerNotice(
            seller_id=seller.id,
            kind="PLATFORM_ORDER",
            title="新订单待发货",
            dedupe_key=f"test-gong-{seller.id}",
        )
        db.session.add(notice)
        db.session.flush()
        db.session.add(
            NoticeDelivery(notice_id=notice.id, state="SKIPPED", reason="卖家拒收模板消息")
        )
        db.session.add(
            SettlementEntry(
                seller_id=seller.id,
                platform_order_id=order.id,
                kind=COST,
                month="2026-11",
                amount=18800,
                units=1,
            )
        )
        db.session.add(
            OAFollower(
                openid="oa-gong-test",
                seller_id=seller.id,
                following=True,
                templates_blocked=True,
                bound_at=utcnow(),
            )
        )
        db.session.commit()
        found = {"id": seller.id, "order_id": order.id}
        db.session.remove()
    return found


def find(app, **wanted) -> tuple[list[int], int]:
    with app.app_context():
        rows, total = directory.search(
            db.session, directory.SellerFilter(**wanted), page=1, page_size=50
        )
        ids = [row.seller.id for row in rows]
        db.session.remove()
    return ids, total


# -- the directory ---------------------------------------------------------------------------
def test_the_directory_finds_a_seller_by_each_criterion(app, store):
    gong = rich_seller(app)["id"]
    assert find(app, text="老宫家") == ([gong], 1)
    assert find(app, text="18605310077") == ([gong], 1)
    assert find(app, text="宫大姐") == ([gong], 1)
    assert find(app, text="RSMH-TEST-GONG") == ([gong], 1)
    assert find(app, text=f"#{gong}") == ([gong], 1)
    ids, _ = find(app, town="白沙滩镇", cooperative="白沙滩蛎农合作社", platform="douyin")
    assert ids == [gong]
    assert find(app, licence=SUSPENDED) == ([gong], 1)
    assert find(app, wechat=directory.UNREACHABLE) == ([gong], 1)
    assert find(app, wechat=directory.BOUND) == ([], 0)
    assert gong not in find(app, licence=directory.NONE)[0]
    assert find(app, text="老宫家", licence=ACTIVE) == ([], 0)  # every criterion must hold
    with app.app_context():
        [row], _ = directory.search(
            db.session, directory.SellerFilter(text="老宫家"), page=1, page_size=50
        )
        assert (row.licence, row.platforms, row.wechat) == (
            SUSPENDED,
            ["douyin"],
            directory.UNREACHABLE,
        )
        db.session.remove()


def test_licence_states_count_every_seller_once(app, store):
    """On the demo's 3001 sellers: in force, expired, none add up to all, as the licences say."""
    with app.app_context():
        day = sellers.today()
        licences = list(db.session.scalars(db.select(BrandLicence)))
        everyone = db.session.scalar(db.select(db.func.count()).select_from(Seller))
        db.session.remove()
    in_force = {x.seller_id for x in licences if x.status == ACTIVE and x.valid_until >= day}
    expired = {x.seller_id for x in licences} - in_force
    expiring = {
        x.seller_id
        for x in licences
        if x.status == ACTIVE and day <= x.valid_until <= day + timedelta(days=30)
    }
    assert expired and expiring and everyone == 3001
    assert find(app, licence=ACTIVE)[1] == len(in_force)
    assert find(app, licence=EXPIRED)[1] == len(expired)
    assert find(app, licence="EXPIRING")[1] == len(expiring)
    assert find(app, licence=directory.NONE)[1] == everyone - len(in_force) - len(expired) == 300


def statements_of(app, request) -> tuple[object, int]:
    """A request's answer and how many SQL statements it ran."""
    ran = []

    def count(*_args, **_kwargs):
        ran.append(1)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", count)
    try:
        answer = request()
    finally:
        event.remove(engine, "before_cursor_execute", count)
    return answer, len(ran)


def test_a_directory_page_costs_the_same_few_statements_on_3000_sellers(app, console_as):
    console = console_as("operations")
    for query in ("", "?q=乳山牡蛎", "?licence=EXPIRED&town=冯家镇", "?wechat=UNBOUND&page=40"):
        res, statements = statements_of(app, lambda q=query: console.get(f"/console/sellers{q}"))
        # (the page is 50 sellers: a per-seller query would cost 50 or more)
        assert res.status_code == 200 and statements <= 12, (query, statements)
    page = console.get("/console/sellers").get_data(as_text=True)
    assert "共 3001 条，第 1 / 61 页" in page
    assert page.count('class="seller-link"') == 50


@pytest.mark.parametrize(
    ("query", "warning"),
    [
        ({"q": "牡蛎" * 5000}, "最多 40 个字"),
        ({"town": "火星"}, "没有这个乡镇"),
        ({"licence": "'; DROP TABLE sellers; --"}, "没有这个授权状态"),
        ({"platform": "amazon"}, "没有这个平台"),
        ({"page": "99999999999999999999"}, None),
        ({"q": "%_%"}, None),
    ],
)
def test_absurd_searches_are_bounded_and_said_so(app, console_as, query, warning):
    console = console_as("operations")
    res, statements = statements_of(
        app, lambda: console.get("/console/sellers", query_string=query)
    )
    assert res.status_code == 200 and statements <= 12
    page = res.get_data(as_text=True)
    if warning:
        assert warning in page
    if "q" in query and query["q"] == "%_%":  # wildcards are text: no seller is called that
        assert "没有符合条件的卖家" in page
    if "page" in query:  # the page number is capped, and an empty page says so
        assert "第 10000 / 61 页" in page and "没有符合条件的卖家" in page
    with console.application.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Seller)) == 3001
        db.session.remove()


# -- a seller's page -------------------------------------------------------------------------
def test_a_sellers_page_shows_shops_licences_orders_notices_statements_and_wechat(app, console_as):
    gong = rich_seller(app)["id"]
    page = console_as("finance").get(f"/console/sellers/{gong}").get_data(as_text=True)
    for shown in (
        "白沙滩老宫家生蚝",
        "宫大姐",
        "老宫家抖店",  # shop
        "RSMH-TEST-GONG",  # licence
        "授权已暂停",
        "DY-GONG-778899",  # recent order
        "老宫家大生蚝 5斤 × 1",
        "258.00",
        "新订单待发货",  # notice and its delivery
        "未发送",
        "卖家拒收模板消息",
        "2026-11",  # statement
        "188.00",
        "已绑定，但收不到",  # WeChat
        "拒收模板消息",
    ):
        assert shown in page, shown
    assert "签发 token" not in page and "签发绑定码" not in page  # finance may only look


def test_an_unknown_seller_is_a_page_in_chinese(app, console_as):
    res = console_as("operations").get("/console/sellers/987654")
    assert res.status_code == 404
    assert "卖家不存在" in res.get_data(as_text=True)
    assert console_as("operations").get("/console/sellers/abc").status_code == 404


def test_only_roles_that_may_see_sellers(app, console_as):
    gong = rich_seller(app)["id"]
    for role in ("warehouse", "host"):
        assert console_as(role).get("/console/sellers").status_code == 403
        assert console_as(role).get(f"/console/sellers/{gong}").status_code == 403
    brand = console_as("brand")
    token = csrf(brand, f"/console/sellers/{gong}")
    res = brand.post(f"/console/sellers/{gong}/api-tokens", data={"csrf_token": token})
    assert res.status_code == 403 and audit_rows(app) == []


# -- tokens and bind codes -------------------------------------------------------------------
def test_a_token_issued_on_the_page_is_shown_once_works_and_is_audited(app, client, console_as):
    gong = rich_seller(app)["id"]
    admin = console_as("admin")
    res = admin.post(
        f"/console/sellers/{gong}/api-tokens",
        data={"csrf_token": csrf(admin), "name": "ERP 对接", "days": "30"},
    )
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    token = SHOWN_TOKEN.search(res.get_data(as_text=True)).group(1)
    shops = client.get("/api/seller/v1/shops", headers={"Authorization": f"Bearer {token}"})
    assert shops.status_code == 200
    again = admin.get(f"/console/sellers/{gong}").get_data(as_text=True)
    assert token not in again and "ERP 对接" in again  # listed, never shown again
    [entry] = audit_rows(app)
    assert (entry.staff_id, entry.action, entry.target_type, entry.target_id) == (
        admin.staff_id,
        "seller.token_issue",
        "seller",
        str(gong),
    )
    assert token not in str(entry.after) and token not in entry.summary
    with app.app_context():
        row = db.session.scalars(db.select(SellerToken)).one()
        assert row.name == "ERP 对接" and entry.after["token_id"] == row.id
        assert timedelta(days=29) < row.expires_at - utcnow() <= timedelta(days=30)
        db.session.remove()


@pytest.mark.parametrize(("days", "why"), [("0", "1 到 366"), ("400", "1 到 366"), ("十", "整数")])
def test_a_token_with_a_bad_lifetime_is_refused_and_nothing_is_issued(app, console_as, days, why):
    gong = rich_seller(app)["id"]
    admin = console_as("admin")
    res = admin.post(
        f"/console/sellers/{gong}/api-tokens",
        data={"csrf_token": csrf(admin), "days": days},
        follow_redirects=True,
    )
    assert why in res.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(SellerToken)) == 0
        db.session.remove()
    assert audit_rows(app) == []


def test_a_token_for_an_unknown_seller_is_a_404_and_leaves_no_record(app, console_as):
    admin = console_as("admin")
    res = admin.post("/console/sellers/987654/api-tokens", data={"csrf_token": csrf(admin)})
    assert res.status_code == 404 and "卖家不存在" in res.get_data(as_text=True)
    assert audit_rows(app) == []


def test_revoking_stops_the_token_and_revoking_twice_says_so(app, client, console_as):
    gong = rich_seller(app)["id"]
    with app.app_context():
        token, row = sellers.issue_api_token(db.session, seller_id=gong, days=10, name="旧系统")
        token_id = row.id
        db.session.remove()
    admin = console_as("admin")
    url = f"/console/sellers/{gong}/api-tokens/{token_id}/revoke"
    res = admin.post(url, data={"csrf_token": csrf(admin)}, follow_redirects=True)
    assert f"已吊销 API token #{token_id}" in res.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {token}"}
    assert client.get("/api/seller/v1/shops", headers=bearer).status_code == 401
    res = admin.post(url, data={"csrf_token": csrf(admin)}, follow_redirects=True)
    page = res.get_data(as_text=True)
    assert f"token #{token_id} 已于" in page and "无需重复吊销" in page
    revokes = [entry for entry in audit_rows(app) if entry.action == "seller.token_revoke"]
    assert len(revokes) == 1 and revokes[0].staff_id == admin.staff_id
    assert revokes[0].after == {"token_id": token_id, "revoked": True}
    # another seller's token is not found through this seller's page
    other = rich_seller_id(app, "别家")
    res = admin.post(
        f"/console/sellers/{other}/api-tokens/{token_id}/revoke",
        data={"csrf_token": csrf(admin)},
        follow_redirects=True,
    )
    assert "token 不存在" in res.get_data(as_text=True)


def rich_seller_id(app, name: str) -> int:
    with app.app_context():
        seller_id = sellers.create_seller(db.session, name=name).id
        db.session.commit()
        db.session.remove()
    return seller_id


def test_the_json_api_audits_and_refuses_a_second_revoke(app, staff_client):
    gong = rich_seller_id(app, "接口卖家")
    base = f"/console/api/sellers/{gong}/api-tokens"
    issued = staff_client.post(base, json={"name": "脚本"}).json
    first = staff_client.post(f"{base}/{issued['id']}/revoke", json={})
    assert first.status_code == 200 and not first.json["active"]
    second = staff_client.post(f"{base}/{issued['id']}/revoke", json={})
    assert (second.status_code, second.json["code"]) == (409, "TOKEN_ALREADY_REVOKED")
    assert "无需重复吊销" in second.json["message"]
    assert [entry.action for entry in audit_rows(app)] == [
        "seller.token_issue",
        "seller.token_revoke",
    ]


def test_a_bind_code_issued_on_the_page_is_shown_and_audited(app, console_as):
    gong = rich_seller(app)["id"]
    brand = console_as("brand")
    res = brand.post(
        f"/console/sellers/{gong}/oa-bind-code",
        data={"csrf_token": csrf(brand, f"/console/sellers/{gong}")},
    )
    assert res.status_code == 200 and res.headers["Cache-Control"] == "no-store"
    code = SHOWN_TOKEN.search(res.get_data(as_text=True)).group(1)
    assert re.fullmatch(r"\d{8}", code)
    redis = app.extensions["heli_redis"]
    assert redis.get(f"heli:oa:bind:{code}").decode().startswith(f"seller:{gong}:")
    [entry] = audit_rows(app)
    assert (entry.staff_id, entry.action, entry.target_id) == (
        brand.staff_id,
        "seller.bind_code",
        str(gong),
    )
    assert code not in entry.summary
    unknown = brand.post("/console/sellers/987654/oa-bind-code", data={"csrf_token": csrf(brand)})
    assert unknown.status_code == 404 and len(audit_rows(app)) == 1


# -- sellers by name everywhere --------------------------------------------------------------
def test_other_pages_show_a_seller_by_name_linking_to_the_sellers_page(app, console_as, licensed):
    seller_id = licensed["seller_id"]
    link = f'href="/console/sellers/{seller_id}"'
    admin = console_as("admin")
    licences = admin.get("/console/licences").get_data(as_text=True)
    assert re.search(link + r"[^>]*>海阳所老于家牡蛎</a>", licences)
    with app.app_context():
        onboarding.request_renewal(db.session, seller_id=seller_id)
        db.session.commit()
        db.session.remove()
    renewals = admin.get("/console/licence-renewals").get_data(as_text=True)
    assert re.search(link + r"[^>]*>海阳所老于家牡蛎</a>", renewals)
    gong = rich_seller(app)["id"]
    waiting = admin.get("/console/platform-orders").get_data(as_text=True)
    assert re.search(f'href="/console/sellers/{gong}"' + r"[^>]*>白沙滩老宫家生蚝</a>", waiting)
    # without the right to open sellers' pages: the name, escaped, and the number, no link
    with app.test_request_context():
        shown = str(seller_link(gong, "<b>老宫</b>"))
        assert shown == f'&lt;b&gt;老宫&lt;/b&gt; <span class="muted">#{gong}</span>'
        assert "—" in str(seller_link(None))
