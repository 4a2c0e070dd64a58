"""Sellers: their brand licences (grant, renew, suspend, expiry reminders) and API tokens."""

from __future__ import annotations

import hashlib
import secrets
from datetime import date, timedelta

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.audit import service as audit
from backend.catalogue.models import Product
from backend.errors import BadRequest, Conflict, NotFound, RuleBroken, get_or_404
from backend.notices import service as notices
from backend.officialaccount import service as officialaccount
from backend.sellers.models import (
    ACTIVE,
    EXPIRED,
    SUSPENDED,
    BrandLicence,
    Seller,
    SellerToken,
)
from backend.staff.models import Staff
from backend.timeutil import SHANGHAI, to_aware_utc, to_shanghai_iso, utcnow

REMINDER_DAYS = (30, 7, 1)


def today() -> date:
    """The calendar day in Asia/Shanghai, which licence dates are written in."""
    return to_aware_utc(utcnow()).astimezone(SHANGHAI).date()


def create_seller(
    session: Session,
    *,
    name: str,
    contact_name: str = "",
    phone: str = "",
    town: str = "",
    cooperative: str = "",
    tags: list[str] | None = None,
) -> Seller:
    """Register a seller of the alliance (the caller commits)."""
    seller = Seller(
        name=name,
        contact_name=contact_name,
        phone=phone,
        town=town,
        cooperative=cooperative,
        tags=tags or [],
    )
    session.add(seller)
    session.flush()
    return seller


def get_seller(session: Session, seller_id: int) -> Seller:
    return get_or_404(session, Seller, seller_id, "卖家不存在", code="SELLER_NOT_FOUND")


def issue_oa_bind_code(session: Session, *, seller_id: int, staff: Staff | None = None) -> dict:
    """A one-time code the seller sends to the Official Account to get their notices there;
    issued by staff, it is audited (the record, not the code, is kept)."""
    seller = get_seller(session, seller_id)
    if staff is not None:
        audit.record(
            session,
            staff=staff,
            action="seller.bind_code",
            target_type="seller",
            target_id=seller_id,
            summary=f"为 {seller.name} 签发公众号绑定码",
        )
        session.flush()  # the record is written before the code exists
    code = officialaccount.issue_bind_code(seller_id=seller_id)
    if staff is not None:
        session.commit()
    return code


def check_scope(session: Session, product_ids: list[int]) -> list[int]:
    """The licence scope, sorted, each product one of ours (BadRequest, NotFound)."""
    product_ids = sorted(set(product_ids))
    if not product_ids:
        raise BadRequest("授权范围至少包含一个商品", code="EMPTY_SCOPE")
    known = set(session.scalars(select(Product.id).where(Product.id.in_(product_ids))))
    unknown = sorted(set(product_ids) - known)
    if unknown:
        raise NotFound(
            "授权范围中有不存在的商品", code="PRODUCT_NOT_FOUND", details={"product_ids": unknown}
        )
    return product_ids


def grant_licence(
    session: Session,
    *,
    seller_id: int,
    product_ids: list[int],
    valid_from: date,
    valid_until: date,
    staff_id: int | None,
    note: str = "",
) -> BrandLicence:
    """A new brand licence for a seller; one seller holds at most one active licence."""
    get_seller(session, seller_id)
    if valid_until < valid_from:
        raise BadRequest("截止日期不能早于开始日期", code="INVALID_PERIOD")
    if valid_until < today():
        raise RuleBroken("截止日期已过", code="PERIOD_ALREADY_OVER")
    active = session.scalar(
        select(BrandLicence.id).where(
            BrandLicence.seller_id == seller_id, BrandLicence.status == ACTIVE
        )
    )
    if active:
        raise Conflict(
            "该卖家已有有效授权，请续期或先暂停",
            code="LICENCE_EXISTS",
            details={"licence_id": active},
        )
    licence = BrandLicence(
        number=f"RSMH-{today():%Y}-{secrets.token_hex(4).upper()}",
        seller_id=seller_id,
        product_ids=check_scope(session, product_ids),
        valid_from=valid_from,
        valid_until=valid_until,
        status=ACTIVE,
        granted_by=staff_id,
        note=note,
    )
    session.add(licence)
    session.flush()
    _audit_licence(session, licence, "licence.grant", staff_id, "授予", None)
    try:
        session.commit()
    except IntegrityError:  # licence numbers are random; a clash is astronomically rare
        session.rollback()
        raise
    return licence


def _audit_licence(session, licence, action, staff_id, done: str, before: dict | None) -> None:
    seller = session.get(Seller, licence.seller_id)
    audit.record(
        session,
        staff=session.get(Staff, staff_id) if staff_id else None,
        action=action,
        target_type="licence",
        target_id=licence.id,
        summary=f"{done}品牌授权 {licence.number}（{seller.name}）"
        f"至 {licence.valid_until:%Y-%m-%d}",
        before=before,
        after={"status": licence.status, "valid_until": licence.valid_until.isoformat()},
    )


def _licence(session: Session, licence_id: int) -> BrandLicence:
    return get_or_404(session, BrandLicence, licence_id, "授权不存在", code="LICENCE_NOT_FOUND")


def renew_licence(
    session: Session,
    *,
    licence_id: int,
    valid_until: date,
    product_ids: list[int] | None = None,
    staff_id: int | None = None,
) -> BrandLicence:
    """Extend a licence (an expired one becomes active again); the scope may change too."""
    licence = _licence(session, licence_id)
    if licence.status == SUSPENDED:
        raise RuleBroken("授权已暂停，请先恢复", code="LICENCE_SUSPENDED")
    if valid_until <= licence.valid_until or valid_until < today():
        raise BadRequest("续期后的截止日期必须晚于原截止日期和今天", code="INVALID_PERIOD")
    before = {"status": licence.status, "valid_until": licence.valid_until.isoformat()}
    licence.valid_until = valid_until
    licence.status = ACTIVE
    if product_ids is not None:
        licence.product_ids = check_scope(session, product_ids)
    _audit_licence(session, licence, "licence.renew", staff_id, "续期", before)
    session.commit()
    return licence


def set_suspended(
    session: Session,
    *,
    licence_id: int,
    suspended: bool,
    note: str = "",
    staff_id: int | None = None,
) -> BrandLicence:
    """Suspend a licence (no more codes) or lift the suspension."""
    licence = _licence(session, licence_id)
    before = {"status": licence.status, "valid_until": licence.valid_until.isoformat()}
    if suspended:
        licence.status = SUSPENDED
    elif licence.status == SUSPENDED:
        licence.status = ACTIVE if licence.valid_until >= today() else EXPIRED
    if note:
        licence.note = note[:200]
    action, done = ("licence.suspend", "暂停") if suspended else ("licence.resume", "恢复")
    _audit_licence(session, licence, action, staff_id, done, before)
    session.commit()
    return licence


def licence_for_codes(session: Session, *, seller_id: int, product_id: int) -> BrandLicence:
    """The licence that lets a seller get codes for a product today, or why not."""
    licence = session.scalar(
        select(BrandLicence)
        .where(BrandLicence.seller_id == seller_id, BrandLicence.status == ACTIVE)
        .order_by(BrandLicence.valid_until.desc())
    )
    day = today()
    if licence is None or not licence.valid_from <= day <= licence.valid_until:
        raise RuleBroken("该卖家没有有效的品牌授权，不能申领防伪码", code="NO_VALID_LICENCE")
    if product_id not in licence.product_ids:
        raise RuleBroken("该商品不在卖家的授权范围内", code="PRODUCT_NOT_LICENSED")
    return licence


def remind_and_expire(session: Session, *, day: date | None = None) -> dict:
    """Daily: remind holders 30, 7 and 1 days before expiry (each once), expire lapsed licences."""
    day = day or today()
    reminded = expired = 0
    horizon = day + timedelta(days=max(REMINDER_DAYS))
    due = session.scalars(
        select(BrandLicence).where(
            BrandLicence.status == ACTIVE, BrandLicence.valid_until <= horizon
        )
    )
    for licence in due:
        left = (licence.valid_until - day).days
        if left < 0:
            continue
        threshold = min(d for d in REMINDER_DAYS if d >= left)
        reminded += notices.notify(
            session,
            seller_id=licence.seller_id,
            kind="LICENCE_EXPIRING",
            title=f"品牌授权将于 {left} 天后到期" if left else "品牌授权今天到期",
            body=(
                f"您的“乳山牡蛎”品牌授权（{licence.number}）将于 {licence.valid_until:%Y-%m-%d} "
                "到期，到期后将无法申领防伪码，请及时续期。"
            ),
            dedupe_key=f"licence-expiring:{licence.id}:{licence.valid_until}:{threshold}",
            link="/seller/licence",
            licence_id=licence.id,
            days_left=left,
        )
    lapsed = list(
        session.scalars(
            select(BrandLicence).where(
                BrandLicence.status == ACTIVE, BrandLicence.valid_until < day
            )
        )
    )
    for licence in lapsed:
        session.execute(
            update(BrandLicence).where(BrandLicence.id == licence.id).values(status=EXPIRED)
        )
        expired += notices.notify(
            session,
            seller_id=licence.seller_id,
            kind="LICENCE_EXPIRED",
            title="品牌授权已到期",
            body=f"您的“乳山牡蛎”品牌授权（{licence.number}）已到期，防伪码申领已暂停。",
            dedupe_key=f"licence-expired:{licence.id}:{licence.valid_until}",
            link="/seller/licence",
            licence_id=licence.id,
        )
    session.commit()
    return {"reminded": reminded, "expired": expired}


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue_api_token(
    session: Session, *, seller_id: int, days: int, name: str = "", staff: Staff | None = None
) -> tuple[str, SellerToken]:
    """A new seller-API token working for `days` days: the token itself (shown once, only its
    hash is kept) and its row; audited, with the row, in one transaction."""
    seller = get_seller(session, seller_id)
    token = secrets.token_urlsafe(32)
    row = SellerToken(
        seller_id=seller_id,
        token_hash=_token_hash(token),
        name=name,
        expires_at=utcnow() + timedelta(days=days),
    )
    session.add(row)
    session.flush()
    audit.record(
        session,
        staff=staff,
        action="seller.token_issue",
        target_type="seller",
        target_id=seller_id,
        summary=f"为 {seller.name} 签发 API token #{row.id}{f'（{name}）' if name else ''}",
        after={"token_id": row.id, "expires_at": to_shanghai_iso(row.expires_at)},
    )
    session.commit()
    return token, row


def api_tokens(session: Session, *, seller_id: int) -> list[SellerToken]:
    """A seller's tokens, the newest first (revoked and expired ones too)."""
    get_seller(session, seller_id)
    return list(
        session.scalars(
            select(SellerToken)
            .where(SellerToken.seller_id == seller_id)
            .order_by(SellerToken.id.desc())
        )
    )


def revoke_api_token(
    session: Session, *, seller_id: int, token_id: int, staff: Staff | None = None
) -> SellerToken:
    """The token stops working at once; audited in the same transaction. Revoking it again is
    refused (Conflict) and changes nothing."""
    row = session.get(SellerToken, token_id)
    if row is None or row.seller_id != seller_id:
        raise NotFound("token 不存在", code="TOKEN_NOT_FOUND")
    if row.revoked_at is not None:
        when = to_shanghai_iso(row.revoked_at)[:16].replace("T", " ")
        raise Conflict(
            f"token #{row.id} 已于 {when} 吊销，无需重复吊销", code="TOKEN_ALREADY_REVOKED"
        )
    row.revoked_at = utcnow()
    audit.record(
        session,
        staff=staff,
        action="seller.token_revoke",
        target_type="seller",
        target_id=seller_id,
        summary=f"吊销 API token #{row.id}{f'（{row.name}）' if row.name else ''}",
        before={"token_id": row.id, "revoked": False},
        after={"token_id": row.id, "revoked": True},
    )
    session.commit()
    return row


LAST_USED_EVERY = timedelta(minutes=5)  # last_used_at is this precise: not a write per call


def authenticate(session: Session, token: str) -> int | None:
    """The seller a token belongs to (None for unknown, expired or revoked tokens)."""
    now = utcnow()
    row = session.scalar(
        select(SellerToken).where(
            SellerToken.token_hash == _token_hash(token),
            SellerToken.revoked_at.is_(None),
            SellerToken.expires_at > now,
        )
    )
    if row is None:
        return None
    seller_id = row.seller_id
    if row.last_used_at is None or now - row.last_used_at >= LAST_USED_EVERY:
        session.execute(
            update(SellerToken).where(SellerToken.id == row.id).values(last_used_at=now)
        )
        session.commit()
    return seller_id
