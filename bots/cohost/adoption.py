"""认养 comments while the host has an adoption offer on screen: "认养" / "我要认养" always, and
the room's usual claims without a shelf number ("扣1", "要") when no flash sale is running,
hold a free unit for the viewer through the same service as the claim button
(backend.adoption.live_offers.claim). The comment id is the idempotency key, so a comment
handled twice holds once, and a viewer whose hold is still unpaid is reminded of it."""

from __future__ import annotations

import re
import time

from sqlalchemy.orm import Session

from backend.adoption import live_offers
from backend.errors import DomainError
from backend.orders.models import Order
from bots.cohost.understanding import Reading, normalise, parse_number

# 认养 / 我要认养 / 俺也想认养一笼 / 认养一个吧: asking to adopt, not about adopting (怎么认养,
# 认养多少钱 are questions the answers cover).
ADOPT_RE = re.compile(
    r"(?:主播)?(?:我|俺)?也?(?:要|想|想要|来|申请)?认养(?:一|1|个)?[个笼绳格只]?(?:了|吧|啊|呀|哈)?"
)
_SEPARATORS_RE = re.compile(r"[\s,.!~:;、。+]+")
# "我要12号笼" / "十二号笼给我" / "认养12号": one unit of the raft on screen, by its number. A
# product on the shelf is "3号" alone, so only 笼/绳/格 or 认养 before it names a unit.
_NUMERAL = r"([0-9零一二两三四五六七八九十百]{1,5})"
UNIT_RE = re.compile(_NUMERAL + r"号(?:笼|绳|格|网笼|吊绳)|认养(?:第)?" + _NUMERAL + r"号")


def says_adopt(text: str) -> bool:
    """Whether a comment asks to adopt in so many words."""
    return ADOPT_RE.fullmatch(_SEPARATORS_RE.sub("", normalise(text))) is not None


def asked_position(text: str) -> int | None:
    """The unit a comment names by its number on the raft ("12号笼"), else None."""
    found = UNIT_RE.search(_SEPARATORS_RE.sub("", normalise(text)))
    if found is None:
        return None
    return parse_number(found.group(1) or found.group(2))


def flash_sale_running(facts: dict) -> bool:
    now = time.time()
    sales = [item["flash_sale"] for item in facts["shelf"] if item["flash_sale"]]
    return any(sale["starts_at"] <= now < sale["ends_at"] for sale in sales)


def wants_adoption(text: str, reading: Reading, facts: dict, offer_id: int | None) -> bool:
    """Whether this comment claims a unit of the adoption offer on screen (offer_id)."""
    if offer_id is None:
        return False
    if says_adopt(text) or asked_position(text) is not None:
        return True
    claim = reading.claim
    return claim is not None and claim.number is None and not flash_sale_running(facts)


def hold(
    session: Session, *, room_id: int, comment_id: str, customer_id: int, text: str = ""
) -> tuple[str, dict]:
    """Hold a unit for the viewer (the one the comment names, else one we pick): what the room
    reads and the reply's extra fields (with the text only the viewer reads), or the refusal
    in words."""
    try:
        adoption, created = live_offers.claim(
            session,
            room_id=room_id,
            customer_id=customer_id,
            idempotency_key=f"live-comment:{room_id}:{comment_id}",
            position=asked_position(text),
        )
    except DomainError as refusal:
        session.rollback()
        return refusal.message, {"refused": True}
    said = live_offers.hold_message(session, adoption)
    if not created and adoption.status == "PENDING":
        said = said.replace("已为你保留", "你已保留", 1)
    order = session.get(Order, adoption.order_id)
    private = f"{said}（认养编号 {adoption.number}，¥{order.total / 100:.2f}）"
    return said, {
        "kind": "pay_prompt",
        "order_id": order.id,
        "total": order.total,
        "private": private,
    }
