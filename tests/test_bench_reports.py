"""`python -m bench.reports --smoke` runs from a fresh clone: a small demo year, every report
over it, and the home page under gunicorn against the bare route."""

from backend.reports.service import REPORTS
from tests.helpers import run_benchmark


def test_reports_benchmark_smoke():
    figures = run_benchmark("reports")
    assert figures["dashboard_status"] == "200"
    assert int(figures["orders"]) > 0 and int(figures["ledger_rows"]) > int(figures["orders"])
    for name in REPORTS:
        assert float(figures[f"report_{name}_p95_ms"]) > 0, name
    assert float(figures["report_p95_ms"]) == max(
        float(figures[f"report_{name}_p95_ms"]) for name in REPORTS
    )
    assert 0 < float(figures["dashboard_ratio"]) < 2
