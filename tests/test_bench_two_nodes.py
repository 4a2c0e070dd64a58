"""`python -m bench.two_nodes --smoke`: two nodes on one PostgreSQL and one Redis, node B killed."""

import os

import pytest

from bench.postgres import binaries
from tests.helpers import run_benchmark

FIGURES = (
    "oversold",
    "units_lost",
    "jobs_doubled",
    "orders_failed",
    "node_a_claims_per_s",
    "node_b_claims_per_s",
    "node_a_orders_per_s",
    "node_b_orders_per_s",
    "settle_seconds",
)


@pytest.mark.skipif(binaries() is None, reason="bench.two_nodes runs on PostgreSQL only")
# It starts a PostgreSQL cluster of its own whatever the suite runs on, so CI runs it once: in the
# SQLite run, which finishes minutes before the PostgreSQL one (CI has 30 minutes for both).
@pytest.mark.skipif(
    os.environ.get("DATABASE_URL", "").startswith("postgresql"),
    reason="bench.two_nodes brings its own PostgreSQL: run once, in the suite's SQLite run",
)
def test_two_nodes_survive_node_b_dying():
    figures = run_benchmark("two_nodes")

    assert [name for name in FIGURES if name not in figures] == []
    assert figures["oversold"] == "0"
    assert figures["units_lost"] == "0"
    assert figures["jobs_doubled"] == "0"
    assert figures["orders_failed"] == "0"
    # The run proves something only if both nodes took claims and orders, and B died whole.
    assert int(figures["claims_won"]) > 0
    assert int(figures["node_a_orders"]) > 0 and int(figures["node_b_orders"]) > 0
    assert int(figures["node_b_processes_killed"]) >= 4
    assert int(figures["orders_cancelled"]) > 0 and int(figures["orders_paid"]) > 0
