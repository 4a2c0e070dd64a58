"""The alliance's Official Account: its followers, whether we can reach each one (follow,
unfollow, refused template messages), the seller or staff account each bound with a one-time
code from the console, and sending them messages. What the account answers to a message is the
bot's (bots/officialaccount)."""

from __future__ import annotations

import secrets
import time

from flask import current_app
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.clients.wechat import WeChatError, oa_client
from backend.errors import NotFound, TooManyRequests
from backend.officialaccount.models import OAFollower
from backend.officialaccount.templates import FIELD_LIMIT, template_data
from backend.queue import enqueue, redis_client
from backend.timeutil import to_shanghai_iso, utcnow
from backend.transactions import on_commit

BIND_CODE_TTL_SECONDS = 30 * 60
BIND_ATTEMPTS = 5  # wrong codes per follower per BIND_CODE_TTL_SECONDS
SELLER, STAFF = "seller", "staff"
# Every wrong bind code anyone sends; a code remembers the count at its issue, so the guesses
# made during its life are known however many followers (or forged openids) made them.
WRONG_CODES_KEY = "heli:oa:bind-wrong"


# -- bind codes (issued on the console) ------------------------------------------------------
def issue_bind_code(*, seller_id: int | None = None, staff_id: int | None = None) -> dict:
    """A one-time 8-digit code the seller (or staff member) sends to the OA within 30 minutes;
    the caller has checked that the account exists."""
    if (seller_id is None) == (staff_id is None):
        raise ValueError("a bind code is for one seller or one staff member")
    target = f"{SELLER}:{seller_id}" if seller_id is not None else f"{STAFF}:{staff_id}"
    redis = redis_client()
    wrong_so_far = int(redis.get(WRONG_CODES_KEY) or 0)
    while True:
        code = f"{secrets.randbelow(10**8):08d}"
        value = f"{target}:{wrong_so_far}"
        if redis.set(f"heli:oa:bind:{code}", value, nx=True, ex=BIND_CODE_TTL_SECONDS):
            return {"code": code, "expires_in": BIND_CODE_TTL_SECONDS}


def _count_attempt(openid: str) -> None:
    """TooManyRequests beyond the follower's attempts, or beyond all followers' per minute: 8
    digits are only safe while guesses are few, from one sender or from many."""
    config = current_app.config
    redis = redis_client()
    mine = f"heli:oa:bind-attempts:{openid}"
    everyone = f"heli:oa:bind-rate:{int(time.time() // 60)}"
    attempts, _, this_minute, _ = (
        redis.pipeline()
        .incr(mine)
        .expire(mine, BIND_CODE_TTL_SECONDS)
        .incr(everyone)
        .expire(everyone, 120)
        .execute()
    )
    if attempts > BIND_ATTEMPTS:
        raise TooManyRequests("尝试次数过多，请 30 分钟后再试", code="BIND_ATTEMPTS_EXCEEDED")
    if this_minute > config["OA_BIND_ATTEMPTS_PER_MINUTE"]:
        raise TooManyRequests("绑定请求过于频繁，请 1 分钟后再试", code="BIND_BUSY")


def bind(session: Session, follower: OAFollower, code: str) -> tuple[str, int]:
    """Bind the follower to the account a bind code was issued for: (SELLER or STAFF, its id).
    The code works once, and not at all once more than OA_BIND_WRONG_PER_CODE wrong codes were
    sent during its life; a seller (or staff member) has one WeChat, the newest binding wins."""
    _count_attempt(follower.openid)
    redis = redis_client()
    found = redis.getdel(f"heli:oa:bind:{code}")
    if found is None:
        redis.incr(WRONG_CODES_KEY)
        raise NotFound("绑定码无效或已过期，请在联盟控制台重新获取", code="BIND_CODE_INVALID")
    kind, target_id, *at_issue = found.decode().split(":")  # codes from before the count: 0
    guessed = int(redis.get(WRONG_CODES_KEY) or 0) - int(at_issue[0] if at_issue else 0)
    if guessed > current_app.config["OA_BIND_WRONG_PER_CODE"]:
        raise NotFound(
            "绑定码已失效（期间错误尝试过多），请在联盟控制台重新获取", code="BIND_CODE_BURNT"
        )
    column = OAFollower.seller_id if kind == SELLER else OAFollower.staff_id
    for previous in session.scalars(select(OAFollower).where(column == int(target_id))):
        setattr(previous, column.key, None)
    session.flush()
    setattr(follower, column.key, int(target_id))
    follower.bound_at = utcnow()
    redis.delete(f"heli:oa:bind-attempts:{follower.openid}")
    return kind, int(target_id)


def unbind(follower: OAFollower) -> None:
    follower.seller_id = follower.staff_id = None


# -- followers and whether they can be reached -----------------------------------------------
def follower(session: Session, openid: str) -> OAFollower:
    """The follower with this openid, created at their first message or event."""
    found = session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    if found is not None:
        return found
    try:
        with session.begin_nested():  # two first events of one follower may race
            found = OAFollower(openid=openid, following=True)
            session.add(found)
    except IntegrityError:
        return session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    # its UnionID (the link to a mini-program account) comes from user/info
    on_commit(session, lambda: enqueue("jobs.officialaccount.refresh_follower", openid))
    return found


def heard_from(follower: OAFollower) -> None:
    """The follower wrote to us: customer-service messages may answer for 48 hours."""
    follower.last_message_at = utcnow()


def followed(follower: OAFollower) -> None:
    follower.following = True
    heard_from(follower)


def unfollowed(follower: OAFollower) -> None:
    follower.following = False


def template_finished(follower: OAFollower, *, status: str) -> None:
    """A template message's fate: "failed:user block" means they refuse templates, while
    following; any other outcome means they take them again."""
    follower.templates_blocked = status.replace(" ", "").lower() == "failed:userblock"


# -- sending ---------------------------------------------------------------------------------
def send_text(*, openid: str, content: str) -> bool:
    """A customer-service message; False when WeChat refuses (e.g. 45015: no message from the
    user within 48 hours) — the user then has the passive reply only."""
    try:
        oa_client().send_custom_text(openid=openid, content=content)
    except WeChatError as refused:
        if refused.errcode in (None, -1, 45009):
            raise  # transient: the job retries
        return False
    return True


def refresh_follower(session: Session, openid: str) -> None:
    """Fill in the follower's UnionID (links them to their mini-program account)."""
    info = oa_client().user_info(openid)
    follower = session.scalar(select(OAFollower).where(OAFollower.openid == openid))
    if follower is None:
        return
    follower.unionid = info.get("unionid") or follower.unionid
    follower.following = bool(info.get("subscribe", 0))
    session.commit()


def staff_openid(session: Session, staff_id: int | None) -> str | None:
    """Where a staff member (a host) reads messages: the OA account they bound and follow."""
    if staff_id is None:
        return None
    follower = session.scalar(select(OAFollower).where(OAFollower.staff_id == staff_id))
    return follower.openid if follower is not None and follower.reachable else None


def send_notice(*, openid: str, title: str, body: str, url: str, dedupe: str) -> None:
    """A 活动通知 template message (fields of 20 characters at most, as WeChat shows them);
    `dedupe` becomes client_msg_id, so a retried job does not notify twice."""
    template = current_app.config["WECHAT_OA_NOTICE_TEMPLATE"]
    if not template:
        return
    when = to_shanghai_iso(utcnow())[:16].replace("T", " ")
    data = template_data(title[:FIELD_LIMIT], body[:FIELD_LIMIT], when)
    oa_client().send_template(
        openid=openid, template_id=template, data=data, url=url, client_msg_id=dedupe[:32]
    )
