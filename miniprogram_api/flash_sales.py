"""Flash sales in the live room: the sale's state, claims, and a claim's outcome."""

from apiflask.fields import Nested
from apiflask.validators import Range
from flask import request

from backend.errors import NotFound
from backend.extensions import db
from backend.live import entries, flash_claims, flash_sales
from backend.schemas import In, WholeNumber
from miniprogram_api import api_v1
from miniprogram_api.auth import (
    checks_session_itself,
    current_customer_id,
    session_checked,
    token_auth,
)
from miniprogram_api.schemas import KEY_PATTERN, AddressIn, ClaimOut, IdempotencyHeader, ShareIn


class ClaimIn(In):
    quantity = WholeNumber(required=True, validate=Range(1, 99))
    address = Nested(AddressIn)
    share = Nested(
        ShareIn,
        metadata={"description": "直播间插件 getShareParams() 的结果，仅用于分享者归因"},
    )


@api_v1.get("/flash-sales/<int:sale_id>")
@api_v1.doc(summary="秒杀状态：剩余数量、倒计时")
def get_flash_sale(sale_id: int):
    return flash_sales.sale_view(db.session, sale_id=sale_id)


@api_v1.post("/flash-sales/<int:sale_id>/claims")
@api_v1.auth_required(token_auth)
@api_v1.input(IdempotencyHeader, location="headers", arg_name="headers")
@api_v1.input(ClaimIn, arg_name="body")
@api_v1.output(
    ClaimOut, status_code=202, description="抢到了，订单生成中（用同一 Idempotency-Key 查询结果）"
)
@api_v1.doc(
    summary="抢购：抢到即答 202，订单随后生成（GET .../claims/{Idempotency-Key} 查询）；"
    "同一 Idempotency-Key 重复提交答 200 和那次抢购的结果；抢光时 409；同一网络每场限抢，抢购限频",
    responses=[200, 202, 400, 404, 409, 422],
)
@checks_session_itself  # the token, the rates and the race: one Redis round trip
def claim_flash_sale(sale_id: int, headers, body):
    customer_id = current_customer_id()
    if body.get("share") is not None:  # before the claim: its order takes the entry's sharer
        share = entries.read_share(**body["share"])
        entries.enter_for_sale(db.session, sale_id=sale_id, customer_id=customer_id, share=share)
    claim = session_checked(
        lambda session_key: flash_claims.claim(
            db.session,
            sale_id=sale_id,
            customer_id=customer_id,
            quantity=body["quantity"],
            idempotency_key=headers["idempotency_key"],
            address=body.get("address"),
            ip=request.remote_addr,
            session_key=session_key,
        )
    )
    view = flash_claims.claim_view(db.session, claim, customer_id=customer_id)
    return view, 202 if claim.created else 200


@api_v1.get("/flash-sales/<int:sale_id>/claims/<key>")
@api_v1.auth_required(token_auth)
@api_v1.output(ClaimOut)
@api_v1.doc(
    summary="查询抢购结果：PENDING 订单生成中，ORDERED 附订单，REFUSED 附原因"
    "（key 为抢购时的 Idempotency-Key）",
    responses=[200, 404],
)
def get_flash_claim(sale_id: int, key: str):
    if not KEY_PATTERN.fullmatch(key):
        raise NotFound("没有找到这次抢购", code="CLAIM_NOT_FOUND")
    customer_id = current_customer_id()
    claim = flash_claims.claim_status(
        db.session, sale_id=sale_id, customer_id=customer_id, idempotency_key=key
    )
    return flash_claims.claim_view(db.session, claim, customer_id=customer_id)
