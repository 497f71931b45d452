"""Split leakage: texts of one split that are (near) copies of texts in another.

A text is normalised (lower case, digits to 0, punctuation to spaces, whitespace collapsed) and cut into
character 5-grams; two texts are near-duplicates when the Jaccard similarity of those sets is at least
0.8 (found with datasketch's MinHash LSH, then checked exactly), and exact duplicates when their
normalised forms are equal. A test text with a near-copy in training is partly memorised: the score on
the rows without one is reported beside the full score.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

THRESHOLD = 0.8
SHINGLE = 5
PERMUTATIONS = 128
PAIRS = (("train", "validation"), ("train", "test"), ("validation", "test"))


def normalise(text: str) -> str:
    text = re.sub(r"\d", "0", str(text).lower())
    return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())


def shingles(normalised: str) -> set[str]:
    if len(normalised) <= SHINGLE:
        return {normalised}
    return {normalised[i : i + SHINGLE] for i in range(len(normalised) - SHINGLE + 1)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


def near_copies(
    queries: list[str], corpus: list[str], threshold: float = THRESHOLD, seed: int = 1
) -> list[list[int]]:
    """For each query text, the corpus rows that are near-duplicates of it (Jaccard >= threshold)."""
    from datasketch import MinHash, MinHashLSH

    def signature(parts: set[str]) -> MinHash:
        digest = MinHash(num_perm=PERMUTATIONS, seed=seed)
        digest.update_batch([p.encode("utf-8") for p in parts])
        return digest

    corpus_sets = [shingles(normalise(t)) for t in corpus]
    lsh = MinHashLSH(threshold=threshold, num_perm=PERMUTATIONS)
    for i, parts in enumerate(corpus_sets):
        lsh.insert(i, signature(parts))
    found = []
    for text in queries:
        parts = shingles(normalise(text))
        found.append(
            sorted(j for j in lsh.query(signature(parts)) if jaccard(parts, corpus_sets[j]) >= threshold)
        )
    return found


def leaked_rows(eval_texts: list[str], train_texts: list[str]) -> np.ndarray:
    """A boolean per evaluation row: does it have a near-copy (or a copy) in training?"""
    return np.array([bool(hits) for hits in near_copies(eval_texts, train_texts)], dtype=bool)


def separate(splits: dict[str, Any], carved: list[str]) -> tuple[dict[str, Any], dict[str, int]]:
    """dedupe=near: no validation or test text keeps a near-copy in training. A carved split gives such
    rows to training (the group stays on one side); a dataset's own split keeps them, and training loses
    its copies."""
    import pandas as pd

    train, moved = splits["train"], {}
    for part in ("validation", "test"):
        hits = near_copies(splits[part]["text"].tolist(), train["text"].tolist())
        leaked = np.array([bool(h) for h in hits], dtype=bool)
        if part in carved:
            train = pd.concat([train, splits[part][leaked]], ignore_index=True)
            splits = {**splits, part: splits[part][~leaked].reset_index(drop=True)}
            moved[f"{part}_rows_moved_to_train"] = int(leaked.sum())
        else:
            copies = sorted({j for h in hits for j in h})
            train = train.drop(index=train.index[copies]).reset_index(drop=True)
            moved[f"train_rows_dropped_as_near_{part}"] = len(copies)
    return {**splits, "train": train}, moved


def report(splits: dict[str, Any], examples: int = 5) -> dict[str, Any]:
    """Near and exact duplicates across split pairs, by the later split's label, with a few examples."""
    out: dict[str, Any] = {"threshold": THRESHOLD, "shingle": SHINGLE, "pairs": {}}
    for first, second in PAIRS:
        a, b = splits[first], splits[second]
        hits = near_copies(b["text"].tolist(), a["text"].tolist())
        normal_a = {normalise(t) for t in a["text"]}
        near_rows = [i for i, h in enumerate(hits) if h]
        exact_rows = [i for i in range(len(b)) if normalise(b["text"].iloc[i]) in normal_a]
        by_class: dict[str, int] = {}
        for i in near_rows:
            label = b["labels"].iloc[i]
            for name in label if isinstance(label, tuple) else (label,):
                by_class[str(name)] = by_class.get(str(name), 0) + 1
        out["pairs"][f"{first}-{second}"] = {
            "rows": len(b),
            "near": len(near_rows),
            "exact_after_normalising": len(exact_rows),
            "near_by_class": dict(sorted(by_class.items(), key=lambda kv: -kv[1])),
            "examples": [
                {second: b["text"].iloc[i][:160], first: a["text"].iloc[hits[i][0]][:160]}
                for i in near_rows[:examples]
            ],
        }
    return out


def summary(leakage: dict[str, Any]) -> str:
    return "; ".join(
        f"{pair}: {p['near']} of {p['rows']} {pair.split('-')[1]} rows have a near-copy in "
        f"{pair.split('-')[0]} ({p['exact_after_normalising']} identical after normalising)"
        for pair, p in leakage["pairs"].items()
    )
