"""api.mch.weixin.qq.com stand-in: the APIv3 routes our backend calls, on their real paths.

Every request must carry a valid merchant signature; every response is signed by the platform key,
because `wechatpayv3` refuses unsigned 2xx answers.
"""

from __future__ import annotations

import json
import time
from typing import Any

from flask import Blueprint, Response, request

from . import refunds, transactions
from .context import current_sandbox
from .errors import PayError, param_error
from .pay_signing import pay_json, sign_response, verify_request

bp = Blueprint("wechatpay", __name__, url_prefix="/v3")


@bp.errorhandler(PayError)
def _pay_error(error: PayError):
    return pay_json(error.body(), error.status)


@bp.before_request
def _authenticate() -> None:
    sb = current_sandbox()
    with sb.state.lock:
        latency_ms = sb.state.faults.latency_ms
        fault = sb.state.faults.take_pay_error()
    if latency_ms:
        time.sleep(latency_ms / 1000)
    if fault:
        raise PayError(*fault)
    verify_request(sb, request)


@bp.after_request
def _sign(response: Response) -> Response:
    return sign_response(current_sandbox(), response)


def _json_body() -> Any:
    try:
        return json.loads(request.get_data(cache=True) or b"null")
    except ValueError:
        raise param_error("请求体不是合法的 JSON") from None


@bp.post("/pay/transactions/jsapi")
def jsapi():
    sb = current_sandbox()
    body = _json_body()
    with sb.state.lock:
        return pay_json(transactions.create_jsapi(sb, body))


@bp.get("/pay/transactions/out-trade-no/<out_trade_no>")
def query_by_out_trade_no(out_trade_no: str):
    sb = current_sandbox()
    with sb.state.lock:
        transactions.check_mchid(sb, request.args.get("mchid"))
        order = transactions.find_order(sb, out_trade_no=out_trade_no)
        return pay_json(transactions.transaction_view(order))


@bp.get("/pay/transactions/id/<transaction_id>")
def query_by_transaction_id(transaction_id: str):
    sb = current_sandbox()
    with sb.state.lock:
        transactions.check_mchid(sb, request.args.get("mchid"))
        order = transactions.find_order(sb, transaction_id=transaction_id)
        return pay_json(transactions.transaction_view(order))


@bp.post("/pay/transactions/out-trade-no/<out_trade_no>/close")
def close(out_trade_no: str):
    sb = current_sandbox()
    body = _json_body()
    with sb.state.lock:
        transactions.close(sb, out_trade_no, body)
    return Response(status=204)


@bp.post("/refund/domestic/refunds")
def create_refund():
    sb = current_sandbox()
    body = _json_body()
    with sb.state.lock:
        refund, is_new = refunds.create(sb, body)
        if is_new:
            refunds.start_processing(sb, refund.out_refund_no)
        return pay_json(refunds.refund_view(refund))


@bp.get("/refund/domestic/refunds/<out_refund_no>")
def query_refund(out_refund_no: str):
    sb = current_sandbox()
    with sb.state.lock:
        refunds.count_query(sb)
        return pay_json(refunds.refund_view(refunds.find(sb, out_refund_no)))
