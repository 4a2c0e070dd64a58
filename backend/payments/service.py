"""Payments: WeChat Pay v3 prepay, notifications, reconciliation by query, close and refunds.

An order becomes PAID exactly once: the NOTPAY→SUCCESS change of its payment row is a conditional
UPDATE, and only the caller whose UPDATE matched goes on to commit the stock.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clients.wechatpay import WeChatPayError, notify_url, wechatpay_client
from backend.customers.models import Customer
from backend.errors import (
    Conflict,
    DomainError,
    NotConfigured,
    RuleBroken,
    UpstreamIdTaken,
    UpstreamUnavailable,
)
from backend.inventory import service as inventory
from backend.orders import events, lifecycle
from backend.orders.models import PENDING_PAYMENT, Order
from backend.payments.models import CLOSED, NOTPAY, SUCCESS, Payment, PaymentAnomaly, Refund
from backend.timeutil import SHANGHAI, to_aware_utc, utcnow
from backend.transactions import on_commit, retry_conflicts

log = logging.getLogger(__name__)

NOTIFICATION_MAX_AGE_SECONDS = 300
# What verifies and decrypts a notification (public-key mode: no platform certificates).
NOTIFICATION_SETTINGS = ("WECHATPAY_APIV3_KEY", "WECHATPAY_PUBLIC_KEY", "WECHATPAY_PUBLIC_KEY_ID")
SIGNTEST_PREFIX = "WECHATPAY/SIGNTEST/"
ALREADY_PAID, CLOSED_NOW, NOTHING_OPEN = "already_paid", "closed", "nothing_open"


class NotificationRejected(DomainError):
    status, code, message = 401, "SIGN_ERROR", "通知验签失败"


def _unavailable(exc: WeChatPayError) -> UpstreamUnavailable:
    return UpstreamUnavailable(
        "微信支付暂时不可用，请稍后再试",
        code="PAYMENT_UNAVAILABLE",
        details={"upstream_status": exc.status, "upstream_code": exc.code},
    )


def flag_anomaly(
    session: Session, *, kind: str, reference: str, order_id: int | None, **details
) -> None:
    """Record something about money for staff, once per (kind, reference)."""
    exists = session.scalar(
        select(PaymentAnomaly.id).where(
            PaymentAnomaly.kind == kind, PaymentAnomaly.reference == reference
        )
    )
    if exists is None:
        session.add(
            PaymentAnomaly(kind=kind, reference=reference, order_id=order_id, details=details)
        )


def open_anomalies(session: Session, *, limit: int = 200) -> list[PaymentAnomaly]:
    """Unresolved anomalies, newest first, for the staff console."""
    return list(
        session.scalars(
            select(PaymentAnomaly)
            .where(PaymentAnomaly.resolved.is_(False))
            .order_by(PaymentAnomaly.id.desc())
            .limit(limit)
        )
    )


@retry_conflicts
def prepare_payment(session: Session, *, customer_id: int, order: Order) -> dict:
    """WeChat Pay JSAPI prepay for an unpaid order → the signed wx.requestPayment parameters."""
    if order.status != PENDING_PAYMENT:
        raise Conflict(
            "订单当前状态不能支付", code="ORDER_NOT_PAYABLE", details={"status": order.status}
        )
    if order.pay_deadline <= utcnow():
        raise RuleBroken("订单已超过支付时限", code="PAY_DEADLINE_PASSED")
    if not order.address:  # a flash-sale claim is made before the buyer gives an address
        raise RuleBroken("请先填写收货地址", code="ADDRESS_REQUIRED")
    client = wechatpay_client()
    payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
    if payment is not None and payment.amount != order.total:
        # WeChat Pay holds the first total under this out_trade_no; the address (and with it
        # the shipping fee) changed after paying began.
        raise Conflict(
            "订单金额已变化，请取消订单后重新下单",
            code="ORDER_TOTAL_CHANGED",
            details={"asked": payment.amount, "total": order.total},
        )
    if payment is None or not payment.prepay_id or payment.prepay_expires_at <= utcnow():
        openid = session.scalar(select(Customer.openid).where(Customer.id == customer_id))
        deadline = to_aware_utc(order.pay_deadline).astimezone(SHANGHAI)
        try:
            # Same out_trade_no and body on a retry → WeChat Pay answers the same prepay_id.
            prepay_id = client.create_jsapi_prepay(
                out_trade_no=order.number,
                description=_description(order),
                total=order.total,
                openid=openid,
                time_expire=deadline.isoformat(timespec="seconds"),
                notify_url=notify_url(),
            )
        except WeChatPayError as exc:
            if exc.code == "ORDERPAID":
                reconcile(session, order_id=order.id)
                raise Conflict("订单已支付", code="ORDER_ALREADY_PAID") from exc
            raise _unavailable(exc) from exc
        if payment is None:
            payment = Payment(
                order_id=order.id,
                out_trade_no=order.number,
                amount=order.total,
                payer_openid=openid,
            )
            session.add(payment)
            # the total is now WeChat Pay's: set_address keeps the fee from changing
            events.record(session, order.id, "PAY_STARTED", amount=order.total)
        payment.prepay_id = prepay_id
        payment.prepay_expires_at = utcnow() + timedelta(hours=2)
        try:
            session.commit()
        except IntegrityError:  # a concurrent pay call stored the same prepay first
            session.rollback()
            payment = session.scalar(select(Payment).where(Payment.order_id == order.id))
    return client.request_payment_params(payment.prepay_id)


def _description(order: Order) -> str:
    if not order.items:  # an adoption: the remark names the unit
        return f"乳山牡蛎认养-{order.remark}"[:120]
    first = order.items[0]
    text = f"乳山牡蛎-{first.product_name}"
    if len(order.items) > 1:
        text += f"等{len(order.items)}件"
    return text[:120]


def verify_notification(headers: dict, body: bytes) -> dict:
    """A WeChat Pay notification with its resource decrypted; NotificationRejected otherwise,
    NotConfigured (503, WeChat Pay sends it again later) while our keys are not set."""
    config = current_app.config
    unset = [name for name in NOTIFICATION_SETTINGS if not config[name]]
    if unset:
        log.error("WeChat Pay notification refused: %s not configured", ", ".join(unset))
        raise NotConfigured("微信支付回调尚未配置密钥，暂不受理")
    signature = headers.get("Wechatpay-Signature", "")
    if not signature or signature.startswith(SIGNTEST_PREFIX):
        raise NotificationRejected()
    try:
        age = abs(time.time() - int(headers.get("Wechatpay-Timestamp", "0")))
    except ValueError as exc:
        raise NotificationRejected("通知时间戳无效") from exc
    if age > NOTIFICATION_MAX_AGE_SECONDS:
        raise NotificationRejected("通知时间戳过期")
    notification = wechatpay_client().verify_notification(headers, body)
    if not notification or not isinstance(notification.get("resource"), dict):
        raise NotificationRejected()
    return notification


@retry_conflicts
def apply_transaction(session: Session, transaction: dict, *, source: str) -> str:
    """Apply a verified transaction (from a notification or a query) to our payment and order.

    Answers "paid" for the one call that made the order PAID, "duplicate" for repeats,
    "ignored" for non-success states; raises RuleBroken for transactions that don't match ours.
    """
    config = current_app.config
    out_trade_no = transaction.get("out_trade_no", "")
    if (
        transaction.get("mchid") != config["WECHATPAY_MCHID"]
        or transaction.get("appid") != config["WECHAT_APPID"]
    ):
        raise RuleBroken("商户号或 AppID 不匹配", code="MERCHANT_MISMATCH")
    payment = session.scalar(select(Payment).where(Payment.out_trade_no == out_trade_no))
    if payment is None:
        raise RuleBroken("订单不存在", code="UNKNOWN_OUT_TRADE_NO")
    paid_total = (transaction.get("amount") or {}).get("total")
    if paid_total != payment.amount:
        flag_anomaly(
            session,
            kind="WRONG_AMOUNT",
            reference=out_trade_no,
            order_id=payment.order_id,
            expected=payment.amount,
            notified=paid_total,
            transaction_id=transaction.get("transaction_id"),
        )
        session.commit()
        raise RuleBroken("支付金额与订单金额不一致", code="AMOUNT_MISMATCH")
    if transaction.get("trade_state") != SUCCESS:
        return "ignored"
    transaction_id = transaction.get("transaction_id")
    holder = session.scalar(
        select(Payment.out_trade_no).where(
            Payment.transaction_id == transaction_id, Payment.id != payment.id
        )
    )
    if transaction_id and holder is not None:
        # WeChat Pay names another of our payments with this id: never overwrite, tell staff.
        flag_anomaly(
            session,
            kind="TRANSACTION_ID_TAKEN",
            reference=out_trade_no,
            order_id=payment.order_id,
            transaction_id=transaction_id,
            held_by=holder,
        )
        session.commit()
        raise UpstreamIdTaken(
            "微信支付返回的交易单号已属于另一笔支付，请联系技术人员核对",
            code="TRANSACTION_ID_TAKEN",
            details={"transaction_id": transaction_id},
        )

    won = (
        session.execute(
            update(Payment)
            .where(Payment.id == payment.id, Payment.status.in_((NOTPAY, CLOSED)))
            .values(
                status=SUCCESS,
                transaction_id=transaction_id,
                paid_at=utcnow(),
                confirmed_by=source,
            )
            .execution_options(synchronize_session=False)
        ).rowcount
        == 1
    )
    if not won:
        session.rollback()
        return "duplicate"
    _mark_order_paid(session, payment.order_id, transaction)
    session.commit()
    return "paid"


def _mark_order_paid(session: Session, order_id: int, transaction: dict) -> None:
    order = session.get(Order, order_id)
    paid = lifecycle.try_move(
        session,
        order_id,
        "PAID",
        note={"transaction_id": transaction.get("transaction_id")},
        cancelled_at=None,
        cancel_reason=None,
    )
    if not paid or not order.items:  # an adoption takes no stock
        return
    if inventory.commit(session, order_id=order_id):
        return
    # Paid after its hold was released (the order had expired): sell again if stock remains,
    # otherwise refund in full and tell staff.
    lines = {item.sku_id: item.quantity for item in order.items}
    savepoint = session.begin_nested()
    try:
        inventory.reserve_and_commit(session, order_id=order_id, lines=lines)
        savepoint.commit()
    except DomainError:
        savepoint.rollback()
        flag_anomaly(
            session,
            kind="PAID_AFTER_CANCEL",
            reference=order.number,
            order_id=order_id,
            transaction_id=transaction.get("transaction_id"),
        )
        refund = create_refund(
            session,
            order=order,
            amount=order.total,
            after_sale_id=None,
            reason="订单已超时取消且库存不足，全额退款",
        )
        lifecycle.move(session, order_id, "REFUND_REQUESTED", note={"refund_id": refund.id})
        refund_id = refund.id
        on_commit(session, lambda: _enqueue_refund(refund_id))


def _enqueue_refund(refund_id: int) -> None:
    from backend.queue import enqueue

    enqueue("jobs.payments.submit_refund", refund_id, job_id=f"submit-refund-{refund_id}")


def reconcile(session: Session, *, order_id: int) -> str:
    """Ask WeChat Pay about an order whose notification may never have come, and apply it."""
    payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
    if payment is None or payment.status == SUCCESS:
        return "nothing_to_do"
    try:
        transaction = wechatpay_client().query_by_out_trade_no(payment.out_trade_no)
    except WeChatPayError as exc:
        if exc.code == "ORDER_NOT_EXIST":
            return "not_at_wechatpay"
        raise _unavailable(exc) from exc
    return apply_transaction(session, transaction, source="query")


def close_open_payment(session: Session, *, order_id: int) -> str:
    """Close the order's WeChat Pay transaction so it can no longer be paid.

    Answers ALREADY_PAID when WeChat Pay says it was paid (and records the payment),
    CLOSED_NOW, or NOTHING_OPEN when no prepay was ever made.
    """
    payment = session.scalar(select(Payment).where(Payment.order_id == order_id))
    if payment is None:
        return NOTHING_OPEN
    if payment.status == SUCCESS:
        return ALREADY_PAID
    if payment.status == CLOSED:
        return CLOSED_NOW
    if reconcile(session, order_id=order_id) in ("paid", "duplicate"):
        return ALREADY_PAID
    try:
        wechatpay_client().close(payment.out_trade_no)
    except WeChatPayError as exc:
        if exc.code == "ORDERPAID":
            reconcile(session, order_id=order_id)
            return ALREADY_PAID
        if exc.code not in ("ORDER_NOT_EXIST", "ORDER_CLOSED"):
            raise _unavailable(exc) from exc
    payment.status = CLOSED
    session.flush()
    return CLOSED_NOW


def pending_payment_order_ids(
    session: Session, *, older_than_seconds: int = 120, limit: int = 500
) -> list[int]:
    """Unpaid orders with a prepay older than a while: candidates for reconciliation by query."""
    cutoff = utcnow() - timedelta(seconds=older_than_seconds)
    return list(
        session.scalars(
            select(Payment.order_id)
            .join(Order, Order.id == Payment.order_id)
            .where(
                Payment.status == NOTPAY,
                Order.status == PENDING_PAYMENT,
                Payment.created_at <= cutoff,
            )
            .order_by(Payment.id)
            .limit(limit)
        )
    )


# Refunds -------------------------------------------------------------------------------------


def create_refund(
    session: Session,
    *,
    order: Order,
    amount: int,
    after_sale_id: int | None,
    reason: str,
    suffix: str | None = None,
) -> Refund:
    """A refund row to submit after commit; its out_refund_no makes resubmission idempotent.
    `suffix` names a refund that is neither an after-sale's nor a cancelled order's."""
    suffix = suffix or (f"A{after_sale_id}" if after_sale_id else "C")
    refund = Refund(
        order_id=order.id,
        after_sale_id=after_sale_id,
        amount=amount,
        reason=reason[:80],
        out_refund_no=f"RF{order.number}{suffix}",
    )
    session.add(refund)
    session.flush()
    return refund


def submit_refund(session: Session, *, refund_id: int) -> str:
    """Send a PENDING refund to WeChat Pay; transient failures raise so the job retries."""
    refund = session.get(Refund, refund_id)
    if refund is None or refund.status != "PENDING":
        return "nothing_to_do"
    order = session.get(Order, refund.order_id)
    try:
        result = wechatpay_client().refund(
            out_trade_no=order.number,
            out_refund_no=refund.out_refund_no,
            refund=refund.amount,
            total=order.total,
            reason=refund.reason,
            notify_url=notify_url(),
        )
    except WeChatPayError as exc:
        if exc.transient:
            raise _unavailable(exc) from exc
        refund.status = "ABNORMAL"
        flag_anomaly(
            session,
            kind="REFUND_REFUSED",
            reference=refund.out_refund_no,
            order_id=order.id,
            upstream_code=exc.code,
            message=exc.message,
        )
        session.commit()
        return "refused"
    session.execute(
        update(Refund)
        .where(Refund.id == refund.id, Refund.status == "PENDING")
        .values(status="PROCESSING", refund_id=result.get("refund_id"))
        .execution_options(synchronize_session=False)
    )
    session.commit()
    return "submitted"


def query_refund(out_refund_no: str) -> dict:
    """WeChat Pay's view of a refund."""
    try:
        return wechatpay_client().query_refund(out_refund_no)
    except WeChatPayError as exc:
        raise _unavailable(exc) from exc


def unsettled_refunds(session: Session, *, limit: int = 500) -> list[tuple[int, str, str]]:
    """Refunds not yet final, as (id, status, out_refund_no), for resubmission or a query."""
    return list(
        session.execute(
            select(Refund.id, Refund.status, Refund.out_refund_no)
            .where(Refund.status.in_(("PENDING", "PROCESSING")))
            .order_by(Refund.id)
            .limit(limit)
        ).tuples()
    )
