"""POST /callbacks/courier/kuaidi100: 快递100's tracking pushes (form: param + sign).

Each parcel's waybill was subscribed with its own salt, so a push is verified with the salt of
the parcel it names (sign = MD5(param + salt)). Answers 快递100's success reply once applied
(duplicates and late pushes of older states included); a bad signature or a push we cannot read
is refused, and a push for a number we never shipped is acknowledged and ignored."""

import json
import logging

from flask import request

from backend.callbacks import bp
from backend.clients import courier
from backend.extensions import db
from backend.fulfilment import service as fulfilment

log = logging.getLogger(__name__)


def _refuse(message: str, status: int):
    return {"result": False, "returnCode": "500", "message": message}, status


@bp.post("/courier/kuaidi100")
@bp.doc(hide=True)
def kuaidi100_push():
    form = request.form.to_dict()
    try:
        named = json.loads(form.get("param") or "")["lastResult"]["nu"]
    except (ValueError, KeyError, TypeError):
        return _refuse("param 无法解析", 400)
    parcel = fulfilment.parcel_by_tracking(db.session, str(named))
    if parcel is None or not parcel.push_salt:
        log.warning("courier push for a tracking number we never shipped: %s", named)
        return courier.PUSH_REPLY
    try:
        push = courier.parse_push(form, salt=parcel.push_salt)
    except courier.BadSignature:
        return _refuse("签名错误", 401)
    except courier.CourierError as error:
        return _refuse(error.message, 400)
    fulfilment.apply_tracking(db.session, push)
    return courier.PUSH_REPLY
