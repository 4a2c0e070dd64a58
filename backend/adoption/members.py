"""Who of a farming household may post from the phone pages (/farm), and their sessions.

Staff hand a member a one-time bind code (only its SHA-256 is kept, it expires). The member
opens /farm in WeChat: the Official Account's web authorisation (snsapi_base, as sellers log in)
gives the openid; an openid bound before logs straight in, a new one is asked for the bind code
once, which binds it. Sessions live in Redis like the sellers', under their own keys."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from backend.adoption.models import AdoptionUnit, FarmMember
from backend.audit import service as audit
from backend.batches.models import Farm
from backend.clients import wechat_oauth
from backend.clients.wechat import WeChatError
from backend.errors import (
    BadRequest,
    Conflict,
    NotFound,
    TooManyRequests,
    Unauthorized,
    UpstreamUnavailable,
)
from backend.queue import redis_client
from backend.staff.models import Staff
from backend.timeutil import utcnow

CALLBACK_PATH = "/farm/login/wechat/done"
BIND_CODE_HOURS = 48  # a household member may not be on the phone at once
SESSION_HOURS = 72
BIND_ATTEMPTS = 5  # wrong codes per WeChat user per hour


def _key(kind: str, value: str) -> str:
    return f"heli:farm-login:{kind}:{value}"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


# -- staff hand out bind codes -----------------------------------------------------------------
def issue_bind_code(
    session: Session, *, farm_id: int, name: str, staff: Staff, member_id: int | None = None
) -> dict:
    """A one-time code binding a (new, or re-bound: `member_id`) member of the household to the
    WeChat that enters it; audited. Answers {member_id, code, expires_in}."""
    farm = session.get(Farm, farm_id)
    if farm is None:
        raise NotFound("养殖户不存在", code="FARM_NOT_FOUND")
    name = (name or "").strip()
    if member_id is not None:
        member = session.get(FarmMember, member_id)
        if member is None or member.farm_id != farm_id:
            raise NotFound("养殖户成员不存在", code="FARM_MEMBER_NOT_FOUND")
        member.openid, member.bound_at, member.active = None, None, True  # a new phone
    else:
        if not 1 <= len(name) <= 30:
            raise BadRequest("请填写成员姓名（1–30 字）", code="MEMBER_NAME_REQUIRED")
        member = FarmMember(farm_id=farm_id, name=name, created_by=staff.id)
        session.add(member)
    hours = BIND_CODE_HOURS
    for _ in range(5):
        code = f"{secrets.randbelow(10**8):08d}"
        member.bind_code_hash = _digest(code)
        member.bind_code_expires_at = utcnow() + timedelta(hours=hours)
        try:
            with session.begin_nested():
                session.flush()
            break
        except IntegrityError:  # the same 8 digits pending for another member
            continue
    else:
        raise Conflict("绑定码生成失败，请重试", code="BIND_CODE_BUSY")
    audit.record(
        session,
        staff=staff,
        action="farm_member.bind_code",
        target_type="farm_member",
        target_id=member.id,
        summary=f"为 {farm.name} 的 {member.name} 签发绑定码",
    )
    session.commit()
    return {"member_id": member.id, "code": code, "expires_in": hours * 3600}


def members_of(session: Session, farm_id: int) -> list[FarmMember]:
    return list(
        session.scalars(
            select(FarmMember).where(FarmMember.farm_id == farm_id).order_by(FarmMember.id)
        )
    )


# -- inside WeChat -----------------------------------------------------------------------------
def new_state() -> str:
    return secrets.token_hex(16)


def wechat_authorize_url(*, state: str) -> str:
    redirect_uri = current_app.config["PUBLIC_BASE_URL"].rstrip("/") + CALLBACK_PATH
    return wechat_oauth.authorize_url(redirect_uri=redirect_uri, state=state)


def openid_from_wechat(*, code: str, state: str, expected_state: str) -> str:
    """The openid WeChat authorised: refused when the state is not this browser's, or the code
    was used (claimed before WeChat sees it, so a reloaded callback never tries it twice)."""
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        raise Unauthorized("登录已失效，请重新打开页面登录", code="OAUTH_STATE_MISMATCH")
    if not code or len(code) > 128:
        raise Unauthorized("微信未授权登录", code="OAUTH_CODE_MISSING")
    if not redis_client().set(_key("oauth-code", _digest(code)), 1, nx=True, ex=600):
        raise Unauthorized("该登录链接已使用，请重新打开页面登录", code="OAUTH_CODE_USED")
    try:
        return wechat_oauth.openid_of_code(code)
    except WeChatError as refused:
        if refused.errcode is None or refused.errcode in (-1, 45009):
            raise UpstreamUnavailable(
                "微信暂时无法登录，请稍后再试", code="WECHAT_UNAVAILABLE"
            ) from None
        raise Unauthorized(
            "微信登录凭证无效或已使用，请重新打开页面登录", code="OAUTH_CODE_INVALID"
        ) from None


def member_of_openid(session: Session, openid: str) -> FarmMember | None:
    member = session.scalar(select(FarmMember).where(FarmMember.openid == openid))
    return member if member is not None and member.active else None


def bind(session: Session, *, openid: str, code: str) -> FarmMember:
    """Bind this WeChat to the member whose code it is (the code works once, before it
    expires; BIND_ATTEMPTS wrong codes an hour per WeChat user)."""
    redis = redis_client()
    wrong = _key("bind-wrong", openid)
    if int(redis.get(wrong) or 0) >= BIND_ATTEMPTS:
        raise TooManyRequests("绑定码错误次数过多，请 1 小时后再试", code="BIND_CODE_BURNT")
    code = "".join(ch for ch in code if ch.isdigit())
    member = (
        session.scalar(select(FarmMember).where(FarmMember.bind_code_hash == _digest(code)))
        if len(code) == 8
        else None
    )
    if member is None or not member.active or member.bind_code_expires_at < utcnow():
        redis.pipeline().incr(wrong).expire(wrong, 3600).execute()
        raise Unauthorized(
            "绑定码错误或已过期，请联系联盟工作人员重新获取", code="BIND_CODE_INVALID"
        )
    earlier = session.scalar(select(FarmMember).where(FarmMember.openid == openid))
    if earlier is not None and earlier.id != member.id:
        earlier.openid = None  # one WeChat, one member: the newest binding holds
        session.flush()
    member.openid, member.bound_at = openid, utcnow()
    member.bind_code_hash = member.bind_code_expires_at = None
    session.commit()
    return member


# -- sessions ----------------------------------------------------------------------------------
def open_session(session: Session, member_id: int) -> str:
    """A session of the member on the WeChat bound now: binding another phone (a lost one
    re-bound by staff) ends it."""
    openid = session.scalar(select(FarmMember.openid).where(FarmMember.id == member_id))
    sid = secrets.token_urlsafe(24)
    value = json.dumps({"member_id": member_id, "openid": openid})
    redis_client().set(_key("session", _digest(sid)), value, ex=SESSION_HOURS * 3600)
    return sid


_ACTIVE_MEMBER = (
    select(FarmMember.id, FarmMember.name, FarmMember.farm_id, Farm.name.label("farm_name"))
    .join(Farm, Farm.id == FarmMember.farm_id)
    .where(
        FarmMember.id == bindparam("member_id"),
        FarmMember.openid == bindparam("openid"),
        FarmMember.active.is_(True),
    )
)


def session_member(session: Session, sid: str):
    """The active member whose session this is, still on the WeChat it logged in with (id,
    name, farm_id, farm_name), or None."""
    found = redis_client().get(_key("session", _digest(sid)))
    if not found:
        return None
    ticket = json.loads(found)
    if not isinstance(ticket, dict):  # a session from before sessions named the WeChat
        return None
    return session.execute(_ACTIVE_MEMBER, ticket).first()


def close_session(sid: str) -> None:
    redis_client().delete(_key("session", _digest(sid)))


def households(session: Session) -> list[dict]:
    """The households with units open to adoption, each with its members (for the console)."""
    farms = session.scalars(
        select(Farm).where(Farm.id.in_(select(AdoptionUnit.farm_id).distinct())).order_by(Farm.id)
    )
    return [
        {"id": farm.id, "name": farm.name, "members": members_of(session, farm.id)}
        for farm in farms
    ]
