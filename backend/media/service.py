"""Pictures: buyers' photos (after-sales evidence, shown only to their owner and staff) and
the catalogue's product pictures (public, served resized). Both are checked (a real JPEG, PNG or
WebP picture of sensible size, whatever the upload claims to be) and stored under an unguessable
key in the storage."""

from __future__ import annotations

import io
import re
import secrets

from flask import current_app
from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue import cache
from backend.catalogue.models import Product
from backend.errors import BadRequest, NotFound, RuleBroken, get_or_404
from backend.media.models import Photo
from backend.media.storage import storage
from backend.staff.models import Staff

TYPES = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_SIDE = 8000  # pixels: larger is no phone photo, and may be a decompression bomb
MIN_SIDE = 64
KEY_LENGTH = 32


def current_limit() -> int:
    return current_app.config["PHOTO_MAX_BYTES"]


def checked_picture(data: bytes, most: int) -> tuple[str, int, int]:
    """The type, width and height of a real JPEG, PNG or WebP picture of at most `most` bytes
    and sensible size, whatever the upload claims to be; RuleBroken (422) for anything else."""
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
    return TYPES[kind], width, height


def save_photo(session: Session, *, customer_id: int, data: bytes) -> Photo:
    """Store a buyer's photo; RuleBroken (422) for anything but a real picture within limits."""
    content_type, width, height = checked_picture(data, current_app.config["PHOTO_MAX_BYTES"])
    daily = current_app.config["PHOTOS_PER_CUSTOMER"]
    count = session.scalar(select(func.count()).where(Photo.customer_id == customer_id))
    if count >= daily:
        raise RuleBroken("上传的照片太多了，请联系客服", code="PHOTO_LIMIT")
    key = secrets.token_urlsafe(24)[:KEY_LENGTH]
    storage().put(key, data)
    photo = Photo(
        key=key,
        customer_id=customer_id,
        content_type=content_type,
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


# --- product pictures ----------------------------------------------------------------------------

PRODUCT_PICTURE_PREFIX = "p"
PICTURE_WIDTHS = (200, 400, 800)  # the sizes the mini-program asks for (list, detail, zoom)
# product pictures (p…) and farms' growth photos (g…, backend/adoption/growth.py)
_PICTURE_KEY = re.compile(r"[pg][A-Za-z0-9_-]{31}")


def picture_url(key: str) -> str:
    return f"/api/v1/pictures/{key}"


def set_product_picture(
    session: Session, *, product_id: int, data: bytes, staff: Staff | None
) -> Product:
    """Staff upload a product's picture: checked like a photo, stored under a new unguessable
    key (the old picture's URL stays valid for pages already open), audited, and shown by the
    mini-program as soon as it commits."""
    product = get_or_404(session, Product, product_id, "商品不存在", code="PRODUCT_NOT_FOUND")
    checked_picture(data, current_app.config["PHOTO_MAX_BYTES"])
    key = PRODUCT_PICTURE_PREFIX + secrets.token_urlsafe(24)[: KEY_LENGTH - 1]
    storage().put(key, data)
    before = product.image_url
    product.image_url = picture_url(key)
    audit.record(
        session,
        staff=staff,
        action="product.picture",
        target_type="product",
        target_id=product.id,
        summary=f"{product.name} 更换图片",
        before={"image_url": before},
        after={"image_url": product.image_url},
    )
    cache.invalidate(session)
    session.commit()
    return product


def product_picture(key: str, width: int | None) -> tuple[bytes, str]:
    """A product picture, resized to one of PICTURE_WIDTHS (kept once made) or as uploaded."""
    if not _PICTURE_KEY.fullmatch(key):
        raise NotFound("图片不存在", code="PICTURE_NOT_FOUND")
    original = storage().get(key)
    if original is None:
        raise NotFound("图片不存在", code="PICTURE_NOT_FOUND")
    if width is None:
        with Image.open(io.BytesIO(original)) as picture:
            return original, TYPES.get(picture.format, "application/octet-stream")
    if width not in PICTURE_WIDTHS:
        raise BadRequest(
            f"图片宽度只能是 {'、'.join(map(str, PICTURE_WIDTHS))}", code="PICTURE_WIDTH"
        )
    variant = f"{key}.w{width}"
    resized = storage().get(variant)
    if resized is None:
        with Image.open(io.BytesIO(original)) as picture:
            picture = ImageOps.exif_transpose(picture).convert("RGB")
            picture.thumbnail((width, width * 4))
            out = io.BytesIO()
            picture.save(out, "JPEG", quality=85, optimize=True)
        resized = out.getvalue()
        storage().put(variant, resized)
    return resized, "image/jpeg"
