"""The platform clients on their own: signatures, status tables, money and time conversions, and
the backward pager and error classification against a tiny fake HTTP server that answers in each
platform's shape. (The integration with the sandbox stand-ins is tested elsewhere.)"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qsl

import pytest
from flask import Flask
from werkzeug.serving import WSGIRequestHandler, make_server
from werkzeug.wrappers import Request, Response

from backend.clients.platforms import client_for, douyin, jd, pdd, taobao, youzan
from backend.clients.platforms.base import PlatformError, ShopAuth
from backend.clients.platforms.convert import (
    from_china,
    from_unix,
    md5_sign,
    to_china,
    to_fen,
    to_unix,
)
from backend.timeutil import utcnow

SECRET = "test-secret-0b1c"
KEY = "test-app-key"
SHOP = ShopAuth(shop_key="81234", access_token="tok-1", refresh_token="ref-1")
END = datetime(2025, 11, 20, 4, 0, 0)  # long past: no "live window" re-read
START = END - timedelta(minutes=20)


# ---- independent reference signing (docs/platforms.md, written out by hand) -----------------


def ref_douyin_sign(secret, app_key, method, param_json, timestamp):
    pattern = (
        secret + "app_key" + app_key + "method" + method + "param_json" + param_json
        + "timestamp" + timestamp + "v" + "2" + secret
    )  # fmt: skip
    return hmac.new(secret.encode(), pattern.encode(), hashlib.sha256).hexdigest()


def ref_md5_sign(secret, params):
    joined = "".join(k + v for k, v in sorted(params.items()) if k != "sign")
    return hashlib.md5((secret + joined + secret).encode()).hexdigest().upper()


# ---- the fake server -------------------------------------------------------------------------


@dataclass
class Call:
    path: str
    args: dict
    form: dict
    body: str


class _Quiet(WSGIRequestHandler):
    def log_request(self, *args, **kwargs):
        pass


@dataclass
class FakePlatform:
    """Records every request and answers with `answer(call)` → body | (status, body[, headers])."""

    calls: list = field(default_factory=list)
    answer: object = None

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = request.get_data(as_text=True)
        form = dict(parse_qsl(body)) if request.mimetype.endswith("urlencoded") else {}
        call = Call(request.path, dict(request.args), form, body)
        self.calls.append(call)
        result = self.answer(call)
        status, payload, headers = 200, result, {}
        if isinstance(result, tuple):
            status, payload, *rest = result
            headers = rest[0] if rest else {}
        text = payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)
        response = Response(text, status, headers, mimetype="application/json")
        return response(environ, start_response)


@pytest.fixture(scope="module")
def server():
    fake = FakePlatform()
    http = make_server("127.0.0.1", 0, fake, threaded=True, request_handler=_Quiet)
    threading.Thread(target=http.serve_forever, daemon=True).start()
    fake.url = f"http://127.0.0.1:{http.server_port}"
    yield fake
    http.shutdown()


@pytest.fixture
def fake(server):
    server.calls.clear()
    server.answer = None
    return server


# ---- each platform's shapes -----------------------------------------------------------------


def unix(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp())


class Shape:
    platform: str
    cls: type
    # what the parsed default order must say: its total in fen and its line's SKU code
    total: int = 13800
    sku_code: str = "RS-LIVE-XL-5"

    def client(self, url, **kw):
        return self.cls(url, KEY, SECRET, timeout=kw.pop("timeout", 2), **kw)

    def signed(self, call) -> bool:
        return call.form.get("sign") == ref_md5_sign(SECRET, call.form)


class Douyin(Shape):
    platform, cls = "douyin", douyin.DouyinClient
    errors = {
        "auth": (30001, "isv.access-token-expired"),
        "rate": (50002, "isv.rate-limited"),
        "sign": (40004, "isv.signature-invalid"),
        "timestamp": (40005, "isv.timestamp-invalid"),
        "param": (40003, "isv.parameter-invalid"),
        "service": (50001, "isp.service-error"),
    }

    def signed(self, call):
        a = call.args
        expected = ref_douyin_sign(SECRET, a["app_key"], a["method"], call.body, a["timestamp"])
        return a.get("sign") == expected

    def page_of(self, call):
        return json.loads(call.body)["page"] + 1

    def order(self, i, updated, status=2, refund=0):
        return {
            "order_id": f"69{i:016d}", "order_status": status, "order_status_desc": "备货中",
            "create_time": unix(updated) - 3600, "update_time": unix(updated),
            "pay_time": 0 if status == 1 else unix(updated) - 3500,
            "order_amount": 13800, "pay_amount": 13800, "post_amount": 0,
            "encrypt_post_receiver": "#王#", "encrypt_post_tel": "$138$",
            "post_addr": {"province": {"name": "山东省"}, "city": {"name": "威海市"},
                          "town": {"name": "乳山市"}, "encrypt_detail": "#detail#"},
            "sku_order_list": [{"order_id": f"s{i}", "parent_order_id": f"69{i:016d}",
                                "product_id": "3", "product_name": "乳山牡蛎 XL 5斤",
                                "sku_id": 1001, "out_sku_id": "RS-LIVE-XL-5", "item_num": 2,
                                "origin_amount": 13800}],
            "after_sale_info": {"after_sale_status": 0, "refund_status": refund},
            "logistics_info": [],
        }  # fmt: skip

    def page(self, orders, total, number, has_next=None):
        data = {"page": number - 1, "size": 100, "total": total, "shop_order_list": orders}
        return {"log_id": "l", "code": 10000, "msg": "success", "sub_code": "", "data": data}

    def error(self, kind):
        code, sub_code = self.errors[kind]
        return {"log_id": "l", "code": code, "msg": sub_code, "sub_code": sub_code, "sub_msg": ""}

    def drop_list(self, body):
        del body["data"]["shop_order_list"]

    def refreshed(self):
        data = {"access_token": "tok-2", "expires_in": 604800, "refresh_token": "ref-2"}
        return {"code": 10000, "msg": "success", "data": {**data, "shop_id": 1, "shop_name": "x"}}

    def shipped(self, ok=True):
        return {"code": 10000, "msg": "success", "data": {}} if ok else self.error("param")


class Taobao(Shape):
    platform, cls = "taobao", taobao.TaobaoClient
    errors = {
        "auth": (27, "invalid-sessionkey"),
        "rate": (7, "accesscontrol.limited-by-app-access-count"),
        "sign": (25, ""),
        "timestamp": (43, ""),
        "param": (41, "isv.invalid-parameter"),
        "service": (15, "isp.top-remote-connection-timeout"),
    }

    def page_of(self, call):
        return int(call.form["page_no"])

    def order(self, i, updated, status="WAIT_SELLER_SEND_GOODS", refund="NO_REFUND"):
        return {
            "tid": 3000000000000 + i, "status": status,
            "created": to_china(updated - timedelta(hours=1)), "modified": to_china(updated),
            "pay_time": to_china(updated - timedelta(minutes=50)),
            "payment": "138.00", "post_fee": "0.00", "receiver_name": "王*",
            "receiver_mobile": "138****0000", "receiver_state": "山东省",
            "receiver_city": "威海市", "receiver_district": "乳山市", "receiver_address": "**",
            "orders": {"order": [{"oid": 1, "num_iid": 600, "sku_id": 5001,
                                  "outer_sku_id": "RS-LIVE-XL-5", "outer_iid": "RS-LIVE",
                                  "title": "乳山牡蛎", "num": 2, "price": "69.00",
                                  "payment": "138.00", "refund_status": refund}]},
        }  # fmt: skip

    def page(self, orders, total, number, has_next=None):
        answer = {"total_results": total, "has_next": has_next, "trades": {"trade": orders}}
        return {"trades_sold_increment_get_response": answer}

    def error(self, kind):
        code, sub_code = self.errors[kind]
        return {"error_response": {"code": code, "msg": "error", "sub_code": sub_code}}

    def drop_list(self, body):
        del body["trades_sold_increment_get_response"]["trades"]

    def refreshed(self):
        token = {"access_token": "tok-2", "refresh_token": "ref-2", "expires_in": 86400}
        return {"top_auth_token_refresh_response": {"token_result": json.dumps(token)}}

    def shipped(self, ok=True):
        return {"logistics_offline_send_response": {"shipping": {"is_success": ok}}}


class Jd(Shape):
    platform, cls = "jd", jd.JdClient
    errors = {"auth": 19, "rate": 70, "sign": 14, "timestamp": 13, "param": 67, "service": 66}

    def page_of(self, call):
        return json.loads(call.form["360buy_param_json"])["page"]

    def order(self, i, updated, state="WAIT_SELLER_STOCK_OUT"):
        return {
            "orderId": str(280000000 + i), "orderState": state, "orderStateRemark": "等待出库",
            "orderStartTime": to_china(updated - timedelta(hours=1)),
            "modified": to_china(updated),
            "paymentConfirmTime": to_china(updated - timedelta(minutes=50)),
            "orderPayment": "138.00", "freightPrice": "0.00",
            "consigneeInfo": {"fullname": "王*", "mobile": "138****0000", "fullAddress": "山东**"},
            "itemInfoList": [{"skuId": "100", "outerSkuId": "RS-LIVE-XL-5", "skuName": "乳山牡蛎",
                              "itemTotal": "2", "jdPrice": "69.00"}],
            "waybill": "", "logisticsId": "",
        }  # fmt: skip

    def page(self, orders, total, number, has_next=None):
        api = {"success": True, "numberCode": 10100000, "chineseErrCode": "成功"}
        result = {"apiResult": api, "orderTotal": total, "orderInfoList": orders}
        return {
            "jingdong_pop_order_search_responce": {"code": "0", "searchorderinfo_result": result}
        }

    def error(self, kind):
        return {
            "error_response": {"code": str(self.errors[kind]), "zh_desc": "错误", "en_desc": kind}
        }

    def drop_list(self, body):
        del body["jingdong_pop_order_search_responce"]["searchorderinfo_result"]["orderInfoList"]

    def refreshed(self):
        return {"access_token": "tok-2", "expires_in": 86400, "refresh_token": "ref-2", "uid": "u"}

    def shipped(self, ok=True):
        result = {"sopjosshipment_result": {"success": ok}}
        return {"jingdong_pop_order_shipment_responce": result}


class Pdd(Shape):
    platform, cls = "pdd", pdd.PddClient
    total, sku_code = 5990, "RS-LIVE-L-3"
    errors = {"auth": 10019, "rate": 70031, "sign": 10016, "timestamp": 10035, "param": 10000,
              "service": 50000}  # fmt: skip

    def page_of(self, call):
        return int(call.form["page"])

    def order(self, i, updated, status=1, refund=1):
        return {
            "order_sn": f"251120-{i:015d}", "order_status": status, "refund_status": refund,
            "confirm_status": 1, "created_time": to_china(updated - timedelta(hours=1)),
            "confirm_time": to_china(updated - timedelta(minutes=50)),
            "pay_time": to_china(updated - timedelta(minutes=50)), "updated_at": to_china(updated),
            "pay_amount": 59.9, "goods_amount": 59.9, "postage": 0.0, "receiver_name": "王**",
            "receiver_phone": "138****0000", "address": "山东省威海市乳山市****",
            "item_list": [{"goods_id": 7, "sku_id": 70, "outer_id": "RS-LIVE-L-3",
                           "goods_name": "乳山牡蛎 L", "goods_price": 59.9, "goods_count": 1}],
            "tracking_number": "", "logistics_id": 0,
        }  # fmt: skip

    def page(self, orders, total, number, has_next=None):
        answer = {"total_count": total, "has_next": has_next, "order_sn_list": orders}
        return {"order_sn_increment_get_response": answer}

    def error(self, kind):
        return {"error_response": {"error_code": self.errors[kind], "error_msg": kind}}

    def drop_list(self, body):
        del body["order_sn_increment_get_response"]["order_sn_list"]

    def refreshed(self):
        token = {"access_token": "tok-2", "expires_in": 86400, "refresh_token": "ref-2"}
        return {"pop_auth_token_refresh_response": {**token, "owner_id": "1"}}

    def shipped(self, ok=True):
        return {"logistics_online_send_response": {"is_success": ok, "request_id": "r"}}


class Youzan(Shape):
    platform, cls = "youzan", youzan.YouzanClient
    sku_code = "RS-LIVE"  # the line has no SKU code: the item's outer id stands in
    errors = {"auth": 4203, "rate": 4003, "param": 106000002, "service": 5000}

    def signed(self, call):
        return call.args.get("access_token") == SHOP.access_token or call.path == "/auth/token"

    def page_of(self, call):
        return json.loads(call.body)["page_no"]

    def order(self, i, updated, status="WAIT_SELLER_SEND_GOODS", refund=0):
        info = {"tid": f"E2025112000{i:08d}", "status": status,
                "created": to_china(updated - timedelta(hours=1)), "update_time": to_china(updated),
                "pay_time": to_china(updated - timedelta(minutes=50))}  # fmt: skip
        return {
            "full_order_info": {
                "order_info": info, "buyer_info": {},
                "address_info": {"receiver_name": "$n$1$", "receiver_tel": "$t$1$",
                                 "delivery_address": "$a$1$"},
                "pay_info": {"payment": "138.00", "post_fee": "0.00"},
                "orders": [{"oid": "9", "outer_sku_id": "", "outer_item_id": "RS-LIVE",
                            "title": "乳山牡蛎", "num": 2, "price": "69.00", "payment": "138.00"}],
            },
            "refund_state": refund,
        }  # fmt: skip

    def page(self, orders, total, number, has_next=None):
        data = {"total_results": total, "full_order_info_list": orders}
        return {"trace_id": "t", "code": 200, "success": True, "message": "ok", "data": data}

    def error(self, kind):
        return {"trace_id": "t", "code": self.errors[kind], "success": False, "message": kind}

    def drop_list(self, body):
        del body["data"]["full_order_info_list"]

    def refreshed(self):
        data = {"access_token": "tok-2", "expires": 4102444800000, "scope": "", "authority_id": "1"}
        return {"success": True, "code": 200, "data": data}

    def shipped(self, ok=True):
        return {"code": 200, "success": True, "data": {"is_success": ok}}


SHAPES = [Douyin(), Taobao(), Jd(), Pdd(), Youzan()]
SIGNED = [s for s in SHAPES if s.platform != "youzan"]
by_platform = pytest.mark.parametrize("shape", SHAPES, ids=lambda s: s.platform)


def make_orders(shape, count, end=END):
    """count orders, newest update first (as the platforms sort), all inside [START, END]."""
    return [shape.order(i, end - timedelta(seconds=i)) for i in range(count)]


def serve(fake, shape, orders, *, total=None, tamper=None):
    """Answer page requests from `orders` (a list, or a function of the call count)."""

    def answer(call):
        if not shape.signed(call):
            return shape.error("sign")
        current = orders(len(fake.calls)) if callable(orders) else orders
        number = shape.page_of(call)
        chunk = current[(number - 1) * 100 : number * 100]
        count = len(current) if total is None else total
        body = shape.page(chunk, count, number, has_next=number * 100 < count)
        return tamper(len(fake.calls), body) if tamper else body

    fake.answer = answer


def pages_asked(fake, shape):
    return [shape.page_of(call) for call in fake.calls]


# ---- signatures -----------------------------------------------------------------------------


def test_douyin_param_json_is_sorted_compact_and_keeps_chinese():
    params = {"update_time_start": 1763769600, "update_time_end": 1763856000,
              "order_by": "update_time", "order_asc": False, "page": 0, "size": 100,
              "nested": {"b": 1, "a": "牡蛎"}}  # fmt: skip
    expected = (
        '{"nested":{"a":"牡蛎","b":1},"order_asc":false,"order_by":"update_time","page":0,'
        '"size":100,"update_time_end":1763856000,"update_time_start":1763769600}'
    )
    assert douyin.param_json(params) == expected
    # vector computed with `openssl dgst -sha256 -hmac` over the contract's pattern
    sign = douyin.sign(
        "dy-secret-9f2c",
        app_key="7012345678901234567",
        method="order.searchList",
        param_json=expected,
        timestamp="1763800000",
    )
    assert sign == "4e62c0b8cac8fa4c67f0c65449d9a0bb35d64f119aaf4afad77e5c53eb8a4fbd"


@pytest.mark.parametrize(
    "secret, params, expected",
    [
        (  # TOP
            "top-secret-42",
            {"method": "taobao.trades.sold.increment.get", "app_key": "12345678",
             "session": "6201d2e5", "timestamp": "2025-11-22 10:31:05", "v": "2.0",
             "sign_method": "md5", "format": "json", "fields": "tid,status,modified",
             "start_modified": "2025-11-22 10:00:00", "end_modified": "2025-11-22 10:30:00",
             "page_no": "1", "page_size": "100", "use_has_next": "true"},
            "245E7DFC70B28009F980500C36BEFFBD",
        ),
        (  # JD
            "jd-secret-77",
            {"method": "jingdong.pop.order.search", "app_key": "JDKEY01",
             "access_token": "jd-tok-1", "timestamp": "2025-11-22 10:31:05", "v": "2.0",
             "360buy_param_json": '{"end_date":"2025-11-22 10:30:00","page":1,"page_size":100,'
             '"start_date":"2025-11-01 10:00:00"}'},
            "2208033204AF3DC982CD952EA0F3F36A",
        ),
        (  # PDD
            "pdd-secret-5",
            {"type": "pdd.order.number.list.increment.get", "client_id": "pddcid01",
             "access_token": "pdd-tok-1", "timestamp": "1763778700", "data_type": "JSON",
             "version": "V1", "start_updated_at": "1763776800", "end_updated_at": "1763778600",
             "order_status": "5", "refund_status": "5", "is_lucky_flag": "0", "page": "1",
             "page_size": "100", "use_has_next": "true", "sign": "ignored"},
            "FB87F5A3C372810DA40A76ADA0B37807",
        ),
    ],
    ids=["taobao", "jd", "pdd"],
)  # fmt: skip
def test_md5_sign_vectors(secret, params, expected):
    # vectors computed with `openssl md5` over secret + sorted k+v + secret
    assert md5_sign(secret, params) == expected
    assert ref_md5_sign(secret, params) == expected


@pytest.mark.parametrize("shape", SIGNED, ids=lambda s: s.platform)
def test_every_request_is_signed_as_the_contract_says(fake, shape):
    serve(fake, shape, make_orders(shape, 3))
    assert len(shape.client(fake.url).fetch_window(SHOP, START, END)) == 3
    assert shape.signed(fake.calls[0])


# ---- status tables --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "order_status, paid, refund, ours",
    [(1, False, 0, "UNPAID"), (105, True, 0, "PAID"), (2, True, 0, "PAID"),
     (101, True, 0, "SHIPPED"), (3, True, 0, "SHIPPED"), (5, True, 0, "COMPLETED"),
     (4, False, 0, "CANCELLED"), (4, True, 0, "REFUNDED"), (3, True, 1, "REFUNDING"),
     (2, True, 3, "REFUNDED"), (5, True, 4, "COMPLETED")],
)  # fmt: skip
def test_douyin_statuses(order_status, paid, refund, ours):
    assert douyin.map_status(order_status, paid=paid, refund_status=refund) == ours


@pytest.mark.parametrize(
    "status, refunds, ours",
    [("WAIT_BUYER_PAY", [], "UNPAID"), ("TRADE_NO_CREATE_PAY", [], "UNPAID"),
     ("WAIT_SELLER_SEND_GOODS", ["NO_REFUND"], "PAID"),
     ("SELLER_CONSIGNED_PART", [], "SHIPPED"), ("WAIT_BUYER_CONFIRM_GOODS", [], "SHIPPED"),
     ("TRADE_BUYER_SIGNED", [], "COMPLETED"), ("TRADE_FINISHED", [], "COMPLETED"),
     ("TRADE_CLOSED_BY_TAOBAO", [], "CANCELLED"), ("TRADE_CLOSED", ["SUCCESS"], "REFUNDED"),
     ("WAIT_BUYER_CONFIRM_GOODS", ["NO_REFUND", "WAIT_SELLER_AGREE"], "REFUNDING"),
     ("WAIT_SELLER_SEND_GOODS", ["WAIT_BUYER_RETURN_GOODS"], "REFUNDING")],
)  # fmt: skip
def test_taobao_statuses(status, refunds, ours):
    assert taobao.map_status(status, refunds) == ours


@pytest.mark.parametrize(
    "state, ours",
    [("WAIT_SELLER_STOCK_OUT", "PAID"), ("WAIT_GOODS_RECEIVE_CONFIRM", "SHIPPED"),
     ("FINISHED_L", "COMPLETED"), ("LOCKED", "REFUNDING"), ("TRADE_CANCELED", "REFUNDED")],
)  # fmt: skip
def test_jd_statuses(state, ours):
    assert jd.map_status(state) == ours


@pytest.mark.parametrize(
    "order_status, refund, ours",
    [(1, 1, "PAID"), (2, 1, "SHIPPED"), (3, 1, "COMPLETED"), (2, 2, "REFUNDING"),
     (1, 3, "REFUNDING"), (3, 4, "REFUNDED")],
)  # fmt: skip
def test_pdd_statuses(order_status, refund, ours):
    assert pdd.map_status(order_status, refund) == ours


@pytest.mark.parametrize(
    "status, refund, ours",
    [("WAIT_BUYER_PAY", 0, "UNPAID"), ("WAIT_SELLER_SEND_GOODS", 0, "PAID"),
     ("WAIT_BUYER_CONFIRM_GOODS", 0, "SHIPPED"), ("TRADE_SUCCESS", 0, "COMPLETED"),
     ("TRADE_CLOSE", 0, "CANCELLED"), ("WAIT_BUYER_CONFIRM_GOODS", 1, "REFUNDING"),
     ("TRADE_CLOSE", 2, "REFUNDED")],
)  # fmt: skip
def test_youzan_statuses(status, refund, ours):
    assert youzan.map_status(status, refund) == ours


@pytest.mark.parametrize(
    "call",
    [lambda: douyin.map_status(7, paid=True, refund_status=0),
     lambda: taobao.map_status("SOMETHING_NEW", []), lambda: jd.map_status("PAUSE"),
     lambda: pdd.map_status(9, 1), lambda: youzan.map_status("WAIT_GROUP", 0)],
)  # fmt: skip
def test_an_unknown_status_is_not_guessed(call):
    with pytest.raises(PlatformError) as caught:
        call()
    assert (caught.value.kind, caught.value.code) == ("invalid", "unknown_status")


def test_refund_fields_win_in_parsed_orders():
    updated = END
    assert douyin.parse_order(Douyin().order(1, updated, status=3, refund=1)).status == "REFUNDING"
    order = taobao.parse_order(Taobao().order(1, updated, refund="WAIT_SELLER_AGREE"))
    assert (order.status, order.platform_status) == (
        "REFUNDING",
        "WAIT_SELLER_SEND_GOODS/refund:WAIT_SELLER_AGREE",
    )
    assert pdd.parse_order(Pdd().order(1, updated, status=2, refund=3)).status == "REFUNDING"
    closed = youzan.parse_order(Youzan().order(1, updated, status="TRADE_CLOSE", refund=2))
    assert (closed.status, closed.platform_status) == ("REFUNDED", "TRADE_CLOSE/refund:2")
    unpaid_cancel = Douyin().order(1, updated, status=1)
    unpaid_cancel["order_status"] = 4
    assert douyin.parse_order(unpaid_cancel).status == "CANCELLED"


# ---- conversions ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value, fen",
    [("0.10", 10), ("138.00", 13800), ("0.07", 7), ("19.99", 1999), ("1.1", 110),
     (Decimal("59.9"), 5990), (59.9, 5990), (0.07, 7), (19.99, 1999), (138, 13800),
     ("0", 0), ("99999999.99", 9999999999)],
)  # fmt: skip
def test_money_to_fen_exactly(value, fen):
    assert to_fen(value) == fen


def test_pdd_json_numbers_are_read_as_decimals(fake):
    shape = Pdd()
    raw = shape.order(1, END)
    raw.update(pay_amount=19.99, postage=0.07)
    raw["item_list"][0].update(goods_price=0.29, goods_count=3)
    serve(fake, shape, [raw])
    (order,) = shape.client(fake.url).fetch_window(SHOP, START, END)
    assert (order.total, order.shipping_fee, order.lines[0].unit_price) == (1999, 7, 29)


@pytest.mark.parametrize("bad", ["", None, "abc", True])
def test_money_that_is_not_money(bad):
    with pytest.raises((ValueError, ArithmeticError)):
        to_fen(bad)


def test_times_are_shanghai_strings_or_unix_seconds():
    assert from_china("2025-11-22 08:00:00") == datetime(2025, 11, 22, 0, 0)
    assert from_china("2025-01-01 07:59:59") == datetime(2024, 12, 31, 23, 59, 59)
    assert to_china(datetime(2024, 12, 31, 16, 0, 0)) == "2025-01-01 00:00:00"
    assert to_china(datetime(2025, 11, 22, 0, 0, 0, 999999)) == "2025-11-22 08:00:00"
    # DST-free: China observed summer time in 1988; the platforms' +08:00 does not
    assert from_china("1988-07-01 12:00:00") == datetime(1988, 7, 1, 4, 0)
    assert from_china("") is None and from_china(None) is None
    assert from_unix(1763769600) == datetime(2025, 11, 22, 0, 0)
    assert from_unix("1763769600") == datetime(2025, 11, 22, 0, 0)
    assert from_unix(0) is None
    assert to_unix(datetime(2025, 11, 22, 0, 0, 0, 500000)) == 1763769600


@by_platform
def test_parsed_orders_carry_fen_utc_times_and_sku_codes(fake, shape):
    serve(fake, shape, [shape.order(5, END)])
    (order,) = shape.client(fake.url).fetch_window(SHOP, START, END)
    assert order.platform == shape.platform
    assert order.updated_at == END and order.created_at == END - timedelta(hours=1)
    assert order.status == "PAID" and order.paid_at is not None
    assert order.total == shape.total and order.shipping_fee == 0
    line = order.lines[0]
    assert line.sku_code == shape.sku_code
    assert line.quantity * line.unit_price == order.total
    assert set(order.receiver) == {"name", "phone", "address"} and order.receiver["phone"]


# ---- windows and paging ---------------------------------------------------------------------


@by_platform
def test_a_window_over_the_platforms_limit_is_refused(fake, shape):
    client = shape.client(fake.url)
    with pytest.raises(ValueError):
        client.fetch_window(SHOP, END - client.max_window - timedelta(seconds=1), END)
    with pytest.raises(ValueError):
        client.fetch_window(SHOP, END, END - timedelta(seconds=1))
    assert fake.calls == []


def test_max_windows():
    limits = {c.platform: c.max_window for c in (s.cls for s in SHAPES)}
    assert limits == {"douyin": timedelta(hours=24), "taobao": timedelta(days=1),
                      "jd": timedelta(days=31), "pdd": timedelta(minutes=30),
                      "youzan": timedelta(days=365)}  # fmt: skip


@by_platform
def test_250_orders_are_read_from_the_last_page_back(fake, shape):
    orders = make_orders(shape, 250)
    serve(fake, shape, orders)
    pulled = shape.client(fake.url).fetch_window(SHOP, START, END)
    assert pages_asked(fake, shape) == [1, 3, 2]
    assert len(pulled) == len({o.order_id for o in pulled}) == 250
    if shape.platform == "douyin":
        assert [json.loads(c.body)["page"] for c in fake.calls] == [0, 2, 1]


@by_platform
def test_an_order_leaving_the_window_while_paging_loses_nothing(fake, shape):
    """After page 1 is read the newest order is updated again (out of the window): every order
    behind it moves up one place. Reading page 1 again catches the one that moved onto it; an
    order seen twice keeps its newest version."""
    before = make_orders(shape, 250)
    newer = shape.order(1, END)  # order 1 changed again, still inside the window
    after = [newer, *before[2:]]
    serve(fake, shape, lambda n: before if n == 1 else after)
    pulled = shape.client(fake.url).fetch_window(SHOP, START, END)
    assert pages_asked(fake, shape) == [1, 3, 2, 1]
    assert len(pulled) == 250
    updated = {o.order_id: o.updated_at for o in pulled}
    assert updated[parse(shape, newer).order_id] == END


def parse(shape, raw):
    module = {"douyin": douyin, "taobao": taobao, "jd": jd, "pdd": pdd, "youzan": youzan}
    return module[shape.platform].parse_order(raw)


@by_platform
def test_one_page_costs_one_call_and_an_empty_window_too(fake, shape):
    serve(fake, shape, make_orders(shape, 100))
    assert len(shape.client(fake.url).fetch_window(SHOP, START, END)) == 100
    assert len(fake.calls) == 1
    fake.calls.clear()
    serve(fake, shape, [])
    assert shape.client(fake.url).fetch_window(SHOP, START, END) == []
    assert len(fake.calls) == 1


def test_a_live_window_reads_page_one_again(fake):
    shape = Taobao()
    end = utcnow().replace(microsecond=0)
    serve(fake, shape, make_orders(shape, 150, end=end))
    shape.client(fake.url).fetch_window(SHOP, end - timedelta(minutes=10), end)
    assert pages_asked(fake, shape) == [1, 2, 1]


def test_without_a_total_pages_are_found_through_has_next(fake):
    shape = Taobao()
    orders = make_orders(shape, 250)

    def no_total(n, body):
        del body["trades_sold_increment_get_response"]["total_results"]
        return body

    serve(fake, shape, orders, tamper=no_total)
    pulled = shape.client(fake.url).fetch_window(SHOP, START, END)
    assert len(pulled) == 250
    assert pages_asked(fake, shape) == [1, 2, 3, 2, 1]


def test_small_pages(fake):
    shape = Youzan()

    def answer(call):
        body = json.loads(call.body)
        size, number = body["page_size"], body["page_no"]
        orders = make_orders(shape, 7)[(number - 1) * size : number * size]
        return shape.page(orders, 7, number)

    fake.answer = answer
    pulled = shape.client(fake.url, page_size=3).fetch_window(SHOP, START, END)
    assert len(pulled) == 7
    assert pages_asked(fake, shape) == [1, 3, 2]


# ---- errors ---------------------------------------------------------------------------------


def fail_third_call(shape, fake, answer):
    """250 orders, and the third call (page 2) answered by `answer(body)`."""
    orders = make_orders(shape, 250)
    serve(fake, shape, orders, tamper=lambda n, body: answer(body) if n == 3 else body)


def pull_error(shape, fake, **kw) -> PlatformError:
    with pytest.raises(PlatformError) as caught:
        shape.client(fake.url, **kw).fetch_window(SHOP, START, END)
    assert caught.value.platform == shape.platform
    return caught.value


@by_platform
def test_a_malformed_page_fails_the_whole_window(fake, shape):
    fail_third_call(shape, fake, lambda body: (200, '{"code": 10000, "data": {"shop_ord'))
    assert pull_error(shape, fake).kind == "transient"

    def without_list(body):
        shape.drop_list(body)
        return body

    fake.calls.clear()
    fail_third_call(shape, fake, without_list)
    assert pull_error(shape, fake).kind == "transient"


@by_platform
def test_a_partial_page_is_transient(fake, shape):
    serve(fake, shape, make_orders(shape, 240), total=250)  # the last page lacks 10 orders
    error = pull_error(shape, fake)
    assert error.kind == "transient" and "malformed page 3" in error.message


@by_platform
def test_http_500_timeout_and_unreachable_are_transient(fake, shape):
    fail_third_call(shape, fake, lambda body: (500, "<html>oops</html>"))
    assert pull_error(shape, fake).kind == "transient"

    def slow(call):
        time.sleep(0.6)
        return shape.page([], 0, 1)

    fake.answer = slow
    assert pull_error(shape, fake, timeout=0.2).kind == "transient"
    closed = shape.client("http://127.0.0.1:9", timeout=1)
    with pytest.raises(PlatformError) as caught:
        closed.fetch_window(SHOP, START, END)
    assert caught.value.kind == "transient"


@by_platform
@pytest.mark.parametrize(
    "fault, kind",
    [("auth", "auth"), ("rate", "rate_limited"), ("param", "invalid"), ("service", "transient")],
)
def test_platform_errors_are_classified(fake, shape, fault, kind):
    fail_third_call(shape, fake, lambda body: shape.error(fault))
    error = pull_error(shape, fake)
    code = shape.errors[fault]
    assert (error.kind, error.code) == (kind, str(code[0] if isinstance(code, tuple) else code))
    assert error.retryable == (kind in ("rate_limited", "transient"))
    assert len(fake.calls) == 3


@by_platform
def test_rate_limits_say_when_to_come_back(fake, shape):
    fail_third_call(shape, fake, lambda body: (200, shape.error("rate"), {"Retry-After": "3"}))
    error = pull_error(shape, fake)
    assert (error.kind, error.retry_after, error.retryable) == ("rate_limited", 3.0, True)
    fake.calls.clear()
    fake.answer = lambda call: (429, "slow down", {"Retry-After": "2"})
    error = pull_error(shape, fake)
    assert (error.kind, error.retry_after) == ("rate_limited", 2.0)


@pytest.mark.parametrize("shape", SIGNED, ids=lambda s: s.platform)
def test_a_bad_signature_is_invalid(fake, shape):
    fake.answer = lambda call: shape.error("sign")
    error = pull_error(shape, fake)
    assert (error.kind, error.retryable) == ("invalid", False)


@pytest.mark.parametrize("shape", SIGNED, ids=lambda s: s.platform)
def test_a_timestamp_error_is_retried_once(fake, shape):
    orders = make_orders(shape, 20)
    serve(fake, shape, orders, tamper=lambda n, body: shape.error("timestamp") if n == 1 else body)
    assert len(shape.client(fake.url).fetch_window(SHOP, START, END)) == 20
    assert len(fake.calls) == 2
    fake.calls.clear()
    fake.answer = lambda call: shape.error("timestamp")
    assert pull_error(shape, fake).kind == "invalid"
    assert len(fake.calls) == 2


# ---- tokens and shipping --------------------------------------------------------------------


@by_platform
def test_refresh_token(fake, shape):
    fake.answer = lambda call: shape.refreshed()
    grant = shape.client(fake.url).refresh_token(SHOP)
    assert grant.access_token == "tok-2"
    assert grant.refresh_token == (None if shape.platform == "youzan" else "ref-2")
    assert grant.expires_at > utcnow() and grant.expires_at.tzinfo is None
    call = fake.calls[0]
    if shape.platform == "youzan":
        body = json.loads(call.body)
        assert call.path == "/auth/token"
        assert body == {"client_id": KEY, "client_secret": SECRET, "authorize_type": "silent",
                        "grant_id": SHOP.shop_key, "refresh": False}  # fmt: skip
        assert grant.expires_at == datetime(2100, 1, 1, 0, 0)
    elif shape.platform == "jd":
        assert call.path == "/oauth2/refresh_token"
        assert call.args["refresh_token"] == "ref-1" and call.args["grant_type"] == "refresh_token"
    else:
        assert shape.signed(call)
        assert "access_token" not in call.args and "access_token" not in call.form
        assert "session" not in call.form
        assert "ref-1" in call.body


@by_platform
def test_a_refused_refresh_breaks_the_shops_authorisation(fake, shape):
    refused = {"code": 402, "msg": "refresh_token 无效"} if shape.platform == "jd" else None
    for fault in ("auth", "param"):
        fake.answer = lambda call, fault=fault: refused or shape.error(fault)
        with pytest.raises(PlatformError) as caught:
            shape.client(fake.url).refresh_token(SHOP)
        assert caught.value.kind == "auth_broken"
    fake.answer = lambda call: (503, "busy")
    with pytest.raises(PlatformError) as caught:
        shape.client(fake.url).refresh_token(SHOP)
    assert caught.value.kind == "transient"


@pytest.mark.parametrize(
    "shape, answer",
    [(Douyin(), Douyin().error("sign")), (Taobao(), {"error_response": {"code": 29}}),
     (Jd(), {"code": 401, "msg": "app_key或app_secret错误"}), (Pdd(), Pdd().error("sign"))],
    ids=["douyin", "taobao", "jd", "pdd"],
)  # fmt: skip
def test_a_refresh_refused_for_our_credentials_does_not_blame_the_shop(fake, shape, answer):
    fake.answer = lambda call: answer
    with pytest.raises(PlatformError) as caught:
        shape.client(fake.url).refresh_token(SHOP)
    assert caught.value.kind == "invalid"


@by_platform
def test_ship(fake, shape):
    fake.answer = lambda call: shape.shipped()
    shape.client(fake.url).ship(SHOP, "1001", company="SF", tracking_no="SF123")
    call = fake.calls[0]
    assert "SF123" in call.body and "1001" in call.body
    fake.answer = lambda call: shape.shipped(ok=False)
    with pytest.raises(PlatformError) as caught:
        shape.client(fake.url).ship(SHOP, "1001", company="SF", tracking_no="SF123")
    assert caught.value.kind == "invalid"
    fake.answer = lambda call: shape.error("auth")
    with pytest.raises(PlatformError) as caught:
        shape.client(fake.url).ship(SHOP, "1001", company="SF", tracking_no="SF123")
    assert caught.value.kind == "auth"


def test_client_for_reads_the_app_config():
    flask_app = Flask(__name__)
    flask_app.config.update(
        HTTP_TIMEOUT_SECONDS=4,
        **{f"{p}_API_BASE": f"http://sandbox/platforms/{p.lower()}" for p in
           ("DOUYIN", "TAOBAO", "JD", "PDD", "YOUZAN")},
        JD_OAUTH_BASE="http://sandbox/platforms/jd",
        DOUYIN_APP_KEY="dk", DOUYIN_APP_SECRET="ds", TAOBAO_APP_KEY="tk",
        TAOBAO_APP_SECRET="ts", JD_APP_KEY="jk", JD_APP_SECRET="js", PDD_CLIENT_ID="pk",
        PDD_CLIENT_SECRET="ps", YOUZAN_CLIENT_ID="yk", YOUZAN_CLIENT_SECRET="ys",
    )  # fmt: skip
    with flask_app.app_context():
        clients = {p: client_for(p) for p in ("douyin", "taobao", "jd", "pdd", "youzan")}
        with pytest.raises(ValueError):
            client_for("kuaishou")
    assert {p: type(c) for p, c in clients.items()} == {
        "douyin": douyin.DouyinClient, "taobao": taobao.TaobaoClient, "jd": jd.JdClient,
        "pdd": pdd.PddClient, "youzan": youzan.YouzanClient,
    }  # fmt: skip
    assert clients["pdd"].base_url == "http://sandbox/platforms/pdd"
    assert (clients["pdd"].app_key, clients["pdd"].app_secret) == ("pk", "ps")
    assert clients["jd"].oauth_base == "http://sandbox/platforms/jd"
    assert clients["youzan"].timeout == 4
