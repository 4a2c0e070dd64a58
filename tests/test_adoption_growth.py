"""Growth updates of adopted units: a household posts photos and measurements, each active adopter
is told once (43101 kept as the outcome), the adopter's timeline shows them until staff hide one;
refused: a unit of another household, a photo that is not a picture, a measurement out of range;
the farm system's signed API applies a replayed external id once and refuses a bad signature."""

from __future__ import annotations

import base64
import re
from datetime import timedelta

import pytest
import requests

from backend.adoption import adopting, growth, growth_messages, growth_queries
from backend.adoption import units as unit_rules
from backend.adoption.models import (
    ACTIVE,
    AdopterMessage,
    AdoptionUnit,
    FarmMember,
    GrowthUpdate,
)
from backend.audit.models import AuditRecord
from backend.batches.models import Farm, Plant
from backend.customers.models import Customer
from backend.errors import DomainError
from backend.extensions import db
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from jobs.adoption import tell_growth_adopters
from tests.helpers import ADDRESS, Shopper, png, run_jobs, wait_for
from tests.test_processing_api import Line

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def _unit(app, raft: int, position: int, farm: str = "于家养殖户") -> tuple[int, int, str]:
    """(unit id, farm id, code) of a demo unit."""
    with app.app_context():
        unit = db.session.scalar(
            db.select(AdoptionUnit)
            .join(Farm, Farm.id == AdoptionUnit.farm_id)
            .where(Farm.name == farm, AdoptionUnit.raft == raft, AdoptionUnit.position == position)
        )
        found = unit.id, unit.farm_id, unit.code
        db.session.remove()
    return found


def _neighbours_unit(app) -> tuple[int, str]:
    """A unit of another household (王家滩合作社, raft 1)."""
    with app.app_context():
        farm_id = db.session.scalar(db.select(Farm.id).where(Farm.name == "王家滩合作社"))
        day = unit_rules.today()
        [unit] = unit_rules.create_units(
            db.session,
            sea_area_code="RS-HYS-02",
            farm_id=farm_id,
            product_line_code="oyster",
            raft=1,
            positions=[1],
            kind="cage",
            seeded_on=day - timedelta(days=30),
            adopt_until=day + timedelta(days=30),
            harvest_from=day + timedelta(days=60),
            harvest_to=day + timedelta(days=90),
            price=39800,
            yield_g=5000,
            max_parcels=2,
            loss_terms="replace",
            loss_refund_percent=50,
        )
        db.session.commit()
        found = unit.id, unit.code
        db.session.remove()
    return found


def adopt(app, client, sandbox, openid: str, unit_id: int) -> tuple[Shopper, int]:
    """A buyer adopts the unit and pays through WeChat Pay: (the buyer, the active adoption)."""
    shopper = Shopper.login(client, sandbox, openid)
    with app.app_context():
        customer_id = db.session.scalar(db.select(Customer.id).where(Customer.openid == openid))
        adoption, _ = adopting.adopt(
            db.session, customer_id=customer_id, unit_id=unit_id, address=ADDRESS
        )
        adoption_id, order_id = adoption.id, adoption.order_id
        db.session.remove()
    shopper.confirm_payment(shopper.pay(order_id))

    def active():
        with app.app_context():
            adoption = adopting.get_adoption(db.session, customer_id=None, adoption_id=adoption_id)
            status = adoption.status
            db.session.remove()
        return status == ACTIVE

    wait_for(active)
    return shopper, adoption_id


def _grant(sandbox, openid: str) -> None:
    requests.post(
        f"{sandbox.url}/sandbox/wx/subscriptions",
        json={"openid": openid, "template_id": growth_messages.TEMPLATE},
        timeout=5,
    ).raise_for_status()


def _sent(sandbox, openid: str) -> list[dict]:
    res = requests.get(
        f"{sandbox.url}/sandbox/wx/messages",
        params={"touser": openid, "template_id": growth_messages.TEMPLATE},
        timeout=5,
    )
    return res.json()["messages"]


def post(app, **fields) -> tuple[list[int], bool]:
    with app.app_context():
        rows, created = growth.post_update(db.session, source=growth.PHONE, **fields)
        ids = [row.id for row in rows]
        db.session.remove()
    return ids, created


def refused(app, **fields) -> DomainError:
    with app.app_context(), pytest.raises(DomainError) as caught:
        growth.post_update(db.session, source=growth.PHONE, **fields)
    with app.app_context():
        db.session.rollback()
        assert db.session.scalar(db.select(db.func.count()).select_from(GrowthUpdate)) == 0
        db.session.remove()
    return caught.value


def test_each_adopter_is_told_once_and_a_hidden_update_leaves_the_timeline(
    app, client, sandbox, store, staff_client
):
    cage12, farm_id, _ = _unit(app, 3, 12)
    cage13, _, _ = _unit(app, 3, 13)
    keen, keen_adoption = adopt(app, client, sandbox, "o-adopter-keen", cage12)
    quiet, quiet_adoption = adopt(app, client, sandbox, "o-adopter-quiet", cage13)
    _grant(sandbox, keen.openid)  # the quiet one granted no credit: WeChat answers 43101

    ids, created = post(
        app,
        farm_id=farm_id,
        unit_ids=[cage12, cage13, _unit(app, 3, 14)[0]],  # a raft's units, one shared post
        new_photos=[png()],
        measurements={"size_mm": 62, "water_temp_c": 14.5, "salinity_permille": 31.2},
        note="风浪小，长势好",
        posted_by="于大海",
    )
    assert created and len(ids) == 3
    run_jobs(app)
    with app.app_context():  # the job run again (a retry, a second node): nothing sent twice
        assert tell_growth_adopters(ids[0]) == {"already": 1}
        rows = db.session.execute(db.select(AdopterMessage.adoption_id, AdopterMessage.outcome))
        outcomes = dict(rows.all())
        db.session.remove()
    assert outcomes == {keen_adoption: "sent", quiet_adoption: "refused:43101"}
    [message] = _sent(sandbox, keen.openid)
    assert message["data"]["thing1"]["value"] == "3号筏 12号笼"
    assert message["data"]["thing2"]["value"].startswith("壳长 62毫米")
    assert _sent(sandbox, quiet.openid) == []

    # the adopter's timeline: the update with its photo as a picture URL; nobody else's
    res = keen.get(f"/api/v1/adoptions/{keen_adoption}/growth")
    assert res.status_code == 200, res.json
    [item] = res.json["items"]
    assert item["measurements"]["water_temp_c"] == 14.5 and item["note"] == "风浪小，长势好"
    picture = client.get(item["photos"][0]["thumb"])
    assert picture.status_code == 200 and picture.mimetype == "image/jpeg"
    assert quiet.get(f"/api/v1/adoptions/{keen_adoption}/growth").status_code == 404

    # staff hide it from the console, with a reason, audited: gone from the timeline
    page = staff_client.get("/console/growth-updates")
    assert "3号筏 12号笼" in page.text
    token = TOKEN.search(page.text).group(1)
    form = {"csrf_token": token, "reason": ""}
    staff_client.post(f"/console/growth-updates/{ids[0]}/hide", data=form)
    assert keen.get(f"/api/v1/adoptions/{keen_adoption}/growth").json["items"] != []
    form["reason"] = "照片不是本单元的"
    res = staff_client.post(f"/console/growth-updates/{ids[0]}/hide", data=form)
    assert res.status_code == 302
    assert keen.get(f"/api/v1/adoptions/{keen_adoption}/growth").json["items"] == []
    assert quiet.get(f"/api/v1/adoptions/{quiet_adoption}/growth").json["items"] == []
    with app.app_context():
        [record] = db.session.scalars(
            db.select(AuditRecord).where(AuditRecord.action == "growth.hide")
        ).all()
        assert "照片不是本单元的" in record.summary
        assert len(growth.timeline(db.session, unit_id=cage12, include_hidden=True)) == 1
        db.session.remove()


def test_a_unit_of_another_household_a_non_picture_and_an_odd_measurement_are_refused(app, store):
    cage12, farm_id, _ = _unit(app, 3, 12)
    theirs, _ = _neighbours_unit(app)
    fine = {"farm_id": farm_id, "measurements": {"size_mm": 60}}

    error = refused(app, **fine, unit_ids=[cage12, theirs])
    assert (error.status, error.code) == (403, "UNIT_OF_ANOTHER_FARM")
    assert "不是本养殖户的" in error.message

    error = refused(app, **fine, unit_ids=[cage12], new_photos=[b"%PDF-1.4 not a picture"])
    assert (error.status, error.code) == (422, "PHOTO_TYPE")
    assert error.message == "只能上传 JPG、PNG 或 WebP 格式的照片"

    error = refused(app, farm_id=farm_id, unit_ids=[cage12], measurements={"water_temp_c": 80})
    assert (error.status, error.code) == (422, "MEASUREMENT_OUT_OF_RANGE")
    assert "水温" in error.message

    error = refused(app, farm_id=farm_id, unit_ids=[cage12])
    assert error.code == "UPDATE_EMPTY"


def _key(app, *args: str) -> tuple[str, str]:
    """A key issued as staff issue one: `flask issue-api-key NAME [--farm FARM]`."""
    done = app.test_cli_runner().invoke(args=["issue-api-key", *args])
    assert done.exit_code == 0, done.output
    values = dict(line.split("=", 1) for line in done.output.split())
    return values["PROCESSING_KEY_ID"], values["PROCESSING_SECRET"]


@pytest.fixture
def farm_system(app, client, store):
    return Line(client, *_key(app, "于家养殖系统", "--farm", "于家养殖户"))


def test_the_farm_systems_signed_api_applies_a_replay_once(app, farm_system, store):
    _, _, code = _unit(app, 5, 3)
    _, theirs = _neighbours_unit(app)
    path = f"/adoption-units/{code}/growth-updates"
    body = {
        "external_id": "yu-2026-0042",
        "measured_at": to_aware_utc(utcnow() - timedelta(hours=1)).astimezone(SHANGHAI).isoformat(),
        "measurements": {"size_mm": 55, "water_temp_c": 9.5},
        "photos": [base64.b64encode(png()).decode()],
    }

    first = farm_system.post(path, body)
    assert first.status_code == 201, first.json
    again = farm_system.post(path, body)  # a new nonce, the same update
    assert again.status_code == 200, again.json
    assert [u["id"] for u in again.json["updates"]] == [u["id"] for u in first.json["updates"]]
    assert again.json["created"] is False

    forged = farm_system.post(path, {**body, "external_id": "x-1"}, secret="0" * 32)
    assert (forged.status_code, forged.json["code"]) == (401, "SIGNATURE_INVALID")
    mixed = farm_system.post(path, {**body, "external_id": "x-2", "also_units": [theirs]})
    assert (mixed.status_code, mixed.json["code"]) == (403, "UNIT_OF_ANOTHER_FARM")
    neighbours_system = Line(farm_system.client, *_key(app, "王家滩系统", "--farm", "王家滩合作社"))
    foreign = neighbours_system.post(path, {**body, "external_id": "x-3"})
    assert (foreign.status_code, foreign.json["code"]) == (403, "UNIT_OF_ANOTHER_FARM")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(GrowthUpdate)) == 1
        db.session.remove()


def test_a_processing_plants_key_posts_no_growth_and_a_farms_key_reports_no_batch(
    app, client, farm_system, store
):
    _, _, code = _unit(app, 5, 3)
    with app.app_context():
        plant = db.session.scalar(db.select(Plant).where(Plant.farm_id.is_(None)))
        plant_line = Line(client, plant.key_id, plant.secret)
        db.session.remove()
    body = {"external_id": "p-1", "measurements": {"size_mm": 55}}
    path = f"/adoption-units/{code}/growth-updates"
    refused = plant_line.post(path, body)
    assert (refused.status_code, refused.json["code"]) == (403, "NOT_A_FARM_KEY")
    assert "加工厂" in refused.json["message"]
    batch = farm_system.post("/batches", {"report_id": "f-1"})
    assert (batch.status_code, batch.json["code"]) == (403, "NOT_A_PLANT_KEY")
    with app.app_context():
        assert db.session.scalar(db.select(db.func.count()).select_from(GrowthUpdate)) == 0
        db.session.remove()
    unknown = app.test_cli_runner().invoke(args=["issue-api-key", "x", "--farm", "没有这户"])
    assert unknown.exit_code != 0 and "没有这户" in unknown.output


def test_a_member_re_bound_to_a_new_phone_logs_the_old_one_out(app, sandbox, staff_client, store):
    from tests.test_adoption_story import CSRF, _browse, _household_phone

    old_phone = _household_phone(app, sandbox, staff_client)
    base = app.config["PUBLIC_BASE_URL"]
    odd = _browse(old_phone, "GET", f"{base}/farm/post?unit=²&raft=³")  # not digits to int()
    assert odd.status_code == 200 and "发布" in odd.text
    with app.app_context():
        member = db.session.scalar(db.select(FarmMember).where(FarmMember.name == "于大海"))
        member_id, farm_id = member.id, member.farm_id
        db.session.remove()
    page = staff_client.get("/console/growth-updates")
    reissued = staff_client.post(  # the phone was lost: staff issue him a new code
        "/console/farm-members/bind-code",
        data={
            "csrf_token": CSRF.search(page.text).group(1),
            "farm_id": farm_id,
            "member_id": member_id,
        },
    )
    assert reissued.status_code == 200
    again = _browse(old_phone, "GET", f"{base}/farm/")
    assert "绑定您的微信" in again.text and "3号筏" not in again.text


def test_a_harvested_or_lost_unit_owes_no_update(app, shopper, store):
    from tests.test_adoption import adopt_and_pay

    cage12, _, code12 = _unit(app, 3, 12)
    cage13, _, code13 = _unit(app, 3, 13)
    for unit_id in (cage12, cage13):
        adopt_and_pay(shopper, unit_id)
    with app.app_context():
        assert {u["code"] for u in growth_queries.units_waiting(db.session)} >= {code12, code13}
        db.session.execute(
            db.update(AdoptionUnit).where(AdoptionUnit.id == cage12).values(status="HARVESTED")
        )
        db.session.commit()
        waiting = {u["code"] for u in growth_queries.units_waiting(db.session)}
        assert code13 in waiting and code12 not in waiting
        db.session.remove()
