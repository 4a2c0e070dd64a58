"""/callbacks/wechat-oa: the Official Account's server URL (docs/api-facts.md §1.8), registered by
create_app under /callbacks.

GET is WeChat's URL check (echo `echostr` when the signature holds). POST carries a message or
event, plain or in safe mode (AES, `encrypt_type=aes`); a bad signature answers 403, a body that
does not decrypt or parse 400. Replies go back in the mode the message came in."""

from __future__ import annotations

import logging

from apiflask import APIBlueprint
from flask import Response, current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import check_signature

from backend.extensions import db
from bots.officialaccount import handler

bp = APIBlueprint("wechat_oa", __name__)
log = logging.getLogger(__name__)


def _refuse(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


@bp.route("/wechat-oa", methods=["GET", "POST"])
@bp.doc(hide=True)
def wechat_oa():
    config = current_app.config
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        check_signature(config["WECHAT_OA_TOKEN"], args.get("signature", ""), timestamp, nonce)
    except InvalidSignatureException:
        return _refuse("invalid signature", 403)
    if request.method == "GET":
        return _refuse(args.get("echostr", ""), 200)

    crypto = None
    body = request.get_data()
    if args.get("encrypt_type") == "aes":
        crypto = WeChatCrypto(
            config["WECHAT_OA_TOKEN"], config["WECHAT_OA_AES_KEY"], config["WECHAT_OA_APPID"]
        )
        try:
            body = crypto.decrypt_message(body, args.get("msg_signature", ""), timestamp, nonce)
        except InvalidSignatureException:
            return _refuse("invalid msg_signature", 403)
        except (InvalidAppIdException, ValueError, KeyError, TypeError) as exc:
            log.warning("OA message does not decrypt: %s", exc)
            return _refuse("cannot decrypt", 400)
    try:
        message = parse_message(body)
    except Exception as exc:  # xmltodict raises several kinds on bad XML
        log.warning("OA message does not parse: %s", exc)
        return _refuse("bad message", 400)

    reply = handler.handle(db.session, message)
    if not reply:
        return _refuse("success", 200)
    xml = TextReply(content=reply, message=message).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, timestamp)
    return Response(xml, mimetype="application/xml")
