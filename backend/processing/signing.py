"""Processing-line request signatures: HMAC-SHA256 with the plant's secret over
"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)", sent with the key id, timestamp and nonce.
Skewed timestamps and replayed nonces are refused."""

from __future__ import annotations

import hashlib
import hmac
import re
import time

from sqlalchemy.orm import Session

from backend.batches import service as batches
from backend.batches.models import Plant
from backend.errors import Unauthorized
from backend.queue import redis_client

MAX_SKEW_SECONDS = 300
NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
HEADERS = ("X-Heli-Key-Id", "X-Heli-Timestamp", "X-Heli-Nonce", "X-Heli-Signature")


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(session: Session, *, method: str, path: str, headers, body: bytes) -> Plant:
    """The plant that signed this request, or Unauthorized with the reason."""
    key_id, timestamp, nonce, signature = (headers.get(name, "") for name in HEADERS)
    if not (key_id and timestamp and nonce and signature):
        raise Unauthorized("缺少签名信息", code="SIGNATURE_MISSING")
    plant = batches.authenticate_plant(session, key_id)
    if plant is None:
        raise Unauthorized("未知的密钥编号", code="UNKNOWN_KEY_ID")
    if not timestamp.isdigit() or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS:
        raise Unauthorized("请求时间与服务器相差超过 5 分钟", code="TIMESTAMP_SKEWED")
    if not NONCE.match(nonce):
        raise Unauthorized("随机串格式不正确", code="NONCE_INVALID")
    expected = sign(plant.secret, method, path, timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Unauthorized("签名校验失败", code="SIGNATURE_INVALID")
    # Checked last, so an unsigned request cannot use up someone's nonce.
    if not redis_client().set(
        f"heli:processing:nonce:{key_id}:{nonce}", "1", nx=True, ex=2 * MAX_SKEW_SECONDS
    ):
        raise Unauthorized("该请求已处理过（随机串重复）", code="NONCE_REPLAYED")
    return plant
