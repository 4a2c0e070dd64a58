"""GET /api/v1/trace/{code}: what a package's anti-counterfeit code proves (no login needed)."""

from apiflask.fields import Float, String
from apiflask.validators import Length, Range
from flask import current_app, request

from backend.errors import RuleBroken
from backend.extensions import db, limiter
from backend.schemas import In
from backend.trace import service as trace
from miniprogram_api import api_v1


class ScanQuery(In):
    lat = Float(validate=Range(-90, 90), metadata={"description": "扫码位置纬度（可选）"})
    lon = Float(validate=Range(-180, 180), metadata={"description": "扫码位置经度（可选）"})
    region = String(validate=Length(1, 40), metadata={"description": "扫码地区，如 广东省广州市"})


def _per_code() -> str:
    return "trace-code:" + (request.view_args or {}).get("code", "")[:64]


@api_v1.get("/trace/<path:code>")
@limiter.limit(lambda: current_app.config["TRACE_RATE_PER_IP"])
@limiter.limit(lambda: current_app.config["TRACE_RATE_PER_CODE"], key_func=_per_code)
@api_v1.input(ScanQuery, location="query", arg_name="query")
@api_v1.doc(
    summary="防伪溯源查询：产地、加工、检验、授权卖家与查询记录",
    responses={200: "查询结果", 422: "经纬度只给了一个"},
)
def scan_code(code: str, query):
    if ("lat" in query) != ("lon" in query):
        # well-formed, yet not a place: a 422 (OpenAPI cannot say "both or neither")
        raise RuleBroken("经纬度需同时提供", code="INCOMPLETE_LOCATION")
    place = trace.Place(
        latitude=query.get("lat"), longitude=query.get("lon"), region=query.get("region")
    )
    return trace.scan(db.session, code, ip=request.remote_addr or "", place=place)
