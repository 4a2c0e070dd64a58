"""/console/api: brand licences, code print runs and their exports, flagged codes, and the
Official Account bind codes of sellers and staff."""

from __future__ import annotations

import io
import zipfile

import segno
from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import Length, OneOf, Range
from flask import Response, current_app

from backend.clients.wechat import WeChatError, wechat_client
from backend.console.access import staff_required
from backend.csv_export import csv_download, csv_text
from backend.errors import NotFound, UpstreamUnavailable
from backend.extensions import db
from backend.officialaccount import service as officialaccount
from backend.schemas import In
from backend.sellers import service as sellers
from backend.sellers.models import BrandLicence
from backend.sellers.schemas import GrantIn, NoteIn, RenewIn
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso
from backend.trace import codes as trace_codes
from backend.trace import queries as trace_queries
from backend.trace import service as trace
from backend.trace.schemas import PrintRunIn
from backend.workspace import login as seller_login

bp = APIBlueprint("brand_api", __name__, tag="Console: brand")

LABELS_PER_ZIP = 1000


class LabelsQuery(In):
    offset = Integer(load_default=0, validate=Range(0))
    limit = Integer(load_default=LABELS_PER_ZIP, validate=Range(1, LABELS_PER_ZIP))


class FlagQuery(In):
    reason = String(
        validate=OneOf(
            [trace.TOO_MANY_SCANS, trace.IMPOSSIBLE_TRAVEL, trace.AFTER_USE_BY, trace.NOT_OURS]
        )
    )
    seller_id = Integer(validate=Range(1))
    region = String(validate=Length(1, 40))
    page = Integer(load_default=1, validate=Range(1, 10000))
    page_size = Integer(load_default=50, validate=Range(1, 200))


def render_licence(licence: BrandLicence) -> dict:
    return {
        "id": licence.id,
        "number": licence.number,
        "seller_id": licence.seller_id,
        "product_ids": licence.product_ids,
        "valid_from": licence.valid_from.isoformat(),
        "valid_until": licence.valid_until.isoformat(),
        "status": licence.status,
        "note": licence.note,
    }


def trace_url(code: str) -> str:
    return current_app.config["TRACE_URL_BASE"] + code


@bp.post("/licences")
@staff_required(perms.LICENCES)
@bp.input(GrantIn, arg_name="body")
def grant_licence(body, staff):
    return render_licence(
        sellers.grant_licence(
            db.session,
            seller_id=body["seller_id"],
            product_ids=body["product_ids"],
            valid_from=body["valid_from"],
            valid_until=body["valid_until"],
            staff_id=staff.id,
            note=body["note"],
        )
    ), 201


@bp.post("/licences/<int:licence_id>/renew")
@staff_required(perms.LICENCES)
@bp.input(RenewIn, arg_name="body")
def renew_licence(licence_id: int, body, staff):
    return render_licence(
        sellers.renew_licence(
            db.session,
            licence_id=licence_id,
            valid_until=body["valid_until"],
            product_ids=body.get("product_ids"),
            staff_id=staff.id,
        )
    )


@bp.post("/licences/<int:licence_id>/suspend")
@staff_required(perms.LICENCES)
@bp.input(NoteIn, arg_name="body")
def suspend_licence(licence_id: int, body, staff):
    return render_licence(
        sellers.set_suspended(
            db.session, licence_id=licence_id, suspended=True, note=body["note"], staff_id=staff.id
        )
    )


@bp.post("/licences/<int:licence_id>/resume")
@staff_required(perms.LICENCES)
@bp.input(NoteIn, arg_name="body")
def resume_licence(licence_id: int, body, staff):
    return render_licence(
        sellers.set_suspended(
            db.session, licence_id=licence_id, suspended=False, note=body["note"], staff_id=staff.id
        )
    )


@bp.post("/print-runs")
@staff_required(perms.CODES)
@bp.input(PrintRunIn, arg_name="body")
def create_print_run(body, staff):
    run = trace.create_print_run(
        db.session,
        seller_id=body["seller_id"],
        lot_id=body["lot_id"],
        quantity=body["quantity"],
        staff_id=staff.id,
    )
    return {
        "id": run.id,
        "lot_id": run.lot_id,
        "seller_id": run.seller_id,
        "quantity": run.quantity,
        "created_at": to_shanghai_iso(run.created_at),
    }, 201


@bp.get("/print-runs/<int:print_run_id>/codes.csv")
@staff_required(perms.CODES)
def export_csv(print_run_id: int, staff):
    rows = trace.print_run_codes(db.session, print_run_id=print_run_id)
    table = [["serial", "code", "url"], *([r.serial, r.code, trace_url(r.code)] for r in rows)]
    return csv_download(csv_text(table), f"print-run-{print_run_id}.csv")


@bp.get("/print-runs/<int:print_run_id>/labels.zip")
@staff_required(perms.CODES)
@bp.input(LabelsQuery, location="query", arg_name="query")
def export_labels(print_run_id: int, query, staff):
    """Printable QR labels (PNG, one per code), up to 1000 per download."""
    rows = trace.print_run_codes(
        db.session, print_run_id=print_run_id, offset=query["offset"], limit=query["limit"]
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for row in rows:
            image = io.BytesIO()
            segno.make(trace_url(row.code), error="m").save(image, kind="png", scale=6, border=2)
            archive.writestr(f"{row.serial:06d}-{row.code}.png", image.getvalue())
    return Response(
        buffer.getvalue(),
        mimetype="application/zip",
        headers={
            "Content-Disposition": f"attachment; filename=print-run-{print_run_id}-labels.zip"
        },
    )


def _known_code(code: str) -> str:
    value = trace_codes.normalize(code)
    if value is None or not trace_queries.code_exists(db.session, value):
        raise NotFound("防伪码不存在", code="TRACE_CODE_NOT_FOUND")
    return value


@bp.get("/codes/<code>/qr.svg")
@staff_required(perms.CODES)
def code_qr(code: str, staff):
    out = io.BytesIO()
    segno.make(trace_url(_known_code(code)), error="m").save(out, kind="svg", scale=4)
    return Response(out.getvalue(), mimetype="image/svg+xml")


@bp.get("/codes/<code>/wxacode.png")
@staff_required(perms.CODES)
def code_wxacode(code: str, staff):
    """The mini-program code that opens the trace page with this code as its scene."""
    try:
        image = wechat_client().wxa_code(
            scene=_known_code(code), page=current_app.config["WXACODE_TRACE_PAGE"]
        )
    except WeChatError as exc:
        raise UpstreamUnavailable(details={"errcode": exc.errcode}) from exc
    return Response(image, mimetype="image/png")


@bp.get("/trace-flags")
@staff_required(perms.FLAGS)
@bp.input(FlagQuery, location="query", arg_name="query")
def trace_flags(query, staff):
    flags, total = trace_queries.flags(
        db.session,
        reason=query.get("reason"),
        seller_id=query.get("seller_id"),
        region=query.get("region"),
        page=query["page"],
        page_size=query["page_size"],
    )
    return {
        "items": flags,
        "total": total,
        "by_seller": trace_queries.flag_counts(db.session, by="seller"),
        "by_region": trace_queries.flag_counts(db.session, by="region"),
        "reports": trace_queries.recent_reports(db.session),
    }


@bp.post("/sellers/<int:seller_id>/oa-bind-code")
@staff_required(perms.SELLER_BIND)
@bp.doc(summary="卖家绑定公众号的一次性绑定码（30 分钟内有效）")
def seller_bind_code(seller_id: int, staff):
    return sellers.issue_oa_bind_code(db.session, seller_id=seller_id, staff=staff), 201


@bp.post("/sellers/<int:seller_id>/login-links")
@staff_required(perms.SELLER_BIND)
@bp.doc(summary="卖家工作台的一次性登录链接（交给卖家，只能用一次）")
def seller_login_link(seller_id: int, staff):
    return seller_login.issue_login_link(db.session, seller_id=seller_id), 201


@bp.post("/staff/me/oa-bind-code")
@staff_required(perms.CONSOLE)
@bp.doc(summary="员工（主播）绑定公众号的一次性绑定码，用于接收直播总结")
def staff_bind_code(staff):
    return officialaccount.issue_bind_code(staff_id=staff.id), 201
