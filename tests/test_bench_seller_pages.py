"""bench.seller_pages runs from a fresh clone (--smoke sizes): logged-in sellers' today and order
pages answer under gunicorn, each ratio against the bare route is measured, and every paid
platform order's seller hears within the issue's 30 s (bench.seller_notices inside it). On the
suite's database: with --postgres when it runs on PostgreSQL."""

import os

from tests.helpers import run_benchmark


def test_seller_pages_benchmark_runs_and_every_seller_hears_in_seconds():
    postgres = os.environ.get("DATABASE_URL", "").startswith("postgresql")
    figures = run_benchmark("seller_pages")
    for suffix in ["_postgres"] if postgres else [""]:
        assert int(figures[f"sellers{suffix}"]) > 0
        for page in ("today", "orders"):
            assert float(figures[f"{page}_rps{suffix}"]) > 0
            assert 0 < float(figures[f"{page}_ratio{suffix}"]) < 5
        assert figures[f"notices_missing{suffix}"] == "0"
        assert int(figures[f"notices_received{suffix}"]) > 0
        assert 0 < float(figures[f"notice_p95_s{suffix}"]) < 30
