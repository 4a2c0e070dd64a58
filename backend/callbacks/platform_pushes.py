"""POST /callbacks/platforms/{douyin,youzan}: the platforms' order message pushes.

The signature is checked over the raw body before anything else (a push unsigned or wrongly
signed is refused and changes nothing); then the reply is the platform's success at once, the
work (an immediate read of the shop's recent orders through the order API) queued. A duplicate
and a push for a shop we do not know are acknowledged too: sending them again cannot help."""

import logging

from flask import request

from backend.callbacks import bp
from backend.extensions import db
from backend.platforms import pushes

log = logging.getLogger(__name__)


@bp.post("/platforms/<platform>")
@bp.doc(hide=True)
def platform_push(platform: str):
    if platform not in pushes.PUSHING:
        return {"code": 404, "msg": "该平台不推送消息"}, 404
    try:
        counts = pushes.receive(db.session, platform, request.headers, request.get_data())
    except pushes.BadPush as refused:
        log.warning("%s push refused: %s", platform, refused)
        return {"code": 40004, "msg": str(refused)}, 401
    if counts["unknown_shop"]:
        log.info("%s push: %s", platform, counts)
    return pushes.REPLIES[platform]
