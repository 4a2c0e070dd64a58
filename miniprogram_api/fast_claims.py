"""The flash-sale claim's hot path, below Flask: when the whole town presses 抢 at once, the
framework's per-request work (routing, the input and output schemas, hooks) cost more than the
claim itself. A well-formed claim — a bearer token, an Idempotency-Key, `{"quantity": n}` — is
answered here with the same service call and the same answer the route gives; anything else
(an address, a malformed body, a token the cache does not know, an order already written) goes
on to the documented route in miniprogram_api/flash_sales.py, which answers it in full. Handing
on is safe even after the claim script ran: the Idempotency-Key makes the route's claim a replay.
"""

from __future__ import annotations

import io
import json
import re
from http import HTTPStatus

from flask import Flask

from backend.customers import service as customers
from backend.errors import DomainError
from backend.extensions import db
from backend.live import flash_claims
from miniprogram_api.schemas import KEY_PATTERN

CLAIM_PATH = re.compile(r"/api/v1/flash-sales/([1-9][0-9]{0,8})/claims")
MAX_BODY = 128  # bytes: `{"quantity": 99}` with room for whitespace


class FastClaims:
    """WSGI middleware in front of the app's own wsgi_app (inside ProxyFix, so REMOTE_ADDR is
    the client's); `headers` are those every JSON answer of the app carries."""

    def __init__(self, app: Flask, wsgi_app, headers: list[tuple[str, str]]):
        self.app, self.wsgi_app = app, wsgi_app
        self.headers = [("Content-Type", "application/json"), *headers]

    def __call__(self, environ, start_response):
        if environ["REQUEST_METHOD"] == "POST":
            found = CLAIM_PATH.fullmatch(environ.get("PATH_INFO", ""))
            answer = found and self._answer(environ, int(found.group(1)))
            if answer:
                status, body, headers = answer
                data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
                phrase = f"{status} {HTTPStatus(status).phrase.upper()}"
                start_response(
                    phrase, [*self.headers, *headers, ("Content-Length", str(len(data)))]
                )
                return [data]
        return self.wsgi_app(environ, start_response)

    def _answer(self, environ, sale_id: int) -> tuple[int, dict, list] | None:
        """(status, body, extra headers) for a well-formed claim, else None (the route's)."""
        quantity = _quantity(environ)
        key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
        scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
        hint = customers.session_hint(token) if scheme == "Bearer" else None
        if quantity is None or hint is None or not KEY_PATTERN.fullmatch(key):
            return None
        with self.app.app_context():
            try:
                claim = flash_claims.claim(
                    db.session,
                    sale_id=sale_id,
                    customer_id=hint.customer_id,
                    quantity=quantity,
                    idempotency_key=key,
                    ip=environ.get("REMOTE_ADDR"),
                    session_key=hint.key,
                )
            except customers.SessionUnchecked:
                return None  # the route checks the token in the database
            except DomainError as refusal:
                return refusal.status, refusal.to_dict(), [*getattr(refusal, "headers", {}).items()]
            finally:
                if db.session.registry.has():
                    db.session.remove()
        if claim.order_id is not None:
            return None  # a replay whose order is written: the route renders the order
        view = flash_claims.claim_view(None, claim, customer_id=hint.customer_id)
        return (202 if claim.created else 200), view, []


def _quantity(environ) -> int | None:
    """The quantity of a body that is exactly `{"quantity": 1..99}` in JSON, else None. The body
    is put back for the route either way."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        return None
    length = environ.get("CONTENT_LENGTH", "")
    if not length.isdigit() or not 0 < int(length) <= MAX_BODY:
        return None
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if type(body) is not dict or body.keys() != {"quantity"}:
        return None
    quantity = body["quantity"]
    return quantity if type(quantity) is int and 1 <= quantity <= 99 else None
