"""/console/reports: the reports staff read, each over a date range with charts and a CSV.
The views register on the console blueprint of `pages.py`."""

from __future__ import annotations

from dataclasses import asdict

from flask import render_template, request

from backend.console.access import login_required
from backend.console.pages import bp
from backend.csv_export import csv_download
from backend.errors import BadRequest
from backend.extensions import db
from backend.reports import period as periods
from backend.reports import service as reports
from backend.staff import permissions as perms

# A page shows this many rows of a table (a year of days fits); the CSV has them all.
SHOWN_ROWS = 400


@bp.get("/reports")
@bp.get("/reports/<name>")
@login_required(perms.REPORTS_VIEW)
def report_page(staff, name: str = "sales"):
    problem = None
    try:
        period = periods.period(request.args.get("from"), request.args.get("to"))
    except BadRequest as refused:  # shown on the page, with the default range instead
        problem, period = refused.message, periods.period(None, None)
    report = reports.run(db.session, name, period)
    return render_template(
        "console/report.html",
        report=report,
        reports=reports.REPORTS,
        period=period,
        problem=problem,
        max_days=periods.MAX_DAYS,
        shown_rows=SHOWN_ROWS,
    ), (400 if problem else 200)


@bp.get("/reports/<name>.csv")
@login_required(perms.REPORTS_VIEW)
def report_csv(staff, name: str):
    period = periods.period(request.args.get("from"), request.args.get("to"))
    report = reports.run(db.session, name, period)
    filename = f"{name}-{period.first}-{period.last}.csv"
    return csv_download(report.csv(), filename)


@bp.app_template_filter("chart_data")
def chart_data(chart) -> dict:
    """A chart as the page's JSON (the home page's comes from the cache already a dict)."""
    return chart if isinstance(chart, dict) else asdict(chart)
