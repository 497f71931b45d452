"""A pair's order in training: twin columns (question1 / question2) are trained in both orders, ordered
pairs (premise / hypothesis, an inference task's labels) as given, and a swap never crosses a fold."""

from __future__ import annotations

import pandas as pd

from scripts.training.pair_order import choose, with_swaps


def test_twin_columns_are_swapped_and_ordered_pairs_kept():
    auto = {"swap_pairs": "auto"}
    assert choose(auto, ["question1", "question2"], ["0", "1"], pair=True)[0] is True
    assert choose(auto, ["#1 String", "#2 String"], ["0", "1"], pair=True)[0] is True
    assert choose(auto, ["sentence1", "sentence2"], ["score"], pair=True)[0] is True
    kept, why = choose(auto, ["premise", "hypothesis"], ["entailment", "neutral"], pair=True)
    assert kept is False and "different parts" in why
    kept, why = choose(auto, ["sentence1", "sentence2"], ["entailment", "not_entailment"], pair=True)
    assert kept is False and "inference" in why  # RTE and WNLI name their columns as twins
    assert choose({"swap_pairs": True}, ["query", "passage"], ["0", "1"], pair=True) == (
        True,
        "set in the config",
    )
    assert choose({"swap_pairs": True}, ["text"], ["0", "1"], pair=False)[0] is False
    kept, why = choose(auto, ["question1", "question2"], ["0", "1"], pair=True, rows=364_000)
    assert kept is False and "double" in why  # QQP's size: an epoch twice as long costs hours


def test_each_training_pair_is_added_once_swapped_with_its_label():
    frame = pd.DataFrame({"text_a": ["a", "b", "same"], "text_b": ["x", "y", "same"], "labels": [1, 0, 1]})
    out = with_swaps(frame)
    assert list(out.columns) == ["text_a", "text_b", "labels"] and len(out) == 5
    assert out.iloc[3].tolist() == ["x", "a", 1] and out.iloc[4].tolist() == ["y", "b", 0]
    assert frame["text_a"].tolist() == ["a", "b", "same"]  # the input is not modified
