"""GET /api/v1/trace/{code}: what a package's anti-counterfeit code proves (no login needed);
POST /api/v1/trace-reports/{code}: report a fake to the alliance.

The rate limits here are shared with the /t/ page (miniprogram_api/trace_page.py): one budget
per network across both doors, and one per code in its normalised spelling, so lower-casing a
code, adding a space or switching door buys no extra scans. A scan spends them in the same Redis
round trip that counts and logs it (trace.scan); a report spends the network's before anything
else.

A scan of a harvest parcel's code shows the adopted unit it grew in (the chain's "adoption"
block, registered here); the adopter, scanning logged in, reads "你的 12号笼"."""

from functools import wraps

from apiflask.fields import Float, String
from apiflask.validators import Length, Range
from flask import request

from backend import ratelimit
from backend.adoption import harvest_views
from backend.customers import service as customers
from backend.errors import RuleBroken
from backend.extensions import db
from backend.schemas import In
from backend.trace import chain, codes, places, reports
from backend.trace import service as trace
from backend.trace.schemas import ReportIn
from miniprogram_api import api_v1

chain.add_block("adoption", harvest_views.chain_block)


class ScanQuery(In):
    lat = Float(validate=Range(-90, 90), metadata={"description": "扫码位置纬度（可选）"})
    lon = Float(validate=Range(-180, 180), metadata={"description": "扫码位置经度（可选）"})
    region = String(
        validate=Length(1, 40),
        metadata={"description": "扫码地区，如 广东省广州市（须以省份开头，否则不记录）"},
    )


def _network() -> str:
    return places.client_of(request.remote_addr or "")


def scan_limits(code: str, ip: str) -> list[tuple[str, str]]:
    """The budgets a scan spends: its network's and its code's (in the normalised spelling)."""
    return [("trace-network", places.client_of(ip)), ("trace-code", codes.clean(code))]


def report_limited(view):
    """Count a report of a fake against its network's budgets (scans' and reports') before
    anything else, as one Redis call: 429 with Retry-After when one is spent."""

    @wraps(view)
    def limited(*args, **kwargs):
        ratelimit.count(("trace-network", _network()), ("trace-report", _network()))
        return view(*args, **kwargs)

    return limited


def for_scanner(answer: dict, authorization: str | None) -> dict:
    """The answer as its scanner reads it: only a harvest parcel's code looks at the token (the
    adopter reads "你的 12号笼"); any other scan stays anonymous and costs nothing more."""
    if "adoption" not in answer:
        return answer
    scheme, _, token = (authorization or "").partition(" ")
    customer_id = customers.authenticate(db.session, token) if scheme == "Bearer" else None
    return harvest_views.for_scanner(db.session, answer, customer_id)


def place_of(query: dict) -> trace.Place:
    """The scan's place from checked query values (both coordinates or neither)."""
    if ("lat" in query) != ("lon" in query):
        # well-formed, yet not a place: a 422 (OpenAPI cannot say "both or neither")
        raise RuleBroken("经纬度需同时提供", code="INCOMPLETE_LOCATION")
    return trace.Place(
        latitude=query.get("lat"), longitude=query.get("lon"), region=query.get("region")
    )


@api_v1.get("/trace/<path:code>")
@api_v1.input(ScanQuery, location="query", arg_name="query")
@api_v1.doc(
    summary="防伪溯源查询：产地、加工、检验、授权卖家与查询记录",
    responses={200: "查询结果", 422: "经纬度只给了一个", 429: "查询太频繁"},
)
def scan_code(code: str, query):
    place, ip = place_of(query), request.remote_addr or ""
    answer = trace.scan(db.session, code, ip=ip, place=place, limits=scan_limits(code, ip))
    return for_scanner(answer, request.headers.get("Authorization"))


@api_v1.post("/trace-reports/<code>")
@report_limited
@api_v1.input(ReportIn, arg_name="body")
@api_v1.doc(summary="向联盟举报假冒：购买地点与情况说明", responses=[201, 400, 429])
def report_fake(code: str, body):
    return reports.report_fake(
        db.session, code, place=body["place"], note=body["note"], ip=request.remote_addr or ""
    ), 201
