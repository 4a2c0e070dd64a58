"""How well the co-host reads labelled comments: the scorer for the training corpus, the
held-out split, the regression set and any blind set in the same row format

    {"text": "...", "intents": ["claim", "shipping"], "claim": {"number": 2, "quantity": 3} | null}

where `number` is the shelf number (null: the product on screen) and a report of an order
already paid is not a claim. Measurement only: the running bot never imports this module (an
import-linter contract keeps it so), and the data it is run on lives under training/ and
tests/data, outside the code the bot runs.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path

from bots.cohost.understanding import INTENTS, ShelfItem, read_comment

# Intents that are a question the bot answers (not a claim, a report or chatter).
QUESTIONS = tuple(i for i in INTENTS if i not in ("claim", "paid", "order_change", "unknown"))


def load_rows(paths: Iterable[Path | str]) -> list[dict]:
    """The labelled rows of JSON-lines files, in order."""
    rows = []
    for path in paths:
        with Path(path).open(encoding="utf-8") as lines:
            rows += [json.loads(line) for line in lines if line.strip()]
    return rows


def load_shelf(path: Path | str) -> list[ShelfItem]:
    return [ShelfItem(**item) for item in json.loads(Path(path).read_text("utf-8"))]


def _pair(claim: object) -> tuple[int | None, int] | None:
    if claim is None:
        return None
    if isinstance(claim, dict):
        return claim["number"], claim["quantity"]
    return claim.number, claim.quantity


def score(rows: Sequence[dict], shelf: Sequence[ShelfItem], reader=read_comment) -> dict:
    """Claim and intent figures of `reader` (the bot's comment reader) over labelled rows.

    claim_accuracy          rows whose claim is exactly right (number and quantity, or none)
    claim_recall            labelled claims the reader booked at all
    claim_strict_precision  booked claims labelled claims with the right number and quantity
    wrong_claims_per_100    booked claims that are wrong (no claim, another item or quantity)
    asked_back_per_100      claims read unsure, which the bot asks the viewer to confirm
    intent_accuracy         rows whose intent set is exactly the labelled one
    questions_answered      rows asking a question whose every question intent the reader found
    per_intent              precision and recall of each intent
    """
    claims_right = intents_right = booked = booked_right = labelled_claims = recalled = 0
    questions = answered = asked_back = 0
    true_pos, predicted, labelled = Counter(), Counter(), Counter()
    misses = []
    for row in rows:
        reading = reader(row["text"], shelf)
        want, got = _pair(row["claim"]), _pair(reading.claim)
        claims_right += want == got
        labelled_claims += want is not None
        recalled += want is not None and got is not None
        booked += got is not None
        booked_right += got is not None and got == want
        asked_back += getattr(reading, "unsure", None) is not None
        want_intents, got_intents = set(row["intents"]), set(reading.intents)
        intents_right += want_intents == got_intents
        asked = want_intents & set(QUESTIONS)
        if asked:
            questions += 1
            answered += asked <= got_intents
        labelled.update(want_intents)
        predicted.update(got_intents)
        true_pos.update(want_intents & got_intents)
        if want != got or want_intents != got_intents:
            misses.append(
                {
                    "text": row["text"],
                    "want_intents": row["intents"],
                    "got_intents": list(reading.intents),
                    "want_claim": want,
                    "got_claim": got,
                }
            )
    lines = len(rows)

    def ratio(part: int, whole: int) -> float:
        return part / whole if whole else 0.0

    return {
        "lines": lines,
        "claims_labelled": labelled_claims,
        "claim_accuracy": ratio(claims_right, lines),
        "claim_recall": ratio(recalled, labelled_claims),
        "claim_strict_precision": ratio(booked_right, booked),
        "wrong_claims_per_100": 100 * ratio(booked - booked_right, lines),
        "asked_back_per_100": 100 * ratio(asked_back, lines),
        "intent_accuracy": ratio(intents_right, lines),
        "questions_answered": ratio(answered, questions),
        "per_intent": {
            intent: {
                "precision": ratio(true_pos[intent], predicted[intent]),
                "recall": ratio(true_pos[intent], labelled[intent]),
                "labelled": labelled[intent],
            }
            for intent in sorted(set(labelled) | set(predicted))
        },
        "misses": misses,
    }
