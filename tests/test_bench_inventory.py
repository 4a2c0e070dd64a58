"""`python -m bench.inventory --smoke` runs from scratch on the suite's kind of database, and its
buyers — in-process and over HTTP through gunicorn — get no server error and oversell nothing."""

from tests.helpers import run_benchmark


def test_inventory_benchmark_runs_and_keeps_its_invariants():
    figures = run_benchmark("inventory")

    for name in (
        "placements_per_s",
        "http_placements_per_s",
        "p99_ms",
        "http_p99_ms",
        "reports_per_s",
    ):
        assert float(figures[name]) > 0, name
    assert figures["server_errors"] == "0"
    assert figures["unexpected_answers"] == "0"
    assert figures["oversold"] == "0"
    assert figures["ledger_balanced"] == "true"
    assert int(figures["sold_out_answers"]) > 0  # the SKU sold out: the race was real
