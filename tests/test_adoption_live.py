"""认养上屏 in a live room: the host puts raft 3's cages on screen from the console, viewers hold
one by the claim endpoint or by commenting (the co-host bot), no unit goes to two buyers, and a
viewer who claims again keeps the hold they have."""

from __future__ import annotations

import threading
import uuid

import pytest
import requests

from backend.adoption.models import ADOPTED, FREE, Adoption, AdoptionUnit
from backend.audit.models import AuditRecord
from backend.extensions import db
from backend.orders.models import Order
from backend.payments.models import Payment
from bots.cohost.bot import CoHost
from tests.helpers import ADDRESS, Shopper, go_live, room_body, wait_for
from tests.test_cohost_bot import customer_id, replies, run_bot, say, viewer

RAFT = 3


def _key() -> str:
    return uuid.uuid4().hex


@pytest.fixture
def room(app, sandbox, staff_client, store):
    """A live room, nothing on screen yet."""
    created = staff_client.post("/console/api/live/rooms", json=room_body()).json
    go_live(sandbox, staff_client, created["id"])
    return created["id"]


def _raft_units(app) -> list[int]:
    with app.app_context():
        ids = list(
            db.session.scalars(
                db.select(AdoptionUnit.id)
                .where(AdoptionUnit.raft == RAFT)
                .order_by(AdoptionUnit.position)
            )
        )
        db.session.remove()
    return ids


def _leave_free(app, count: int) -> list[int]:
    """All but `count` cages of raft 3 already adopted; answers the free ones' ids."""
    ids = _raft_units(app)
    with app.app_context():
        db.session.execute(
            db.update(AdoptionUnit).where(AdoptionUnit.id.in_(ids[count:])).values(status=ADOPTED)
        )
        db.session.commit()
        db.session.remove()
    return ids[:count]


def _start(staff_client, room_id: int, **body):
    return staff_client.post(
        f"/console/api/live/rooms/{room_id}/adoption-offer",
        json={"sea_area": "RS-HYS-01", "raft": RAFT, **body},
    )


def _claim(shopper: Shopper, room_id: int, key: str | None = None, **body):
    return shopper.post(
        f"/api/v1/live/rooms/{room_id}/adoption-claims",
        json=body,
        headers={"Idempotency-Key": key or _key()},
    )


def test_two_buyers_race_for_the_last_cage_one_wins_and_pays_once(
    app, client, sandbox, staff_client, room
):
    (last,) = _leave_free(app, 1)
    started = _start(staff_client, room)
    assert started.status_code == 201, started.json
    assert started.json["free"] == 1 and started.json["title"].endswith("3号筏认养")
    assert client.get(f"/api/v1/live/rooms/{room}").json["adoption_offer"]["free"] == 1
    buyers = [Shopper.login(client, sandbox, f"o-race-{n}") for n in range(2)]
    url = f"{app.config['PUBLIC_BASE_URL']}/api/v1/live/rooms/{room}/adoption-claims"
    together, answers = threading.Barrier(2), {}

    def race(buyer: Shopper) -> None:
        together.wait()
        answers[buyer.openid] = requests.post(
            url,
            json={"address": ADDRESS},
            headers={**buyer.headers, "Idempotency-Key": _key()},
            timeout=30,
        )

    threads = [threading.Thread(target=race, args=(buyer,)) for buyer in buyers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(answer.status_code for answer in answers.values())
    assert statuses == [201, 409], {k: a.text for k, a in answers.items()}
    winner = next(b for b in buyers if answers[b.openid].status_code == 201)
    loser = next(b for b in buyers if answers[b.openid].status_code == 409)
    won, refused = answers[winner.openid].json(), answers[loser.openid].json()
    assert refused["code"] == "NO_FREE_UNIT" and "抢光" in refused["message"]
    assert won["unit_name"] == f"{RAFT}号筏 1号笼" and won["number"].startswith("RY")
    assert "已为你保留 3号筏 1号笼" in won["message"] and "分钟内付款" in won["message"]
    assert won["adoption"]["unit"]["id"] == last
    assert client.get(f"/api/v1/live/rooms/{room}").json["adoption_offer"]["sold_out"]

    winner.confirm_payment(winner.pay(won["order_id"]))
    adoption_url = f"/api/v1/adoptions/{won['adoption']['id']}"
    wait_for(lambda: winner.get(adoption_url).json["status"] == "ACTIVE")
    again = winner.post(f"/api/v1/orders/{won['order_id']}/pay")
    assert again.status_code == 409 and again.json["code"] == "ORDER_NOT_PAYABLE"
    assert _claim(loser, room).status_code == 409  # still none for the loser
    with app.app_context():
        loser_id = customer_id(app, loser)
        assert db.session.scalar(db.select(db.func.count()).select_from(Payment)) == 1
        assert not db.session.scalar(db.select(Order.id).where(Order.customer_id == loser_id))
        holders = db.session.scalars(
            db.select(Adoption.customer_id).where(Adoption.unit_id == last)
        ).all()
        assert len(holders) == 1
        assert db.session.get(AdoptionUnit, last).status == ADOPTED
        db.session.remove()


def test_the_same_viewer_claiming_twice_keeps_one_hold(app, client, sandbox, staff_client, room):
    assert _start(staff_client, room).status_code == 201
    buyer = Shopper.login(client, sandbox, "o-twice")
    key = _key()
    first = _claim(buyer, room, key)
    assert first.status_code == 201, first.json
    replayed = _claim(buyer, room, key)  # the same request sent again
    pressed_again = _claim(buyer, room)  # a second tap while the first hold is unpaid
    for again in (replayed, pressed_again):
        assert again.status_code == 200, again.json
        assert again.json["order_id"] == first.json["order_id"]
        assert again.json["number"] == first.json["number"]
    offer = buyer.get(f"/api/v1/live/rooms/{room}/adoption-offer").json["offer"]
    assert offer["free"] == 23  # one of raft 3's 24 cages held


def test_no_offer_on_screen_is_a_clear_refusal(app, client, sandbox, staff_client, room):
    buyer = Shopper.login(client, sandbox, "o-no-offer")
    refused = _claim(buyer, room)
    assert refused.status_code == 422
    assert refused.json["code"] == "NO_ADOPTION_OFFER"
    assert refused.json["message"] == "主播当前没有上屏认养，暂时不能认养"
    assert _claim(buyer, 999999).status_code == 404
    assert _start(staff_client, room).status_code == 201
    bodiless = buyer.client.post(
        f"/api/v1/live/rooms/{room}/adoption-claims",
        headers={**buyer.headers, "Idempotency-Key": _key()},
    )
    assert bodiless.status_code == 400 and bodiless.json["code"] == "BODY_REQUIRED"
    twice = _start(staff_client, room)
    assert twice.status_code == 409 and twice.json["code"] == "ADOPTION_OFFER_RUNNING"
    ended = staff_client.post(f"/console/api/live/rooms/{room}/adoption-offer/end", json={})
    assert ended.status_code == 200 and ended.json["status"] == "ENDED"
    assert _claim(buyer, room).json["code"] == "NO_ADOPTION_OFFER"
    assert client.get(f"/api/v1/live/rooms/{room}").json["adoption_offer"] is None
    with app.app_context():
        actions = db.session.scalars(
            db.select(AuditRecord.action)
            .where(AuditRecord.action.like("adoption.live_offer%"))
            .order_by(AuditRecord.id)
        ).all()
        db.session.remove()
    assert actions == ["adoption.live_offer_start", "adoption.live_offer_end"]


def test_comments_hold_a_cage_for_the_viewer_who_wrote_them(
    app, client, sandbox, staff_client, room, monkeypatch
):
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "1000 per 5 seconds")
    assert _start(staff_client, room).status_code == 201
    first, second = viewer(client, sandbox, "o-kou"), viewer(client, sandbox, "o-renyang")
    third = viewer(client, sandbox, "o-cage-twelve")
    said = {  # the named cage first: a picked one could otherwise be cage 12
        "named": say(third, room, "十二号笼给我留着").json["id"],
        "kou": say(first, room, "扣1").json["id"],
        "adopt": say(second, room, "我要认养").json["id"],
        "again": say(first, room, "认养").json["id"],
        "question": say(second, room, "怎么认养").json["id"],
    }
    run_bot(app, CoHost(app, "test-bot"))

    def reply(name: str, reader=client) -> dict:
        found = replies(reader, room, reply_to=said[name])
        assert len(found) == 1, (name, replies(client, room))
        return found[0]

    assert "已为你保留 3号筏" in reply("kou")["text"] and "分钟内付款" in reply("kou")["text"]
    assert "已为你保留 3号筏" in reply("adopt")["text"]
    assert "你已保留 3号筏" in reply("again")["text"]  # the first hold, not a second one
    assert "保留" not in reply("question")["text"]
    assert "已为你保留 3号筏 12号笼" in reply("named")["text"]  # the cage the viewer named
    private = reply("kou", first)
    assert "认养编号 RY" in private["text"] and private["order_id"]
    with app.app_context():
        held = db.session.execute(
            db.select(Adoption.customer_id, Adoption.live_room_id, AdoptionUnit.status)
            .join(AdoptionUnit, AdoptionUnit.id == Adoption.unit_id)
            .order_by(Adoption.id)
        ).all()
        free = db.session.scalar(
            db.select(db.func.count())
            .select_from(AdoptionUnit)
            .where(AdoptionUnit.raft == RAFT, AdoptionUnit.status == FREE)
        )
        db.session.remove()
    who = [customer_id(app, viewer) for viewer in (third, first, second)]
    assert [tuple(row) for row in held] == [(who_, room, "HELD") for who_ in who]
    assert free == 21
