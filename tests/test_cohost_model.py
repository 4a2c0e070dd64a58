"""The intent model behind the comment rules: its corpus kept apart from the held-out split, a
reproducible trainer, and a bot that reads by rules alone when the weights file is missing or
corrupt (and says so in its log)."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections import Counter
from pathlib import Path

import pytest

from bots.cohost import labelled, train
from bots.cohost import model as intent_model
from bots.cohost.understanding import INTENTS, Claim, read_comment

ROOT = Path(__file__).parents[1]
SHELF = labelled.load_shelf(ROOT / "tests" / "data" / "live_shelf.json")


def _rows(split: str) -> dict[str, list[dict]]:
    folder = ROOT / "training" / "cohost" / split
    return {path.stem: labelled.load_rows([path]) for path in sorted(folder.glob("*.jsonl"))}


def test_the_corpus_is_several_writers_and_the_held_out_split_is_apart():
    corpus, heldout = _rows("train"), _rows("heldout")
    rows = [row for group in corpus.values() for row in group]
    assert len(corpus) >= 5 and len(rows) >= 3000
    counts = Counter(intent for row in rows for intent in row["intents"])
    assert all(counts[intent] >= 20 for intent in INTENTS), counts
    for row in rows + [row for group in heldout.values() for row in group]:
        assert set(row["intents"]) <= set(INTENTS), row
        assert (row["claim"] is not None) == ("claim" in row["intents"]), row
    # (comments the model was fit on, the regression set's included, are not held out)
    seen = {row["text"] for row in rows} | {
        row["text"] for row in labelled.load_rows([ROOT / "tests" / "data" / "live_comments.jsonl"])
    }
    assert len(heldout) >= 2
    assert not seen & {row["text"] for group in heldout.values() for row in group}


def test_training_is_reproducible():
    rows = [row for group in _rows("train").values() for row in group[:60]]
    first = train.packed(train.fit(train.examples(rows), INTENTS), {"price": 0.3})
    second = train.packed(train.fit(train.examples(rows), INTENTS), {"price": 0.3})
    assert json.dumps(first, sort_keys=True) == json.dumps(second, sort_keys=True)


def test_the_shipped_model_loads_and_knows_every_intent():
    shipped = intent_model.load()
    assert shipped is not None
    assert set(shipped.labels) == set(INTENTS)
    assert intent_model.WEIGHTS_PATH.stat().st_size < 2_000_000


@pytest.mark.parametrize(
    "content",
    [None, "", "{not json", '{"labels": ["price"]}', '{"labels": ["a"], "bias": [0, 1]}', "[]"],
)
def test_a_missing_or_corrupt_model_falls_back_to_the_rules_and_says_so(tmp_path, caplog, content):
    path = tmp_path / "intent_model.json"
    if content is not None:
        path.write_text(content, "utf-8")
    with caplog.at_level(logging.WARNING, logger="bots.cohost.model"):
        assert intent_model.load(path) is None
    assert "rules alone" in caplog.text
    # the reader still reads, by rules
    reading = read_comment("3号要2份 多少钱", SHELF, model=intent_model.load(path))
    assert reading.claim == Claim(3, 2) and "price" in reading.intents


def test_the_model_decides_intents_the_rules_left_open():
    # no cue of the rules' in it, but the corpus taught the model how buyers ask after stock
    rules = read_comment("能预定吗 下周还有不", SHELF, model=None)
    weighed = read_comment("能预定吗 下周还有不", SHELF)
    assert "stock" in weighed.intents
    assert rules.claim is None and weighed.claim is None


def test_a_claim_the_model_doubts_is_asked_back_not_held():
    shipped = intent_model.load()
    assert 0 < shipped.ask_back_below < 1  # chosen by cross-validation
    doubting = dataclasses.replace(shipped, ask_back_below=1.01)
    trusting = dataclasses.replace(shipped, ask_back_below=0.0)
    assert read_comment("3号要2份", SHELF, model=trusting).claim == Claim(3, 2)
    doubted = read_comment("3号要2份", SHELF, model=doubting)
    assert doubted.claim is None and doubted.unsure == Claim(3, 2)
    assert "claim" not in doubted.intents
