"""bench.trace runs from a fresh clone, at tiny sizes: every answered scan is stored."""

from tests.helpers import run_benchmark

FIGURES = (
    "bare_flask_rps",
    "scans_per_s",
    "scan_p99_ms",
    "scan_ratio",
    "print_run_seconds",
    "scans_answered",
    "scans_stored",
    "scans_lost",
    "scan_errors",
)


def test_the_trace_benchmark_runs_and_loses_no_scan():
    figures = run_benchmark("trace")
    assert set(FIGURES) <= set(figures), figures
    assert figures["scans_lost"] == "0" and figures["scan_errors"] == "0"
    assert int(figures["scans_stored"]) >= int(figures["scans_answered"]) > 0
    assert figures["scans_stored"] == figures["scans_counted"] == figures["scans_on_codes"]
    assert float(figures["scan_ratio"]) > 0
