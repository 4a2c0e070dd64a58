"""GET /t/{code}: the page a printed QR label opens in any phone's camera or browser — the same
scan as /api/v1/trace/{code}, rendered in Chinese for people outside the mini-program; with the
visitor's consent the page asks the browser for its location and scans again with it.
POST /t/{code}/report: the page's form to report a fake.

Whatever goes wrong here (a made-up code, bad input, too many scans) answers as a page, never as
the API's JSON: the person holding the package reads it."""

from flask import Blueprint, render_template, request
from marshmallow import ValidationError

from backend.errors import DomainError, TooManyRequests
from backend.extensions import csrf, db
from backend.schemas import messages
from backend.trace import reports
from backend.trace import service as trace
from backend.trace.schemas import ReportIn
from miniprogram_api.trace import ScanQuery, place_of, report_limited, scan_limits

bp = Blueprint(
    "trace_page",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

TOO_MANY = "查询太频繁了，请稍后再试"
TOO_MANY_HINT = "为防止防伪码被恶意刷查询，同一网络每分钟可查询的次数有限。请 1 分钟后刷新本页。"


def _message_page(message: str, status: int, *, hint="", code="", report=False, **form):
    """A page that says one thing; with `report`, the form to report a fake (and its `problems`
    and `values` when it was refused)."""
    html = render_template(
        "trace_message.html",
        message=message,
        hint=hint,
        code=code,
        report=report,
        problems=form.get("problems", []),
        values=form.get("values", {}),
        thanks=form.get("thanks", False),
    )
    return html, status


@bp.errorhandler(TooManyRequests)
def too_many(error: TooManyRequests):
    db.session.rollback()
    page, status = _message_page(TOO_MANY, 429, hint=TOO_MANY_HINT)
    return page, status, error.headers


@bp.errorhandler(500)
def failed(_error):
    db.session.rollback()
    return _message_page("服务器开小差了，请稍后再试", 500)


@bp.get("/<path:code>")
def trace_page(code: str):
    try:
        query = ScanQuery().load(request.args)
    except ValidationError as invalid:
        return _message_page("；".join(messages(invalid)), 400)
    try:
        place, ip = place_of(query), request.remote_addr or ""
        result = trace.scan(db.session, code, ip=ip, place=place, limits=scan_limits(code, ip))
    except TooManyRequests:
        raise  # the page of its own (too_many)
    except DomainError as error:
        db.session.rollback()
        not_ours = error.code == "TRACE_CODE_NOT_FOUND"
        return _message_page(error.message, error.status, code=code, report=not_ours)
    return render_template(
        "trace_page.html",
        result=result,
        located=place.latitude is not None,
        problems=[],
        values={},
    )


@bp.post("/<path:code>/report")
@csrf.exempt  # an anonymous form: a forged post could say no more than its sender could
@report_limited
def report_fake(code: str):
    values = {name: request.form.get(name, "").strip() for name in ("place", "note")}
    try:
        body = ReportIn().load({k: v for k, v in values.items() if v})
        done = reports.report_fake(
            db.session, code, place=body["place"], note=body["note"], ip=request.remote_addr or ""
        )
    except ValidationError as invalid:
        problems = messages(invalid)
    except DomainError as error:
        db.session.rollback()
        problems = [error.message]
    else:
        return _message_page(done["message"], 200, thanks=True)
    return _message_page(
        "举报未提交，请检查后重试", 400, code=code, report=True, problems=problems, values=values
    )
