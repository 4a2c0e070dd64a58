"""After-sales: refund before shipping, return and refund after, and dead-on-arrival claims
(a partial refund by the count of dead shellfish), approved by staff and refunded by WeChat Pay."""

from __future__ import annotations

from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from backend.aftersales.models import (
    DEAD_ON_ARRIVAL,
    OPEN_STATUSES,
    PENDING,
    REFUND_ONLY,
    REFUNDED,
    REFUNDING,
    REJECTED,
    RETURN_REFUND,
    AfterSale,
)
from backend.audit import service as audit
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken
from backend.inventory import service as inventory
from backend.media import service as media
from backend.orders import events, lifecycle
from backend.orders import service as orders
from backend.orders.models import ADOPTION, COMPLETED, DELIVERED, PAID, SHIPPED, Order
from backend.orders.models import REFUNDING as ORDER_REFUNDING
from backend.pagination import page_of
from backend.payments import service as payments
from backend.payments.models import Refund
from backend.queue import enqueue
from backend.staff.models import Staff
from backend.timeutil import utcnow
from backend.transactions import on_commit, retry_conflicts

RETURN_WINDOW_DAYS = 7


def _refundable(order: Order) -> int:
    return order.total - order.refunded_total


def _dead_on_arrival_amount(
    order: Order, *, order_item_id: int | None, dead_count: int, photos: list[str]
) -> tuple[int, int]:
    """The item a claim is about and its refund: the dead share of that item's price."""
    if not photos:
        raise BadRequest("死货理赔需要上传照片", code="PHOTOS_REQUIRED")
    if dead_count is None or dead_count < 1:
        raise BadRequest("请填写死货数量", code="DEAD_COUNT_REQUIRED")
    claimable = [item for item in order.items if item.pieces_per_pack]
    if order_item_id is not None:
        claimable = [item for item in claimable if item.id == order_item_id]
    if len(claimable) != 1:
        raise BadRequest("请选择要理赔的鲜活商品", code="ORDER_ITEM_REQUIRED")
    item = claimable[0]
    pieces = item.quantity * item.pieces_per_pack
    if dead_count > pieces:
        raise RuleBroken(f"死货数量不能超过该商品总只数 {pieces}", code="DEAD_COUNT_TOO_LARGE")
    amount = -(-item.subtotal * dead_count // pieces)  # round up, in the buyer's favour
    return item.id, min(amount, _refundable(order))


def _doa_window_closed(order: Order, hours: int, now) -> bool:
    """The dead-on-arrival window runs from the courier's delivered scan (from shipping for an
    order no delivered scan ever reached)."""
    start = order.delivered_at or order.shipped_at
    return start + timedelta(hours=hours) < now


@retry_conflicts
def request_after_sale(
    session: Session,
    *,
    customer_id: int,
    order_id: int,
    type: str,
    reason: str,
    photos: list[str],
    dead_count: int | None = None,
    order_item_id: int | None = None,
) -> AfterSale:
    """Open an after-sale case on the consumer's own order, if the order's state allows it.
    `photos` are keys of photos the consumer uploaded (backend.media)."""
    order = orders.get_order(session, customer_id=customer_id, order_id=order_id)
    if order.kind == ADOPTION:  # the unit stays the buyer's: losses follow its terms instead
        raise RuleBroken(
            "认养订单不能申请退款：单元灭失时按认养条款换单元或退款，其他问题请联系客服",
            code="ADOPTION_NOT_REFUNDABLE",
        )
    photos = media.owned_keys(session, customer_id=customer_id, keys=photos)
    open_case = session.scalar(
        select(AfterSale.id).where(
            AfterSale.order_id == order.id, AfterSale.status.in_(OPEN_STATUSES)
        )
    )
    if open_case:
        raise Conflict(
            "该订单已有处理中的售后申请",
            code="AFTER_SALE_EXISTS",
            details={"after_sale_id": open_case},
        )
    now = utcnow()
    item_id = None
    if type == REFUND_ONLY:
        if order.status != PAID:
            raise RuleBroken(
                "仅未发货的已支付订单可以直接退款", code="NOT_REFUNDABLE_BEFORE_SHIPPING"
            )
        amount = _refundable(order)
    elif type == RETURN_REFUND:
        if (
            order.status not in (SHIPPED, DELIVERED, COMPLETED)
            or order.shipped_at + timedelta(days=RETURN_WINDOW_DAYS) < now
        ):
            raise RuleBroken(
                f"发货后 {RETURN_WINDOW_DAYS} 天内的订单可以退货退款", code="NOT_RETURNABLE"
            )
        amount = _refundable(order)
    elif type == DEAD_ON_ARRIVAL:
        hours = current_app.config["DOA_CLAIM_HOURS"]
        if order.status not in (SHIPPED, DELIVERED, COMPLETED) or _doa_window_closed(
            order, hours, now
        ):
            raise RuleBroken(f"死货理赔需在签收后 {hours} 小时内申请", code="DOA_WINDOW_CLOSED")
        item_id, amount = _dead_on_arrival_amount(
            order, order_item_id=order_item_id, dead_count=dead_count, photos=photos
        )
    else:
        raise BadRequest("售后类型无效", code="INVALID_AFTER_SALE_TYPE")
    if amount <= 0:
        raise RuleBroken("该订单已无可退金额", code="NOTHING_TO_REFUND")

    case = AfterSale(
        order_id=order.id,
        customer_id=customer_id,
        type=type,
        reason=reason,
        photos=photos,
        dead_count=dead_count if type == DEAD_ON_ARRIVAL else None,
        order_item_id=item_id,
        refund_amount=amount,
        status=PENDING,
    )
    session.add(case)
    session.flush()
    if type != DEAD_ON_ARRIVAL:  # a dead-on-arrival claim does not stop the order
        lifecycle.move(session, order.id, "REFUND_REQUESTED", note={"after_sale_id": case.id})
    events.record(
        session, order.id, "AFTER_SALE_REQUESTED", after_sale_id=case.id, type=type, amount=amount
    )
    session.commit()
    return case


def get_after_sale(
    session: Session, *, after_sale_id: int, customer_id: int | None = None
) -> AfterSale:
    case = session.get(AfterSale, after_sale_id)
    if case is None or (customer_id is not None and case.customer_id != customer_id):
        raise NotFound("售后申请不存在", code="AFTER_SALE_NOT_FOUND")
    return case


def customer_after_sales(
    session: Session, *, customer_id: int, page: int, page_size: int
) -> tuple[list[AfterSale], int]:
    """A buyer's own cases, newest first."""
    where = AfterSale.customer_id == customer_id
    total = session.scalar(select(func.count()).select_from(AfterSale).where(where))
    cases = session.scalars(
        page_of(select(AfterSale).where(where).order_by(AfterSale.id.desc()), page, page_size)
    )
    return list(cases), total


def list_after_sales(
    session: Session, *, status: str | None, page: int, page_size: int
) -> tuple[list[AfterSale], int]:
    """Cases for staff, oldest open first."""
    where = [AfterSale.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(AfterSale).where(*where))
    cases = session.scalars(
        page_of(
            select(AfterSale).where(*where).order_by(AfterSale.id),
            page,
            page_size,
        )
    )
    return list(cases), total


def _decide(
    session: Session, after_sale_id: int, status: str, *, staff_id: int, note: str
) -> AfterSale:
    """Move a PENDING case to status; exactly one of two racing decisions wins."""
    case = get_after_sale(session, after_sale_id=after_sale_id)
    changed = session.execute(
        update(AfterSale)
        .where(AfterSale.id == case.id, AfterSale.status == PENDING)
        .values(status=status, staff_id=staff_id, staff_note=note, decided_at=utcnow())
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        raise Conflict(
            "该售后申请已处理", code="AFTER_SALE_NOT_PENDING", details={"status": case.status}
        )
    return case


def _audit(session, case, order, action: str, staff_id: int, status: str, note: str) -> None:
    decided = "同意退款" if status == REFUNDING else "拒绝"
    audit.record(
        session,
        staff=session.get(Staff, staff_id),
        action=action,
        target_type="after_sale",
        target_id=case.id,
        summary=f"售后 #{case.id}（订单 {order.number}）{decided} ¥{case.refund_amount / 100:.2f}",
        before={"status": PENDING},
        after={"status": status, "refund_amount": case.refund_amount, "note": note},
    )


def approve(session: Session, *, after_sale_id: int, staff_id: int, note: str = "") -> AfterSale:
    """Staff approve a pending case: its refund is created once and sent to WeChat Pay."""
    case = _decide(session, after_sale_id, REFUNDING, staff_id=staff_id, note=note)
    order = session.get(Order, case.order_id)
    _audit(session, case, order, "aftersale.approve", staff_id, REFUNDING, note)
    refund = payments.create_refund(
        session, order=order, amount=case.refund_amount, after_sale_id=case.id, reason=case.reason
    )
    events.record(session, order.id, "AFTER_SALE_APPROVED", after_sale_id=case.id)
    refund_id = refund.id
    on_commit(
        session,
        lambda: enqueue(
            "jobs.payments.submit_refund", refund_id, job_id=f"submit-refund-{refund_id}"
        ),
    )
    session.commit()
    session.refresh(case)
    return case


def reject(session: Session, *, after_sale_id: int, staff_id: int, note: str) -> AfterSale:
    """Staff reject a pending case; an order it had put into REFUNDING goes back."""
    case = _decide(session, after_sale_id, REJECTED, staff_id=staff_id, note=note)
    order = session.get(Order, case.order_id)
    _audit(session, case, order, "aftersale.reject", staff_id, REJECTED, note)
    if order.status == ORDER_REFUNDING and order.status_before_refund:
        lifecycle.move(session, order.id, "REFUND_REJECTED", note={"after_sale_id": case.id})
    events.record(session, order.id, "AFTER_SALE_REJECTED", after_sale_id=case.id, note=note)
    session.commit()
    session.refresh(case)
    return case


@retry_conflicts
def apply_refund_result(session: Session, result: dict) -> str:
    """Apply WeChat Pay's refund outcome (notification or query) exactly once."""
    out_refund_no = result.get("out_refund_no", "")
    status = result.get("refund_status") or result.get("status")
    refund = session.scalar(select(Refund).where(Refund.out_refund_no == out_refund_no))
    if refund is None:
        raise RuleBroken("退款单不存在", code="UNKNOWN_OUT_REFUND_NO")
    if status not in ("SUCCESS", "ABNORMAL", "CLOSED"):
        return "ignored"
    changed = session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status.in_(("PENDING", "PROCESSING")))
        .values(
            status=status,
            refund_id=result.get("refund_id") or refund.refund_id,
            succeeded_at=utcnow() if status == "SUCCESS" else None,
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    if changed != 1:
        session.rollback()
        return "duplicate"
    order = session.get(Order, refund.order_id)
    case = session.get(AfterSale, refund.after_sale_id) if refund.after_sale_id else None
    if status != "SUCCESS":
        payments.flag_anomaly(
            session, kind="REFUND_FAILED", reference=out_refund_no, order_id=order.id, status=status
        )
        session.commit()
        return "failed"
    order.refunded_total += refund.amount
    if case is not None:
        case.status = REFUNDED
    events.record(
        session, order.id, "REFUND_PAID", out_refund_no=out_refund_no, amount=refund.amount
    )
    order_id = order.id
    on_commit(session, lambda: enqueue("jobs.fulfilment.tell_buyer", order_id, "REFUNDED"))
    if order.refunded_total >= order.total:
        if order.status_before_refund == PAID or (case is not None and case.type == REFUND_ONLY):
            inventory.release(session, order_id=order.id, reason="未发货退款，库存释放")
        lifecycle.move(session, order.id, "REFUNDED")
    elif order.status == ORDER_REFUNDING and order.status_before_refund:
        lifecycle.move(session, order.id, "PARTLY_REFUNDED")
    session.commit()
    return "refunded"
