"""Processing-line request signatures: HMAC-SHA256 with the plant's secret over
"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)", sent with the key id, timestamp and nonce.
Skewed timestamps and replayed nonces are refused."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
import secrets
import time

from sqlalchemy.orm import Session

from backend.batches import service as batches
from backend.batches.models import Plant
from backend.errors import NotConfigured, Unauthorized
from backend.queue import redis_client

log = logging.getLogger(__name__)

MAX_SKEW_SECONDS = 300
NONCE = re.compile(r"^[A-Za-z0-9_\-]{16,64}$")
HEADERS = ("X-Heli-Key-Id", "X-Heli-Timestamp", "X-Heli-Nonce", "X-Heli-Signature")
# Signs for an unknown key id, so it costs what a known one costs; matches no signature.
_NO_PLANT_SECRET = secrets.token_hex(32)


def string_to_sign(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()])


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    message = string_to_sign(method, path, timestamp, nonce, body)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def verify(session: Session, *, method: str, path: str, headers, body: bytes) -> Plant:
    """The plant that signed this request, or Unauthorized with the reason. An unknown (or
    inactive) key id is answered exactly as a wrong signature, after the same work, so the API
    does not tell which key ids exist."""
    key_id, timestamp, nonce, signature = (headers.get(name, "") for name in HEADERS)
    if not (key_id and timestamp and nonce and signature):
        raise Unauthorized("缺少签名信息", code="SIGNATURE_MISSING")
    if (
        not timestamp.isascii()
        or not timestamp.isdigit()
        or abs(time.time() - int(timestamp)) > MAX_SKEW_SECONDS
    ):
        raise Unauthorized("请求时间与服务器相差超过 5 分钟", code="TIMESTAMP_SKEWED")
    if not NONCE.match(nonce):
        raise Unauthorized("随机串格式不正确", code="NONCE_INVALID")
    plant = batches.authenticate_plant(session, key_id)
    if plant is not None and not plant.secret:
        log.error("Processing API refused: plant %s has no secret configured", plant.id)
        raise NotConfigured("加工厂接口密钥尚未配置，暂不受理")
    secret = plant.secret if plant is not None else _NO_PLANT_SECRET
    expected = sign(secret, method, path, timestamp, nonce, body)
    matches = hmac.compare_digest(expected.encode(), signature.lower().encode())
    if plant is None or not matches:
        raise Unauthorized("签名校验失败", code="SIGNATURE_INVALID")
    # Checked last, so an unsigned request cannot use up someone's nonce.
    if not redis_client().set(
        f"heli:processing:nonce:{key_id}:{nonce}", "1", nx=True, ex=2 * MAX_SKEW_SECONDS
    ):
        raise Unauthorized("该请求已处理过（随机串重复）", code="NONCE_REPLAYED")
    return plant
