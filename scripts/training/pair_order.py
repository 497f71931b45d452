"""A pair's order as training data: where the two texts play the same part (two questions, two sentences
rated for similarity), `swap_pairs=True` also shows each training pair swapped, so the cross-encoder sees
(a, b) and (b, a) with one label (sentence-transformers' cross-encoder STS-B recipe trains on both orders).
Not the default: on MRPC and STS-B it bought nothing measurable for twice the training time
(bench/TASKS.md)."""

from __future__ import annotations

from typing import Any

import pandas as pd


def choose(cfg: dict[str, Any], pair: bool) -> tuple[bool, str]:
    """swap_pairs resolved, with its reason."""
    setting = cfg.get("swap_pairs", "auto")
    if not pair:
        return False, "one text a row"
    if setting != "auto":
        return bool(setting), "set in the config"
    return False, (
        "each pair in its given order (both orders measured: MRPC F1 0.8571 against 0.8543, STS-B Spearman "
        "0.8265 against 0.8273, for twice the training time); swap_pairs=True trains both"
    )


def with_swaps(frame: pd.DataFrame, first: str = "text_a", second: str = "text_b") -> pd.DataFrame:
    """The training rows followed by each row with its two texts swapped (a pair equal to its swap once)."""
    swapped = frame.rename(columns={first: second, second: first})[frame.columns]
    swapped = swapped[swapped[first] != swapped[second]]
    return pd.concat([frame, swapped], ignore_index=True)
