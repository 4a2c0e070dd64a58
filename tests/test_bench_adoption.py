"""bench.adoption runs from a fresh clone, at tiny sizes: a live adoption drop through the claim
route, holds paid and lapsed and taken again, no unit adopted twice and none lost."""

from tests.helpers import run_benchmark

FIGURES = (
    "adoptions_per_s",
    "claims_per_s",
    "p99_ms",
    "bare_p99_ms",
    "p99_ratio",
    "double_adopted",
    "units_lost",
)


def test_the_adoption_drop_benchmark_adopts_each_unit_once():
    figures = run_benchmark("adoption")
    assert set(FIGURES) <= set(figures), figures
    assert figures["double_adopted"] == "0" and figures["units_lost"] == "0", figures
    assert figures["won"] == figures["units"] and figures["units_free"] == "0", figures
    assert int(figures["won_again"]) == int(figures["lapsed"]) > 0, figures
    assert float(figures["adoptions_per_s"]) > 0 and float(figures["p99_ratio"]) > 0
