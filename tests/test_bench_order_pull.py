"""bench.order_pull runs from a fresh clone (--smoke sizes): nothing missed or doubled, no pull
failed for good, the ledger balances, and every figure the issue names is printed (with
--postgres, when the suite runs on PostgreSQL, for both databases)."""

import os

from tests.helpers import run_benchmark


def test_order_pull_benchmark_runs_and_loses_nothing():
    figures = run_benchmark("order_pull")
    suffixes = [""]
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        suffixes.append("_postgres")
    for suffix in suffixes:
        assert figures[f"missed{suffix}"] == "0"
        assert figures[f"doubled{suffix}"] == "0"
        assert figures[f"failed_jobs{suffix}"] == "0"
        assert figures[f"ledger_balanced{suffix}"] == "true"
        assert float(figures[f"cycle_seconds{suffix}"]) > 0
        assert float(figures[f"statements_per_order{suffix}"]) > 0
