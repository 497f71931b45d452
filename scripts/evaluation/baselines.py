"""Reference predictors on the same split: TF-IDF + a linear model (logistic regression for classes, ridge
for scores), and the trivial predictor (the majority class, or the training mean).

A pair of texts gets features of both sides and their interaction: TF-IDF of the first text, of the second
(one vocabulary fitted on both), and their element-wise product (the terms they share, weighted)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.feature_extraction.text import TfidfVectorizer


def _vectorizer() -> TfidfVectorizer:
    return TfidfVectorizer(ngram_range=(1, 2), min_df=2, sublinear_tf=True, max_features=200_000)


def tfidf_features(train: pd.DataFrame, frames: list[pd.DataFrame]) -> tuple[Any, list[Any]]:
    """TF-IDF features of the training frame and of each frame (pairs: [a, b, a * b])."""
    from scipy.sparse import hstack

    vectorizer = _vectorizer()
    if "text_b" not in train.columns:
        fitted = vectorizer.fit_transform(train["text"])
        return fitted, [vectorizer.transform(f["text"]) for f in frames]
    vectorizer.fit(pd.concat([train["text"], train["text_b"]]))

    def pair(frame: pd.DataFrame) -> Any:
        a, b = vectorizer.transform(frame["text"]), vectorizer.transform(frame["text_b"])
        return hstack([a, b, a.multiply(b)]).tocsr()

    return pair(train), [pair(f) for f in frames]


def fit_linear(
    kind: Any, x_train: Any, y_train: np.ndarray, xs: list[Any], n_out: int, seed: int = 0, C: float = 1.0
) -> list[np.ndarray]:
    """The task's linear reference fitted on x_train; its outputs (probabilities or scores) for each of xs.
    A multi-label label never seen in training gets probability 0."""
    model = kind.linear_reference(seed, C)
    keep = None
    if kind.stratify == "iterative":
        keep = y_train.sum(0) > 0
        model.fit(x_train, y_train[:, keep])
    elif not kind.classifies:
        model.fit(x_train, y_train.reshape(len(y_train), -1) if n_out > 1 else y_train.ravel())
    else:
        model.fit(x_train, y_train)
    return [kind.reference_outputs(model, x, n_out, keep) for x in xs]


def out_of_fold(
    kind: Any, x_train: Any, y_train: np.ndarray, n_out: int, seed: int = 0, folds: int = 4, C: float = 1.0
) -> np.ndarray:
    """Each training row's output from the linear reference fitted without it (folds stratified as quickfit's
    k-fold runs stratify theirs where every stratum allows): what its decision rule is fitted on when the
    run's own rule was fitted out of fold."""
    from sklearn.model_selection import KFold, StratifiedKFold

    n = x_train.shape[0]
    out = np.zeros((n, n_out))
    folds = min(folds, n)
    strata = None if kind.stratify == "iterative" else kind.strata(y_train)
    if strata is not None and np.bincount(strata).min() >= folds:
        splits = StratifiedKFold(folds, shuffle=True, random_state=seed).split(np.zeros(n), strata)
    else:
        splits = KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n))
    for fit_rows, held in splits:
        out[held] = fit_linear(kind, x_train[fit_rows], y_train[fit_rows], [x_train[held]], n_out, seed, C)[0]
    return out


C_GRID = (0.1, 1.0, 10.0, 100.0)
MAX_C_SEARCH_ROWS = 2_000  # above: the data outweighs the penalty, and 16 more fits (a label) cost minutes


def chosen_c(kind: Any, x_train: Any, y_train: np.ndarray, n_out: int, seed: int = 0) -> tuple[float, str]:
    """The logistic regression's C with the lowest out-of-fold log-loss over C_GRID (4 folds, as
    out_of_fold), with how it was chosen; 1.0 for regression (its ridge is cross-validated already) and
    above MAX_C_SEARCH_ROWS rows."""
    if not kind.has_temperature:
        return 1.0, "ridge penalty cross-validated by RidgeCV"
    if x_train.shape[0] > MAX_C_SEARCH_ROWS:
        return 1.0, f"C=1 (over {MAX_C_SEARCH_ROWS:,} rows: not searched)"
    losses = {}
    for c in C_GRID:
        outputs = np.clip(out_of_fold(kind, x_train, y_train, n_out, seed, C=c), 1e-12, 1 - 1e-12)
        losses[c] = float(kind.loss_terms(outputs, y_train).mean())
    best = min(losses, key=lambda c: (losses[c], abs(np.log10(c))))
    shown = ", ".join(f"{c:g}: {v:.4f}" for c, v in losses.items())
    return best, f"C={best:g}, the lowest 4-fold log-loss of {shown}"


def tfidf_reference(
    train: pd.DataFrame,
    y_train: np.ndarray,
    frames: list[pd.DataFrame],
    kind: Any,
    n_out: int,
    seed: int = 0,
    with_out_of_fold: bool = False,
) -> list[np.ndarray]:
    """TF-IDF + the task's linear model, fitted on the training split; outputs for each frame (and, with
    with_out_of_fold, last, the training rows' out-of-fold outputs)."""
    x_train, xs = tfidf_features(train, frames)
    outputs = fit_linear(kind, x_train, y_train, xs, n_out, seed)
    return outputs + ([out_of_fold(kind, x_train, y_train, n_out, seed)] if with_out_of_fold else [])


def tfidf_logreg_proba(
    train: pd.DataFrame, y_train: np.ndarray, texts: list[list[str]], task: str, n_labels: int, seed: int = 0
) -> list[np.ndarray]:
    """TF-IDF + LR on single texts (make curve and the benches): probabilities for each list of texts."""
    from scripts.common import tasks

    frames = [pd.DataFrame({"text": batch}) for batch in texts]
    return tfidf_reference(train[["text"]], y_train, frames, tasks.get(task), n_labels, seed)


def majority_proba(y_train: np.ndarray, n_rows: int, task: str, n_labels: int) -> np.ndarray:
    """A constant predictor: the most frequent training class (multi-label: the most frequent label; a
    regression: the training mean)."""
    from scripts.common import tasks

    return tasks.get(task).constant(y_train, n_rows, n_labels)
