"""bench.store runs from a fresh clone, at tiny sizes, on stock it packs itself."""

from tests.helpers import run_benchmark

FIGURES = (
    "bare_flask_rps",
    "catalogue_rps",
    "catalogue_ratio",
    "product_detail_ratio",
    "purchases",
    "purchases_per_s",
    "purchases_failed",
    "units_sold",
)


def test_the_store_benchmark_runs_and_every_purchase_is_paid():
    figures = run_benchmark("store")
    assert set(FIGURES) <= set(figures), figures
    assert figures["purchases_failed"] == "0"
    assert figures["units_sold"] == figures["purchases"] != "0"
    assert float(figures["catalogue_ratio"]) > 0 and float(figures["purchases_per_s"]) > 0
