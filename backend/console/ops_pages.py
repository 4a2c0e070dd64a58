"""/console/ops: what the people who keep Heli running look at — queues and workers (with
rq-dashboard at /console/ops/rq for the jobs themselves), every periodic job with its last
run, and whether each outside service is the sandbox or the real one. Read only."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import current_app, render_template

from backend.console.access import login_required
from backend.console.pages import bp
from backend.extensions import db
from backend.ops import connections, service
from backend.queue import redis_client
from backend.staff import permissions as perms
from backend.timeutil import SHANGHAI


@bp.app_template_filter("shanghai_seconds")
def shanghai_seconds(value: datetime | None) -> str:
    """A stored UTC time as Asia/Shanghai wall-clock time to the second."""
    if value is None:
        return "—"
    return value.replace(tzinfo=UTC).astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M:%S")


@bp.get("/ops")
@login_required(perms.OPS_VIEW)
def ops_page(staff):
    redis = redis_client()
    queues = service.queues(redis)
    return render_template(
        "console/ops.html",
        queues=queues,
        failed=sum(queue.failed for queue in queues),
        workers=service.workers(redis),
        scheduled=service.scheduled_jobs(redis, current_app.extensions.get("heli_schedule", ())),
        notices_pending=service.notices_pending(db.session),
        connections=connections.connections(current_app.config),
        metrics_token_set=bool(current_app.config.get("METRICS_TOKEN")),
    )
