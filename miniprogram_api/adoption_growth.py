"""GET /api/v1/adoptions/{id}/growth: the growth timeline of the buyer's adopted unit — the
household's photos and measurements, newest first (updates staff hid are left out)."""

from apiflask import Schema
from apiflask.fields import Dict, Integer, List, Nested, String

from backend.adoption import adopting, growth
from backend.adoption.units import unit_name
from backend.extensions import db
from miniprogram_api import api_v1
from miniprogram_api.auth import current_customer_id, token_auth


class GrowthPhotoOut(Schema):
    url = String(metadata={"description": "原图（宽 800）"})
    thumb = String(metadata={"description": "缩略图（宽 200）"})


class GrowthItemOut(Schema):
    id = Integer()
    measured_at = String(metadata={"description": "测量时间（北京时间，ISO 8601）"})
    measurements = Dict(
        metadata={
            "description": "size_mm 壳长、weight_g 单只重、water_temp_c 水温、"
            "salinity_permille 盐度"
        }
    )
    measurement_text = String(metadata={"description": "如 壳长 62毫米 · 水温 14.5℃"})
    note = String()
    photos = List(Nested(GrowthPhotoOut))
    source = String(metadata={"description": "phone 养殖户手机 / api 养殖系统"})


class GrowthOut(Schema):
    adoption_id = Integer()
    unit_code = String()
    unit_name = String(metadata={"description": "如 3号筏 12号笼"})
    items = List(Nested(GrowthItemOut))


@api_v1.get("/adoptions/<int:adoption_id>/growth")
@api_v1.auth_required(token_auth)
@api_v1.output(GrowthOut)
@api_v1.doc(summary="认养单元的生长动态（最新在前）", responses=[404])
def adoption_growth(adoption_id: int):
    adoption = adopting.get_adoption(
        db.session, customer_id=current_customer_id(), adoption_id=adoption_id
    )
    return {
        "adoption_id": adoption.id,
        "unit_code": adoption.unit.code,
        "unit_name": unit_name(adoption.unit),
        "items": growth.timeline(db.session, unit_id=adoption.unit_id),
    }
