"""Adopting a unit in the mini-program, its certificate, the race for the last unit, and a
loss compensated once per adopter."""

import threading
import uuid
from datetime import timedelta

import pytest
import requests

from backend.adoption import units as unit_rules
from backend.adoption.models import AdopterMessage, Adoption, AdoptionUnit
from backend.errors import Conflict
from backend.extensions import db
from backend.orders.models import Order
from backend.payments.models import PaymentAnomaly, Refund
from backend.timeutil import utcnow
from jobs.adoption import settle_adoptions
from tests.helpers import ADDRESS, Shopper, run_jobs, wait_for


def _unit_id(app, raft: int, position: int) -> int:
    with app.app_context():
        return db.session.scalar(
            db.select(AdoptionUnit.id).where(
                AdoptionUnit.raft == raft, AdoptionUnit.position == position
            )
        )


def _adopt(shopper, key=None, **body):
    return shopper.post(
        "/api/v1/adoptions",
        json={"address": ADDRESS, **body},
        headers={"Idempotency-Key": key or uuid.uuid4().hex},
    )


def adopt_and_pay(shopper, unit_id: int) -> dict:
    """Adopt the unit, pay its order in the sandbox, and answer the adoption once active."""
    adoption = _adopt(shopper, unit_id=unit_id)
    assert adoption.status_code == 201, adoption.json
    shopper.confirm_payment(shopper.pay(adoption.json["order_id"]))
    return wait_for(
        lambda: (
            (body := shopper.get(f"/api/v1/adoptions/{adoption.json['id']}").json)["status"]
            == "ACTIVE"
            and body
        )
    )


def test_adopt_cage_pay_and_share_its_certificate(app, client, shopper, other_shopper, store):
    areas = client.get("/api/v1/adoption/areas").json["areas"]
    assert areas[0]["code"] == "RS-HYS-01"
    assert {r["raft"]: r["free"] for r in areas[0]["rafts"]} == {3: 24, 5: 24}
    cage = _unit_id(app, 3, 12)
    adoption = adopt_and_pay(shopper, cage)
    assert adoption["unit"]["name"] == "3号筏 12号笼" and adoption["price"] == 39800
    assert adoption["number"].startswith("RY") and adoption["certificate_token"]

    grid = client.get("/api/v1/adoption/units?sea_area=RS-HYS-01&raft=3").json["units"]
    assert [u["free"] for u in grid if u["id"] == cage] == [False] and len(grid) == 24
    # someone else's adoption is not found; the certificate is public by its link
    assert other_shopper.get(f"/api/v1/adoptions/{adoption['id']}").status_code == 404
    token = adoption["certificate_token"]
    certificate = client.get(f"/api/v1/adoption-certificates/{token}").json
    assert certificate["farm"]["name"] == "于家养殖户"
    assert certificate["page_url"].endswith(f"/adoption/c/{token}")
    page = client.get(f"/adoption/c/{token}").get_data(as_text=True)
    assert "认养编号 " + adoption["number"] in page and "3号筏 12号笼" in page
    assert "<svg" in page and "apis.map.qq.com" in page and 'class="cell here"' in page
    assert client.get("/adoption/c/" + "x" * 32).status_code == 404
    # the unit stays adopted: a refund request on its order is refused, losses follow the terms
    refund = shopper.post(
        f"/api/v1/orders/{adoption['order_id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "不想要了"},
    )
    assert refund.status_code == 422 and refund.json["code"] == "ADOPTION_NOT_REFUNDABLE"


def test_two_buyers_racing_for_the_last_unit(app, client, sandbox, store):
    with app.app_context():  # all of raft 5 adopted but rope 7
        db.session.execute(
            db.update(AdoptionUnit)
            .where(AdoptionUnit.raft == 5, AdoptionUnit.position != 7)
            .values(status="ADOPTED")
        )
        db.session.commit()
    buyers = [Shopper.login(app.test_client(), sandbox, f"o_racer_{i}") for i in range(2)]
    answers, start = [], threading.Barrier(2)

    def race(buyer):
        start.wait()
        answers.append(_adopt(buyer, sea_area="RS-HYS-01", raft=5))

    threads = [threading.Thread(target=race, args=(b,)) for b in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(a.status_code for a in answers) == [201, 409]
    lost = next(a for a in answers if a.status_code == 409)
    assert lost.json["code"] == "NO_FREE_UNIT" and "认养" in lost.json["message"]
    with app.app_context():  # one order to pay, for the one unit
        assert db.session.scalar(db.select(db.func.count()).select_from(Order)) == 1
        assert db.session.scalar(db.select(db.func.count()).select_from(Adoption)) == 1
    # asking for the very unit now held: told it is taken
    taken = _adopt(buyers[0], unit_id=_unit_id(app, 5, 7))
    assert taken.status_code == 409 and taken.json["code"] == "UNIT_TAKEN"


def test_a_retried_adoption_is_the_same_adoption(app, shopper, store):
    first = _adopt(shopper, key="adopt-key-0001", unit_id=_unit_id(app, 3, 1))
    again = _adopt(shopper, key="adopt-key-0001", unit_id=_unit_id(app, 3, 1))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json["id"] == first.json["id"]


def test_units_past_their_window_or_harvested_cannot_be_adopted(app, shopper, store):
    closed, harvested = _unit_id(app, 3, 2), _unit_id(app, 3, 3)
    with app.app_context():
        db.session.get(AdoptionUnit, closed).adopt_until = unit_rules.today() - timedelta(days=1)
        db.session.get(AdoptionUnit, harvested).status = "HARVESTED"
        db.session.commit()
    late = _adopt(shopper, unit_id=closed)
    assert late.status_code == 422 and late.json["code"] == "ADOPTION_WINDOW_CLOSED"
    done = _adopt(shopper, unit_id=harvested)
    assert done.status_code == 422 and done.json["code"] == "UNIT_CLOSED"
    assert "已收获" in done.json["message"]
    nothing = _adopt(shopper)
    assert nothing.status_code == 422 and nothing.json["code"] == "UNIT_OR_AREA_REQUIRED"


def test_typhoon_loss_compensates_each_adopter_once(
    app, client, sandbox, shopper, other_shopper, staff_client, store
):
    rope = adopt_and_pay(shopper, _unit_id(app, 5, 1))  # refund 60 %
    cage = adopt_and_pay(other_shopper, _unit_id(app, 3, 5))  # replaced
    for buyer in (shopper, other_shopper):
        requests.post(
            f"{sandbox.url}/sandbox/wx/subscriptions",
            json={"openid": buyer.openid, "template_id": "TPL_ADOPTION_LOSS", "count": 2},
            timeout=5,
        )
        requests.post(  # the refund itself is told as any order's refund
            f"{sandbox.url}/sandbox/wx/subscriptions",
            json={"openid": buyer.openid, "template_id": "TPL_REFUND", "count": 2},
            timeout=5,
        )
    from backend.adoption import losses

    with app.app_context():
        raft5 = list(db.session.scalars(db.select(AdoptionUnit.id).where(AdoptionUnit.raft == 5)))
        admin = db.session.scalar(db.text("select id from staff where username = 'admin'"))
        done = losses.declare_loss(
            db.session, unit_ids=[*raft5, _unit_id(app, 3, 5)], reason="台风", staff_id=admin
        )
        assert done["units"] == 25
        assert [r["amount"] for r in done["refunded"]] == [26800 * 60 // 100]
        assert [r["adoption"] for r in done["replaced"]] == [cage["number"]]
        with pytest.raises(Conflict) as refused:
            losses.declare_loss(db.session, unit_ids=raft5[:2], reason="台风", staff_id=admin)
        assert refused.value.code == "LOSS_ALREADY_DECLARED"
        db.session.remove()
    run_jobs(app)
    run_jobs(app)  # a second run sends nothing twice
    wait_for(lambda: _refunded(app, rope["order_id"]) == 26800 * 60 // 100)
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(Refund)) == 1
        messages = db.session.scalars(db.select(AdopterMessage)).all()
        assert sorted(m.outcome for m in messages) == ["sent", "sent"]
    sent = requests.get(f"{sandbox.url}/sandbox/wx/messages?template_id=TPL_ADOPTION_LOSS").json()
    assert len(sent["messages"]) == 2
    run_jobs(app)  # the refund's own message, once WeChat Pay said it succeeded
    refunds = requests.get(f"{sandbox.url}/sandbox/wx/messages?template_id=TPL_REFUND").json()
    [refund] = refunds["messages"]
    assert refund["touser"] == shopper.openid
    assert refund["data"]["amount2"]["value"] == f"¥{26800 * 60 // 100 / 100:.2f}"
    assert "5号筏 1号绳" in refund["data"]["thing5"]["value"]
    # the cage's adopter now holds another cage, free of charge, on a fresh certificate
    mine = other_shopper.get("/api/v1/adoptions").json["adoptions"]
    assert [a["status"] for a in mine] == ["ACTIVE", "COMPENSATED"]
    assert mine[0]["price"] == 0 and mine[0]["unit"]["name"] != "3号筏 5号笼"
    assert mine[1]["compensation"] == "replace"
    lost_page = client.get(f"/adoption/c/{rope['certificate_token']}").get_data(as_text=True)
    assert "台风灭失" in lost_page


def _refunded(app, order_id: int) -> int:
    with app.app_context():
        total = db.session.get(Order, order_id).refunded_total
        db.session.remove()
        return total


def _lapse(app, adoption_id: int) -> None:
    """The buyer's time to pay ran out (and the hold's grace after it)."""
    with app.app_context():
        adoption = db.session.get(Adoption, adoption_id)
        db.session.get(Order, adoption.order_id).pay_deadline = utcnow() - timedelta(minutes=10)
        db.session.get(AdoptionUnit, adoption.unit_id).held_until = utcnow() - timedelta(minutes=1)
        db.session.commit()
        settle_adoptions()
        db.session.remove()


def test_money_after_the_hold_lapsed_keeps_a_free_unit_or_comes_back(
    app, sandbox, shopper, other_shopper, store
):
    kept, taken = _unit_id(app, 3, 20), _unit_id(app, 3, 21)
    late_keep = _adopt(shopper, unit_id=kept).json
    late_lose = _adopt(shopper, unit_id=taken).json
    params = {a["id"]: shopper.pay(a["order_id"]) for a in (late_keep, late_lose)}
    for adoption in (late_keep, late_lose):
        _lapse(app, adoption["id"])
        assert shopper.get(f"/api/v1/adoptions/{adoption['id']}").json["status"] == "CANCELLED"
    adopt_and_pay(other_shopper, taken)  # someone else takes cage 21 meanwhile
    for adoption in (late_keep, late_lose):
        shopper.confirm_payment(params[adoption["id"]])
    with app.app_context():
        settle_adoptions()
        db.session.remove()
    assert shopper.get(f"/api/v1/adoptions/{late_keep['id']}").json["status"] == "ACTIVE"
    run_jobs(app, "default")
    wait_for(lambda: _refunded(app, late_lose["order_id"]) == 39800)
    with app.app_context():
        assert db.session.scalars(db.select(PaymentAnomaly.kind)).all() == ["PAID_AFTER_CANCEL"]
        holders = db.session.scalars(
            db.select(Adoption.customer_id).where(Adoption.holding_unit_id == taken)
        ).all()
        assert len(holders) == 1
