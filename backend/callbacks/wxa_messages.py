"""/callbacks/wxa/messages: the mini-program's message pushes (消息推送, JSON in plain mode),
signed as WeChat signs them: `signature = sha1(sorted(token, timestamp, nonce))` with
WXA_MESSAGE_TOKEN (api-facts §1.8). GET answers the URL check with `echostr`.

Taken: the shipping-management events (api-facts §7.1) — a settlement recorded once on the
order's history (the funds WeChat held are released), a reminder to ship alerts staff. A push
without a configured token, with a bad or stale signature, is refused and changes nothing."""

import logging
import time

from flask import current_app, request
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import check_signature

from backend.callbacks import bp
from backend.errors import NotConfigured
from backend.extensions import db
from backend.fulfilment import settlement

log = logging.getLogger(__name__)
MAX_SKEW_SECONDS = 300


def _verified() -> None:
    token = current_app.config["WXA_MESSAGE_TOKEN"]
    if not token:
        log.error("mini-program message push refused: WXA_MESSAGE_TOKEN is not set")
        raise NotConfigured()
    args = request.args
    timestamp = args.get("timestamp", "")
    if (
        not timestamp.isascii()
        or not timestamp.isdigit()
        or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS
    ):
        raise InvalidSignatureException()
    check_signature(token, args.get("signature", ""), timestamp, args.get("nonce", ""))


@bp.get("/wxa/messages")
@bp.doc(hide=True)
def wxa_message_check():
    try:
        _verified()
    except InvalidSignatureException:
        return "invalid signature", 403
    return request.args.get("echostr", "")


@bp.post("/wxa/messages")
@bp.doc(hide=True)
def wxa_message():
    try:
        _verified()
    except InvalidSignatureException:
        return "invalid signature", 403
    message = request.get_json(silent=True)
    if not isinstance(message, dict):
        return "bad message", 400
    settlement.take_push(db.session, message)
    return "success"
