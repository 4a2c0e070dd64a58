"""An alliance broadcast reaching its sellers: the audience (every active seller, or by town,
cooperative, platform shop, licence state, tags) is a query over sellers and platforms, taken
when the broadcast is composed and again when its time comes; notices.broadcasts writes the
inboxes and delivers.

Staff pick the audience from value lists taken from the sellers as they are (never typed text),
see how many sellers it matches and how many of them WeChat can reach (bound to the Official
Account and following it) before anything is sent, and a broadcast that matches nobody, or
reaches nobody over WeChat, is refused with the reason."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.errors import BadRequest, Conflict, RuleBroken
from backend.notices import broadcasts
from backend.notices.models import Broadcast
from backend.officialaccount.models import OAFollower
from backend.platforms.models import Shop
from backend.platforms.service import PLATFORM_NAMES
from backend.sellers.models import ACTIVE, EXPIRED, SUSPENDED, BrandLicence, Seller
from backend.staff.models import Staff

TARGET_KEYS = ("towns", "cooperatives", "platforms", "licence_statuses", "tags")
TARGET_NAMES = {
    "towns": "镇",
    "cooperatives": "合作社",
    "platforms": "平台店铺",
    "licence_statuses": "品牌授权",
    "tags": "卖家标签",
}
# A seller's licence state is their best licence's: one active licence makes them licensed,
# however many old ones lapsed.
NO_LICENCE = "NONE"
LICENCE_STATES = {
    ACTIVE: "授权有效",
    SUSPENDED: "授权已暂停",
    EXPIRED: "授权已到期",
    NO_LICENCE: "未取得授权",
}
_LICENCE_ORDER = (ACTIVE, SUSPENDED, EXPIRED)
_IN_CHUNK = 900  # ids per IN (...) list: well under SQLite's variable limit


@dataclass(frozen=True)
class Choice:
    """One value staff can pick for a criterion, with how many active sellers it picks."""

    value: str
    label: str
    sellers: int


@dataclass(frozen=True)
class Reach:
    """How many sellers a target matches, and how many of them WeChat can reach."""

    matched: int
    reachable: int  # bound to the Official Account, following it, taking template messages
    unbound: int
    not_following: int  # bound, but unfollowed or refused template messages

    def why_unreachable(self) -> str:
        parts = []
        if self.unbound:
            parts.append(f"{self.unbound} 位未绑定公众号")
        if self.not_following:
            parts.append(f"{self.not_following} 位已取消关注或拒收消息")
        return "，".join(parts)


def _licence_states(session: Session) -> dict[int, str]:
    """Each active seller's licence state (NO_LICENCE when they never held one)."""
    held: dict[int, set[str]] = {}
    for seller_id, status in session.execute(
        select(BrandLicence.seller_id, BrandLicence.status).join(
            Seller, Seller.id == BrandLicence.seller_id
        )
    ):
        held.setdefault(seller_id, set()).add(status)
    states = {}
    for seller_id in session.scalars(select(Seller.id).where(Seller.active.is_(True))):
        statuses = held.get(seller_id, set())
        states[seller_id] = next((s for s in _LICENCE_ORDER if s in statuses), NO_LICENCE)
    return states


def target_options(session: Session) -> dict[str, list[Choice]]:
    """The values each criterion can take, as the active sellers have them now, each with how
    many sellers it picks (values that pick nobody are left out)."""
    active = Seller.active.is_(True)
    options: dict[str, list[Choice]] = {}
    for key, column in (("towns", Seller.town), ("cooperatives", Seller.cooperative)):
        counts = Counter(session.scalars(select(column).where(active, column != "")))
        options[key] = [Choice(v, v, n) for v, n in sorted(counts.items())]
    by_platform = Counter(
        platform
        for platform, _ in session.execute(
            select(Shop.platform, Shop.seller_id)
            .join(Seller, Seller.id == Shop.seller_id)
            .where(active)
            .distinct()
        )
    )
    options["platforms"] = [
        Choice(code, name, by_platform[code]) for code, name in PLATFORM_NAMES.items()
    ]
    by_state = Counter(_licence_states(session).values())
    options["licence_statuses"] = [
        Choice(code, name, by_state[code]) for code, name in LICENCE_STATES.items()
    ]
    tags = Counter(
        tag for tags in session.scalars(select(Seller.tags).where(active)) for tag in tags or []
    )
    options["tags"] = [Choice(t, t, n) for t, n in sorted(tags.items())]
    return {key: [c for c in choices if c.sellers] for key, choices in options.items()}


def describe(target: dict) -> str:
    """The target as staff read it: 镇：海阳所镇、冯家镇；平台店铺：抖店 (or 全部卖家)."""
    target = {key: values for key, values in target.items() if values}
    if not target:
        return "全部卖家"
    names = {"platforms": PLATFORM_NAMES, "licence_statuses": LICENCE_STATES}
    return "；".join(
        f"{TARGET_NAMES[key]}：" + "、".join(names.get(key, {}).get(v, v) for v in values)
        for key, values in target.items()
        if values
    )


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
    wanted_states = set(target.get("licence_statuses") or [])
    states = _licence_states(session) if wanted_states else {}
    wanted_tags = set(target.get("tags") or [])
    return [
        seller_id
        for seller_id, tags in session.execute(query.order_by(Seller.id))
        if (not wanted_tags or wanted_tags & set(tags or []))
        and (not wanted_states or states.get(seller_id) in wanted_states)
    ]


def reach(session: Session, seller_ids: list[int]) -> Reach:
    """How many of these sellers WeChat can reach, and why not the others."""
    reachable = not_following = 0
    for at in range(0, len(seller_ids), _IN_CHUNK):
        for follower in session.scalars(
            select(OAFollower).where(OAFollower.seller_id.in_(seller_ids[at : at + _IN_CHUNK]))
        ):
            if follower.reachable:
                reachable += 1
            else:
                not_following += 1
    return Reach(
        matched=len(seller_ids),
        reachable=reachable,
        unbound=len(seller_ids) - reachable - not_following,
        not_following=not_following,
    )


def _check_target(session: Session, target: dict) -> dict:
    """The target without empty criteria; BadRequest for an unknown criterion or a value not
    on its list (a typo must not quietly pick nobody, or everybody)."""
    unknown = set(target) - set(TARGET_KEYS)
    if unknown:
        raise BadRequest(
            "未知的发送对象条件", code="INVALID_TARGET", details={"keys": sorted(unknown)}
        )
    for key, values in target.items():
        if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
            raise BadRequest(f"{TARGET_NAMES[key]}需为文字列表", code="INVALID_TARGET")
    target = {key: list(dict.fromkeys(values)) for key, values in target.items() if values}
    if target:
        options = target_options(session)
        for key, values in target.items():
            known = {choice.value for choice in options[key]}
            strangers = [v for v in values if v not in known]
            if strangers:
                raise BadRequest(
                    f"{TARGET_NAMES[key]}“{'、'.join(strangers)}”下没有在营卖家，请从列表中选择",
                    code="UNKNOWN_TARGET_VALUE",
                    details={"criterion": key, "values": strangers},
                )
    return target


def preview(session: Session, target: dict) -> Reach:
    """How many sellers the target matches and WeChat reaches; sends nothing."""
    return reach(session, recipients(session, _check_target(session, target)))


def refusal(target: dict, found: Reach) -> RuleBroken | None:
    """Why a broadcast with this reach must not be sent, or None."""
    if not found.matched:
        return RuleBroken(
            f"没有同时符合条件的在营卖家（{describe(target)}），请放宽发送对象",
            code="NO_RECIPIENTS",
        )
    if not found.reachable:
        return RuleBroken(
            f"符合条件的 {found.matched} 位卖家都无法通过微信收到"
            f"（{found.why_unreachable()}），广播不会送达任何人",
            code="NO_REACHABLE_RECIPIENTS",
            details={"matched": found.matched, "unbound": found.unbound},
        )
    return None


def create(
    session: Session,
    *,
    title: str,
    body: str,
    category: str,
    link: str,
    target: dict,
    send_at: datetime | None,
    staff: Staff | None,
    expected: tuple[int, int, str] | None = None,
) -> Broadcast:
    """A broadcast to the sellers `target` picks, now or at `send_at`; refused when it picks
    nobody, when WeChat reaches none of them, or when what staff saw in the preview
    (`expected`: matched, reachable, the audience in words) is no longer true."""
    target = _check_target(session, target)
    found = reach(session, recipients(session, target))
    refused = refusal(target, found)
    if refused is not None:
        raise refused
    audience = describe(target)
    if expected is not None and expected[2] != audience:
        raise Conflict("发送对象在预览后改动过，请重新预览人数后再发布", code="TARGET_CHANGED")
    if expected is not None and expected[:2] != (found.matched, found.reachable):
        raise Conflict(
            f"发送人数已变化：预览时 {expected[0]} 位（微信可达 {expected[1]} 位），"
            f"现在 {found.matched} 位（微信可达 {found.reachable} 位），请核对后再发布",
            code="REACH_CHANGED",
        )
    return broadcasts.create(
        session,
        title=title,
        body=body,
        category=category,
        link=link,
        target=target,
        recipients=found.matched,
        reachable=found.reachable,
        audience=audience,
        send_at=send_at,
        staff=staff,
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


def preview_summary(session: Session, target: dict) -> dict:
    """What the composer shows before a send: how many sellers match, how many WeChat reaches,
    why the others cannot be reached, and why a send would be refused (None: it would not)."""
    found = preview(session, target)
    refused = refusal(target, found)
    return {
        "matched": found.matched,
        "reachable": found.reachable,
        "unbound": found.unbound,
        "not_following": found.not_following,
        "audience": describe(target),
        "refused": refused.message if refused else None,
    }
