"""`python -m bench.broadcast --smoke` runs from a fresh clone: three broadcasts (one with a
worker and the scheduler holding rq's lock SIGKILLed) and order pushes, nothing doubled or lost."""

from tests.helpers import run_benchmark

FIGURES = (
    "fanout_seconds",
    "fanout_seconds_mixed",
    "fanout_seconds_killed",
    "push_p50_ms",
    "push_p99_ms",
    "resends_deduped_killed",
    "duplicates",
    "lost",
)


def test_broadcast_benchmark_smoke():
    figures = run_benchmark("broadcast")
    assert all(name in figures for name in FIGURES), figures
    assert figures["duplicates"] == "0" and figures["lost"] == "0"
    assert figures["unfinished"] == "0"
    assert figures["sent_killed"] == figures["sellers"]
    assert figures["killed_scheduler_held_lock"] == "true"  # the other scheduler took over
