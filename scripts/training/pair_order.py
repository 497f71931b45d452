"""A pair's order as training data: where the two texts play the same part (two questions, two sentences
rated for similarity), each training pair is also shown swapped, so the cross-encoder learns that
(a, b) and (b, a) mean the same (sentence-transformers' cross-encoder STS-B recipe trains on both orders).
Where the order carries meaning (premise / hypothesis, query / passage) the pair is kept as given."""

from __future__ import annotations

from typing import Any

import pandas as pd

from scripts.data.columns import _twin

# labels of inference (NLI) tasks, whose pairs are ordered even under twin column names (RTE, WNLI:
# sentence1 / sentence2)
ORDERED_LABEL_WORDS = ("entail", "contradict", "neutral")
# above this many training pairs (where the recipe drops to two epochs; QQP has 364k) auto keeps one order:
# an epoch twice as long costs hours there (not measured at that size)
MAX_SWAPPED_ROWS = 50_000


def choose(
    cfg: dict[str, Any], text_columns: list[str], label_names: list[str], pair: bool, rows: int = 0
) -> tuple[bool, str]:
    """swap_pairs resolved, with its reason (rows: training pairs)."""
    setting = cfg.get("swap_pairs", "auto")
    if not pair:
        return False, "one text a row"
    if setting != "auto":
        return bool(setting), "set in the config"
    first, second = (text_columns + ["", ""])[:2]
    if not _twin(first, second):
        return False, f"{first!r} and {second!r} play different parts: the order is kept"
    inference = [n for n in label_names if any(w in str(n).lower() for w in ORDERED_LABEL_WORDS)]
    if inference:
        return False, f"labels such as {inference[0]!r} read the pair in order (inference)"
    if rows > MAX_SWAPPED_ROWS:
        return False, f"{rows} training pairs: swapping would double every epoch's time"
    return True, f"{first!r} and {second!r} play the same part: each training pair also shown swapped"


def with_swaps(frame: pd.DataFrame, first: str = "text_a", second: str = "text_b") -> pd.DataFrame:
    """The training rows followed by each row with its two texts swapped (a pair equal to its swap once)."""
    swapped = frame.rename(columns={first: second, second: first})[frame.columns]
    swapped = swapped[swapped[first] != swapped[second]]
    return pd.concat([frame, swapped], ignore_index=True)
