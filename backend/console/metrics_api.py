"""GET /metrics: Prometheus' scrape, for staff only. A scraper sends
`Authorization: Bearer $METRICS_TOKEN` (no token configured: no scraper gets in); a person
signed in to the console needs the `ops.view` permission."""

from __future__ import annotations

import hmac

from apiflask import APIBlueprint
from flask import current_app, request

from backend.console import access
from backend.errors import Unauthorized
from backend.extensions import db
from backend.ops import metrics
from backend.queue import redis_client
from backend.staff import permissions as perms

bp = APIBlueprint("metrics", __name__, enable_openapi=False)


def _scraper() -> bool:
    """Whether the request carries the configured scrape token."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    expected = current_app.config.get("METRICS_TOKEN") or ""
    if scheme.lower() != "bearer" or not expected or not token:
        return False
    return hmac.compare_digest(token.strip().encode(), expected.encode())


@bp.get("/metrics")
def scrape():
    if not _scraper():
        staff = access.current_staff()
        if staff is None:
            refused = Unauthorized(
                "请提供 METRICS_TOKEN 或先登录后台", code="METRICS_LOGIN_REQUIRED"
            )
            refused.headers = {"WWW-Authenticate": 'Bearer realm="heli-metrics"'}
            raise refused
        perms.require(staff.role, perms.OPS_VIEW)
    text = metrics.exposition(
        redis_client(), db.session, current_app.extensions.get("heli_schedule", ())
    )
    return text, 200, {"Content-Type": metrics.CONTENT_TYPE, "Cache-Control": "no-store"}
