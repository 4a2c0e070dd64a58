"""The issue's whole story, through the real routes: a viewer adopts cage 12 of raft 3 during a
live show, opens the certificate, is told of three growth updates the household posts from a
phone, chooses two delivery dates and receives two parcels whose codes scan as "你的 12号笼"
with their chain; then a typhoon takes raft 5 and each of its adopters is compensated once."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from urllib.parse import urljoin

import requests

from backend.adoption import growth_messages, harvest_orders, losses
from backend.adoption import units as unit_rules
from backend.adoption.models import AdopterMessage, AdoptionUnit
from backend.extensions import db
from backend.payments.models import Refund
from tests.helpers import (
    ADDRESS,
    Shopper,
    go_live,
    png,
    print_run,
    room_body,
    run_codes,
    run_jobs,
    wait_for,
)
from tests.test_adoption import adopt_and_pay
from tests.test_adoption_harvest import GIFT, _lot_of_batch, _through_the_line
from tests.test_seller_pages_browser import WECHAT_UA

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
POST_TOKEN = re.compile(r'name="token" value="([^"]+)"')
BIND_CODE = re.compile(r'id="bind-code">(\d{8})<')


def _unit(app, raft: int, position: int) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(AdoptionUnit.id).where(
                AdoptionUnit.raft == raft, AdoptionUnit.position == position
            )
        )


def _household_phone(app, sandbox, staff_client) -> requests.Session:
    """于大海 of 于家养殖户 binds his WeChat with the code staff issued and is logged in."""
    page = staff_client.get("/console/growth-updates")
    farm_id = _farm_of(app, _unit(app, 3, 12))
    issued = staff_client.post(
        "/console/farm-members/bind-code",
        data={"csrf_token": CSRF.search(page.text).group(1), "farm_id": farm_id, "name": "于大海"},
    )
    code = BIND_CODE.search(issued.text).group(1)
    phone = requests.Session()
    phone.headers["User-Agent"] = WECHAT_UA
    phone.post(f"{sandbox.url}/sandbox/wx/oauth/user", json={"openid": "oa-farm-yu"}, timeout=5)
    base = app.config["PUBLIC_BASE_URL"]
    bind_page = _browse(phone, "GET", f"{base}/farm/")  # → WeChat's authorisation → bind
    assert "绑定您的微信" in bind_page.text
    bound = _browse(
        phone,
        "POST",
        f"{base}/farm/bind",
        data={"csrf_token": CSRF.search(bind_page.text).group(1), "code": code},
    )
    assert "3号筏" in bound.text, bound.text[:500]
    return phone


def _browse(phone: requests.Session, method: str, url: str, **kwargs) -> requests.Response:
    """One tap, redirects followed as the phone's browser does: it keeps the pages' Secure
    cookies on http://127.0.0.1, which it trusts as a secure origin (requests does not)."""
    while True:
        answer = phone.request(method, url, allow_redirects=False, timeout=10, **kwargs)
        for cookie in phone.cookies:
            cookie.secure = False
        if not answer.is_redirect:
            return answer
        method, kwargs = "GET", {}
        url = urljoin(url, answer.headers["Location"]).split("#")[0]


def _told(sandbox, openid: str, template: str) -> list[dict]:
    """The subscribe messages of this template WeChat delivered to the buyer."""
    found = requests.get(
        f"{sandbox.url}/sandbox/wx/messages",
        params={"touser": openid, "template_id": template},
        timeout=5,
    )
    return found.json()["messages"]


def _farm_of(app, unit_id: int) -> int:
    with app.app_context():
        return db.session.get(AdoptionUnit, unit_id).farm_id


def _post_from_phone(app, phone, unit_id: int, size_mm: int, note: str) -> None:
    base = app.config["PUBLIC_BASE_URL"]
    form = _browse(phone, "GET", f"{base}/farm/post?unit={unit_id}").text
    posted = _browse(
        phone,
        "POST",
        f"{base}/farm/post",
        data={
            "csrf_token": CSRF.search(form).group(1),
            "token": POST_TOKEN.search(form).group(1),
            "unit_ids": str(unit_id),
            "size_mm": str(size_mm),
            "water_temp_c": "9.5",
            "salinity_permille": "31",
            "note": note,
        },
        files={"photos": ("cage.png", png(640, 480), "image/png")},
    )
    assert posted.status_code == 200 and "已发布到 1 个单元" in posted.text, posted.text[:500]


def _ship(staff_client, app, store_seller, adoption_number: str, orders: list[str]) -> list[str]:
    """The warehouse waves the two harvest orders, binds a code to each parcel and packs it."""
    wave = staff_client.post("/console/api/waves", json={})
    assert wave.status_code == 201 and wave.json["parcels"] == 2, wave.json
    codes = []
    for seq, number in enumerate(orders, start=1):
        found = staff_client.get("/console/api/parcels", query_string={"q": number}).json
        [parcel] = found["items"]
        lot_id = _lot_of_batch(app, f"{adoption_number}-{seq}")
        [code] = run_codes(
            app, print_run(staff_client, {**store_seller, "lot_id": lot_id}, quantity=1).json["id"]
        )
        bound = staff_client.post(f"/console/api/parcels/{parcel['id']}/codes", json={"code": code})
        assert bound.status_code == 201, bound.json
        packed = staff_client.post(f"/console/api/parcels/{parcel['id']}/packed", json={})
        assert packed.status_code == 200, packed.json
        codes.append(code)
    run_jobs(app)  # waybills
    return codes


def test_a_season_of_cage_12_and_a_typhoon_on_raft_5(
    app, client, sandbox, staff_client, store_seller, processing_line
):
    # -- a live show: the host puts raft 3 on screen, the viewer taps cage 12 ------------------
    room = staff_client.post("/console/api/live/rooms", json=room_body()).json["id"]
    go_live(sandbox, staff_client, room)
    offer = staff_client.post(
        f"/console/api/live/rooms/{room}/adoption-offer", json={"sea_area": "RS-HYS-01", "raft": 3}
    )
    assert offer.status_code == 201, offer.json
    viewer = Shopper.login(client, sandbox, "o-viewer-cage12")
    for template in (growth_messages.TEMPLATE, losses.TEMPLATE, harvest_orders.SHIPPED_TEMPLATE):
        requests.post(
            f"{sandbox.url}/sandbox/wx/subscriptions",
            json={"openid": viewer.openid, "template_id": template, "count": 5},
            timeout=5,
        )
    cage12 = _unit(app, 3, 12)
    held = viewer.post(
        f"/api/v1/live/rooms/{room}/adoption-claims",
        json={"unit_id": cage12, "address": ADDRESS},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert held.status_code == 201 and held.json["unit_name"] == "3号筏 12号笼", held.json
    viewer.confirm_payment(viewer.pay(held.json["order_id"]))
    adoption = wait_for(
        lambda: (
            (a := viewer.get(f"/api/v1/adoptions/{held.json['adoption']['id']}").json)["status"]
            == "ACTIVE"
            and a
        )
    )

    # -- the certificate, as a friend opens the shared link -----------------------------------
    certificate = client.get(f"/adoption/c/{adoption['certificate_token']}")
    page = certificate.get_data(as_text=True)
    assert certificate.status_code == 200 and "3号筏 12号笼" in page and "于家养殖户" in page
    assert "<svg" in page and f"认养编号 {adoption['number']}" in page

    # -- three growth updates from the household's phone -------------------------------------
    phone = _household_phone(app, sandbox, staff_client)
    for size, note in ((48, "刚分苗"), (62, "长得快"), (75, "快能收了")):
        _post_from_phone(app, phone, cage12, size, note)
    run_jobs(app)
    told = _told(sandbox, viewer.openid, growth_messages.TEMPLATE)
    assert len(told) == 3
    timeline = viewer.get(f"/api/v1/adoptions/{adoption['id']}/growth").json["items"]
    assert len(timeline) == 3 and all(item["photos"] for item in timeline)

    # -- harvest: two dates chosen, two parcels shipped, scans say "你的 12号笼" --------------
    with app.app_context():  # the season goes by: the harvest window opens today
        unit = db.session.get(AdoptionUnit, cage12)
        unit.harvest_from = unit_rules.today()
        db.session.commit()
    today = unit_rules.today()
    plan = viewer.put(
        f"/api/v1/adoptions/{adoption['id']}/deliveries",
        json={
            "deliveries": [
                {"deliver_on": today.isoformat()},
                {"deliver_on": (today + timedelta(days=2)).isoformat(), "gift": True,
                 "address": GIFT},
            ]
        },
    )  # fmt: skip
    assert plan.status_code == 200, plan.json
    for parcel in plan.json["items"]:
        lifted = staff_client.post(
            "/console/api/adoption-harvests",
            json={"delivery_id": parcel["id"], "harvested_g": parcel["weight_g"] + 50},
        )
        assert lifted.status_code == 201, lifted.json
        _through_the_line(
            processing_line, f"{adoption['number']}-{parcel['seq']}", parcel["weight_g"] + 50
        )
    planned = viewer.get(f"/api/v1/adoptions/{adoption['id']}/deliveries").json["items"]
    codes = _ship(
        staff_client, app, store_seller, adoption["number"], [p["order_number"] for p in planned]
    )
    shipped = viewer.get(f"/api/v1/adoptions/{adoption['id']}/deliveries").json["items"]
    assert [p["status"] for p in shipped] == ["SHIPPED", "SHIPPED"]
    assert [p["deliver_on"] for p in shipped] == [p["deliver_on"] for p in plan.json["items"]]
    run_jobs(app)
    told = _told(sandbox, viewer.openid, harvest_orders.SHIPPED_TEMPLATE)
    assert [m["data"]["thing2"]["value"] for m in told] == [
        "3号筏 12号笼收获 第1/2包",
        "3号筏 12号笼收获 第2/2包·送礼",
    ]
    assert {m["page"] for m in told} == {f"pages/adoption/detail?id={adoption['id']}"}
    assert [m["data"]["character_string3"]["value"] for m in told] == [
        p["tracking_no"] for p in shipped
    ]
    for code in codes:
        scan = viewer.get(f"/api/v1/trace/{code}").json
        assert scan["adoption"]["title"] == f"认养编号 {adoption['number']} 的收获"
        assert scan["adoption"]["message"].startswith("你的 12号笼")
        assert [step["name"] for step in scan["processing"]["steps"]][:1] == ["清洗"]

    # -- a typhoon takes raft 5: each adopter compensated once --------------------------------
    ropes = [
        adopt_and_pay(Shopper.login(client, sandbox, f"o-rope-{i}"), _unit(app, 5, i))
        for i in (1, 2)
    ]
    with app.app_context():
        sea_area_id = db.session.get(AdoptionUnit, cage12).sea_area_id
    typhoon = {"sea_area_id": sea_area_id, "raft": 5, "reason": "台风"}
    declared = staff_client.post("/console/api/adoption/losses", json=typhoon)
    assert declared.status_code == 201, declared.json
    assert declared.json["units"] == 24 and len(declared.json["refunded"]) == 2
    again = staff_client.post("/console/api/adoption/losses", json=typhoon)
    assert again.status_code == 409 and again.json["code"] == "LOSS_ALREADY_DECLARED"
    run_jobs(app)
    run_jobs(app)
    for rope in ropes:
        remote = wait_for(
            lambda rope=rope: (
                (
                    r := requests.get(
                        f"{sandbox.url}/sandbox/pay/orders/{_order_number(app, rope['order_id'])}",
                        timeout=5,
                    ).json()
                )["refunds"]
                and r
            )
        )
        assert [x["amount"]["refund"] for x in remote["refunds"]] == [26800 * 60 // 100]
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Refund)) == 2
        lost = db.session.scalars(
            db.select(AdopterMessage.adoption_id).where(AdopterMessage.kind == "LOST")
        ).all()
        assert sorted(lost) == sorted(r["id"] for r in ropes)


def _order_number(app, order_id: int) -> str:
    from backend.orders.models import Order

    with app.app_context():
        return db.session.get(Order, order_id).number
