"""GET /t/{code}: the page a printed QR label opens in any phone's camera or browser — the same
scan as /api/v1/trace/{code}, rendered in Chinese for people outside the mini-program."""

from flask import Blueprint, current_app, render_template, request

from backend.errors import DomainError
from backend.extensions import db, limiter
from backend.trace import service as trace

bp = Blueprint("trace_page", __name__, template_folder="templates")


def _per_code() -> str:
    return "trace-code:" + (request.view_args or {}).get("code", "")[:64]


@bp.get("/<path:code>")
@limiter.limit(lambda: current_app.config["TRACE_RATE_PER_IP"])
@limiter.limit(lambda: current_app.config["TRACE_RATE_PER_CODE"], key_func=_per_code)
def trace_page(code: str):
    try:
        result = trace.scan(db.session, code, ip=request.remote_addr or "", place=trace.Place())
    except DomainError as error:
        return render_template("trace_page.html", result=None, error=error.message), error.status
    return render_template("trace_page.html", result=result, error=None)
