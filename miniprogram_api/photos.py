"""POST /api/v1/photos: a buyer uploads a photo (a dead-on-arrival claim's evidence) and gets
its key; GET /api/v1/photos/{key}: the buyer's own photo back; GET /api/v1/pictures/{key}: a
product picture, public and resized."""

from apiflask.fields import File
from flask import Response, request

from backend.errors import BadRequest, NotFound
from backend.extensions import db
from backend.media import service as media
from backend.schemas import In
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth
from miniprogram_api.schemas import PHOTO_KEY


class PhotoIn(In):
    file = File(required=True, metadata={"description": "JPG、PNG 或 WebP，最大 5MB"})


@api_v1.post("/photos")
@api_v1.auth_required(token_auth)
@api_v1.input(PhotoIn, location="files", arg_name="body")
@api_v1.doc(summary="上传照片（售后凭证）：返回照片编号", responses=[201, 400, 413, 422])
def upload_photo(body):
    data = body["file"].read(media.current_limit() + 1)
    photo = media.save_photo(db.session, customer_id=current_customer_id(), data=data)
    return {
        "key": photo.key,
        "url": f"/api/v1/photos/{photo.key}",
        "width": photo.width,
        "height": photo.height,
    }, 201


@api_v1.get("/photos/<key>")
@api_v1.auth_required(token_auth)
@api_v1.doc(summary="查看自己上传的照片", responses=[200, 404])
def get_photo(key: str):
    if not PHOTO_KEY.fullmatch(key):
        raise NotFound("照片不存在", code="PHOTO_NOT_FOUND")
    data, kind = media.photo_bytes(db.session, key=key, customer_id=current_customer_id())
    return Response(data, mimetype=kind, headers={"Cache-Control": "private, max-age=86400"})


@api_v1.get("/pictures/<key>")
@api_v1.doc(summary="商品图片（w=200/400/800 取缩略图）", responses=[200, 400, 404])
def get_picture(key: str):
    raw_width = request.args.get("w")
    width = int(raw_width) if raw_width and raw_width.isascii() and raw_width.isdigit() else None
    if raw_width and width is None:
        raise BadRequest("图片宽度须为数字", code="PICTURE_WIDTH")
    data, kind = media.product_picture(key[:40], width)
    return Response(data, mimetype=kind, headers={"Cache-Control": "public, max-age=31536000"})
