"""bench.seller_notices runs from a fresh clone (--smoke sizes): every paid order's seller got a
notice over WeChat, and the p95 from payment to WeChat is under the issue's 30 s (with
--postgres, when the suite runs on PostgreSQL, for both databases)."""

import os

from tests.helpers import run_benchmark


def test_seller_notices_benchmark_runs_and_every_seller_hears_in_seconds():
    figures = run_benchmark("seller_notices")
    suffixes = [""]
    if os.environ.get("DATABASE_URL", "").startswith("postgresql"):
        suffixes.append("_postgres")
    for suffix in suffixes:
        assert figures[f"notices_missing{suffix}"] == "0"
        assert int(figures[f"notices_received{suffix}"]) == int(figures["orders"])
        assert 0 < float(figures[f"notice_p95_s{suffix}"]) < 30
