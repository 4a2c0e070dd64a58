"""The processing plant's signed HTTP client for Heli's processing API: HMAC-SHA256 over
"METHOD\\nPATH\\nTIMESTAMP\\nNONCE\\nSHA256_HEX(BODY)", retried while the server is down."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from urllib.parse import urlsplit

import requests

RETRY_DELAYS = (0.5, 1, 2, 4, 8)
API = "/api/processing/batches"


class LineError(Exception):
    """The server refused a report (status, code and message as it answered) or was unreachable."""

    def __init__(self, status: int, code: str, message: str, where: str = ""):
        super().__init__(f"HTTP {status} {code}: {message} {where}".strip())
        self.status, self.code, self.message, self.where = status, code, message, where


class LineClient:
    """Signed calls to the processing API, retried while the server is down or answering 5xx."""

    def __init__(self, url: str, key_id: str, secret: str, *, timeout: float = 30.0):
        self.url = url.rstrip("/")
        self.key_id, self.secret, self.timeout = key_id, secret, timeout
        self.http = requests.Session()

    def _signed_headers(self, method: str, path: str, body: bytes) -> dict:
        timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(24)
        digest = hashlib.sha256(body).hexdigest()
        message = "\n".join([method.upper(), path, timestamp, nonce, digest])
        signature = hmac.new(self.secret.encode(), message.encode(), hashlib.sha256).hexdigest()
        return {
            "Content-Type": "application/json",
            "X-Heli-Key-Id": self.key_id,
            "X-Heli-Timestamp": timestamp,
            "X-Heli-Nonce": nonce,
            "X-Heli-Signature": signature,
        }

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        raw = b"" if body is None else json.dumps(body, ensure_ascii=False).encode()
        signed_path = urlsplit(self.url).path.rstrip("/") + path
        for delay in (*RETRY_DELAYS, None):
            try:  # signed afresh each time: a nonce is good for one request only
                res = self.http.request(
                    method,
                    self.url + path,
                    data=raw,
                    headers=self._signed_headers(method, signed_path, raw),
                    timeout=self.timeout,
                )
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if res.status_code < 500:
                    return res.status_code, _json(res)
                problem = f"HTTP {res.status_code}"
            if delay is None:
                raise LineError(0, "UNAVAILABLE", f"服务器不可用 server unavailable ({problem})")
            time.sleep(delay)  # reports are idempotent by report id, so resending is safe
        raise AssertionError("unreachable")

    def report(self, path: str, body: dict, expected: int) -> dict:
        status, answer = self.call("POST", path, body)
        if status != expected:
            code, message = answer.get("code", "?"), answer.get("message", str(answer))
            raise LineError(status, code, message, f"POST {path} {body['report_id']}")
        return answer

    def wait_until_up(self, timeout: float = 60.0) -> None:
        """Wait for GET /healthz: under honcho the web server may still be starting."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.http.get(self.url + "/healthz", timeout=5).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise LineError(0, "UNAVAILABLE", f"{self.url}/healthz 在 {timeout:.0f} 秒内未就绪")
            time.sleep(1)


def _json(res: requests.Response) -> dict:
    try:
        body = res.json()
    except ValueError:
        return {"code": "NOT_JSON", "message": res.text[:200]}
    return body if isinstance(body, dict) else {"code": "NOT_JSON", "message": str(body)[:200]}
