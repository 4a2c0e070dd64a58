"""`wxa/msg_sec_check`: text moderation by a keyword table (settings `sec_check_words` and
`sec_check_review_words`, word -> label).

v2 (`version: 2`) always answers errcode 0 and puts the verdict in `result.suggest`
(pass / review / risky); the old v1 body (`{content}` only, what wechatpy's
`check_text_security` sends) answers 87014 for risky text. Callers hold the sandbox lock.
"""

from __future__ import annotations

import secrets
from typing import Any

from .context import Sandbox
from .errors import WeChatError
from .live_common import body_object, is_int

SCENES = (1, 2, 3, 4)  # 1 profile, 2 comment, 3 forum, 4 social log
MAX_CONTENT_CHARS = 2500
NORMAL_LABEL = 100
PROB = {"risky": 90, "review": 60, "pass": 90}  # sandbox choice: a fixed confidence per verdict


def _last_visit(sb: Sandbox, openid: str) -> float | None:
    """A visit marked by control, or a wx.login exchanged by jscode2session (also a visit)."""
    moments = [sb.state.wxa.visits.get(openid)]
    logins = sb.state.wechat.login_calls.get(openid)
    if logins:
        moments.append(max(logins))
    known = [m for m in moments if m is not None]
    return max(known) if known else None


def _hits(sb: Sandbox, text: str) -> list[tuple[str, int, str]]:
    """(suggest, label, keyword) of every table word in the text: risky first, then by position."""
    lowered = text.lower()
    found = []
    tables = (
        ("risky", sb.settings["sec_check_words"]),
        ("review", sb.settings["sec_check_review_words"]),
    )
    for rank, (suggest, words) in enumerate(tables):
        for word, label in words.items():
            at = lowered.find(word.lower())
            if at >= 0:
                found.append((rank, at, suggest, int(label), word))
    return [(suggest, label, word) for _, _, suggest, label, word in sorted(found)]


def _content(body: dict[str, Any]) -> str:
    content = body.get("content")
    if content is None or content == "":
        raise WeChatError(44002, "empty post data")
    if not isinstance(content, str):
        raise WeChatError(47001, "data format error, content must be a string")
    if len(content) > MAX_CONTENT_CHARS:
        raise WeChatError(47001, f"data format error, content exceeds {MAX_CONTENT_CHARS} chars")
    return content


def check(sb: Sandbox, body: Any) -> dict[str, Any]:
    body = body_object(body)
    version = body.get("version", 1)
    if not is_int(version) or version not in (1, 2):
        raise WeChatError(47001, "data format error, version must be 2")
    if version == 1:
        content = _content(body)
        hits = [hit for hit in _hits(sb, content) if hit[0] == "risky"]  # v1 knows no "review"
        _log(sb, 1, None, None, content, hits[0] if hits else None, None)
        if hits:
            raise WeChatError(87014, "risky content")
        return {"errcode": 0, "errmsg": "ok"}

    scene = body.get("scene")
    if not is_int(scene) or scene not in SCENES:
        raise WeChatError(40129, "invalid scene")
    openid = body.get("openid")
    if not isinstance(openid, str) or not openid:
        raise WeChatError(40003, "invalid openid")
    visited = _last_visit(sb, openid)
    if visited is None:
        raise WeChatError(40003, "invalid openid")
    if sb.wechat_now() - visited > float(sb.settings["sec_check_visit_ttl_seconds"]):
        raise WeChatError(40003, "invalid openid, the user has not visited in the last 2 hours")
    content = _content(body)
    extras = ["title", "nickname"] + (["signature"] if scene == 1 else [])
    texts = [content]
    for key in extras:
        value = body.get(key)
        if value is not None and not isinstance(value, str):
            raise WeChatError(47001, f"data format error, {key} must be a string")
        texts.append(value or "")
    hits = _hits(sb, "\n".join(texts))
    suggest, label, keyword = hits[0] if hits else ("pass", NORMAL_LABEL, None)
    model = {"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label}
    if keyword is not None:
        model["keyword"] = keyword
    model["prob"] = PROB[suggest]
    detail = [model] + [
        {"strategy": "keyword", "errcode": 0, "suggest": s, "label": lab, "level": 20, "keyword": w}
        for s, lab, w in hits
    ]
    trace_id = "-".join(secrets.token_hex(4) for _ in range(3))  # shaped like the real ones
    _log(sb, 2, scene, openid, content, hits[0] if hits else None, trace_id)
    return {
        "errcode": 0,
        "errmsg": "ok",
        "trace_id": trace_id,
        "result": {"suggest": suggest, "label": label},
        "detail": detail,
    }


def _log(
    sb: Sandbox,
    version: int,
    scene: int | None,
    openid: str | None,
    content: str,
    hit: tuple[str, int, str] | None,
    trace_id: str | None,
) -> None:
    suggest, label, keyword = hit or ("pass", NORMAL_LABEL, None)
    sb.state.wxa.sec_checks.append(
        {
            "version": version,
            "scene": scene,
            "openid": openid,
            "content": content,
            "suggest": suggest,
            "label": label,
            "keyword": keyword,
            "trace_id": trace_id,
            "at": sb.wechat_now(),
        }
    )
