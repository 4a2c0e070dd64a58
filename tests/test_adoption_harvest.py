"""An adopted unit's harvest: the adopter chooses the dates of its parcels (refused before the
harvest, beyond the unit's parcels, or where live oysters are not shipped); staff record the lift
(refused beyond what the unit can give), which opens a batch the line reports like any other;
its packed lot becomes the adopter's order, shipped by the warehouse with trace codes whose scan
says "认养编号 … 的收获" — and "你的 12号笼" to the adopter."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select, update

from backend.adoption import adopting, harvest_orders
from backend.adoption import units as unit_rules
from backend.adoption.models import AdoptionDelivery, AdoptionUnit
from backend.batches.models import Plant
from backend.customers.models import Customer
from backend.extensions import db
from backend.inventory.models import Lot, StockReservation
from tests.helpers import ADDRESS, print_run, run_codes, run_jobs
from tests.test_processing_api import iso

GIFT = {**ADDRESS, "name": "李娟", "province": "北京市", "city": "北京市", "district": "朝阳区"}
LAB = "乳山市水产品检测中心"
FAR = {**ADDRESS, "name": "阿依", "province": "新疆维吾尔自治区", "city": "乌鲁木齐市"}


def _adopt(app, shopper, *, raft: int, position: int, harvest_now: bool = False) -> dict:
    """The shopper adopts the demo unit and pays for it through the sandbox; with harvest_now
    its harvest window opens today (the demo's opens in 45 days)."""
    with app.app_context():
        unit = db.session.scalar(
            select(AdoptionUnit).where(AdoptionUnit.raft == raft, AdoptionUnit.position == position)
        )
        if harvest_now:
            today = unit_rules.today()
            db.session.execute(
                update(AdoptionUnit)
                .where(AdoptionUnit.id == unit.id)
                .values(adopt_until=today, harvest_from=today)
            )
            db.session.commit()
        customer_id = db.session.scalar(
            select(Customer.id).where(Customer.openid == shopper.openid)
        )
        adoption, _ = adopting.adopt(
            db.session, customer_id=customer_id, unit_id=unit.id, address=ADDRESS
        )
        found = {"id": adoption.id, "number": adoption.number, "order_id": adoption.order_id}
        db.session.remove()
    shopper.confirm_payment(shopper.pay(found["order_id"]))
    return found


def _day(days: int) -> str:
    return (unit_rules.today() + timedelta(days=days)).isoformat()


def _plan(shopper, adoption_id: int, deliveries: list[dict]):
    return shopper.put(
        f"/api/v1/adoptions/{adoption_id}/deliveries", json={"deliveries": deliveries}
    )


def test_a_plan_is_refused_before_the_harvest_beyond_its_parcels_and_where_oysters_cannot_go(
    app, shopper, other_shopper, store
):
    adoption = _adopt(app, shopper, raft=5, position=1)  # 4000 g in up to 2 parcels, in 45 days
    early = _plan(shopper, adoption["id"], [{"deliver_on": _day(10)}])
    assert early.status_code == 422 and early.json["code"] == "DELIVERY_BEFORE_HARVEST"
    assert "早于收获期" in early.json["message"]
    three = _plan(shopper, adoption["id"], [{"deliver_on": _day(50 + i)} for i in range(3)])
    assert three.status_code == 422 and three.json["code"] == "TOO_MANY_PARCELS"
    assert "最多分 2 个包裹" in three.json["message"]
    far = _plan(
        shopper,
        adoption["id"],
        [{"deliver_on": _day(50)}, {"deliver_on": _day(60), "gift": True, "address": FAR}],
    )
    assert far.status_code == 422 and far.json["code"] == "REGION_NOT_SHIPPED"
    assert "新疆" in far.json["message"]
    assert shopper.get(f"/api/v1/adoptions/{adoption['id']}/deliveries").json["items"] == []
    theirs = other_shopper.get(f"/api/v1/adoptions/{adoption['id']}/deliveries")
    assert theirs.status_code == 404
    assert _plan(other_shopper, adoption["id"], [{"deliver_on": _day(50)}]).status_code == 404

    # Two dates weeks apart, the yield halved; then changed before anything is lifted.
    plan = _plan(shopper, adoption["id"], [{"deliver_on": _day(60)}, {"deliver_on": _day(46)}])
    assert plan.status_code == 200, plan.json
    assert [(p["deliver_on"], p["weight_g"]) for p in plan.json["items"]] == [
        (_day(46), 2000),
        (_day(60), 2000),
    ]
    assert plan.json["items"][0]["address"] == ADDRESS and plan.json["changeable"] is True
    plan = _plan(
        shopper,
        adoption["id"],
        [{"deliver_on": _day(46), "weight_g": 1500}, {"deliver_on": _day(75), "gift": True,
                                                      "address": GIFT, "gift_message": "尝尝鲜"}],
    )  # fmt: skip
    assert plan.status_code == 200, plan.json
    assert [(p["seq"], p["weight_g"], p["gift"]) for p in plan.json["items"]] == [
        (1, 1500, False),
        (2, 2500, True),
    ]
    assert plan.json["items"][1]["address"]["province"] == "北京市"


def _through_the_line(line, batch_code: str, weight_g: int):
    """The plant's line reports the harvest batch like any other, up to packing one 5-jin box."""
    steps = [
        ("steps", {"step": "wash", "measurements": {"water_temp_c": 12.5, "duration_min": 30}}),
        ("sorting", {"grades": [{"grade": "XL", "count": 16, "weight_g": weight_g}]}),
        ("steps", {"step": "depurate", "measurements": {"hours": 24, "water_temp_c": 15,
                                                        "salinity_permille": 31}}),
        ("inspection", {"passed": True, "report_no": f"QC-{batch_code}", "lab": LAB}),
    ]  # fmt: skip
    for n, (path, body) in enumerate(steps):
        body = {"report_id": f"{batch_code}:{n}", "performed_at": iso(0), **body}
        res = line.post(f"/batches/{batch_code}/{path}", body)
        assert res.status_code == 200, res.json
    body = {
        "report_id": f"{batch_code}:pack",
        "packed_at": iso(0),
        "packs": [{"sku": "RS-LIVE-XL-5", "count": 1}],
    }
    res = line.post(f"/batches/{batch_code}/packing", body)
    assert res.status_code == 201, res.json
    return body


def _harvested(app, staff_client, shopper, processing_line) -> tuple[dict, list[dict]]:
    """Cage 12 of raft 3 adopted, its two parcels planned (today, and in two days as a gift),
    lifted and reported through the line to packing: the adoption and its plan."""
    adoption = _adopt(app, shopper, raft=3, position=12, harvest_now=True)
    plan = _plan(
        shopper,
        adoption["id"],
        [{"deliver_on": _day(0)}, {"deliver_on": _day(2), "gift": True, "address": GIFT,
                                   "gift_message": "乳山的海，送给你"}],
    )  # fmt: skip
    assert plan.status_code == 200, plan.json
    first, second = plan.json["items"]
    assert first["weight_g"] == second["weight_g"] == 2500

    too_much = staff_client.post(
        "/console/api/adoption-harvests", json={"delivery_id": first["id"], "harvested_g": 2900}
    )
    assert too_much.status_code == 422 and too_much.json["code"] == "YIELD_BEYOND_UNIT"
    assert "超出该单元可收获的重量" in too_much.json["message"]
    lifted = staff_client.post(
        "/console/api/adoption-harvests", json={"delivery_id": first["id"], "harvested_g": 2600}
    )
    assert lifted.status_code == 201, lifted.json
    by_date = staff_client.post(  # the other by its unit and date, as the calendar lists it
        "/console/api/adoption-harvests",
        json={"unit_id": plan.json["unit"]["id"], "date": _day(2), "harvested_g": 2550},
    )
    assert by_date.status_code == 201, by_date.json
    calendar = staff_client.get("/console/api/adoption-harvests").json["items"]
    assert [day["date"] for day in calendar] == [_day(0), _day(2)]
    [cage] = calendar[0]["households"][0]["parcels"]
    assert cage["unit_name"] == "3号筏 12号笼" and cage["batch_code"] == f"{adoption['number']}-1"
    assert calendar[0]["households"][0]["household"] == plan.json["unit"]["household"]

    packing = [
        _through_the_line(processing_line, f"{adoption['number']}-{seq}", weight)
        for seq, weight in ((1, 2600), (2, 2550))
    ]
    return adoption, plan.json["items"], packing


def _lot_of_batch(app, batch_code: str) -> int:
    with app.app_context():
        lot_id = db.session.scalar(select(Lot.id).where(Lot.code.contains(f"-{batch_code}-")))
        db.session.remove()
    return lot_id


def test_two_chosen_dates_become_two_parcels_that_scan_as_the_adopters_cage(
    app, client, shopper, other_shopper, staff_client, store_seller, processing_line
):
    adoption, _, _ = _harvested(app, staff_client, shopper, processing_line)
    plan = shopper.get(f"/api/v1/adoptions/{adoption['id']}/deliveries").json
    assert [p["status"] for p in plan["items"]] == ["PAID", "PAID"]
    orders = [p["order_number"] for p in plan["items"]]

    wave = staff_client.post("/console/api/waves", json={})
    assert wave.status_code == 201 and wave.json["parcels"] == 2, wave.json
    codes = []
    for seq, number in enumerate(orders, start=1):
        [parcel] = staff_client.get("/console/api/parcels", query_string={"q": number}).json[
            "items"
        ]
        lot_id = _lot_of_batch(app, f"{adoption['number']}-{seq}")
        run = print_run(staff_client, {**store_seller, "lot_id": lot_id}, quantity=1)
        [code] = run_codes(app, run.json["id"])
        bound = staff_client.post(f"/console/api/parcels/{parcel['id']}/codes", json={"code": code})
        assert bound.status_code == 201, bound.json
        packed = staff_client.post(f"/console/api/parcels/{parcel['id']}/packed", json={})
        assert packed.status_code == 200, packed.json
        codes.append(code)
    run_jobs(app)  # the waybills
    plan = shopper.get(f"/api/v1/adoptions/{adoption['id']}/deliveries").json
    assert [p["status"] for p in plan["items"]] == ["SHIPPED", "SHIPPED"]
    assert all(p["tracking_no"] for p in plan["items"]) and plan["changeable"] is False
    gift = shopper.get(f"/api/v1/orders/{plan['items'][1]['order_id']}").json
    assert gift["total"] == 0 and gift["address"]["name"] == "李娟"
    again = _plan(shopper, adoption["id"], [{"deliver_on": _day(3)}])
    assert again.status_code == 409 and again.json["code"] == "PLAN_LOCKED"

    mine = shopper.get(f"/api/v1/trace/{codes[0]}").json
    block = mine["adoption"]
    assert block["title"] == f"认养编号 {adoption['number']} 的收获"
    assert block["unit"]["name"] == "3号筏 12号笼" and block["unit"]["sea_area"]
    assert block["unit"]["household"] == mine["origin"]["farm"]
    assert block["yours"] is True and block["message"].startswith("你的 12号笼")
    assert [s["name"] for s in mine["processing"]["steps"]][:1] == ["清洗"]
    assert mine["processing"]["batch"] == f"{adoption['number']}-1"
    anonymous = client.get(f"/api/v1/trace/{codes[1]}").json["adoption"]
    assert anonymous["yours"] is False and "你的" not in anonymous["message"]
    assert anonymous["title"] == block["title"] and anonymous["parcel"] == 2
    theirs = other_shopper.get(f"/api/v1/trace/{codes[1]}").json["adoption"]
    assert theirs["yours"] is False
    page = client.get(f"/t/{codes[0]}").get_data(as_text=True)
    assert f"认养编号 {adoption['number']} 的收获" in page and "3号筏 12号笼" in page

    with app.app_context():
        unit = db.session.get(AdoptionUnit, plan["unit"]["id"])
        assert unit.status == "HARVESTED"
        left = db.session.scalar(
            select(func.sum(Lot.on_hand)).where(
                Lot.id.in_([_lot_of_batch(app, f"{adoption['number']}-{s}") for s in (1, 2)])
            )
        )
        assert left == 0  # both boxes left with their parcels
        db.session.remove()


def test_the_packing_hook_run_twice_takes_the_stock_once(
    app, shopper, staff_client, processing_line
):
    adoption, planned, packing = _harvested(app, staff_client, shopper, processing_line)
    with app.app_context():
        delivery = db.session.get(AdoptionDelivery, planned[0]["id"])
        batch_id, order_id = delivery.batch_id, delivery.order_id
        assert order_id is not None  # the packing report made it
        again = harvest_orders.order_harvest(db.session, batch_id=batch_id)
        db.session.commit()
        assert again.id == order_id
        assert harvest_orders.order_packed_harvests(db.session) == 0
        plant_id = db.session.scalar(select(Plant.id))
        hooked = harvest_orders.on_batch_packed(
            db.session, plant_id=plant_id, batch_code=f"{adoption['number']}-1"
        )
        db.session.commit()
        assert hooked == order_id
        lot = db.session.scalar(select(Lot).where(Lot.batch_id == batch_id))
        holds = db.session.scalars(
            select(StockReservation).where(StockReservation.lot_id == lot.id)
        ).all()
        assert [(h.order_id, h.quantity, h.status) for h in holds] == [(order_id, 1, "COMMITTED")]
        assert (lot.on_hand, lot.reserved) == (1, 1)
        assert lot.status == "KEPT"  # out of sale from packing on: no other order could take it
        db.session.remove()
    # The line repeating its packing report is answered the same and changes nothing.
    repeated = processing_line.post(f"/batches/{adoption['number']}-1/packing", packing[0])
    assert repeated.status_code == 201, repeated.json
    with app.app_context():
        assert (
            db.session.scalar(
                select(func.count())
                .select_from(StockReservation)
                .where(StockReservation.order_id == order_id)
            )
            == 1
        )
        db.session.remove()


def test_a_loss_after_the_first_parcel_pays_back_only_what_was_still_at_sea(
    app, staff_client, shopper
):
    adoption = _adopt(app, shopper, raft=3, position=12, harvest_now=True)  # ¥398, 5 000 g
    plan = _plan(shopper, adoption["id"], [{"deliver_on": _day(0)}, {"deliver_on": _day(7)}])
    assert plan.status_code == 200, plan.json
    first = plan.json["items"][0]
    lifted = staff_client.post(
        "/console/api/adoption-harvests", json={"delivery_id": first["id"], "harvested_g": 2600}
    )
    assert lifted.status_code == 201, lifted.json
    lost = staff_client.post(
        "/console/api/adoption/losses",
        json={"unit_ids": [plan.json["unit"]["id"]], "reason": "台风"},
    )
    assert lost.status_code == 201, lost.json
    # Under "replace" terms a whole new cage would give a whole harvest again: instead the
    # 2 400 g still at sea are paid back in full, and nothing for the parcel already lifted.
    assert lost.json["replaced"] == []
    assert [r["amount"] for r in lost.json["refunded"]] == [39800 * 2400 // 5000]
    calendar = staff_client.get("/console/api/adoption-harvests").json["items"]
    assert calendar == []  # the second parcel will never be lifted
