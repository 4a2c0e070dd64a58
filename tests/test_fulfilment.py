"""The warehouse end to end against the stand-ins: a paid order is waved at the cut-off, picked
by lot, packed with its trace codes, labelled by the courier (快递100 sandbox), shipped with
WeChat told (shipping information, funds released after receipt) and tracked to the door by
signed pushes; a seller's platform order ships the same way and its tracking reaches the
platform; and every wrong scan, push or state is refused without losing anything."""

import csv
import io
from datetime import UTC, datetime, timedelta

import requests

from backend.extensions import db
from backend.fulfilment import service as fulfilment
from backend.fulfilment.models import BuyerMessage
from backend.orders.models import Order
from backend.timeutil import to_naive_utc
from tests.helpers import ADDRESS, print_run, run_codes, run_jobs, sku_stock, wait_for
from tests.test_console_pages import TOKEN

SKU = "RS-LIVE-XL-5"


def _wave(staff_client) -> dict:
    res = staff_client.post("/console/api/waves", json={})
    assert res.status_code == 201, res.json
    return res.json


def _parcel(staff_client, number: str) -> dict:
    found = staff_client.get("/console/api/parcels", query_string={"q": number}).json
    assert found["total"] == 1, found
    return found["items"][0]


def _bind(staff_client, parcel_id: int, code: str):
    return staff_client.post(f"/console/api/parcels/{parcel_id}/codes", json={"code": code})


def _packed_and_shipped(app, staff_client, parcel_id: int, codes: list[str]) -> dict:
    for code in codes:
        assert _bind(staff_client, parcel_id, code).status_code == 201
    packed = staff_client.post(f"/console/api/parcels/{parcel_id}/packed", json={})
    assert packed.status_code == 200 and packed.json["status"] == "PACKED", packed.json
    run_jobs(app)  # the waybill, then WeChat's shipping information and the buyer's message
    shipped = staff_client.get(f"/console/api/parcels/{parcel_id}").json
    assert shipped["status"] == "SHIPPED", (shipped["waybill_error"], shipped)
    return shipped


def _courier(sandbox, tracking_no: str, event: str, **extra) -> dict:
    res = requests.post(
        f"{sandbox.url}/sandbox/courier/waybills/{tracking_no}/events",
        json={"event": event, **extra},
        timeout=10,
    )
    assert res.status_code == 200, res.text
    return res.json()


def _shipping_order(sandbox, number: str) -> dict:
    orders = requests.get(f"{sandbox.url}/sandbox/wx/shipping/orders", timeout=5).json()
    return next(o for o in orders["orders"] if o["out_trade_no"] == number)


def _timeline(staff_client, parcel_id: int) -> list[str]:
    found = staff_client.get(f"/console/api/parcels/{parcel_id}").json["timeline"]
    return [step["what"] for step in found]


def _grant(sandbox, openid: str, *templates: str) -> None:
    """The buyer ticked "always allow" for these messages in the mini-program."""
    for template in templates:
        requests.post(
            f"{sandbox.url}/sandbox/wx/subscriptions",
            json={"openid": openid, "template_id": template, "count": 5},
            timeout=5,
        ).raise_for_status()


def _messages(sandbox, openid: str) -> list[str]:
    found = requests.get(
        f"{sandbox.url}/sandbox/wx/messages", params={"touser": openid}, timeout=5
    ).json()["messages"]
    return sorted(message["template_id"] for message in found)


def test_a_paid_order_goes_from_the_cut_off_to_the_door(
    app, sandbox, shopper, staff_client, store, store_seller, client
):
    _grant(sandbox, shopper.openid, "TPL_ORDER_SHIPPED", "TPL_ORDER_DELIVERED")
    requests.post(  # the mini-program's message push (消息推送) points at us
        f"{sandbox.url}/sandbox/wx/shipping/config",
        json={"message_url": app.config["PUBLIC_BASE_URL"] + "/callbacks/wxa/messages"},
        timeout=5,
    ).raise_for_status()
    order = shopper.buy([(store[SKU], 2)])
    wave = _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    assert (parcel["wave_id"], parcel["units"], parcel["channel"]) == (wave["id"], 2, "MINIPROGRAM")
    picks = staff_client.get(f"/console/api/waves/{wave['id']}/pick-list").json["items"]
    assert [(p["lot_id"], p["units"]) for p in picks] == [(store_seller["lot_id"], 2)]

    codes = run_codes(app, print_run(staff_client, store_seller, quantity=3).json["id"])
    shipped = _packed_and_shipped(app, staff_client, parcel["id"], codes[:2])
    assert shipped["carrier"] == "SF" and shipped["tracking_no"]
    assert shipped["wechat_uploaded_at"] is not None
    mine = shopper.get(f"/api/v1/orders/{order['id']}").json
    assert mine["status"] == "SHIPPED" and mine["tracking_no"] == shipped["tracking_no"]
    wechat = _shipping_order(sandbox, order["number"])
    assert wechat["order_state"] == 2 and wechat["funds_frozen"] is True

    # The package's code now says it was sold, with the lot's chain.
    scanned = client.get(f"/api/v1/trace/{codes[0]}").json
    assert scanned["sold"]["message"].startswith("已售出，请核对")
    assert scanned["lot"]["code"] and scanned["verdict"] == "GENUINE"
    assert client.get(f"/api/v1/trace/{codes[2]}").json["sold"] is None  # never packed

    tracking_no = shipped["tracking_no"]
    for event in ("collected", "in_transit", "out_for_delivery"):
        _courier(sandbox, tracking_no, event)
    assert shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "SHIPPED"
    _courier(sandbox, tracking_no, "delivered")
    delivered = shopper.get(f"/api/v1/orders/{order['id']}").json
    assert delivered["status"] == "DELIVERED" and delivered["delivered_at"]
    tracking = shopper.get(f"/api/v1/orders/{order['id']}/tracking").json
    assert tracking["status"] == "DELIVERED" and tracking["tracking_no"] == tracking_no
    assert [e["state"] for e in tracking["events"]] == [
        "DELIVERED",
        "OUT_FOR_DELIVERY",
        "IN_TRANSIT",
        "COLLECTED",
    ]
    assert tracking["doa_claim_until"] > tracking["delivered_at"]

    # WeChat settles the funds after the buyer confirms receipt there.
    requests.post(
        f"{sandbox.url}/sandbox/wx/shipping/confirm",
        json={"out_trade_no": order["number"]},
        timeout=5,
    ).raise_for_status()
    requests.post(
        f"{sandbox.url}/sandbox/wx/shipping/advance", json={"seconds": 2 * 86400}, timeout=5
    ).raise_for_status()
    settled = _shipping_order(sandbox, order["number"])
    assert settled["order_state"] == 4 and settled["funds_frozen"] is False
    wait_for(lambda: "WECHAT_SETTLED" in _timeline(staff_client, parcel["id"]), timeout=15)

    run_jobs(app)
    assert _messages(sandbox, shopper.openid).count("TPL_ORDER_SHIPPED") == 1
    assert _messages(sandbox, shopper.openid).count("TPL_ORDER_DELIVERED") == 1
    timeline = _timeline(staff_client, parcel["id"])
    for step in ("CREATED", "PAID", "PACKED", "SHIPPED", "COURIER_DELIVERED", "DELIVERED"):
        assert step in timeline


def test_dead_on_arrival_counts_from_delivery_not_from_shipping(
    app, sandbox, shopper, staff_client, store, store_seller
):
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    codes = run_codes(app, print_run(staff_client, store_seller, quantity=1).json["id"])
    shipped = _packed_and_shipped(app, staff_client, parcel["id"], codes)
    hours = app.config["DOA_CLAIM_HOURS"]
    with app.app_context():  # shipped long ago, delivered only now (a slow cold chain)
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(shipped_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours + 5))
        )
        db.session.commit()
    _courier(sandbox, shipped["tracking_no"], "delivered")
    item_id = shopper.get(f"/api/v1/orders/{order['id']}").json["items"][0]["id"]
    claim = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={
            "type": "DEAD_ON_ARRIVAL",
            "reason": "到货有死的",
            "photos": shopper.photo_keys(1),
            "dead_count": 2,
            "order_item_id": item_id,
        },
    )
    assert claim.status_code == 201, claim.json
    mine = shopper.get("/api/v1/after-sales").json
    assert mine["total"] == 1 and mine["items"][0]["type"] == "DEAD_ON_ARRIVAL"
    # Staff see it on the after-sales desk, with the courier's and the lot's claim rates, and
    # decide it there.
    desk = staff_client.get("/console/after-sales")
    page = desk.get_data(as_text=True)
    assert desk.status_code == 200 and "死货理赔" in page and order["number"] in page
    assert "100.0%" in page  # one SF parcel shipped, one claim
    token = TOKEN.search(page).group(1)
    decided = staff_client.post(
        f"/console/after-sales/{claim.json['id']}/decision",
        data={"csrf_token": token, "decision": "approve", "note": "已核实"},
    )
    assert decided.status_code == 302
    run_jobs(app, "default")  # submits the refund; the sandbox then notifies REFUND.SUCCESS
    refunded = wait_for(
        lambda: (
            (case := shopper.get("/api/v1/after-sales").json["items"][0])["status"] == "REFUNDED"
            and case
        )
    )
    assert refunded["staff_note"] == "已核实"

    with app.app_context():  # the window closes DOA_CLAIM_HOURS after the delivered scan
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(
                delivered_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(hours=hours + 1)
            )
        )
        db.session.commit()
    late = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={
            "type": "DEAD_ON_ARRIVAL",
            "reason": "又发现死的",
            "photos": shopper.photo_keys(1),
            "dead_count": 1,
            "order_item_id": item_id,
        },
    )
    assert late.status_code == 422 and late.json["code"] == "DOA_WINDOW_CLOSED"


def test_wrong_codes_are_refused_at_the_packing_station(
    app, shopper, other_shopper, staff_client, store, store_seller
):
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    mine = run_codes(app, print_run(staff_client, store_seller, quantity=2).json["id"])
    from backend.sellers import service as sellers

    with app.app_context():
        other = sellers.create_seller(db.session, name="另一家卖家")
        db.session.commit()
        from backend.catalogue.models import Product

        sellers.grant_licence(
            db.session,
            seller_id=other.id,
            product_ids=list(db.session.scalars(db.select(Product.id))),
            valid_from=sellers.today(),
            valid_until=sellers.today() + timedelta(days=30),
            staff_id=None,
        )
        other_id = other.id
    theirs = run_codes(
        app, print_run(staff_client, {**store_seller, "seller_id": other_id}, quantity=1).json["id"]
    )
    wrong_lot = run_codes(
        app,
        print_run(
            staff_client, {**store_seller, "lot_id": _lot_of(app, store["RS-LIVE-L-5"])}, quantity=1
        ).json["id"],
    )
    unknown = _bind(staff_client, parcel["id"], "ABCDEFGHJKMNPQRSTVWXYZ2345")
    assert unknown.status_code == 404 and unknown.json["code"] == "TRACE_CODE_NOT_FOUND"
    assert _bind(staff_client, parcel["id"], theirs[0]).json["code"] == "CODE_WRONG_SELLER"
    assert _bind(staff_client, parcel["id"], wrong_lot[0]).json["code"] == "CODE_WRONG_LOT"
    too_early = staff_client.post(f"/console/api/parcels/{parcel['id']}/packed", json={})
    assert too_early.status_code == 422 and too_early.json["code"] == "CODES_MISSING"
    spaced = f"{mine[0][:4]}-{mine[0][4:8]} {mine[0][8:]}".lower()  # as a person types it
    assert _bind(staff_client, parcel["id"], spaced).status_code == 201
    again = _bind(staff_client, parcel["id"], mine[0])
    assert again.status_code == 409 and again.json["code"] == "CODE_ALREADY_BOUND"
    more = _bind(staff_client, parcel["id"], mine[1])
    assert more.status_code == 422 and more.json["code"] == "CODES_EXCEED_UNITS"
    # A second order cannot take a code already on a parcel either.
    second = other_shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    other_parcel = _parcel(staff_client, second["number"])
    taken = _bind(staff_client, other_parcel["id"], mine[0])
    assert taken.status_code == 409 and taken.json["details"]["parcel_id"] == parcel["id"]


def _lot_of(app, sku_id: int) -> int:
    from backend.inventory.models import Lot

    with app.app_context():
        return db.session.scalar(db.select(Lot.id).where(Lot.sku_id == sku_id))


def test_a_refunded_order_never_ships(app, shopper, staff_client, store, store_seller):
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    refund = shopper.post(
        f"/api/v1/orders/{order['id']}/after-sales",
        json={"type": "REFUND_ONLY", "reason": "不想要了", "photos": []},
    )
    assert refund.status_code == 201, refund.json
    codes = run_codes(app, print_run(staff_client, store_seller, quantity=1).json["id"])
    refused = _bind(staff_client, parcel["id"], codes[0])
    assert refused.status_code == 409 and refused.json["code"] == "ORDER_NOT_SHIPPABLE"
    assert _parcel(staff_client, order["number"])["status"] == "STOPPED"
    with app.app_context():
        assert db.session.get(Order, order["id"]).shipped_at is None


def test_the_courier_down_during_a_wave_loses_and_doubles_nothing(
    app, sandbox, shopper, staff_client, store, store_seller
):
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    codes = run_codes(app, print_run(staff_client, store_seller, quantity=1).json["id"])
    assert _bind(staff_client, parcel["id"], codes[0]).status_code == 201
    requests.post(f"{sandbox.url}/sandbox/courier/faults", json={"down": "http_502"}, timeout=5)
    assert (
        staff_client.post(f"/console/api/parcels/{parcel['id']}/packed", json={}).status_code == 200
    )
    run_jobs(app)  # the waybill job fails and waits for its retry
    assert _parcel(staff_client, order["number"])["status"] == "PACKED"
    requests.delete(f"{sandbox.url}/sandbox/courier/faults", timeout=5)
    with app.app_context():  # the retry comes (its delay is rq's; here it runs at once)
        fulfilment.label_parcel(db.session, parcel["id"])
        fulfilment.label_parcel(db.session, parcel["id"])  # and a duplicated job
    shipped = _parcel(staff_client, order["number"])
    assert shipped["status"] == "SHIPPED"
    waybills = requests.get(f"{sandbox.url}/sandbox/courier/waybills", timeout=5).json()["waybills"]
    assert [w["number"] for w in waybills] == [shipped["tracking_no"]]


def test_courier_pushes_are_checked_and_taken_once_in_any_order(
    app, sandbox, shopper, staff_client, store, store_seller
):
    _grant(sandbox, shopper.openid, "TPL_ORDER_DELIVERED")
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    codes = run_codes(app, print_run(staff_client, store_seller, quantity=1).json["id"])
    tracking_no = _packed_and_shipped(app, staff_client, parcel["id"], codes)["tracking_no"]
    faults = f"{sandbox.url}/sandbox/courier/faults"
    requests.post(faults, json={"push_bad_sign": True}, timeout=5).raise_for_status()
    forged = _courier(sandbox, tracking_no, "collected")
    assert forged["deliveries"] and all(d["status"] != 200 for d in forged["deliveries"])
    assert _parcel(staff_client, order["number"])["courier_state"] is None
    requests.delete(faults, timeout=5)
    requests.post(
        faults, json={"push_copies": 3, "push_out_of_order": True}, timeout=5
    ).raise_for_status()
    _courier(sandbox, tracking_no, "in_transit")
    _courier(sandbox, tracking_no, "delivered")  # then the older in-transit push again
    seen = _parcel(staff_client, order["number"])
    assert (seen["status"], seen["courier_state"]) == ("DELIVERED", "DELIVERED")
    with app.app_context():
        events = fulfilment.parcel_events(db.session, parcel["id"])
        assert sorted(e.state for e in events) == ["COLLECTED", "DELIVERED", "IN_TRANSIT"]
        assert db.session.get(Order, order["id"]).status == "DELIVERED"
    run_jobs(app)
    assert _messages(sandbox, shopper.openid).count("TPL_ORDER_DELIVERED") == 1


def _douyin_order(app, client, sandbox, staff_client, seller_id: int, *, self_fulfilled=False):
    """A paid Douyin order of 2 large live oysters from a shop of the seller, pulled."""
    from tests.test_platform_orders import Platform, pull, register

    token = staff_client.post(f"/console/api/sellers/{seller_id}/api-tokens", json={}).json
    seller = {"id": seller_id, "headers": {"Authorization": f"Bearer {token['token']}"}}
    douyin = Platform(sandbox, "douyin")
    shop = register(client, seller, douyin, "douyin-shop-9")
    if self_fulfilled:
        res = staff_client.put(
            f"/console/api/shops/{shop['id']}/self-fulfilled", json={"self_fulfilled": True}
        )
        assert res.status_code == 200 and res.json["self_fulfilled"] is True
    order_no = douyin.order("douyin-shop-9", "PAID")
    assert pull(app, shop["id"])["orders"] == 1
    return douyin, order_no


def test_a_platform_order_ships_from_the_warehouse_and_its_tracking_reaches_the_platform(
    app, client, sandbox, staff_client, store, store_seller
):
    douyin, order_no = _douyin_order(app, client, sandbox, staff_client, store_seller["seller_id"])
    _wave(staff_client)
    parcel = _parcel(staff_client, order_no)
    assert (parcel["channel"], parcel["units"]) == ("DOUYIN", 2)
    assert parcel["seller_id"] == store_seller["seller_id"]
    large_lot = {**store_seller, "lot_id": _lot_of(app, store["RS-LIVE-L-5"])}
    codes = run_codes(app, print_run(staff_client, large_lot, quantity=2).json["id"])
    shipped = _packed_and_shipped(app, staff_client, parcel["id"], codes)
    assert shipped["wechat_uploaded_at"] is None  # not a WeChat payment
    run_jobs(app)
    [shipment] = douyin.shipments("douyin-shop-9")
    assert str(shipment["order_id"]) == order_no
    assert shipment["tracking_no"] == shipped["tracking_no"]
    # The seller follows it from the seller API.
    _courier(sandbox, shipped["tracking_no"], "delivered")
    token = staff_client.post(
        f"/console/api/sellers/{store_seller['seller_id']}/api-tokens", json={}
    ).json["token"]
    seen = client.get(
        f"/api/seller/v1/orders/{parcel['platform_order_id']}",
        headers={"Authorization": f"Bearer {token}"},
    ).json
    assert seen["tracking_no"] == shipped["tracking_no"] and seen["written_back"] is True
    assert seen["warehouse"]["status"] == "DELIVERED"
    assert seen["warehouse"]["events"][0]["state"] == "DELIVERED"


def test_a_self_fulfilled_shop_takes_no_alliance_stock_and_stays_off_the_desk(
    app, client, sandbox, staff_client, store, store_seller
):
    large = store["RS-LIVE-L-5"]
    before = sku_stock(app, large)
    _, order_no = _douyin_order(
        app, client, sandbox, staff_client, store_seller["seller_id"], self_fulfilled=True
    )
    assert sku_stock(app, large) == before
    with app.app_context():
        assert fulfilment.admit(db.session) == 0
    listed = staff_client.get("/console/api/parcels", query_string={"q": order_no}).json
    assert listed["total"] == 0


def test_paid_at_13_50_is_in_the_14_00_wave_and_14_05_waits_for_the_next(
    app, shopper, other_shopper, store, store_seller
):
    from backend.timeutil import SHANGHAI

    early = shopper.buy([(store[SKU], 1)])
    late = other_shopper.buy([(store[SKU], 1)])
    today = datetime.now(SHANGHAI).date() - timedelta(days=1)
    cutoff = to_naive_utc(datetime.combine(today, datetime.min.time(), SHANGHAI).replace(hour=14))
    with app.app_context():
        for order, minutes in ((early, -10), (late, 5)):
            db.session.execute(
                db.update(Order)
                .where(Order.id == order["id"])
                .values(paid_at=cutoff + timedelta(minutes=minutes))
            )
        db.session.commit()
        wave = fulfilment.form_due_wave(db.session, cutoff + timedelta(seconds=30))
        again = fulfilment.form_due_wave(db.session, cutoff + timedelta(minutes=1))
        assert wave.number.endswith("-1400") and again.id == wave.id
        assert fulfilment.parcel_by_number(db.session, early["number"]).wave_id == wave.id
        assert fulfilment.parcel_by_number(db.session, late["number"]).wave_id is None
        tomorrow = fulfilment.form_due_wave(db.session, cutoff + timedelta(days=1, minutes=1))
        assert tomorrow.id != wave.id
        assert fulfilment.parcel_by_number(db.session, late["number"]).wave_id == tomorrow.id


def test_buyer_messages_go_once(app, sandbox, shopper, staff_client, store, store_seller):
    from backend.fulfilment import notify

    order = shopper.buy([(store[SKU], 1)])
    _grant(sandbox, shopper.openid, "TPL_ORDER_SHIPPED")
    with app.app_context():
        assert notify.tell_buyer(db.session, order_id=order["id"], kind="SHIPPED") == "sent"
        assert notify.tell_buyer(db.session, order_id=order["id"], kind="SHIPPED") == "already"
        assert db.session.scalar(db.select(db.func.count()).select_from(BuyerMessage)) == 1
    assert _messages(sandbox, shopper.openid).count("TPL_ORDER_SHIPPED") == 1


def _shipped_order(app, shopper, staff_client, store, store_seller) -> tuple[dict, dict]:
    order = shopper.buy([(store[SKU], 1)])
    _wave(staff_client)
    parcel = _parcel(staff_client, order["number"])
    codes = run_codes(app, print_run(staff_client, store_seller, quantity=1).json["id"])
    return order, _packed_and_shipped(app, staff_client, parcel["id"], codes)


def _alerts(app, kind: str) -> list:
    from backend.staff.models import StaffAlert

    with app.app_context():
        return list(db.session.scalars(db.select(StaffAlert).where(StaffAlert.kind == kind)))


def test_a_delivery_problem_alerts_staff_and_tells_the_buyer(
    app, sandbox, shopper, staff_client, store, store_seller
):
    _grant(sandbox, shopper.openid, "TPL_DELIVERY_TROUBLE")
    order, shipped = _shipped_order(app, shopper, staff_client, store, store_seller)
    _courier(sandbox, shipped["tracking_no"], "collected")
    _courier(sandbox, shipped["tracking_no"], "difficult")
    [alert] = _alerts(app, "DELIVERY_TROUBLE")
    assert order["number"] in alert.title and "派送异常" in alert.title
    run_jobs(app)
    assert _messages(sandbox, shopper.openid).count("TPL_DELIVERY_TROUBLE") == 1
    assert shopper.get(f"/api/v1/orders/{order['id']}").json["status"] == "SHIPPED"


def test_wechat_busy_is_retried_and_a_refusal_is_kept_for_staff(
    app, sandbox, shopper, other_shopper, staff_client, store, store_seller
):
    faults = f"{sandbox.url}/sandbox/wx/shipping/faults"
    requests.post(faults, json={"busy_errcode": 10060012, "busy_times": 1}, timeout=5)
    order, shipped = _shipped_order(app, shopper, staff_client, store, store_seller)
    assert shipped["wechat_uploaded_at"] is None  # the busy answer: the job waits for its retry
    with app.app_context():
        parcel_id = fulfilment.parcel_by_number(db.session, order["number"]).id
        assert fulfilment.upload_shipping(db.session, parcel_id) is True  # the retry
        assert fulfilment.upload_shipping(db.session, parcel_id) is False  # nothing twice
    assert _shipping_order(sandbox, order["number"])["order_state"] == 2
    # A payer WeChat does not know for the payment: refused for good, staff told.
    second, _ = _shipped_order(app, other_shopper, staff_client, store, store_seller)
    from backend.customers.models import Customer

    with app.app_context():
        row = fulfilment.parcel_by_number(db.session, second["number"])
        customer_id = db.session.get(Order, row.order_id).customer_id
        db.session.execute(
            db.update(Customer).where(Customer.id == customer_id).values(openid="o_someone_else")
        )
        db.session.execute(
            db.update(type(row)).where(type(row).id == row.id).values(wechat_uploaded_at=None)
        )
        db.session.commit()
        assert fulfilment.upload_shipping(db.session, row.id) is False
        db.session.refresh(row)
        assert row.wechat_error.startswith("10060031")
    assert _alerts(app, "WECHAT_SHIPPING_REFUSED")


def test_delivery_sets_the_exact_auto_confirm(
    app, sandbox, shopper, staff_client, store, store_seller
):
    order, shipped = _shipped_order(app, shopper, staff_client, store, store_seller)
    _courier(sandbox, shipped["tracking_no"], "delivered")
    from backend.orders import service as orders

    with app.app_context():
        assert orders.confirm_delivered(db.session, order_id=order["id"]) is False  # not due
        days = app.config["AUTO_CONFIRM_DAYS"]
        db.session.execute(
            db.update(Order)
            .where(Order.id == order["id"])
            .values(delivered_at=datetime.now(UTC).replace(tzinfo=None) - timedelta(days=days))
        )
        db.session.commit()
        assert orders.confirm_delivered(db.session, order_id=order["id"]) is True
        assert db.session.get(Order, order["id"]).status == "COMPLETED"
    queued = app.extensions["heli_redis"].zrange("rq:scheduled:default", 0, -1)
    assert f"confirm-order-{order['id']}".encode() in queued


def test_a_tracking_number_ships_one_order(app, shopper, other_shopper, staff_client, store):
    first = shopper.buy([(store[SKU], 1)])
    second = other_shopper.buy([(store[SKU], 1)])
    body = {"carrier": "SF", "tracking_no": "SF1000000001"}
    assert (
        staff_client.post(f"/console/api/orders/{first['id']}/ship", json=body).status_code == 200
    )
    again = staff_client.post(f"/console/api/orders/{second['id']}/ship", json=body)
    assert again.status_code == 409 and again.json["code"] == "TRACKING_NO_USED"
    unpaid = shopper.order([(store[SKU], 1)]).json
    refused = staff_client.post(
        f"/console/api/orders/{unpaid['id']}/ship", json={**body, "tracking_no": "SF1000000002"}
    )
    assert refused.status_code == 409 and refused.json["code"] == "ORDER_NOT_SHIPPABLE"


def test_forged_or_unsigned_message_pushes_change_nothing(app, client, shopper, store):
    order = shopper.buy([(store[SKU], 1)])
    push = {
        "Event": "trade_manage_order_settlement",
        "merchant_trade_no": order["number"],
        "settlement_time": 1796600000,
    }
    forged = client.post(
        "/callbacks/wxa/messages?signature=abc&timestamp=1796600000&nonce=1", json=push
    )
    assert forged.status_code == 403
    check = client.get("/callbacks/wxa/messages?echostr=x")
    assert check.status_code == 403
    with app.app_context():
        from backend.orders.models import OrderEvent

        kinds = set(db.session.scalars(db.select(OrderEvent.kind)))
    assert "WECHAT_SETTLED" not in kinds


def test_the_desk_downloads_as_csv_and_a_formula_for_a_name_stays_text(
    shopper, staff_client, store, store_seller
):
    address = {**ADDRESS, "name": "=1+2"}  # a buyer's own words
    placed = shopper.order([(store[SKU], 1)], address=address)
    assert placed.status_code == 201, placed.json
    shopper.confirm_payment(shopper.pay(placed.json["id"]))
    _wave(staff_client)
    download = staff_client.get("/console/fulfilment?format=csv")
    assert (
        download.mimetype == "text/csv"
        and "fulfilment.csv" in download.headers["Content-Disposition"]
    )
    text = download.get_data(as_text=True)
    assert text.startswith("\ufeff")  # Excel reads the Chinese right with it
    table = list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))
    assert table[0][:6] == ["订单号", "渠道", "状态", "商品", "件数", "收件人"]
    [row] = [line for line in table[1:] if line[0] == placed.json["number"]]
    assert row[5].startswith("'=")  # shown as text in Excel, never run as a formula
