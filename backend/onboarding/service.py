"""Onboarding: a new seller applies from the public page, staff approve (the seller is created,
granted the licence they asked for, given a bind code for the Official Account and a welcome
notice) or reject with a reason the applicant reads. Licence renewal: a seller asks, staff
extend the licence or refuse with a reason; the seller gets a notice either way."""

from __future__ import annotations

import secrets
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.errors import Conflict, NotFound, RuleBroken
from backend.notices import service as notices
from backend.onboarding.models import (
    APPROVED,
    PENDING,
    REJECTED,
    LicenceRenewal,
    SellerApplication,
)
from backend.sellers import service as sellers
from backend.sellers.models import ACTIVE, EXPIRED, BrandLicence, Seller
from backend.staff.models import Staff
from backend.timeutil import utcnow

LICENCE_TERM_DAYS = 365
PHONE_TAKEN = "该手机号已注册为联盟卖家或已有待审核的申请，请勿重复申请；如需帮助请联系联盟服务中心"


# -- applications ----------------------------------------------------------------------------
def _phone_taken(session: Session, phone: str) -> bool:
    seller = session.scalar(select(Seller.id).where(Seller.phone == phone).limit(1))
    pending = session.scalar(
        select(SellerApplication.id).where(SellerApplication.pending_phone == phone)
    )
    return seller is not None or pending is not None


def apply(
    session: Session,
    *,
    name: str,
    phone: str,
    town: str,
    cooperative: str = "",
    shop_name: str = "",
    platforms: list[str],
    product_ids: list[int],
    wants_licence: bool,
) -> SellerApplication:
    """File a would-be seller's application; a phone of a seller or of a pending application is
    refused."""
    if _phone_taken(session, phone):
        raise Conflict(PHONE_TAKEN, code="PHONE_ALREADY_USED")
    if wants_licence:
        sellers.check_scope(session, product_ids)
    application = SellerApplication(
        token=secrets.token_urlsafe(24),
        name=name,
        shop_name=shop_name,
        phone=phone,
        pending_phone=phone,
        town=town,
        cooperative=cooperative,
        platforms=sorted(set(platforms)),
        product_ids=sorted(set(product_ids)),
        wants_licence=wants_licence,
    )
    session.add(application)
    try:
        session.commit()
    except IntegrityError:  # the same phone applied at the same moment
        session.rollback()
        raise Conflict(PHONE_TAKEN, code="PHONE_ALREADY_USED") from None
    return application


def application_by_token(session: Session, token: str) -> SellerApplication:
    """The application its status link names (the link is the applicant's only key)."""
    found = session.scalar(select(SellerApplication).where(SellerApplication.token == token[:48]))
    if found is None:
        raise NotFound("申请不存在，请检查链接是否完整", code="APPLICATION_NOT_FOUND")
    return found


def get_application(session: Session, application_id: int) -> SellerApplication:
    found = session.get(SellerApplication, application_id)
    if found is None:
        raise NotFound("申请不存在", code="APPLICATION_NOT_FOUND")
    return found


def list_applications(
    session: Session, *, status: str | None, page: int, page_size: int
) -> tuple[list[SellerApplication], int]:
    """Applications (the oldest pending first, others newest first) and how many there are."""
    where = [SellerApplication.status == status] if status else []
    order = SellerApplication.id.asc() if status == PENDING else SellerApplication.id.desc()
    total = session.scalar(select(func.count()).select_from(SellerApplication).where(*where))
    rows = session.scalars(
        select(SellerApplication)
        .where(*where)
        .order_by(order)
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total or 0


def _pending(session: Session, application_id: int) -> SellerApplication:
    application = session.scalar(
        select(SellerApplication).where(SellerApplication.id == application_id).with_for_update()
    )
    if application is None:
        raise NotFound("申请不存在", code="APPLICATION_NOT_FOUND")
    if application.status != PENDING:
        raise Conflict("该申请已处理", code="APPLICATION_DECIDED")
    return application


def _audit(session: Session, staff_id: int, action: str, decided, summary: str) -> None:
    audit.record(
        session,
        staff=session.get(Staff, staff_id),
        action=action,
        target_type=decided.__tablename__,
        target_id=decided.id,
        summary=summary,
        before={"status": "PENDING"},
        after={"status": decided.status},
    )


def approve_application(session: Session, *, application_id: int, staff_id: int) -> dict:
    """Approve: the seller exists, holds the licence asked for (a year from today), has a
    welcome notice, and a bind code for the Official Account (shown to staff and on the
    applicant's status page). Answers {application, seller_id, licence_id, bind_code}."""
    application = _pending(session, application_id)
    if session.scalar(select(Seller.id).where(Seller.phone == application.phone).limit(1)):
        raise Conflict(PHONE_TAKEN, code="PHONE_ALREADY_USED")
    seller = sellers.create_seller(
        session,
        name=application.shop_name or application.name,
        contact_name=application.name,
        phone=application.phone,
        town=application.town,
        cooperative=application.cooperative,
        tags=list(application.platforms),
    )
    application.status, application.pending_phone = APPROVED, None
    application.seller_id, application.decided_by = seller.id, staff_id
    application.decided_at = utcnow()
    _audit(session, staff_id, "application.approve", application, f"通过入驻申请：{seller.name}")
    notices.notify(
        session,
        seller_id=seller.id,
        kind="WELCOME",
        title="欢迎加入乳山牡蛎产业联盟",
        body=(
            f"{application.name}，您的入驻申请已通过。请关注联盟公众号并发送绑定码，"
            "即可在微信接收订单、通知和结算提醒。"
            + ("品牌授权已开通，可申领防伪码。" if application.wants_licence else "")
        ),
        dedupe_key=f"welcome:{seller.id}",
        link="/seller/today",
        application_id=application.id,
    )
    if application.wants_licence:
        day = sellers.today()
        licence = sellers.grant_licence(  # commits the whole approval
            session,
            seller_id=seller.id,
            product_ids=application.product_ids,
            valid_from=day,
            valid_until=day + timedelta(days=LICENCE_TERM_DAYS - 1),
            staff_id=staff_id,
            note=f"入驻申请 #{application.id}",
        )
        application.licence_id = licence.id
    session.commit()
    code = sellers.issue_oa_bind_code(session, seller_id=seller.id)
    application.bind_code = code["code"]
    application.bind_code_expires_at = utcnow() + timedelta(seconds=code["expires_in"])
    session.commit()
    return {
        "application": application,
        "seller_id": seller.id,
        "licence_id": application.licence_id,
        "bind_code": code,
    }


def reject_application(
    session: Session, *, application_id: int, staff_id: int, reason: str
) -> SellerApplication:
    """Reject with the reason the applicant reads on their status page (the phone may apply
    again)."""
    application = _pending(session, application_id)
    application.status, application.pending_phone = REJECTED, None
    application.reason, application.decided_by = reason[:200], staff_id
    application.decided_at = utcnow()
    _audit(session, staff_id, "application.reject", application, f"拒绝入驻申请：{reason[:60]}")
    session.commit()
    return application


def visible_bind_code(application: SellerApplication) -> str | None:
    """The bind code while it still works (after that, staff issue a new one)."""
    expires = application.bind_code_expires_at
    return application.bind_code if expires is not None and expires > utcnow() else None


# -- licence renewal -------------------------------------------------------------------------
def _renewable_licence(session: Session, seller_id: int) -> BrandLicence:
    licence = session.scalar(
        select(BrandLicence)
        .where(BrandLicence.seller_id == seller_id, BrandLicence.status.in_((ACTIVE, EXPIRED)))
        .order_by(BrandLicence.valid_until.desc())
        .limit(1)
    )
    if licence is None:
        raise RuleBroken("您还没有可续期的品牌授权（已暂停的授权请联系联盟）", code="NO_LICENCE")
    return licence


def request_renewal(session: Session, *, seller_id: int) -> LicenceRenewal:
    """A seller asks to renew their licence (one request waiting at a time)."""
    sellers.get_seller(session, seller_id)
    licence = _renewable_licence(session, seller_id)
    if session.scalar(
        select(LicenceRenewal.id).where(LicenceRenewal.pending_seller_id == seller_id)
    ):
        raise Conflict("已有待审核的续期申请，请耐心等待", code="RENEWAL_PENDING")
    renewal = LicenceRenewal(
        seller_id=seller_id, pending_seller_id=seller_id, licence_id=licence.id
    )
    session.add(renewal)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("已有待审核的续期申请，请耐心等待", code="RENEWAL_PENDING") from None
    return renewal


def list_renewals(
    session: Session, *, status: str | None, page: int, page_size: int
) -> tuple[list[LicenceRenewal], int]:
    where = [LicenceRenewal.status == status] if status else []
    total = session.scalar(select(func.count()).select_from(LicenceRenewal).where(*where))
    rows = session.scalars(
        select(LicenceRenewal)
        .where(*where)
        .order_by(LicenceRenewal.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return list(rows), total or 0


def seller_renewals(session: Session, *, seller_id: int) -> list[LicenceRenewal]:
    """A seller's renewal requests, the newest first (for their licence page)."""
    return list(
        session.scalars(
            select(LicenceRenewal)
            .where(LicenceRenewal.seller_id == seller_id)
            .order_by(LicenceRenewal.id.desc())
        )
    )


def _waiting(session: Session, renewal_id: int) -> LicenceRenewal:
    renewal = session.scalar(
        select(LicenceRenewal).where(LicenceRenewal.id == renewal_id).with_for_update()
    )
    if renewal is None:
        raise NotFound("续期申请不存在", code="RENEWAL_NOT_FOUND")
    if renewal.status != PENDING:
        raise Conflict("该续期申请已处理", code="RENEWAL_DECIDED")
    return renewal


def approve_renewal(
    session: Session, *, renewal_id: int, staff_id: int, valid_until: date | None = None
) -> LicenceRenewal:
    """Extend the licence (by default a year from its end, or from today if it lapsed) and tell
    the seller."""
    renewal = _waiting(session, renewal_id)
    licence = session.get(BrandLicence, renewal.licence_id)
    if valid_until is None:
        start = max(licence.valid_until, sellers.today())
        valid_until = start + timedelta(days=LICENCE_TERM_DAYS)
    renewal.status, renewal.pending_seller_id = APPROVED, None
    renewal.valid_until, renewal.decided_by, renewal.decided_at = valid_until, staff_id, utcnow()
    _audit(
        session, staff_id, "renewal.approve", renewal, f"通过续期申请（至 {valid_until:%Y-%m-%d}）"
    )
    notices.notify(
        session,
        seller_id=renewal.seller_id,
        kind="LICENCE_RENEWED",
        title="品牌授权续期已通过",
        body=f"您的“乳山牡蛎”品牌授权（{licence.number}）已续期至 {valid_until:%Y-%m-%d}。",
        dedupe_key=f"licence-renewal:{renewal.id}",
        link="/seller/licence",
        licence_id=licence.id,
        renewal_id=renewal.id,
    )
    sellers.renew_licence(  # commits
        session, licence_id=licence.id, valid_until=valid_until, staff_id=staff_id
    )
    return renewal


def reject_renewal(
    session: Session, *, renewal_id: int, staff_id: int, reason: str
) -> LicenceRenewal:
    """Refuse with a reason the seller reads in their notice."""
    renewal = _waiting(session, renewal_id)
    renewal.status, renewal.pending_seller_id = REJECTED, None
    renewal.reason, renewal.decided_by, renewal.decided_at = reason[:200], staff_id, utcnow()
    _audit(session, staff_id, "renewal.reject", renewal, f"拒绝续期申请：{reason[:60]}")
    notices.notify(
        session,
        seller_id=renewal.seller_id,
        kind="LICENCE_RENEWAL_REJECTED",
        title="品牌授权续期未通过",
        body=f"您的品牌授权续期申请未通过：{renewal.reason}",
        dedupe_key=f"licence-renewal:{renewal.id}",
        link="/seller/licence",
        licence_id=renewal.licence_id,
        renewal_id=renewal.id,
    )
    session.commit()
    return renewal


def pending_counts(session: Session) -> dict:
    """How many applications and renewals wait for staff."""
    return {
        "applications": session.scalar(
            select(func.count()).where(SellerApplication.status == PENDING)
        ),
        "renewals": session.scalar(select(func.count()).where(LicenceRenewal.status == PENDING)),
    }
