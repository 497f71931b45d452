"""Split leakage: texts of one split that are (near) copies of texts in another.

Two texts are near-duplicates when their normalised character 5-gram sets have Jaccard similarity >= 0.8
(scripts/near_duplicates.py finds them in linear time and checks each exactly), and exact duplicates when
their normalised forms are equal. A test text with a near-copy in training is partly memorised: the score
on the rows without one is reported beside the full score.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scripts.data.near_duplicates import SHINGLE, Sketches, near_copies, normalise

THRESHOLD = 0.8
PAIRS = (("train", "validation"), ("train", "test"), ("validation", "test"))
__all__ = ["SHINGLE", "Sketches", "leaked_rows", "near_copies", "normalise", "report", "separate"]


def row_texts(frame: Any) -> list[str]:
    """What near-copies are searched on: a row's text, or a pair's two texts together (a pair and its swap
    read alike)."""
    from scripts.common.tasks import Inputs

    return Inputs("text_b" in frame.columns).key(frame).tolist()


def shared_texts(later: Any, earlier: Any, sketches: Sketches) -> int:
    """Pairs: rows of `later` with a text (either side) that also appears, after normalising, on either side
    of a row of `earlier`: the same sentence in training and test, even where the pairs differ."""

    def sides(frame: Any) -> list[str]:
        return frame["text"].tolist() + frame["text_b"].tolist()

    earlier_rows, later_rows = (
        sketches.rows(sides(earlier)),
        sketches.rows(sides(later)),
    )  # first: rows() grows
    seen = sketches.exact[earlier_rows]
    exact = sketches.exact[later_rows]
    n = len(later)
    return int(np.sum(np.isin(exact[:n], seen) | np.isin(exact[n:], seen)))


def leaked_rows(
    eval_texts: list[str], train_texts: list[str], sketches: Sketches | None = None
) -> np.ndarray:
    """A boolean per evaluation row: does it have a near-copy (or a copy) in training?"""
    hits = near_copies(eval_texts, train_texts, THRESHOLD, sketches, first_only=True)
    return np.array([bool(h) for h in hits], dtype=bool)


def separate(
    splits: dict[str, Any], carved: list[str], sketches: Sketches | None = None
) -> tuple[dict[str, Any], dict[str, int]]:
    """dedupe=near: no validation or test text keeps a near-copy in training. A carved split gives such
    rows to training (the group stays on one side); a dataset's own split keeps them, and training loses
    its copies."""
    import pandas as pd

    sketches = sketches or Sketches()
    parts = [p for p in ("validation", "test") if p in carved]
    moved = {f"{part}_rows_moved_to_train": 0 for part in parts}
    splits, newcomers = dict(splits), splits["train"]
    # A moved row can itself be a near-copy of a row still in the other split: repeat against the rows
    # that just moved until none moves (what stays had no copy in the training rows before them).
    while parts and len(newcomers):
        arrivals = []
        for part in parts:
            leaked = leaked_rows(row_texts(splits[part]), row_texts(newcomers), sketches)
            arrivals.append(splits[part][leaked])
            splits[part] = splits[part][~leaked].reset_index(drop=True)
            moved[f"{part}_rows_moved_to_train"] += int(leaked.sum())
        newcomers = pd.concat(arrivals, ignore_index=True)
        splits["train"] = pd.concat([splits["train"], newcomers], ignore_index=True)
    train = splits["train"]
    for part in ("validation", "test"):
        if part not in carved:
            hits = near_copies(row_texts(splits[part]), row_texts(train), THRESHOLD, sketches)
            copies = sorted({j for h in hits for j in h})
            train = train.drop(index=train.index[copies]).reset_index(drop=True)
            moved[f"train_rows_dropped_as_near_{part}"] = len(copies)
    return {**splits, "train": train}, moved


def report(splits: dict[str, Any], examples: int = 5, sketches: Sketches | None = None) -> dict[str, Any]:
    """Near and exact duplicates across split pairs, by the later split's label, with a few examples."""
    out: dict[str, Any] = {"threshold": THRESHOLD, "shingle": SHINGLE, "pairs": {}}
    sketches = sketches or Sketches()
    for first, second in PAIRS:
        a, b = splits[first], splits[second]
        a_texts, b_texts = row_texts(a), row_texts(b)
        hits = near_copies(b_texts, a_texts, THRESHOLD, sketches, first_only=True)
        near_rows = [i for i, h in enumerate(hits) if h]
        same = np.isin(sketches.exact[sketches.rows(b_texts)], sketches.exact[sketches.rows(a_texts)])
        exact_rows = np.flatnonzero(same)
        by_class: dict[str, int] = {}
        for i in near_rows:
            label = b["labels"].iloc[i]
            for name in label if isinstance(label, tuple) else (label,):
                if isinstance(name, float):  # a regression target: no class to count by
                    continue
                by_class[str(name)] = by_class.get(str(name), 0) + 1
        shared = {"shared_texts": shared_texts(b, a, sketches)} if "text_b" in b.columns else {}
        out["pairs"][f"{first}-{second}"] = {
            "rows": len(b),
            "near": len(near_rows),
            "exact_after_normalising": len(exact_rows),
            **shared,
            "near_by_class": dict(sorted(by_class.items(), key=lambda kv: -kv[1])),
            "examples": [
                {second: b_texts[i][:160], first: a_texts[hits[i][0]][:160]} for i in near_rows[:examples]
            ],
        }
    return out


def summary(leakage: dict[str, Any]) -> str:
    return "; ".join(
        f"{pair}: {p['near']} of {p['rows']} {pair.split('-')[1]} rows have a near-copy in "
        f"{pair.split('-')[0]} ({p['exact_after_normalising']} identical after normalising"
        + (f"; {p['shared_texts']} share a text with one of its pairs" if "shared_texts" in p else "")
        + ")"
        for pair, p in leakage["pairs"].items()
    )
