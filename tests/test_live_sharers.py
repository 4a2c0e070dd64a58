"""Sales credited to the sharer who brought the viewer: the live-player plugin's share parameters
come with the viewer's entry, flash-sale claim or order, are checked, set the sharer once per
room and viewer, and the viewer's orders in that room keep it; the show summary and the host's
report (JSON, CSV, the room page's section) count paid orders, units and GMV per sharer."""

from __future__ import annotations

import csv
import io
import json
import uuid
from urllib.parse import quote

import pytest
import requests
from flask import render_template

from backend.console.live_sections import section_context
from backend.customers.models import Customer
from backend.extensions import db
from backend.live import summary
from backend.live.models import LiveEntry, LiveRoom
from backend.orders.models import Order
from bots.cohost.bot import CoHost
from tests.helpers import ADDRESS, Shopper, room_body, run_jobs, set_live_status

ZHANG = json.dumps({"sharer": "seller-zhang", "channel": "poster"}, ensure_ascii=False)


@pytest.fixture
def rooms(app, sandbox, staff_client, store, monkeypatch):
    """Two live rooms: A sells 特大 (1号), B sells 大 (1号). {"a": {"id", "external"}, "b": ...}"""
    made = {}
    for name, code in (("a", "RS-LIVE-XL-5"), ("b", "RS-LIVE-L-5")):
        room = staff_client.post(
            "/console/api/live/rooms", json=room_body(name=f"开海直播{name.upper()}场")
        ).json
        with app.app_context():
            external = db.session.get(LiveRoom, room["id"]).external_id
            db.session.remove()
        set_live_status(sandbox, staff_client, external, 101)
        shelf = staff_client.post(
            f"/console/api/live/rooms/{room['id']}/shelf", json={"sku_id": store[code]}
        )
        assert shelf.status_code == 201, shelf.json
        made[name] = {"id": room["id"], "external": external}
    monkeypatch.setitem(app.config, "LIVE_COMMENT_RATE", "1000 per 5 seconds")
    return made


def viewer(client, sandbox, openid: str) -> Shopper:
    shopper = Shopper.login(client, sandbox, openid)
    requests.post(f"{sandbox.url}/sandbox/wx/visit", json={"openid": openid}, timeout=5)
    return shopper


def enter(shopper: Shopper, room: int, /, **share):
    return shopper.post(f"/api/v1/live/rooms/{room}/entries", json=share)


def orders_of(app, shopper: Shopper) -> list[Order]:
    with app.app_context():
        found = list(
            db.session.scalars(
                db.select(Order)
                .join(Customer, Customer.id == Order.customer_id)
                .where(Customer.openid == shopper.openid)
                .order_by(Order.id)
            )
        )
        db.session.expunge_all()
        db.session.remove()
    return found


def entry_of(app, shopper: Shopper, room_id: int) -> LiveEntry | None:
    with app.app_context():
        found = db.session.scalar(
            db.select(LiveEntry)
            .join(Customer, Customer.id == LiveEntry.customer_id)
            .where(Customer.openid == shopper.openid, LiveEntry.room_id == room_id)
        )
        db.session.expunge_all()
        db.session.remove()
    return found


def pay(shopper: Shopper, order_id: int) -> None:
    assert shopper.put(f"/api/v1/orders/{order_id}/address", json=ADDRESS).status_code == 200
    shopper.confirm_payment(shopper.pay(order_id))
    assert shopper.get(f"/api/v1/orders/{order_id}").json["status"] == "PAID"


def claim_by_comment(app, shopper: Shopper, room_id: int, text: str = "1号要1份") -> Order:
    said = shopper.post(f"/api/v1/live/rooms/{room_id}/comments", json={"text": text})
    assert said.status_code == 201, said.json
    bot = CoHost(app, "test-bot")
    with app.app_context():
        for _ in range(2):
            bot.due_now()
            bot.step(block_ms=10)
        db.session.remove()
    return orders_of(app, shopper)[-1]


def report(staff_client, room_id: int) -> dict:
    res = staff_client.get(f"/console/api/live/rooms/{room_id}/sharers")
    assert res.status_code == 200, res.json
    return res.json


def rows(found: dict) -> dict[str, tuple[int, int, int, int]]:
    return {
        row["name"]: (row["viewers"], row["orders"], row["units"], row["gmv"])
        for row in found["items"]
    }


# -- entering a room ---------------------------------------------------------------------------


def test_an_entry_sets_the_sharer_once_and_a_replay_changes_nothing(app, client, sandbox, rooms):
    a = rooms["a"]
    first = viewer(client, sandbox, "o-entry-1")
    entered = enter(first, a["id"], room_id=int(a["external"]), custom_params=ZHANG)
    assert entered.status_code == 201, entered.json
    assert entered.json == {"room_id": a["id"], "attributed": True, "created": True}
    replayed = enter(first, a["id"], room_id=int(a["external"]), custom_params=ZHANG)
    assert replayed.status_code == 200 and replayed.json["created"] is False
    other = enter(first, a["id"], custom_params={"sharer": "seller-wang"})
    assert other.status_code == 200 and other.json["created"] is False
    kept = entry_of(app, first, a["id"])
    assert (kept.sharer, kept.channel) == ("seller-zhang", "poster")

    # Came on their own first, then through a friend's card: the first sharer named counts.
    second = viewer(client, sandbox, "o-entry-2")
    assert enter(second, a["id"]).json == {"room_id": a["id"], "attributed": False, "created": True}
    shared = enter(second, a["id"], share_openid="o_friend_1", custom_params="")
    assert shared.status_code == 201 and shared.json["attributed"] is True
    assert enter(second, a["id"], share_openid="o_friend_2").json["created"] is False
    assert entry_of(app, second, a["id"]).sharer == "o_friend_1"

    # The link a seller shares (custom_params {"seller_id": 7}), percent-encoded as in the URL.
    third = viewer(client, sandbox, "o-entry-3")
    encoded = quote(json.dumps({"seller_id": 7}), safe="")
    assert enter(third, a["id"], custom_params=encoded, openid="ignored").status_code == 201
    assert entry_of(app, third, a["id"]).sharer == "seller:7"


@pytest.mark.parametrize(
    "share, status, code",
    [
        # well-formed requests whose custom_params hold no usable JSON object: 422
        ({"custom_params": "{sharer: zhang"}, 422, "CUSTOM_PARAMS_NOT_JSON"),
        ({"custom_params": "seller-zhang"}, 422, "CUSTOM_PARAMS_NOT_JSON"),
        ({"custom_params": '["seller-zhang"]'}, 422, "CUSTOM_PARAMS_NOT_JSON"),
        ({"custom_params": "%7Bbroken"}, 422, "CUSTOM_PARAMS_NOT_JSON"),
        (
            {"custom_params": json.dumps({"sharer": "z", "x": "好" * 600}, ensure_ascii=False)},
            422,
            "CUSTOM_PARAMS_TOO_LONG",
        ),
        ({"custom_params": {"sharer": "z", "x": ["好"] * 200}}, 422, "CUSTOM_PARAMS_TOO_LONG"),
        ({"custom_params": {"sharer": "z" * 65}}, 422, "INVALID_SHARER"),
        ({"custom_params": {"sharer": ["z"]}}, 422, "INVALID_SHARER"),
        ({"custom_params": {"sharer": "a\nb"}}, 422, "INVALID_SHARER"),
        ({"custom_params": {"sharer": "z", "channel": "c" * 33}}, 422, "INVALID_CHANNEL"),
        ({"custom_params": {"seller_id": "7"}}, 422, "INVALID_SELLER_ID"),
        # the wrong shape: the schema refuses it
        ({"custom_params": 42}, 400, "VALIDATION_ERROR"),
        ({"custom_params": None}, 400, "VALIDATION_ERROR"),
        ({"custom_params": "x" * (12 * 512 + 1)}, 400, "VALIDATION_ERROR"),
        ({"share_openid": "o_<script>"}, 400, "VALIDATION_ERROR"),
        ({"share_openid": "o" * 65}, 400, "VALIDATION_ERROR"),
        ({"room_id": "第一场"}, 400, "VALIDATION_ERROR"),
        ({"room_id": -1}, 400, "VALIDATION_ERROR"),
        ({"room_id": True}, 400, "VALIDATION_ERROR"),
    ],
)
def test_bad_share_parameters_are_refused(app, client, sandbox, rooms, share, status, code):
    shopper = viewer(client, sandbox, "o-bad-share")
    res = enter(shopper, rooms["a"]["id"], **share)
    assert res.status_code == status and res.json["code"] == code, res.json
    assert res.json["message"] and not res.json["message"].isascii()
    assert entry_of(app, shopper, rooms["a"]["id"]) is None


def test_share_parameters_of_another_room_or_no_room(app, client, sandbox, rooms):
    shopper = viewer(client, sandbox, "o-elsewhere")
    wrong = enter(shopper, rooms["a"]["id"], room_id=rooms["b"]["external"], custom_params=ZHANG)
    assert wrong.status_code == 422 and wrong.json["code"] == "SHARE_OTHER_ROOM"
    assert entry_of(app, shopper, rooms["a"]["id"]) is None
    missing = enter(shopper, rooms["b"]["id"] + 100, custom_params=ZHANG)
    assert missing.status_code == 404 and missing.json["code"] == "LIVE_ROOM_NOT_FOUND"
    assert client.post(f"/api/v1/live/rooms/{rooms['a']['id']}/entries", json={}).status_code == 401


# -- orders keep the sharer -------------------------------------------------------------------


def test_comment_claims_are_credited_to_the_sharer_of_that_room_only(
    app, client, sandbox, staff_client, rooms, store
):
    a, b = rooms["a"], rooms["b"]
    zhang_brought = viewer(client, sandbox, "o-zhang-fan")
    friend_brought = viewer(client, sandbox, "o-friends-friend")
    came_alone = viewer(client, sandbox, "o-alone")
    never_entered = viewer(client, sandbox, "o-no-entry")
    enter(zhang_brought, a["id"], room_id=a["external"], custom_params=ZHANG)
    enter(friend_brought, a["id"], share_openid="o_friend_1")
    enter(came_alone, a["id"])

    zhang_order = claim_by_comment(app, zhang_brought, a["id"], "1号要2份")
    assert (zhang_order.live_room_id, zhang_order.sharer) == (a["id"], "seller-zhang")
    friend_order = claim_by_comment(app, friend_brought, a["id"])
    assert friend_order.sharer == "o_friend_1"
    alone_order = claim_by_comment(app, came_alone, a["id"])
    unpaid = claim_by_comment(app, never_entered, a["id"])
    assert alone_order.sharer is None and unpaid.sharer is None
    for shopper, order in (
        (zhang_brought, zhang_order),
        (friend_brought, friend_order),
        (came_alone, alone_order),
    ):
        pay(shopper, order.id)

    # Brought to room A by 张, the same viewer buys in room B on their own.
    in_b = claim_by_comment(app, zhang_brought, b["id"])
    assert (in_b.live_room_id, in_b.sharer) == (b["id"], None)
    pay(zhang_brought, in_b.id)

    xl = 13800
    found = report(staff_client, a["id"])
    zhang_total, one_total = 2 * xl + 2800, xl + 2200  # goods and shipping to 山东
    assert rows(found) == {
        "seller-zhang": (1, 1, 2, zhang_total),
        "o_friend_1": (1, 1, 1, one_total),
        "自然流量": (1, 1, 1, one_total),
    }
    assert [row["name"] for row in found["items"]][-1] == "自然流量"
    assert found["totals"] == {
        "viewers": 3,
        "orders": 3,
        "units": 4,
        "gmv": zhang_total + 2 * one_total,
    }
    assert rows(report(staff_client, b["id"])) == {"自然流量": (0, 1, 1, 9800 + 2200)}

    with app.app_context():  # the show summary counts the same orders
        figures = summary.live_figures(db.session, a["id"])
        assert figures["paid_orders"] == 3 and figures["gmv"] == found["totals"]["gmv"]
        assert figures["sharers"] == found["items"]
        text = summary.summary_text(figures)
        db.session.remove()
    assert f"成交来源：seller-zhang 1单 {zhang_total / 100:.2f}元；" in text
    assert text.rstrip().splitlines()[-2].endswith(f"自然流量 1单 {one_total / 100:.2f}元")


def test_a_flash_claim_carries_the_share_of_its_own_room(
    app, client, sandbox, staff_client, rooms, store
):
    a, b = rooms["a"], rooms["b"]
    sale = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-XL-5"],
            "units": 10,
            "price": 9900,
            "seconds": 600,
            "per_person_limit": 2,
            "room_id": a["id"],
        },
    ).json
    shopper = viewer(client, sandbox, "o-flash")
    url = f"/api/v1/flash-sales/{sale['id']}/claims"

    def claim(**body):
        return shopper.post(
            url,
            json={"quantity": 1, "address": ADDRESS, **body},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    other_room = claim(share={"room_id": b["external"], "custom_params": ZHANG})
    assert other_room.status_code == 422 and other_room.json["code"] == "SHARE_OTHER_ROOM"
    not_json = claim(share={"room_id": a["external"], "custom_params": "seller-zhang"})
    assert not_json.status_code == 422 and not_json.json["code"] == "CUSTOM_PARAMS_NOT_JSON"
    assert entry_of(app, shopper, a["id"]) is None and entry_of(app, shopper, b["id"]) is None

    won = claim(share={"room_id": a["external"], "custom_params": {"sharer": "host-li"}})
    assert won.status_code == 202, won.json
    run_jobs(app)
    [order] = orders_of(app, shopper)
    assert (order.live_room_id, order.sharer, order.flash_sale_id) == (
        a["id"],
        "host-li",
        sale["id"],
    )
    shopper.confirm_payment(shopper.pay(order.id))
    assert rows(report(staff_client, a["id"]))["host-li"] == (1, 1, 1, 9900 + 2200)

    # A claim without share parameters takes the sharer the viewer entered with.
    second = viewer(client, sandbox, "o-flash-2")
    enter(second, a["id"], custom_params=ZHANG)
    bare = second.post(url, json={"quantity": 1}, headers={"Idempotency-Key": uuid.uuid4().hex})
    assert bare.status_code == 202, bare.json
    run_jobs(app)
    assert orders_of(app, second)[0].sharer == "seller-zhang"

    outside = staff_client.post(
        "/console/api/flash-sales",
        json={
            "sku_id": store["RS-LIVE-L-5"],
            "units": 5,
            "price": 5900,
            "seconds": 600,
            "per_person_limit": 2,
        },
    ).json
    no_room = shopper.post(
        f"/api/v1/flash-sales/{outside['id']}/claims",
        json={"quantity": 1, "share": {"custom_params": ZHANG}},
        headers={"Idempotency-Key": uuid.uuid4().hex},
    )
    assert no_room.status_code == 422 and no_room.json["code"] == "SHARE_OTHER_ROOM"


def test_an_order_from_a_rooms_product_card_is_credited_once(
    app, client, sandbox, staff_client, rooms, store
):
    a = rooms["a"]
    shopper = viewer(client, sandbox, "o-card")
    xl, large = store["RS-LIVE-XL-5"], store["RS-LIVE-L-5"]
    share = {"room_id": a["external"], "custom_params": ZHANG}
    placed = shopper.order([(xl, 1)], key="card-order-1", share=share)
    assert placed.status_code == 201, placed.json
    assert "sharer" not in placed.json  # the buyer is not told whom they were credited to
    replay = shopper.order(
        [(xl, 1)], key="card-order-1", share={**share, "custom_params": {"sharer": "seller-wang"}}
    )
    assert replay.status_code == 200 and replay.json["id"] == placed.json["id"]
    [order] = orders_of(app, shopper)
    assert (order.live_room_id, order.sharer) == (a["id"], "seller-zhang")

    # 大 is on room B's shelf, not A's: the order is not room A's to credit.
    elsewhere = shopper.order([(large, 1)], share=share)
    assert elsewhere.status_code == 422 and elsewhere.json["code"] == "SHARE_OTHER_ROOM"
    no_room = shopper.order([(xl, 1)], share={"custom_params": ZHANG})
    assert no_room.status_code == 400 and "room_id" in no_room.json["details"]["json"]["share"]
    unknown = shopper.order([(xl, 1)], share={"room_id": "999999", "custom_params": ZHANG})
    assert unknown.status_code == 404 and unknown.json["code"] == "LIVE_ROOM_NOT_FOUND"
    too_long = shopper.order(
        [(xl, 1)], share={"room_id": a["external"], "custom_params": "x" * 513}
    )
    assert too_long.status_code == 422 and too_long.json["code"] == "CUSTOM_PARAMS_TOO_LONG"
    assert len(orders_of(app, shopper)) == 1
    plain = shopper.order([(large, 1)])  # no share: a store order, no room
    assert plain.status_code == 201
    assert (orders_of(app, shopper)[-1].live_room_id, orders_of(app, shopper)[-1].sharer) == (
        None,
        None,
    )


# -- the host's report -------------------------------------------------------------------------


def test_the_report_as_csv_and_on_the_room_page(
    app, client, sandbox, staff_client, console_as, rooms
):
    a = rooms["a"]
    shopper = viewer(client, sandbox, "o-csv")
    enter(shopper, a["id"], custom_params={"sharer": '=HYPERLINK("http://x")'})
    order = claim_by_comment(app, shopper, a["id"])
    pay(shopper, order.id)

    res = staff_client.get(f"/console/api/live/rooms/{a['id']}/sharers.csv")
    assert res.status_code == 200 and res.mimetype == "text/csv"
    assert "attachment" in res.headers["Content-Disposition"]
    body = res.get_data().decode("utf-8")
    assert body.startswith("\ufeff")
    table = list(csv.reader(io.StringIO(body.removeprefix("\ufeff"))))
    assert table[0] == ["分享者", "带来观众", "支付订单", "件数", "成交额（元）"]
    assert table[1] == ['\'=HYPERLINK("http://x")', "1", "1", "1", "160.00"]
    assert table[2] == ["自然流量", "0", "0", "0", "0.00"]
    assert table[3] == ["合计", "1", "1", "1", "160.00"]

    other_host = console_as("host")
    refused = other_host.get(f"/console/api/live/rooms/{a['id']}/sharers")
    assert refused.status_code == 403 and refused.json["code"] == "NOT_YOUR_ROOM"
    assert other_host.get(f"/console/api/live/rooms/{a['id']}/sharers.csv").status_code == 403
    assert client.get(f"/console/api/live/rooms/{a['id']}/sharers").status_code == 401

    with app.test_request_context():
        html = render_template(
            "console/_live_sharers.html", room={"id": a["id"]}, **section_context(a["id"])
        )
        db.session.remove()
    assert "=HYPERLINK(&#34;http://x&#34;)" in html and "¥160.00" in html
    assert "自然流量" in html and f"/console/api/live/rooms/{a['id']}/sharers.csv" in html
