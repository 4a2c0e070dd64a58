"""The labelled live-room comments (tests/data), and how well the co-host's comment reader scores
on them: measurement for bench.bot and the tests, never read by the bot itself."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from bots.cohost.understanding import ShelfItem, read_comment

DATA = Path(__file__).resolve().parents[1] / "tests" / "data"
COMMENTS_PATH = DATA / "live_comments.jsonl"
SHELF_PATH = DATA / "live_shelf.json"


def load(
    path: Path | str = COMMENTS_PATH, shelf_path: Path | str = SHELF_PATH
) -> tuple[list[ShelfItem], list[dict]]:
    """The shelf the set is labelled against and the labelled rows (text, intents, claim)."""
    shelf = [ShelfItem(**item) for item in json.loads(Path(shelf_path).read_text("utf-8"))]
    with Path(path).open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    return shelf, rows


def _claim_pair(claim: object) -> tuple[int | None, int] | None:
    if claim is None:
        return None
    if isinstance(claim, dict):
        return claim["number"], claim["quantity"]
    return claim.number, claim.quantity


def score(rows: Sequence[dict], shelf: Sequence[ShelfItem]) -> dict:
    """Claim accuracy (exact number and quantity, or rightly none) and exact intent-set accuracy."""
    claims_right = intents_right = 0
    misses = []
    for row in rows:
        reading = read_comment(row["text"], shelf)
        claim_ok = _claim_pair(reading.claim) == _claim_pair(row["claim"])
        intents_ok = set(reading.intents) == set(row["intents"])
        claims_right += claim_ok
        intents_right += intents_ok
        if not (claim_ok and intents_ok):
            misses.append(
                {
                    "text": row["text"],
                    "want_intents": row["intents"],
                    "got_intents": list(reading.intents),
                    "want_claim": _claim_pair(row["claim"]),
                    "got_claim": _claim_pair(reading.claim),
                }
            )
    lines = len(rows)
    return {
        "claim_accuracy": claims_right / lines if lines else 0.0,
        "intent_accuracy": intents_right / lines if lines else 0.0,
        "claims_labelled": sum(row["claim"] is not None for row in rows),
        "lines": lines,
        "misses": misses,
    }
