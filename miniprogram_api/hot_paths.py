"""The hot paths, answered below Flask: a flash-sale claim when the whole town presses 抢 at
once, a trace-code scan, and the store's catalogue and product pages. Per request, the
framework's work (routing, the input and output schemas, hooks) cost more than the service call
itself. A well-formed request is answered here with the same service call and the same answer
the route gives; anything else (an address in a claim, a malformed body or query, a token the
cache does not know) goes on to the documented route (miniprogram_api/flash_sales.py, trace.py,
products.py), which answers it in full. Handing a claim on is safe even after its script ran:
the Idempotency-Key makes it a replay.
"""

from __future__ import annotations

import io
import json
import math
import re
from http import HTTPStatus
from urllib.parse import parse_qsl

from flask import Flask

from backend.customers import service as customers
from backend.errors import DomainError
from backend.extensions import db
from backend.flows import storefront
from backend.live import flash_claims
from backend.trace import service as trace
from miniprogram_api.schemas import KEY_PATTERN
from miniprogram_api.trace import for_scanner, scan_limits

CLAIM_PATH = re.compile(r"/api/v1/flash-sales/([1-9][0-9]{0,8})/claims")
SCAN_PATH = re.compile(r"/api/v1/trace/([A-Za-z0-9-]{1,64})")
PRODUCTS_PATH = "/api/v1/products"
PRODUCT_PATH = re.compile(r"/api/v1/products/([1-9][0-9]{0,8})")
WHOLE = re.compile(r"[0-9]{1,6}")
MAX_CLAIM_BODY = 128  # bytes: `{"quantity": 99}` with room for whitespace
MAX_REGION = 40


class HandOn(Exception):
    """Not for the hot path: the route answers."""


class HotPaths:
    """WSGI middleware in front of the app's own wsgi_app (inside ProxyFix, so REMOTE_ADDR is
    the client's); `headers` are those every JSON answer of the app carries."""

    def __init__(self, app: Flask, wsgi_app, headers: list[tuple[str, str]]):
        self.app, self.wsgi_app = app, wsgi_app
        self.headers = [("Content-Type", "application/json"), *headers]

    def __call__(self, environ, start_response):
        answer = None
        path, method = environ.get("PATH_INFO", ""), environ["REQUEST_METHOD"]
        if method == "POST" and (found := CLAIM_PATH.fullmatch(path)):
            answer = self._serve(_claim, environ, int(found.group(1)))
        elif method == "GET" and (found := SCAN_PATH.fullmatch(path)):
            answer = self._serve(_scan, environ, found.group(1))
        elif method == "GET" and path == PRODUCTS_PATH:
            answer = self._serve(_catalogue, environ, None)
        elif method == "GET" and (found := PRODUCT_PATH.fullmatch(path)):
            answer = self._serve(_product, environ, int(found.group(1)))
        if answer is None:
            return self.wsgi_app(environ, start_response)
        status, body, headers = answer
        data = (  # (the catalogue's pages come rendered)
            body
            if isinstance(body, bytes)
            else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        )
        phrase = f"{status} {HTTPStatus(status).phrase.upper()}"
        start_response(phrase, [*self.headers, *headers, ("Content-Length", str(len(data)))])
        return [data]

    def _serve(self, handler, environ, value) -> tuple[int, dict | bytes, list] | None:
        """(status, body, extra headers) of handler, refusals in the app's error shape; None
        when the route is to answer."""
        try:
            with self.app.app_context():
                try:
                    return handler(environ, value)
                finally:
                    if db.session.registry.has():
                        db.session.remove()
        except HandOn:
            return None
        except DomainError as refusal:
            return refusal.status, refusal.to_dict(), [*getattr(refusal, "headers", {}).items()]


def _claim(environ, sale_id: int) -> tuple[int, dict, list]:
    quantity = _quantity(environ)
    key = environ.get("HTTP_IDEMPOTENCY_KEY", "")
    scheme, _, token = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
    hint = customers.session_hint(token) if scheme == "Bearer" else None
    if hint is None or not KEY_PATTERN.fullmatch(key):
        raise HandOn
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
        raise HandOn from None  # the route checks the token in the database
    if claim.order_id is not None:
        raise HandOn  # a replay whose order is written: the route renders the order
    view = flash_claims.claim_view(db.session, claim, customer_id=hint.customer_id)
    return (202 if claim.created else 200), view, []


def _quantity(environ) -> int:
    """The quantity of a body that is exactly `{"quantity": 1..99}` in JSON. The body is put
    back for the route either way."""
    if not environ.get("CONTENT_TYPE", "").startswith("application/json"):
        raise HandOn
    length = environ.get("CONTENT_LENGTH", "")
    if not (length.isascii() and length.isdigit()) or not 0 < int(length) <= MAX_CLAIM_BODY:
        raise HandOn
    raw = environ["wsgi.input"].read(int(length))
    environ["wsgi.input"] = io.BytesIO(raw)
    try:
        body = json.loads(raw)
    except ValueError:
        raise HandOn from None
    if type(body) is not dict or body.keys() != {"quantity"}:
        raise HandOn
    quantity = body["quantity"]
    if type(quantity) is not int or not 1 <= quantity <= 99:
        raise HandOn
    return quantity


def _scan(environ, code: str) -> tuple[int, dict, list]:
    ip = environ.get("REMOTE_ADDR") or ""
    answer = trace.scan(
        db.session, code, ip=ip, place=_place(environ), limits=scan_limits(code, ip)
    )
    return 200, for_scanner(answer, environ.get("HTTP_AUTHORIZATION")), []


def _place(environ) -> trace.Place:
    """The scan's place from a query of at most lat and lon (both or neither) and region."""
    values = _query(environ, {"lat", "lon", "region"})
    if ("lat" in values) != ("lon" in values):
        raise HandOn
    latitude = _number(values.get("lat"), 90)
    longitude = _number(values.get("lon"), 180)
    region = values.get("region")
    if region is not None and not 1 <= len(region) <= MAX_REGION:
        raise HandOn
    return trace.Place(latitude=latitude, longitude=longitude, region=region)


def _number(text: str | None, bound: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text)
    except ValueError:
        raise HandOn from None
    if not math.isfinite(value) or not -bound <= value <= bound:
        raise HandOn
    return value


def _catalogue(environ, _) -> tuple[int, bytes, list]:
    """A page of the catalogue for a query of at most page, page_size and category."""
    query = _query(environ, {"page", "page_size", "category"})
    page = _whole(query.get("page", "1"), 10000)
    page_size = _whole(query.get("page_size", "10"), 50)
    category = query.get("category")
    if category is not None and not 1 <= len(category) <= 30:
        raise HandOn
    body = storefront.list_products_json(
        db.session, page=page, page_size=page_size, category=category
    )
    return 200, body, []


def _product(environ, product_id: int) -> tuple[int, bytes, list]:
    _query(environ, set())
    return 200, storefront.get_product_json(db.session, product_id=product_id), []


def _query(environ, names: set[str]) -> dict[str, str]:
    """The query string's values, each named once and among names."""
    query = parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    values = dict(query)
    if len(values) != len(query) or not values.keys() <= names:
        raise HandOn
    return values


def _whole(text: str, most: int) -> int:
    if not WHOLE.fullmatch(text) or not 1 <= int(text) <= most:
        raise HandOn
    return int(text)
