"""/console/api: staff review sellers' applications (approve: the seller, their licence, a bind
code and a welcome notice; reject with a reason) and decide licence renewals."""

from __future__ import annotations

from apiflask import APIBlueprint
from apiflask.fields import Integer, String
from apiflask.validators import OneOf, Range

from backend.console.access import staff_required
from backend.extensions import db
from backend.onboarding import service as onboarding
from backend.onboarding.models import APPROVED, PENDING, REJECTED
from backend.onboarding.schemas import RejectIn, RenewalApproveIn
from backend.schemas import In
from backend.staff import permissions as perms
from backend.timeutil import to_shanghai_iso

bp = APIBlueprint("onboarding_api", __name__, tag="Console: onboarding")
STATUSES = (PENDING, APPROVED, REJECTED)


class ListQuery(In):
    status = String(load_default=None, validate=OneOf(STATUSES))
    page = Integer(load_default=1, validate=Range(1, 10_000))
    page_size = Integer(load_default=50, validate=Range(1, 200))


def application_view(row) -> dict:
    return {
        "id": row.id,
        "name": row.name,
        "shop_name": row.shop_name,
        "phone": row.phone,
        "town": row.town,
        "cooperative": row.cooperative,
        "platforms": row.platforms,
        "product_ids": row.product_ids,
        "wants_licence": row.wants_licence,
        "status": row.status,
        "reason": row.reason,
        "seller_id": row.seller_id,
        "licence_id": row.licence_id,
        "bind_code": onboarding.visible_bind_code(row),
        "created_at": to_shanghai_iso(row.created_at),
        "decided_at": to_shanghai_iso(row.decided_at),
    }


def renewal_view(row) -> dict:
    return {
        "id": row.id,
        "seller_id": row.seller_id,
        "licence_id": row.licence_id,
        "status": row.status,
        "reason": row.reason,
        "valid_until": row.valid_until.isoformat() if row.valid_until else None,
        "created_at": to_shanghai_iso(row.created_at),
        "decided_at": to_shanghai_iso(row.decided_at),
    }


@bp.get("/applications")
@staff_required(perms.SELLER_ONBOARDING)
@bp.input(ListQuery, location="query", arg_name="query")
def list_applications(query, staff):
    rows, total = onboarding.list_applications(db.session, **query)
    return {"items": [application_view(row) for row in rows], "total": total}


@bp.get("/applications/<int:application_id>")
@staff_required(perms.SELLER_ONBOARDING)
def get_application(application_id: int, staff):
    return application_view(onboarding.get_application(db.session, application_id))


@bp.post("/applications/<int:application_id>/approve")
@staff_required(perms.SELLER_ONBOARDING)
def approve_application(application_id: int, staff):
    done = onboarding.approve_application(
        db.session, application_id=application_id, staff_id=staff.id
    )
    return {**application_view(done["application"]), "bind_code_expires_in": 1800}


@bp.post("/applications/<int:application_id>/reject")
@staff_required(perms.SELLER_ONBOARDING)
@bp.input(RejectIn, arg_name="body")
def reject_application(application_id: int, body, staff):
    row = onboarding.reject_application(
        db.session, application_id=application_id, staff_id=staff.id, reason=body["reason"]
    )
    return application_view(row)


@bp.get("/licence-renewals")
@staff_required(perms.SELLER_ONBOARDING)
@bp.input(ListQuery, location="query", arg_name="query")
def list_renewals(query, staff):
    rows, total = onboarding.list_renewals(db.session, **query)
    return {"items": [renewal_view(row) for row in rows], "total": total}


@bp.post("/licence-renewals/<int:renewal_id>/approve")
@staff_required(perms.SELLER_ONBOARDING)
@bp.input(RenewalApproveIn, arg_name="body")
def approve_renewal(renewal_id: int, body, staff):
    row = onboarding.approve_renewal(
        db.session, renewal_id=renewal_id, staff_id=staff.id, valid_until=body["valid_until"]
    )
    return renewal_view(row)


@bp.post("/licence-renewals/<int:renewal_id>/reject")
@staff_required(perms.SELLER_ONBOARDING)
@bp.input(RejectIn, arg_name="body")
def reject_renewal(renewal_id: int, body, staff):
    row = onboarding.reject_renewal(
        db.session, renewal_id=renewal_id, staff_id=staff.id, reason=body["reason"]
    )
    return renewal_view(row)
