"""`python -m bench.bot --smoke` runs from a fresh clone: the bot process works through a backlog
and a flood of comments, answers none twice and gives up on none."""

from tests.helpers import run_benchmark

FIGURES = (
    "comments_per_s",
    "reply_p50_ms",
    "reply_p95_ms",
    "holds",
    "claim_accuracy",
    "claim_recall",
    "claim_strict_precision",
    "wrong_holds_per_100",
    "intent_accuracy",
    "questions_answered",
    "regression_claim_accuracy",
    "duplicates",
    "lost",
)


def test_bot_benchmark_smoke():
    figures = run_benchmark("bot")
    assert all(name in figures for name in FIGURES), figures
    assert figures["duplicates"] == "0" and figures["lost"] == "0" and figures["failed"] == "0"
    assert int(figures["holds"]) > 0  # buying comments became holds
    assert int(figures["labelled_lines"]) >= 700  # the held-out split, scored whole
    # the regression set the rules started from still reads as labelled
    assert float(figures["regression_claim_accuracy"]) >= 0.98
    assert float(figures["regression_intent_accuracy"]) >= 0.95
