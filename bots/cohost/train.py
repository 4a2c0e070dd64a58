"""Train the co-host's intent model: `python -m bots.cohost.train`.

Reads the training corpus (training/cohost/train/*.jsonl, one file per writer) and the
regression set the rules were first tuned on (tests/data/live_comments.jsonl), both labelled
against the shelf of tests/data/live_shelf.json — never the held-out split
(training/cohost/heldout), which only bench.bot scores. Fits one logistic regression per intent
by stochastic gradient descent in plain Python with a fixed seed (the same data gives the same
file, byte for byte), chooses each intent's threshold and the claim gate (`ask_back_below`) by
leave-one-writer-out cross-validation, and writes bots/cohost/intent_model.json.

    python -m bots.cohost.train [--out PATH] [--no-cv]
"""

from __future__ import annotations

import argparse
import json
import math
import random
from collections import defaultdict
from pathlib import Path

from bots.cohost import model as intent_model
from bots.cohost.labelled import load_rows, load_shelf
from bots.cohost.understanding import LABELS, read_comment, rule_reading

ROOT = Path(__file__).resolve().parents[2]
TRAIN_DIR = ROOT / "training" / "cohost" / "train"
REGRESSION = ROOT / "tests" / "data" / "live_comments.jsonl"
SHELF = ROOT / "tests" / "data" / "live_shelf.json"  # the shelf every set is labelled against
SEED = 20261207
EPOCHS = 30
RATE = 0.5
L2 = 1e-5
KEEP_ABOVE = 0.05  # smaller weights change no decision worth the bytes
DEFAULT_THRESHOLD = 0.5
# The claim gate: at most this share of the rules' right claims may be asked back (out of fold).
ASK_BACK_RIGHT = 0.05


def examples(rows: list[dict]) -> list[tuple[list[str], set[str]]]:
    """(features, labels) of each row, the features read as the bot reads the comment."""
    shelf = load_shelf(SHELF)
    out = []
    for row in rows:
        clean, signals = rule_reading(row["text"], shelf)
        out.append((intent_model.features(clean, signals), set(row["intents"])))
    return out


def fit(data: list[tuple[list[str], set[str]]], labels: tuple[str, ...]) -> dict:
    """Weights and biases of one-vs-rest logistic regressions (sparse SGD, seeded order)."""
    weights: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(labels))
    bias = [0.0] * len(labels)
    order = list(range(len(data)))
    shuffle = random.Random(SEED)
    for epoch in range(EPOCHS):
        shuffle.shuffle(order)
        rate = RATE / (1 + 0.4 * epoch)
        for index in order:
            feats, wanted = data[index]
            rows = [weights[f] for f in feats]
            for k, label in enumerate(labels):
                score = bias[k] + sum(row[k] for row in rows)
                p = 1 / (1 + math.exp(-max(-30.0, min(30.0, score))))
                gradient = (1.0 if label in wanted else 0.0) - p
                step = rate * gradient
                bias[k] += step
                for row in rows:
                    row[k] += step - rate * L2 * row[k]
    return {"labels": list(labels), "bias": bias, "weights": dict(weights)}


def as_model(fitted: dict, thresholds: dict[str, float]) -> intent_model.IntentModel:
    return intent_model.from_dict(packed(fitted, thresholds))


def packed(fitted: dict, thresholds: dict[str, float], ask_back_below: float = 0.0) -> dict:
    """The JSON form: small weights dropped, the rest rounded, keys sorted."""
    weights = {}
    for feature in sorted(fitted["weights"]):
        pairs = [
            [k, round(w, 2)]
            for k, w in enumerate(fitted["weights"][feature])
            if abs(w) >= KEEP_ABOVE
        ]
        if pairs:
            weights[feature] = pairs
    return {
        "labels": fitted["labels"],
        "bias": [round(b, 4) for b in fitted["bias"]],
        "thresholds": {label: round(t, 2) for label, t in sorted(thresholds.items())},
        "ask_back_below": round(ask_back_below, 3),
        "weights": weights,
    }


def _right(claim, row: dict) -> bool:
    want = row["claim"]
    return want is not None and (claim.number, claim.quantity) == (want["number"], want["quantity"])


def cross_validated_thresholds(
    groups: dict[str, list[dict]],
) -> tuple[dict[str, float], float, dict]:
    """Over leave-one-writer-out predictions: each intent's threshold that maximises its F1,
    the claim gate (the highest P(claim) below which at most ASK_BACK_RIGHT of the rules' right
    claims fall), and those predictions' figures."""
    scored: dict[str, list[tuple[float, bool]]] = defaultdict(list)
    ruled: list[tuple[float, bool]] = []  # each rule claim's P(claim), and whether it is right
    for held in groups:
        train_rows = [row for name, rows in groups.items() if name != held for row in rows]
        fitted = as_model(fit(examples(train_rows), LABELS), {})
        shelf = load_shelf(SHELF)
        for row in groups[held]:
            clean, signals = rule_reading(row["text"], shelf)
            probs = fitted.probabilities(clean, signals)
            for label in LABELS:
                scored[label].append((probs[label], label in row["intents"]))
            claim = read_comment(row["text"], shelf, model=None).claim
            if claim is not None:
                ruled.append((probs["claim"], _right(claim, row)))
    thresholds, figures = {}, {}
    for label, pairs in scored.items():
        best = (0.0, DEFAULT_THRESHOLD)
        for step in range(5, 96, 5):
            t = step / 100
            tp = sum(p >= t and want for p, want in pairs)
            fp = sum(p >= t and not want for p, want in pairs)
            fn = sum(p < t and want for p, want in pairs)
            f1 = 2 * tp / (2 * tp + fp + fn) if tp else 0.0
            best = max(best, (f1, t))
        figures[label] = round(best[0], 3)
        thresholds[label] = best[1]
    right = [p for p, ok in ruled if ok]
    wrong = [p for p, ok in ruled if not ok]
    ask_back = 0.0
    for step in range(1, 200):
        t = step / 200
        if sum(p < t for p in right) > ASK_BACK_RIGHT * len(right):
            break
        ask_back = t
    figures["claims_right_asked_back"] = round(sum(p < ask_back for p in right) / len(right), 3)
    figures["claims_wrong_asked_back"] = round(sum(p < ask_back for p in wrong) / len(wrong), 3)
    return thresholds, ask_back, figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=intent_model.WEIGHTS_PATH)
    parser.add_argument("--no-cv", action="store_true", help="threshold 0.5 for every intent")
    options = parser.parse_args()
    groups = {path.stem: load_rows([path]) for path in sorted(TRAIN_DIR.glob("*.jsonl"))}
    groups["regression"] = load_rows([REGRESSION])
    ask_back = 0.0
    if options.no_cv:
        thresholds = {label: DEFAULT_THRESHOLD for label in LABELS}
    else:
        thresholds, ask_back, figures = cross_validated_thresholds(groups)
        for label in LABELS:
            print(f"cv_f1_{label}: {figures[label]}  (threshold {thresholds[label]})")
        print(f"ask_back_below: {ask_back}")
        for name in ("claims_right_asked_back", "claims_wrong_asked_back"):
            print(f"cv_{name}: {figures[name]}")
    rows = [row for group in groups.values() for row in group]
    data = packed(fit(examples(rows), LABELS), thresholds, ask_back)
    options.out.write_text(
        json.dumps(data, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n",
        "utf-8",
    )
    print(f"rows: {len(rows)}")
    print(f"features: {len(data['weights'])}")
    print(f"bytes: {options.out.stat().st_size}")


if __name__ == "__main__":
    main()
