"""What an adopter is told by subscribe message — a growth update, a loss, a harvest parcel —
each once per adoption and thing (a retried job or two nodes send nothing twice). An adopter
who granted no credit gets 43101, kept as the outcome rather than retried."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adoption.models import AdopterMessage, Adoption
from backend.clients.wechat import WeChatError, wechat_client
from backend.customers.models import Customer


def tell_adopter(
    session: Session, *, adoption_id: int, kind: str, ref_id: int, template: str, data: dict
) -> str:
    """Send unless sent; answers the outcome ("already" when another run sent it). A transient
    WeChat failure forgets the attempt and propagates, so the job's retry sends it."""
    session.add(AdopterMessage(adoption_id=adoption_id, kind=kind, ref_id=ref_id))
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        return "already"
    openid = session.scalar(
        select(Customer.openid)
        .join(Adoption, Adoption.customer_id == Customer.id)
        .where(Adoption.id == adoption_id)
    )
    try:
        wechat_client().send_subscribe_message(
            openid, template, data, page=f"pages/adoption/detail?id={adoption_id}"
        )
        outcome = "sent"
    except WeChatError as refused:
        if refused.errcode in (None, -1):
            session.execute(delete(AdopterMessage).where(*_this(adoption_id, kind, ref_id)))
            session.commit()
            raise
        outcome = f"refused:{refused.errcode}"
    message = session.scalar(select(AdopterMessage).where(*_this(adoption_id, kind, ref_id)))
    message.outcome = outcome
    session.commit()
    return outcome


def _this(adoption_id: int, kind: str, ref_id: int) -> tuple:
    return (
        AdopterMessage.adoption_id == adoption_id,
        AdopterMessage.kind == kind,
        AdopterMessage.ref_id == ref_id,
    )
