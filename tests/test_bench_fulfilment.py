"""bench.fulfilment runs from a fresh clone, at tiny sizes: every channel's orders go from the
wave to the door, none lost, none shipped twice, no payment left frozen."""

from tests.helpers import run_benchmark

FIGURES = (
    "orders",
    "orders_per_s",
    "ship_p95_ms",
    "double_shipped",
    "lost",
    "frozen_left",
)


def test_the_fulfilment_benchmark_ships_every_order_once():
    figures = run_benchmark("fulfilment")
    assert set(FIGURES) <= set(figures), figures
    assert (figures["double_shipped"], figures["lost"], figures["frozen_left"]) == ("0", "0", "0")
    assert int(figures["parcels"]) == int(figures["orders"]) > 0
    assert float(figures["orders_per_s"]) > 0 and float(figures["ship_p95_ms"]) > 0
