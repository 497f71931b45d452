"""A pair's order in training: swap_pairs=True adds each training pair swapped with its label (after the
folds are cut), auto keeps the given order."""

from __future__ import annotations

import pandas as pd

from scripts.training.pair_order import choose, with_swaps


def test_pairs_are_swapped_only_when_asked():
    assert choose({"swap_pairs": "auto"}, pair=True)[0] is False
    assert choose({"swap_pairs": True}, pair=True) == (True, "set in the config")
    assert choose({"swap_pairs": True}, pair=False)[0] is False


def test_each_training_pair_is_added_once_swapped_with_its_label():
    frame = pd.DataFrame({"text_a": ["a", "b", "same"], "text_b": ["x", "y", "same"], "labels": [1, 0, 1]})
    out = with_swaps(frame)
    assert list(out.columns) == ["text_a", "text_b", "labels"] and len(out) == 5
    assert out.iloc[3].tolist() == ["x", "a", 1] and out.iloc[4].tolist() == ["y", "b", 0]
    assert frame["text_a"].tolist() == ["a", "b", "same"]  # the input is not modified
