"""An alliance broadcast reaching its sellers: the audience (every active seller, or by town,
cooperative, platform shop, licence status, tags) is a query over sellers and platforms, taken
when the broadcast is composed and again when its time comes; notices.broadcasts writes the
inboxes and delivers."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest
from backend.notices import broadcasts
from backend.notices.models import Broadcast
from backend.platforms.models import Shop
from backend.sellers.models import BrandLicence, Seller

TARGET_KEYS = ("towns", "cooperatives", "platforms", "licence_statuses", "tags")


def recipients(session: Session, target: dict) -> list[int]:
    """Active sellers matching every given criterion (each a list: any of its values)."""
    query = select(Seller.id, Seller.tags).where(Seller.active.is_(True))
    if target.get("towns"):
        query = query.where(Seller.town.in_(target["towns"]))
    if target.get("cooperatives"):
        query = query.where(Seller.cooperative.in_(target["cooperatives"]))
    if target.get("platforms"):
        query = query.where(
            Seller.id.in_(select(Shop.seller_id).where(Shop.platform.in_(target["platforms"])))
        )
    if target.get("licence_statuses"):
        query = query.where(
            Seller.id.in_(
                select(BrandLicence.seller_id).where(
                    BrandLicence.status.in_(target["licence_statuses"])
                )
            )
        )
    wanted_tags = set(target.get("tags") or [])
    return [
        seller_id
        for seller_id, tags in session.execute(query.order_by(Seller.id))
        if not wanted_tags or wanted_tags & set(tags or [])
    ]


def _check_target(target: dict) -> dict:
    unknown = set(target) - set(TARGET_KEYS)
    if unknown:
        raise BadRequest(
            "未知的发送对象条件", code="INVALID_TARGET", details={"keys": sorted(unknown)}
        )
    for key, values in target.items():
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise BadRequest(f"{key} 需为文字列表", code="INVALID_TARGET")
    return {key: values for key, values in target.items() if values}


def create(
    session: Session,
    *,
    title: str,
    body: str,
    category: str,
    link: str,
    target: dict,
    send_at: datetime | None,
    staff_id: int | None,
) -> Broadcast:
    """A broadcast to the sellers `target` picks, now or at `send_at`; refused when it picks
    nobody."""
    target = _check_target(target)
    return broadcasts.create(
        session,
        title=title,
        body=body,
        category=category,
        link=link,
        target=target,
        recipients=len(recipients(session, target)),
        send_at=send_at,
        staff_id=staff_id,
    )


def start(session: Session, broadcast_id: int) -> int:
    """Its time came: the sellers it picks now get it (once each, however often this runs);
    answers how many deliveries were enqueued."""
    broadcast = broadcasts.begin(session, broadcast_id)
    if broadcast is None:
        return 0
    return broadcasts.fan_out(session, broadcast, recipients(session, broadcast.target))


def start_due(session: Session) -> list[int]:
    """Scheduled broadcasts whose time passed without their job (its scheduler died)."""
    due = broadcasts.due(session)
    for broadcast_id in due:
        start(session, broadcast_id)
    return due
