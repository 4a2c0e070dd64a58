"""The intent model behind the comment rules: one logistic regression per intent over the
comment's character n-grams and what the rules read in it, trained by `python -m
bots.cohost.train` and shipped as a small JSON file of weights. Scoring is dictionary lookups in
plain Python (tens of microseconds a comment); no network and no framework at run time.

A missing or unreadable weights file is not fatal: `load()` logs why and answers None, and the
reader then goes by its rules alone.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

log = logging.getLogger(__name__)

WEIGHTS_PATH = Path(__file__).with_name("intent_model.json")
NGRAMS = (1, 2, 3)


def features(text: str, rule_signals: tuple[str, ...]) -> list[str]:
    """The features of a normalised comment: its character n-grams (with the ends marked) and
    the rules' signals ("R:price", "C:claim", ...)."""
    marked = f"^{text}$"
    found = {marked[i : i + n] for n in NGRAMS for i in range(len(marked) - n + 1)}
    found.discard(" ")
    return sorted(found) + list(rule_signals)


@dataclass(frozen=True)
class IntentModel:
    labels: tuple[str, ...]
    bias: tuple[float, ...]
    weights: dict[str, tuple[tuple[int, float], ...]]  # feature -> ((label index, weight), ...)
    thresholds: dict[str, float]
    # a claim the rules read but the model scores below this is asked back, not held
    ask_back_below: float = 0.0

    def probabilities(self, text: str, rule_signals: tuple[str, ...]) -> dict[str, float]:
        scores = list(self.bias)
        for feature in features(text, rule_signals):
            for label, weight in self.weights.get(feature, ()):
                scores[label] += weight
        return {
            label: 1 / (1 + math.exp(-max(-30.0, min(30.0, score))))
            for label, score in zip(self.labels, scores, strict=True)
        }


def from_dict(data: dict) -> IntentModel:
    labels = tuple(data["labels"])
    if len(data["bias"]) != len(labels):
        raise ValueError("bias and labels differ in length")
    weights = {
        feature: tuple((int(label), float(weight)) for label, weight in pairs)
        for feature, pairs in data["weights"].items()
    }
    for pairs in weights.values():
        if any(not 0 <= label < len(labels) for label, _ in pairs):
            raise ValueError("a weight names a label that does not exist")
    return IntentModel(
        labels=labels,
        bias=tuple(float(b) for b in data["bias"]),
        weights=weights,
        thresholds={label: float(t) for label, t in data["thresholds"].items()},
        ask_back_below=float(data.get("ask_back_below", 0.0)),
    )


@lru_cache(maxsize=4)
def load(path: Path = WEIGHTS_PATH) -> IntentModel | None:
    """The shipped model, or None (logged) when its file is missing or corrupt."""
    try:
        return from_dict(json.loads(Path(path).read_text("utf-8")))
    except (OSError, ValueError, KeyError, TypeError) as error:
        log.warning("intent model %s not usable (%s): reading comments by rules alone", path, error)
        return None
