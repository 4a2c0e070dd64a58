"""What the Official Account APIs decide: user/info, 客服消息 (custom/send) and 模板消息
(template/send), plus following/unfollowing and the scripted OA faults. Callers hold the lock.

Sources: the official pages for user/info, custom/send and template/send (read through stored
copies) and docs/api-facts.md §1.7; choices the docs leave open are marked *sandbox*.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .faults import WECHAT_ERRMSG
from .oa_state import FaultRule, Follower
from .times import CST

OPTIONAL_TEMPLATE_KEYS = ("first", "remark")  # dropped by the platform since 2023-05
CUSTOM_TYPES = ("text", "link", "miniprogrampage")
INTERACTIONS = ("text", "subscribe", "SCAN", "CLICK")  # what opens the 48 h window
QR_PREFIX = "qrscene_"


def templates(sb: Sandbox) -> dict[str, list[str]]:
    oa = sb.state.oa
    if oa.templates is None:
        oa.templates = {k: list(v) for k, v in sb.settings["oa_templates"].items()}
    return oa.templates


def _day(sb: Sandbox) -> str:
    return datetime.fromtimestamp(sb.wechat_now(), CST).date().isoformat()


# --- followers ---------------------------------------------------------------------------------


def follower(sb: Sandbox, openid: Any) -> Follower:
    if not isinstance(openid, str) or not openid:
        raise WeChatError(41009, "missing openid")
    user = sb.state.oa.followers.get(openid)
    if user is None:  # mini-program openids are unknown here: the two apps' openids differ
        raise WeChatError(40003, "invalid openid")
    return user


def set_following(sb: Sandbox, user: Follower, follow: bool, event_key: str | None = None) -> bool:
    """Follow or unfollow; True when the state changed (an event is due)."""
    if follow == user.subscribe:
        return False
    user.subscribe = follow
    if follow:
        user.subscribe_time = int(sb.wechat_now())
        if event_key and event_key.startswith(QR_PREFIX):
            scene = event_key[len(QR_PREFIX) :]
            user.subscribe_scene = "ADD_SCENE_QR_CODE"
            user.qr_scene, user.qr_scene_str = (int(scene), "") if scene.isdigit() else (0, scene)
    return True


def record_interaction(sb: Sandbox, user: Follower) -> None:
    """The user did something that lets the account answer with custom messages for 48 h."""
    user.last_interaction = sb.wechat_now()
    user.window_sent = 0


def user_info(sb: Sandbox, openid: Any) -> dict[str, Any]:
    """The documented field set; nickname/headimgurl are not returned since 2021-12-27."""
    user = follower(sb, openid)
    if not user.subscribe:
        answer: dict[str, Any] = {"subscribe": 0, "openid": user.openid, "tagid_list": []}
        if user.unionid:
            answer["unionid"] = user.unionid
        return answer
    answer = {
        "subscribe": 1,
        "openid": user.openid,
        "language": "zh_CN",
        "subscribe_time": user.subscribe_time,
    }
    if user.unionid:
        answer["unionid"] = user.unionid
    answer.update(
        remark="",
        groupid=0,
        tagid_list=[],
        subscribe_scene=user.subscribe_scene,
        qr_scene=user.qr_scene,
        qr_scene_str=user.qr_scene_str,
    )
    return answer


# --- faults ------------------------------------------------------------------------------------


def _fire(sb: Sandbox, api: str) -> FaultRule | None:
    now = sb.wechat_now()
    oa = sb.state.oa
    oa.faults = [rule for rule in oa.faults if not rule.expired(now)]
    for rule in oa.faults:
        if rule.fire(api):
            return rule
    return None


def take_fault(sb: Sandbox, api: str) -> None:
    """Raise the errcode a scripted OA fault gives this call, if one fires."""
    rule = _fire(sb, api)
    if rule is not None and rule.errcode is not None:
        raise WeChatError(
            rule.errcode, rule.errmsg or WECHAT_ERRMSG.get(rule.errcode, "injected fault")
        )


def finish_status(sb: Sandbox, user: Follower) -> str:
    if user.block_templates:
        return "failed:user block"
    rule = _fire(sb, "finish")
    return rule.finish_status if rule is not None and rule.finish_status else "success"


# --- 客服消息 -----------------------------------------------------------------------------------


def _require_object(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise WeChatError(47001, "data format error")
    return body


def _nonempty(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _check_custom_body(body: dict[str, Any]) -> str:
    msgtype = body.get("msgtype")
    if msgtype not in CUSTOM_TYPES:
        raise WeChatError(40008, "invalid message type")
    part = body.get(msgtype)
    if not isinstance(part, dict):
        part = {}
    if msgtype == "text" and not _nonempty(part.get("content")):
        raise WeChatError(44004, "empty content")
    required = {"link": ("title", "url"), "miniprogrampage": ("appid", "pagepath")}
    for key in required.get(msgtype, ()):
        if not _nonempty(part.get(key)):
            raise WeChatError(47003, f"argument invalid! {msgtype}.{key} is empty")
    return msgtype


def send_custom(sb: Sandbox, body: Any) -> dict[str, Any]:
    """A 客服 message: only within 48 h of the user's last interaction, N per interaction."""
    body = _require_object(body)
    user = follower(sb, body.get("touser"))
    msgtype = _check_custom_body(body)
    window = float(sb.settings["oa_custom_window_seconds"])
    now = sb.wechat_now()
    if not user.subscribe or user.last_interaction is None or now - user.last_interaction > window:
        raise WeChatError(45015, "response out of time limit or subscription is canceled")
    if user.window_sent >= int(sb.settings["oa_custom_per_interaction"]):
        raise WeChatError(45047, "out of response count limit")
    oa = sb.state.oa
    day = _day(sb)
    if oa.quota_used[("custom", day)] >= int(sb.settings["oa_custom_per_day"]):
        raise WeChatError(45009, "reach max api daily quota limit")
    oa.quota_used[("custom", day)] += 1
    user.window_sent += 1
    msgid = sb.state.ids.take("oa_custom_msgid")
    oa.messages.append(
        {"kind": "custom", "msgid": msgid, "touser": user.openid, "msgtype": msgtype}
        | {"body": body, "at": now}
    )
    return {"errcode": 0, "errmsg": "ok"}


# --- 模板消息 -----------------------------------------------------------------------------------


def _check_template_body(sb: Sandbox, body: dict[str, Any], keys: list[str]) -> None:
    data = body.get("data")
    if not isinstance(data, dict):
        raise WeChatError(47003, "argument invalid! data is not an object")
    for key in keys:
        if key in OPTIONAL_TEMPLATE_KEYS:
            continue
        entry = data.get(key)
        value = entry.get("value") if isinstance(entry, dict) else None
        if isinstance(value, bool) or not isinstance(value, str | int | float) or value == "":
            raise WeChatError(47003, f"argument invalid! data.{key}.value is empty")
    if "url" in body and not isinstance(body["url"], str):
        raise WeChatError(47003, "argument invalid! url")
    miniprogram = body.get("miniprogram")
    if miniprogram is not None and not (
        isinstance(miniprogram, dict) and _nonempty(miniprogram.get("appid"))
    ):
        raise WeChatError(47003, "argument invalid! miniprogram.appid is empty")
    client_msg_id = body.get("client_msg_id")
    if client_msg_id is not None and not isinstance(client_msg_id, str):
        raise WeChatError(47003, "argument invalid! client_msg_id")


def _spend_template_quota(sb: Sandbox, now: float) -> None:
    oa = sb.state.oa
    per_second = sb.settings.get("oa_template_per_second")
    if per_second is not None:
        while oa.recent_templates and now - oa.recent_templates[0] >= 1.0:
            oa.recent_templates.popleft()
        if len(oa.recent_templates) >= int(per_second):
            # the code of the official API_Call_Limits page for any frequency limit
            raise WeChatError(45009, "api freq out of limit")
        oa.recent_templates.append(now)
    day = _day(sb)
    if oa.quota_used[("template", day)] >= int(sb.settings["oa_template_per_day"]):
        raise WeChatError(45009, "reach max api daily quota limit")
    oa.quota_used[("template", day)] += 1


def send_template(sb: Sandbox, body: Any) -> tuple[dict[str, Any], tuple[str, int, str] | None]:
    """(answer, finish event due as (openid, msgid, status) or None for a deduplicated send)."""
    body = _require_object(body)
    user = follower(sb, body.get("touser"))
    template_id = body.get("template_id")
    keys = templates(sb).get(template_id) if isinstance(template_id, str) else None
    if keys is None:
        raise WeChatError(40037, "invalid template_id")
    if not user.subscribe:
        raise WeChatError(43004, "require subscribe")
    _check_template_body(sb, body, keys)
    oa = sb.state.oa
    now = sb.wechat_now()
    client_msg_id = body.get("client_msg_id")
    if client_msg_id:
        seen = oa.client_msg_ids.get((user.openid, client_msg_id))
        if seen is not None and now - seen[1] < float(sb.settings["oa_client_msg_id_ttl"]):
            oa.stats["template_deduped"] += 1  # sent once already: not delivered again
            return {"errcode": 0, "errmsg": "ok", "msgid": seen[0]}, None
    _spend_template_quota(sb, now)
    msgid = sb.state.ids.take("oa_template_msgid")
    if client_msg_id:
        oa.client_msg_ids[(user.openid, client_msg_id)] = (msgid, now)
    status = finish_status(sb, user)
    message = {
        "kind": "template",
        "msgid": msgid,
        "touser": user.openid,
        "template_id": template_id,
        "url": body.get("url"),
        "miniprogram": body.get("miniprogram"),
        "data": body.get("data"),
        "client_msg_id": client_msg_id,
        "at": now,
        "finish_status": status,
        "finish_http_status": None,
    }
    oa.messages.append(message)
    oa.by_msgid[msgid] = message
    return {"errcode": 0, "errmsg": "ok", "msgid": msgid}, (user.openid, msgid, status)
