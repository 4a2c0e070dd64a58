"""Buyers' photos: checked (a real JPEG, PNG or WebP picture of sensible size, whatever the
upload claims to be), stored under an unguessable key, and shown only to their owner and staff.
"""

from __future__ import annotations

import io
import secrets

from flask import current_app
from PIL import Image, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.errors import NotFound, RuleBroken
from backend.media.models import Photo
from backend.media.storage import storage

TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_SIDE = 8000  # pixels: larger is no phone photo, and may be a decompression bomb
MIN_SIDE = 64
KEY_LENGTH = 32


def current_limit() -> int:
    return current_app.config["PHOTO_MAX_BYTES"]


def save_photo(session: Session, *, customer_id: int, data: bytes) -> Photo:
    """Store a buyer's photo; RuleBroken (422) for anything but a real picture within limits."""
    most = current_app.config["PHOTO_MAX_BYTES"]
    if not data:
        raise RuleBroken("请选择要上传的照片", code="PHOTO_EMPTY")
    if len(data) > most:
        raise RuleBroken(
            f"照片不能超过 {most // (1024 * 1024)}MB",
            code="PHOTO_TOO_LARGE",
            details={"max_bytes": most},
        )
    try:
        with Image.open(io.BytesIO(data)) as picture:
            kind, (width, height) = picture.format, picture.size
            if max(width, height) > MAX_SIDE or min(width, height) < MIN_SIDE:
                raise RuleBroken("照片尺寸不合适，请拍摄清晰的照片", code="PHOTO_SIZE")
            picture.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise RuleBroken("只能上传 JPG、PNG 或 WebP 格式的照片", code="PHOTO_TYPE") from None
    if kind not in TYPES:
        raise RuleBroken("只能上传 JPG、PNG 或 WebP 格式的照片", code="PHOTO_TYPE")
    daily = current_app.config["PHOTOS_PER_CUSTOMER"]
    count = session.scalar(select(func.count()).where(Photo.customer_id == customer_id))
    if count >= daily:
        raise RuleBroken("上传的照片太多了，请联系客服", code="PHOTO_LIMIT")
    key = secrets.token_urlsafe(24)[:KEY_LENGTH]
    storage().put(key, data)
    photo = Photo(
        key=key,
        customer_id=customer_id,
        content_type=TYPES[kind],
        size=len(data),
        width=width,
        height=height,
    )
    session.add(photo)
    session.commit()
    return photo


def owned_keys(session: Session, *, customer_id: int, keys: list[str]) -> list[str]:
    """The keys, checked to be photos this buyer uploaded (NotFound otherwise)."""
    if not keys:
        return []
    found = set(
        session.scalars(
            select(Photo.key).where(Photo.key.in_(keys), Photo.customer_id == customer_id)
        )
    )
    missing = [key for key in keys if key not in found]
    if missing:
        raise NotFound("照片不存在，请重新上传", code="PHOTO_NOT_FOUND", details={"keys": missing})
    return list(keys)


def photo_bytes(session: Session, *, key: str, customer_id: int | None) -> tuple[bytes, str]:
    """A photo's bytes and type, for its owner (customer_id) or for staff (None)."""
    photo = session.scalar(select(Photo).where(Photo.key == key))
    if photo is None or (customer_id is not None and photo.customer_id != customer_id):
        raise NotFound("照片不存在", code="PHOTO_NOT_FOUND")
    data = storage().get(photo.key)
    if data is None:
        raise NotFound("照片不存在", code="PHOTO_NOT_FOUND")
    return data, photo.content_type
