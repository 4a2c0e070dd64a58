"""bench.flash_sale runs from a fresh clone, at tiny sizes: two sales, the second with a web worker
and the claim writer SIGKILLed, nothing oversold, lost, doubled or left unwritten."""

from tests.helpers import run_benchmark

FIGURES = (
    "claims_per_s",
    "bare_flask_rps",
    "claim_ratio",
    "p99_ms",
    "bare_p99_ms",
    "p99_ratio",
    "oversold",
    "units_lost",
    "claims_lost",
    "orders_doubled",
    "runs_with_kills",
)


def test_the_flash_sale_benchmark_survives_kills_and_sells_each_unit_once():
    figures = run_benchmark("flash_sale")
    assert set(FIGURES) <= set(figures), figures
    assert figures["runs"] == "2" and figures["runs_with_kills"] == "1"
    for invariant in ("oversold_total", "units_lost_total", "claims_lost", "orders_doubled"):
        assert figures[invariant] == "0", (invariant, figures)
    assert int(figures["successful_claims"]) > 0 and float(figures["claim_ratio"]) > 0
