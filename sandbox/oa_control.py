"""Control endpoints of the Official Account stand-in (not part of WeChat): followers, pushes of
user messages and events to the callback, the callback URL, scripted faults, and what tests and
benchmarks look at (messages, pushes, stats)."""

from __future__ import annotations

import random
import secrets
from typing import Any

from flask import Blueprint, jsonify, request

from . import oa_messages, oa_push
from .context import Sandbox, current_sandbox
from .control import control_body
from .errors import ControlError
from .oa_state import FAULT_APIS, FINISH_FAILURES, FaultRule, Follower

bp = Blueprint("oa_control", __name__, url_prefix="/sandbox/oa")

EVENTS = ("subscribe", "unsubscribe", "SCAN", "CLICK", "TEMPLATESENDJOBFINISH")


def _required(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} must be a non-empty string")
    return value


def _str(body: dict[str, Any], key: str) -> str | None:
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ControlError(f"{key} must be a non-empty string")
    return value


def _bool(body: dict[str, Any], key: str, default: bool | None) -> bool | None:
    value = body.get(key, default)
    if value is not None and not isinstance(value, bool):
        raise ControlError(f"{key} must be true or false")
    return value


def _number(body: dict[str, Any], key: str, low: float, high: float | None = None) -> Any:
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ControlError(f"{key} must be a number")
    if value < low or (high is not None and value > high):
        bounds = f"at least {low}" if high is None else f"between {low} and {high}"
        raise ControlError(f"{key} must be {bounds}")
    return value


def _push_options(sb: Sandbox, body: dict[str, Any]) -> oa_push.PushOptions:
    encrypt = _bool(body, "encrypt", bool(sb.settings["oa_encrypt"]))
    tamper = body.get("tamper")
    if tamper is not None and tamper not in oa_push.TAMPERS:
        raise ControlError(f"tamper must be null or one of {oa_push.TAMPERS}")
    if tamper in ("msg_signature", "encryption") and not encrypt:
        raise ControlError(f"tamper {tamper!r} needs encrypt: true")
    repeat = body.get("repeat", 1)
    if isinstance(repeat, bool) or not isinstance(repeat, int) or not 1 <= repeat <= 100:
        raise ControlError("repeat must be an integer between 1 and 100")
    concurrent = bool(_bool(body, "concurrent", False))
    return oa_push.PushOptions(bool(encrypt), tamper, repeat, concurrent)


def _user(sb: Sandbox, openid: str) -> Follower:
    user = sb.state.oa.followers.get(openid)
    if user is None:
        raise ControlError(f"unknown openid {openid}: create it with POST /sandbox/oa/users")
    return user


@bp.route("/users", methods=["GET", "POST"])
def users():
    """POST creates or updates a follower; a follow/unfollow pushes the event unless push: false."""
    sb = current_sandbox()
    if request.method == "GET":
        openid = request.args.get("openid")
        with sb.state.lock:
            rows = [u.view() for u in sb.state.oa.followers.values() if openid in (None, u.openid)]
        return jsonify({"users": rows})
    body = control_body()
    openid = _required(body, "openid")
    push_event = _bool(body, "push", True)
    follow = _bool(body, "follow", None)
    updates: dict[str, Any] = {}
    if "unionid" in body:
        updates["unionid"] = None if body["unionid"] is None else _str(body, "unionid")
    if "nickname" in body:
        updates["nickname"] = _str(body, "nickname")
    if "block_templates" in body:
        updates["block_templates"] = _bool(body, "block_templates", False)
    if "scene" in body:
        updates["subscribe_scene"] = _required(body, "scene")
    with sb.state.lock:
        user = sb.state.oa.followers.get(openid)
        if user is None:
            user = sb.state.oa.followers[openid] = Follower(openid=openid)
            follow = True if follow is None else follow
        for key, value in updates.items():
            setattr(user, key, value)
        changed = follow is not None and oa_messages.set_following(sb, user, follow)
        if changed and follow:
            oa_messages.record_interaction(sb, user)
        view = user.view()
    result = None
    if changed and push_event:
        event = "subscribe" if follow else "unsubscribe"
        options = oa_push.PushOptions(encrypt=bool(sb.settings["oa_encrypt"]))
        result = oa_push.push(sb, openid, oa_push.event_fields(event), options)
    return jsonify({"user": view, "push": result})


def _event_fields(sb: Sandbox, body: dict[str, Any], openid: str, apply: bool) -> list:
    """Check the event, apply what it means to the follower (unless the push is a forgery), and
    build its XML fields. Caller holds the lock."""
    event = body.get("event")
    if event not in EVENTS:
        raise ControlError(f"event must be one of {EVENTS}")
    event_key = _str(body, "event_key")
    ticket = _str(body, "ticket")
    if event in ("SCAN", "CLICK") and event_key is None:
        raise ControlError(f"{event} needs an event_key")
    if event == "TEMPLATESENDJOBFINISH":
        msg_id = _number(body, "msg_id", 1)
        status = _str(body, "status") or "success"
        _user(sb, openid)
        return oa_push.event_fields(event, msg_id=int(msg_id or 0), status=status)
    if event == "SCAN" or (event == "subscribe" and event_key):
        ticket = ticket or "gQ" + secrets.token_urlsafe(30)
    fields = oa_push.event_fields(event, event_key=event_key, ticket=ticket)
    followers = sb.state.oa.followers
    if event == "subscribe" and openid not in followers:
        if not apply:
            return fields
        followers[openid] = Follower(openid=openid)
    user = _user(sb, openid)
    if event not in ("subscribe", "unsubscribe") and not user.subscribe:
        raise ControlError(f"{openid} does not follow the account: WeChat sends no {event}")
    if apply:
        if event in ("subscribe", "unsubscribe"):
            oa_messages.set_following(sb, user, event == "subscribe", event_key)
        if event in oa_messages.INTERACTIONS:
            oa_messages.record_interaction(sb, user)
    return fields


@bp.post("/push")
def push():
    """The user sends the account a text, or WeChat pushes an event; answers the delivery."""
    sb = current_sandbox()
    body = control_body()
    openid = _required(body, "openid")
    options = _push_options(sb, body)
    kind = body.get("type")
    with sb.state.lock:
        if kind == "text":
            content = _required(body, "content")
            msg_id = _number(body, "msg_id", 1)
            user = _user(sb, openid)
            if not user.subscribe:
                raise ControlError(f"{openid} does not follow the account: it cannot send texts")
            if options.tamper is None:  # a forged push is no interaction of the user's
                oa_messages.record_interaction(sb, user)
            msg_id = int(msg_id) if msg_id is not None else oa_push.new_msg_id(sb)
            fields = oa_push.text_fields(content, msg_id)
        elif kind == "event":
            fields = _event_fields(sb, body, openid, apply=options.tamper is None)
            msg_id = None
        else:
            raise ControlError('type must be "text" or "event"')
    result = oa_push.push(sb, openid, fields, options)
    result["msg_id"] = msg_id
    return jsonify(result)


@bp.get("/verify")
def verify():
    """WeChat's GET check of the callback URL (`?tamper=signature` sends a wrong signature)."""
    tamper = request.args.get("tamper")
    if tamper not in (None, "signature"):
        raise ControlError("tamper must be absent or signature")
    return jsonify(oa_push.verify_url(current_sandbox(), tamper))


@bp.route("/config", methods=["GET", "POST"])
def config():
    """POST `{callback_url}` points the pushes at another URL (null = the setting again)."""
    sb = current_sandbox()
    if request.method == "POST":
        body = control_body()
        if "callback_url" in body:
            url = body["callback_url"]
            if url is not None and not (isinstance(url, str) and url.startswith("http")):
                raise ControlError("callback_url must be an http(s) URL or null")
            with sb.state.lock:
                sb.state.oa_callback_url = url
    return jsonify(
        {
            "callback_url": oa_push.callback_url(sb),
            "original_id": sb.settings["oa_original_id"],
            "appid": sb.settings.get("WECHAT_OA_APPID"),
            "encrypt": bool(sb.settings["oa_encrypt"]),
        }
    )


def _fault_rule(sb: Sandbox, body: dict[str, Any]) -> FaultRule:
    errcode = body.get("errcode")
    finish = body.get("finish_status")
    rate = _number(body, "rate", 0, 1)
    if errcode is None and finish is None:
        if rate is None:
            raise ControlError("give errcode or finish_status (or a rate: errcode -1)")
        errcode = -1
    if errcode is not None and (isinstance(errcode, bool) or not isinstance(errcode, int)):
        raise ControlError("errcode must be an integer")
    if finish is not None and finish not in FINISH_FAILURES:
        raise ControlError(f"finish_status must be one of {FINISH_FAILURES}")
    if errcode is not None and finish is not None:
        raise ControlError("one rule is either an errcode or a finish_status")
    apis = body.get("apis", ["finish"] if finish else ["template", "custom"])
    allowed = ("finish",) if finish else FAULT_APIS
    if not isinstance(apis, list) or not apis or not set(apis) <= set(allowed):
        raise ControlError(f"apis must be a non-empty list of {allowed}")
    times = body.get("times")
    if times is not None and (isinstance(times, bool) or not isinstance(times, int) or times < 1):
        raise ControlError("times must be a positive integer or null")
    seconds = _number(body, "seconds", 0)
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ControlError("seed must be an integer")
    errmsg = body.get("errmsg")
    if errmsg is not None and not isinstance(errmsg, str):
        raise ControlError("errmsg must be a string")
    return FaultRule(
        errcode=errcode,
        errmsg=errmsg,
        finish_status=finish,
        apis=tuple(apis),
        times=times,
        until=None if seconds is None else sb.wechat_now() + float(seconds),
        rate=None if rate is None else float(rate),
        seed=seed,
        rng=random.Random(seed),
    )


@bp.route("/faults", methods=["GET", "POST", "DELETE"])
def faults():
    """POST adds a rule, DELETE clears them; rules are tried in order, the first that fires wins."""
    sb = current_sandbox()
    rule = _fault_rule(sb, control_body()) if request.method == "POST" else None
    with sb.state.lock:
        oa = sb.state.oa
        if request.method == "DELETE":
            oa.faults = []
        elif rule is not None:
            oa.faults.append(rule)
        now = sb.wechat_now()
        oa.faults = [r for r in oa.faults if not r.expired(now)]
        return jsonify({"faults": [r.view() for r in oa.faults]})


@bp.route("/templates", methods=["GET", "POST"])
def templates():
    """GET lists OA templates; POST `{template_id, keys: [...]}` adds or replaces one."""
    sb = current_sandbox()
    body = control_body() if request.method == "POST" else {}
    with sb.state.lock:
        known = oa_messages.templates(sb)
        if request.method == "POST":
            template_id = _required(body, "template_id")
            keys = body.get("keys")
            if not isinstance(keys, list) or not keys or not all(isinstance(k, str) for k in keys):
                raise ControlError("keys must be a non-empty list of strings")
            known[template_id] = list(keys)
        return jsonify({"templates": {k: list(v) for k, v in known.items()}})


@bp.get("/messages")
def messages():
    """Custom and template messages accepted, oldest first; ?openid= &kind= &template_id=."""
    openid = request.args.get("openid")
    kind = request.args.get("kind")
    template_id = request.args.get("template_id")
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            dict(m)
            for m in sb.state.oa.messages
            if openid in (None, m["touser"])
            and kind in (None, m["kind"])
            and template_id in (None, m.get("template_id"))
        ]
    return jsonify({"messages": rows})


@bp.get("/pushes")
def pushes():
    """Every delivery to the callback (?openid= &kind= text / subscribe / TEMPLATESENDJOBFINISH)."""
    openid = request.args.get("openid")
    kind = request.args.get("kind")
    sb = current_sandbox()
    with sb.state.lock:
        rows = [
            dict(p)
            for p in sb.state.oa.pushes
            if openid in (None, p["openid"]) and kind in (None, p["kind"])
        ]
    return jsonify({"pushes": rows})


def _split(stats: dict[str, int], prefix: str) -> dict[str, int]:
    return {k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)}


@bp.get("/stats")
def stats():
    sb = current_sandbox()
    with sb.state.lock:
        s = dict(sb.state.oa.stats)
    pending = sb.state.oa_outbox.pending()
    return jsonify(
        {
            "template": {
                "accepted": s.get("template_accepted", 0),
                "deduped": s.get("template_deduped", 0),
                "refused": _split(s, "template_refused:"),
            },
            "custom": {
                "accepted": s.get("custom_accepted", 0),
                "refused": _split(s, "custom_refused:"),
            },
            "finish_events": {
                "scheduled": s.get("finish_scheduled", 0),
                "pushed": s.get("finish_pushed", 0),
                "pending": pending,
                "by_status": _split(s, "finish_status:"),
                "by_http_status": _split(s, "finish_http:"),
            },
            "pushes": {"total": s.get("push_total", 0), "by_http_status": _split(s, "push_http:")},
        }
    )
