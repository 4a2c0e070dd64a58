"""The push driver: the sandbox plays WeChat's server calling the Official Account's callback URL.

It builds the real XML, signs it, encrypts it in safe mode (oa_crypto.py, independent of wechatpy),
POSTs it with WeChat's patience (5 s per attempt, 3 attempts) and checks the answer the way WeChat
would: "" or "success" = no reply; otherwise a reply XML addressed to the user, which in safe mode
must be encrypted and signed. Never holds the sandbox lock during HTTP: the callback may call the
sandbox's APIs (custom/send) while it handles a push.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests

from .context import Sandbox
from .oa_crypto import OaCryptoError, aes_key, decrypt, encrypt, parse_xml, signature, to_xml

TAMPERS = ("signature", "msg_signature", "encryption")
NO_REPLY = ("", "success")


@dataclass
class PushOptions:
    encrypt: bool = True
    tamper: str | None = None  # one of TAMPERS
    repeat: int = 1  # deliver the identical request this many times (dedupe tests)
    concurrent: bool = False  # the repeats leave together instead of one after another


def callback_url(sb: Sandbox) -> str:
    with sb.state.lock:
        return sb.state.oa_callback_url or sb.settings["oa_callback_url"]


def new_msg_id(sb: Sandbox) -> int:
    """A fresh 64-bit-looking MsgId for a user message. Caller holds the lock."""
    return sb.state.ids.take("oa_push_msgid")


def text_fields(content: str, msg_id: int) -> list[tuple[str, str | int]]:
    return [("MsgType", "text"), ("Content", content), ("MsgId", msg_id)]


def event_fields(
    event: str,
    *,
    event_key: str | None = None,
    ticket: str | None = None,
    msg_id: int | None = None,
    status: str | None = None,
) -> list[tuple[str, str | int]]:
    fields: list[tuple[str, str | int]] = [("MsgType", "event"), ("Event", event)]
    if event_key is not None:
        fields.append(("EventKey", event_key))
    if ticket is not None:
        fields.append(("Ticket", ticket))
    if event == "TEMPLATESENDJOBFINISH":
        fields += [("MsgID", msg_id or 0), ("Status", status or "success")]
    return fields


def _oa(sb: Sandbox) -> tuple[str, str, bytes]:
    s = sb.settings
    return s["WECHAT_OA_APPID"], s["WECHAT_OA_TOKEN"], aes_key(s["WECHAT_OA_AES_KEY"])


def _nonce() -> str:
    return str(secrets.randbelow(9 * 10**9) + 10**9)  # WeChat's nonces are 10 digits


def build_request(
    sb: Sandbox, openid: str, xml: str, options: PushOptions
) -> tuple[dict[str, str], bytes]:
    """The query string and body WeChat would POST for this message."""
    appid, token, key = _oa(sb)
    timestamp, nonce = str(int(time.time())), _nonce()
    sign_token = token + "-forged" if options.tamper == "signature" else token
    query = {
        "signature": signature(sign_token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "openid": openid,
    }
    if not options.encrypt:
        return query, xml.encode("utf-8")
    if options.tamper == "encryption":
        # well-formed base64 under another key, correctly signed: only decryption can notice
        sealed = encrypt(secrets.token_bytes(32), appid, xml)
    else:
        sealed = encrypt(key, appid, xml)
    msg_token = token + "-forged" if options.tamper == "msg_signature" else token
    query["encrypt_type"] = "aes"
    query["msg_signature"] = signature(msg_token, timestamp, nonce, sealed)
    body = to_xml([("ToUserName", sb.settings["oa_original_id"]), ("Encrypt", sealed)])
    return query, body.encode("utf-8")


def send(sb: Sandbox, url: str, query: dict[str, str], body: bytes) -> dict[str, Any]:
    """POST like WeChat: no answer within the timeout (or no connection) -> try again."""
    timeout = float(sb.settings["oa_push_timeout"])
    attempts = max(1, int(sb.settings["oa_push_attempts"]))
    headers = {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"}
    error = None
    with requests.Session() as session:
        session.trust_env = False  # a local callback must not be reached through a proxy
        for attempt in range(1, attempts + 1):
            try:
                response = session.post(
                    url, params=query, data=body, headers=headers, timeout=timeout
                )
            except requests.RequestException as exc:
                error = f"{type(exc).__name__}: {exc}"[:300]
                continue
            raw = response.content.decode("utf-8", "replace")
            return {"status": response.status_code, "attempts": attempt, "raw": raw, "error": None}
    return {"status": None, "attempts": attempts, "raw": "", "error": error}


def check_reply(
    sb: Sandbox, openid: str, status: int | None, raw: str, encrypted: bool
) -> tuple[dict | None, str | None]:
    """(parsed reply or None, why the reply is unacceptable or None)."""
    if status is None:
        return None, "no answer"
    if not 200 <= status < 300:
        return None, f"HTTP {status}"
    text = raw.strip()
    if text in NO_REPLY:
        return None, None
    appid, token, key = _oa(sb)
    try:
        outer = parse_xml(text)
        if encrypted:
            parts = ("Encrypt", "MsgSignature", "TimeStamp", "Nonce")
            missing = [k for k in parts if not outer.get(k)]
            if missing:
                return None, f"safe-mode reply must be encrypted; missing {missing}"
            expected = signature(token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"])
            if outer["MsgSignature"] != expected:
                return None, "reply MsgSignature does not verify"
            reply = parse_xml(decrypt(key, appid, outer["Encrypt"]))
        else:
            reply = outer
    except OaCryptoError as error:
        return None, f"reply: {error}"
    if reply.get("ToUserName") != openid:
        return None, f"reply ToUserName {reply.get('ToUserName')!r} is not the user {openid!r}"
    if reply.get("FromUserName") != sb.settings["oa_original_id"]:
        return None, f"reply FromUserName {reply.get('FromUserName')!r} is not the account's id"
    if not reply.get("MsgType"):
        return None, "reply has no MsgType"
    if reply["MsgType"] == "text" and not reply.get("Content"):
        return None, "text reply without Content"
    return reply, None


def _deliver_once(
    sb: Sandbox, url: str, openid: str, request: tuple[dict, bytes], encrypted: bool
) -> dict[str, Any]:
    sent = send(sb, url, *request)
    reply, reply_error = check_reply(sb, openid, sent["status"], sent["raw"], encrypted)
    if sent["error"]:
        reply_error = f"no answer after {sent['attempts']} attempts: {sent['error']}"
    return {
        "status": sent["status"],
        "attempts": sent["attempts"],
        "reply": reply,
        "reply_error": reply_error,
        "raw": sent["raw"],
    }


def push(
    sb: Sandbox,
    openid: str,
    fields: list[tuple[str, str | int]],
    options: PushOptions,
    *,
    generation: int | None = None,
) -> dict[str, Any]:
    """Build, deliver (`repeat` times) and check one message; log every delivery."""
    with sb.state.lock:
        generation = sb.state.generation if generation is None else generation
        create_time = int(sb.wechat_now())
    original_id = sb.settings["oa_original_id"]
    head: list[tuple[str, str | int]] = [
        ("ToUserName", original_id),
        ("FromUserName", openid),
        ("CreateTime", create_time),
    ]
    xml = to_xml(head + fields)
    url = callback_url(sb)
    request = build_request(sb, openid, xml, options)
    repeat = max(1, options.repeat)
    results: list[dict[str, Any]] = [{}] * repeat
    if options.concurrent and repeat > 1:
        barrier = threading.Barrier(repeat, timeout=10)

        def run(index: int) -> None:
            try:
                barrier.wait()
            except threading.BrokenBarrierError:
                pass
            results[index] = _deliver_once(sb, url, openid, request, options.encrypt)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(repeat)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    else:
        for index in range(repeat):
            results[index] = _deliver_once(sb, url, openid, request, options.encrypt)

    kind = dict(fields).get("Event") or dict(fields).get("MsgType")
    with sb.state.lock:
        if generation == sb.state.generation:
            oa = sb.state.oa
            for result in results:
                oa.pushes.append(
                    {
                        "openid": openid,
                        "kind": kind,
                        "xml": xml,
                        "url": url,
                        "encrypt": options.encrypt,
                        "tamper": options.tamper,
                        "status": result["status"],
                        "attempts": result["attempts"],
                        "reply_error": result["reply_error"],
                        "at": time.time(),
                    }
                )
                oa.stats["push_total"] += 1
                oa.stats[f"push_http:{result['status']}"] += 1
    answer = dict(results[0])
    answer.update(create_time=create_time, xml=xml, url=url)
    if repeat > 1:
        answer["deliveries"] = [
            {k: r[k] for k in ("status", "attempts", "reply", "reply_error")} for r in results
        ]
    return answer


def verify_url(sb: Sandbox, tamper: str | None = None) -> dict[str, Any]:
    """The GET WeChat makes when the callback URL is saved: the echostr must come back."""
    _appid, token, _key = _oa(sb)
    url = callback_url(sb)
    timestamp, nonce, echostr = str(int(time.time())), _nonce(), str(secrets.randbits(62))
    sign_token = token + "-forged" if tamper == "signature" else token
    query = {
        "signature": signature(sign_token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "echostr": echostr,
    }
    try:
        with requests.Session() as session:
            session.trust_env = False
            response = session.get(url, params=query, timeout=float(sb.settings["oa_push_timeout"]))
    except requests.RequestException as error:
        return {"url": url, "status": None, "echoed": False, "error": str(error)[:300]}
    raw = response.content.decode("utf-8", "replace")
    echoed = response.status_code == 200 and raw.strip() == echostr
    return {"url": url, "status": response.status_code, "echoed": echoed, "raw": raw[:1000]}


def schedule_finish(sb: Sandbox, openid: str, msgid: int, status: str) -> None:
    """TEMPLATESENDJOBFINISH for a template message, `oa_template_finish_delay` from now."""
    with sb.state.lock:
        generation = sb.state.generation
        sb.state.oa.stats["finish_scheduled"] += 1
    delay = float(sb.settings["oa_template_finish_delay"])
    sb.state.oa_outbox.schedule(delay, lambda: _finish(sb, generation, openid, msgid, status))


def _finish(sb: Sandbox, generation: int, openid: str, msgid: int, status: str) -> None:
    with sb.state.lock:
        if generation != sb.state.generation:
            return
    fields = event_fields("TEMPLATESENDJOBFINISH", msg_id=msgid, status=status)
    options = PushOptions(encrypt=bool(sb.settings["oa_encrypt"]))
    result = push(sb, openid, fields, options, generation=generation)
    with sb.state.lock:
        if generation != sb.state.generation:
            return
        oa = sb.state.oa
        oa.stats["finish_pushed"] += 1
        oa.stats[f"finish_status:{status}"] += 1
        oa.stats[f"finish_http:{result['status']}"] += 1
        message = oa.by_msgid.get(msgid)
        if message is not None:
            message.update(finish_http_status=result["status"], finish_attempts=result["attempts"])
