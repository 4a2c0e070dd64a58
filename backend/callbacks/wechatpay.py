"""POST /callbacks/wechatpay: WeChat Pay v3 notifications (payments and refunds).

Answers 204 once applied (or already applied), 4xx with {"code":"FAIL"} for notifications we
refuse, 5xx when we could not decide now and want WeChat Pay to send it again.
"""

from flask import request

from backend.aftersales import service as aftersales
from backend.callbacks import bp
from backend.errors import DomainError
from backend.extensions import db
from backend.payments import service as payments


def _fail(message: str, status: int):
    return {"code": "FAIL", "message": message}, status


@bp.post("/wechatpay")
@bp.doc(hide=True)
def wechatpay_notification():
    try:
        notification = payments.verify_notification(dict(request.headers), request.get_data())
        resource = notification["resource"]
        if notification.get("event_type", "").startswith("REFUND."):
            aftersales.apply_refund_result(db.session, resource)
        else:
            payments.apply_transaction(db.session, resource, source="notification")
    except DomainError as error:
        db.session.rollback()
        return _fail(error.message, error.status)
    return "", 204
