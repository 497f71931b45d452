"""How k-fold cuts the labelled rows: near-copy clusters kept within one fold, folds stratified by class,
by label (iteratively) or by target quantile."""

from __future__ import annotations

import numpy as np
import pandas as pd

from scripts.data.dataset import Dataset

FOLDS = 4


def near_copy_groups(rows: pd.DataFrame, dataset: Dataset) -> np.ndarray:
    """A group id a row: rows joined by a chain of near-copies (Jaccard >= leakage.THRESHOLD on character
    5-grams; a pair and its swap alike) share one, so that no fold trains on a copy of a row it scores."""
    from scripts.data.leakage import THRESHOLD
    from scripts.data.near_duplicates import near_copies

    texts = dataset.inputs.key(rows).astype(str).tolist()
    parent = np.arange(len(texts))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, hits in enumerate(near_copies(texts, texts, THRESHOLD)):
        for j in hits:
            parent[root(i)] = root(j)
    return np.array([root(i) for i in range(len(texts))])


def fold_indices(
    rows: pd.DataFrame, dataset: Dataset, seed: int, groups: np.ndarray | None = None
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Folds that keep every near-copy cluster in one fold (groups; none: every row its own), stratified:
    by class (single-label, every class however rare), iteratively by label (multi-label, iterstrat, on
    the clusters' label unions), by target quantile (regression)."""
    import warnings

    from sklearn.model_selection import StratifiedGroupKFold

    groups = np.arange(len(rows)) if groups is None else np.asarray(groups)
    _, groups = np.unique(groups, return_inverse=True)
    k = min(FOLDS, int(groups.max()) + 1 if len(groups) else 0)
    kind = dataset.kind
    y = kind.encode(rows["labels"], dataset.label_names)
    if k < 2:
        return [(np.arange(len(rows)), np.arange(len(rows)))] if len(rows) else []
    if kind.stratify == "iterative":
        from iterstrat.ml_stratifiers import MultilabelStratifiedKFold

        unions = np.zeros((k_groups := int(groups.max()) + 1, y.shape[1]), dtype=int)
        np.maximum.at(unions, groups, np.asarray(y, dtype=int))
        splitter = MultilabelStratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        folds = splitter.split(np.zeros(k_groups), unions)
        return [(np.flatnonzero(np.isin(groups, a)), np.flatnonzero(np.isin(groups, b))) for a, b in folds]
    strata = kind.strata(y)
    strata = np.zeros(len(rows), dtype=int) if strata is None else strata
    with warnings.catch_warnings():  # a class rarer than the folds: sklearn warns, and spreads what it has
        warnings.simplefilter("ignore", UserWarning)
        splitter = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        return list(splitter.split(np.zeros(len(rows)), strata, groups))
