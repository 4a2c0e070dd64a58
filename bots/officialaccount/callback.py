"""/callbacks/wechat-oa: the Official Account's server URL (docs/api-facts.md §1.8), registered by
create_app under /callbacks.

GET is WeChat's URL check (echo `echostr` when the signature holds). POST carries a message or
event, plain or in safe mode (AES, `encrypt_type=aes`); a bad signature answers 403, a body that
does not decrypt or parse 400. Replies go back in the mode the message came in.

The plain-mode signature covers only token + timestamp + nonce, not the body, so: a timestamp
more than 5 minutes off is refused; a (timestamp, nonce) pair is handled once (a re-used one is
answered "success" and does nothing — WeChat's own retries are already answered by MsgId); and
once an EncodingAESKey is configured only safe mode is accepted, whose msg_signature covers the
body. Without a token the callback refuses to run (503): it would accept anyone's signature."""

from __future__ import annotations

import hmac
import logging
import time

from apiflask import APIBlueprint
from flask import Response, current_app, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException
from wechatpy.replies import TextReply
from wechatpy.utils import WeChatSigner

from backend.errors import NotConfigured
from backend.extensions import db
from backend.queue import redis_client
from bots.officialaccount import handler

bp = APIBlueprint("wechat_oa", __name__)
log = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300
NONCE_TTL_SECONDS = 2 * MAX_SKEW_SECONDS  # outlives every timestamp the window still accepts


def _refuse(message: str, status: int) -> Response:
    return Response(message, status=status, mimetype="text/plain")


def _signed(token: str, signature: str, timestamp: str, nonce: str) -> bool:
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce)
    return hmac.compare_digest(signer.signature.encode(), signature.encode())


def _fresh(timestamp: str) -> bool:
    return (
        timestamp.isascii()
        and timestamp.isdigit()
        and abs(time.time() - int(timestamp)) <= MAX_SKEW_SECONDS
    )


@bp.route("/wechat-oa", methods=["GET", "POST"])
@bp.doc(hide=True)
def wechat_oa():
    config = current_app.config
    token, aes_key = config["WECHAT_OA_TOKEN"], config["WECHAT_OA_AES_KEY"]
    if not token:
        log.error("OA callback refused: WECHAT_OA_TOKEN is not configured")
        raise NotConfigured("公众号回调尚未配置令牌（Token），暂不受理")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    if not _signed(token, args.get("signature", ""), timestamp, nonce):
        return _refuse("invalid signature", 403)
    if not _fresh(timestamp):
        return _refuse("timestamp out of window", 403)
    if request.method == "GET":
        return _refuse(args.get("echostr", ""), 200)

    crypto = None
    body = request.get_data()
    if aes_key:  # safe mode configured: a plain push's body is signed by nobody
        if args.get("encrypt_type") != "aes":
            return _refuse("safe mode required", 403)
        crypto = WeChatCrypto(token, aes_key, config["WECHAT_OA_APPID"])
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

    # Checked after the signatures, so a forged request cannot use up a genuine nonce.
    used = f"heli:oa:nonce:{timestamp}:{nonce}"
    if not redis_client().set(used, 1, nx=True, ex=NONCE_TTL_SECONDS):
        log.warning("OA push with a re-used timestamp and nonce ignored (from %s)", message.source)
        return _refuse("success", 200)
    try:
        reply = handler.handle(db.session, message)
    except BaseException:
        redis_client().delete(used)  # WeChat's retry of a push that failed gets another go
        raise
    if not reply:
        return _refuse("success", 200)
    xml = TextReply(content=reply, message=message).render()
    if crypto is not None:
        xml = crypto.encrypt_message(xml, nonce, timestamp)
    return Response(xml, mimetype="application/xml")
