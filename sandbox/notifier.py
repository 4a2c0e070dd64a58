"""WeChat Pay v3 notifications: encrypted resource, signed headers, delivery with retries.

Delivery never holds the sandbox lock: the receiver (our backend) may call the sandbox back while
it handles a notification. Modes other than normal/duplicate/concurrent simulate forged or broken
notifications; they are delivered once and never retried, so a test sees exactly what it asked for.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import requests

from .context import Sandbox
from .crypto import aes_gcm_encrypt, random_nonce, rsa_sign
from .pay_signing import platform_headers
from .times import rfc3339_now

MODES = (
    "normal",
    "duplicate",
    "concurrent",
    "wrong_amount",
    "bad_signature",
    "stale_timestamp",
    "signtest",
)
RETRYING_MODES = ("normal", "duplicate", "concurrent")
DEFAULT_COPIES = {"duplicate": 2, "concurrent": 50}


@dataclass
class Delivery:
    kind: str  # "payment" or "refund"
    url: str
    body: str
    event_type: str
    mode: str = "normal"
    copies: int = 1
    ids: dict[str, str | None] = field(default_factory=dict)  # out_trade_no, out_refund_no


def encrypted_body(
    sb: Sandbox, *, event_type: str, summary: str, original_type: str, resource: dict[str, Any]
) -> str:
    """The notification JSON: resource sealed with AES-256-GCM under the APIv3 key."""
    nonce = random_nonce(12)
    plaintext = json.dumps(resource, ensure_ascii=False, separators=(",", ":"))
    envelope = {
        "id": str(uuid.uuid4()),
        "create_time": rfc3339_now(),
        "resource_type": "encrypt-resource",
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": aes_gcm_encrypt(sb.apiv3_key, nonce, original_type, plaintext),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    return json.dumps(envelope, ensure_ascii=False, separators=(",", ":"))


def _headers(sb: Sandbox, delivery: Delivery) -> dict[str, str]:
    now = int(sb.real_now())
    if delivery.mode == "stale_timestamp":
        headers = platform_headers(
            sb, delivery.body, timestamp=now - int(sb.settings["stale_timestamp_age"])
        )
    elif delivery.mode == "bad_signature":
        # a well-formed signature over a different body: base64-valid, never verifies
        forged = rsa_sign(sb.platform_private_key, f"{now}\nforged\n{delivery.body}tampered\n")
        headers = platform_headers(sb, delivery.body, signature=forged)
    elif delivery.mode == "signtest":
        probe = "WECHATPAY/SIGNTEST/" + random_nonce(64)
        headers = platform_headers(sb, delivery.body, signature=probe)
    else:
        headers = platform_headers(sb, delivery.body)
    headers["Content-Type"] = "application/json"
    headers["User-Agent"] = "Mozilla/4.0"
    return headers


def _post(sb: Sandbox, url: str, headers: dict[str, str], body: bytes) -> int:
    transport = sb.settings.get("notify_transport")
    if transport is not None:
        return int(transport(url, headers, body))
    timeout = float(sb.settings["notify_timeout"])
    with requests.Session() as session:
        session.trust_env = False  # a local receiver must not be reached through a proxy
        return session.post(url, data=body, headers=headers, timeout=timeout).status_code


def _attempt(sb: Sandbox, delivery: Delivery, generation: int, attempt: int, copy: int) -> dict:
    headers = _headers(sb, delivery)
    result: dict[str, Any] = {"status": None}
    try:
        result["status"] = _post(sb, delivery.url, headers, delivery.body.encode("utf-8"))
    except Exception as error:  # any failure to reach the receiver is just a failed attempt
        result["error"] = f"{type(error).__name__}: {error}"[:300]
    entry = {
        "kind": delivery.kind,
        "event_type": delivery.event_type,
        "url": delivery.url,
        "mode": delivery.mode,
        "attempt": attempt,
        "copy": copy,
        "at": time.time(),
        **delivery.ids,
        **result,
    }
    with sb.state.lock:
        if generation == sb.state.generation:
            sb.state.pay.notifications.append(entry)
    return result


def _ok(result: dict) -> bool:
    return result["status"] is not None and 200 <= result["status"] < 300


def _first_round(sb: Sandbox, delivery: Delivery, generation: int) -> list[dict]:
    if delivery.mode != "concurrent":
        return [
            _attempt(sb, delivery, generation, attempt=1, copy=n + 1)
            for n in range(delivery.copies)
        ]
    # every copy leaves at the same moment: the receiver's locking is what is under test
    barrier = threading.Barrier(delivery.copies, timeout=10)
    results: list[dict] = [{"status": None}] * delivery.copies

    def send(index: int) -> None:
        with contextlib.suppress(threading.BrokenBarrierError):  # a stuck copy must not block
            barrier.wait()
        results[index] = _attempt(sb, delivery, generation, attempt=1, copy=index + 1)

    threads = [threading.Thread(target=send, args=(i,)) for i in range(delivery.copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _retry(sb: Sandbox, delivery: Delivery, generation: int, first: list[dict]) -> None:
    """Resend on the (compressed) schedule until the receiver answers 2xx."""
    if delivery.mode not in RETRYING_MODES or any(_ok(r) for r in first):
        return
    for attempt, delay in enumerate(sb.settings["notify_retry_delays"], start=2):
        if not sb.state.pause(float(delay), generation):
            return
        if _ok(_attempt(sb, delivery, generation, attempt=attempt, copy=1)):
            return


def dispatch(sb: Sandbox, delivery: Delivery, *, wait: bool) -> list[dict] | None:
    """Deliver in the background; with `wait`, run the first round here and return its results."""
    with sb.state.lock:
        generation = sb.state.generation

    def run(first: list[dict] | None) -> None:
        first = first if first is not None else _first_round(sb, delivery, generation)
        _retry(sb, delivery, generation, first)

    if not wait:
        threading.Thread(target=run, args=(None,), daemon=True).start()
        return None
    first = _first_round(sb, delivery, generation)
    threading.Thread(target=run, args=(first,), daemon=True).start()
    return first
