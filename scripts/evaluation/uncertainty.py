"""How sure a test score is: 95 % bootstrap intervals for the headline metrics, and a paired bootstrap of
the transformer against the TF-IDF + LR baseline on the same resampled rows.

The bootstrap is seeded and stratified by class for single-label tasks (each class keeps its count in
every resample, so a rare class never vanishes from one); multi-label rows are resampled as they are.
Every resample is scored at once: a (resamples x rows) count matrix times per-row counts gives each
resample's confusion counts, so 4,000 resamples cost well under a second even for GoEmotions' test
split. Metrics that need the full ranking of several classes (one-vs-rest ROC-AUC, LRAP) get no
interval.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RESAMPLES = 4000
LEVEL = 0.95
LOWER_IS_BETTER = {"rmse", "mae", "hamming_loss"}


def resample_counts(y: np.ndarray, task: Any, resamples: int, seed: int) -> np.ndarray:
    """(resamples, rows): how often each row is drawn in each resample, stratified by the task's strata
    (class, or a regression's target quantile; multi-label rows as they are)."""
    from scripts.common import tasks

    kind = tasks.get(task) if isinstance(task, str) else task
    rng = np.random.default_rng(seed)
    n = len(y)
    strata = kind.strata(y)
    if strata is None:
        draws = rng.integers(0, n, size=(resamples, n))
    else:  # stratified: each stratum is resampled within itself
        parts = []
        for label in np.unique(strata):
            rows = np.flatnonzero(strata == label)
            parts.append(rows[rng.integers(0, len(rows), size=(resamples, len(rows)))])
        draws = np.concatenate(parts, axis=1)
    flat = (np.arange(resamples)[:, None] * n + draws).ravel()
    return np.bincount(flat, minlength=resamples * n).reshape(resamples, n).astype(np.float64)


def _ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.divide(a, b, out=np.zeros_like(a, dtype=np.float64), where=b > 0)


def single_label_scores(
    W: np.ndarray, y: np.ndarray, pred: np.ndarray, k: int, positive: int | None, prob_pos: np.ndarray | None
) -> dict[str, np.ndarray]:
    """Each resample's single-label metrics, as sklearn defines them (zero_division=0). Macro averages are
    over one label set in every resample, the point estimate's (metrics.averaged_labels: the labels present
    in the full sample's truth or predictions), never over what a resample happens to hold."""
    onehot = np.zeros((len(y), k * k))
    onehot[np.arange(len(y)), y * k + pred] = 1
    confusion = (W @ onehot).reshape(len(W), k, k)
    n = confusion.sum(axis=(1, 2))
    tp = np.diagonal(confusion, axis1=1, axis2=2)
    truth, predicted = confusion.sum(axis=2), confusion.sum(axis=1)
    precision, recall = _ratio(tp, predicted), _ratio(tp, truth)
    f1 = _ratio(2 * precision * recall, precision + recall)
    from scripts.evaluation.metrics import averaged_labels

    seen = np.zeros(k, dtype=bool)
    seen[averaged_labels(y, pred)] = True
    seen = np.broadcast_to(seen, truth.shape)
    correct = tp.sum(axis=1)
    mcc_den = np.sqrt((n**2 - (predicted**2).sum(1)) * (n**2 - (truth**2).sum(1)))
    scores = {
        "accuracy": correct / n,
        "balanced_accuracy": _ratio((recall * (truth > 0)).sum(1), (truth > 0).sum(1)),
        "f1_macro": _ratio((f1 * seen).sum(1), seen.sum(1)),
        "precision_macro": _ratio((precision * seen).sum(1), seen.sum(1)),
        "recall_macro": _ratio((recall * seen).sum(1), seen.sum(1)),
        "f1_weighted": _ratio((f1 * truth).sum(1), truth.sum(1)),
        "f1_micro": correct / n,
        "mcc": _ratio(correct * n - (predicted * truth).sum(1), mcc_den),
    }
    if positive is not None:
        scores.update(
            precision_positive=precision[:, positive],
            recall_positive=recall[:, positive],
            f1_positive=f1[:, positive],
        )
    if prob_pos is not None:
        scores.update(_ranking_scores(W, (y == positive).astype(int), prob_pos))
    return scores


def _ranking_scores(W: np.ndarray, y_pos: np.ndarray, prob: np.ndarray) -> dict[str, np.ndarray]:
    """ROC-AUC and average precision of each resample, over the distinct scores (sklearn's thresholds):
    rows with one score form a group; a positive counts the negatives below its group fully and those
    in its group by half (ROC-AUC); precision is read at the end of each group (average precision)."""
    order = np.argsort(-prob, kind="stable")
    weights, pos = W[:, order], y_pos[order].astype(bool)
    starts = np.r_[0, np.flatnonzero(np.diff(prob[order]) != 0) + 1]
    pos_group = np.add.reduceat(weights * pos, starts, axis=1)
    neg_group = np.add.reduceat(weights * ~pos, starts, axis=1)
    n_pos, n_neg = pos_group.sum(1), neg_group.sum(1)
    neg_below = n_neg[:, None] - np.cumsum(neg_group, axis=1)
    auc = _ratio((pos_group * (neg_below + 0.5 * neg_group)).sum(1), n_pos * n_neg)
    precision = _ratio(np.cumsum(pos_group, axis=1), np.cumsum(pos_group + neg_group, axis=1))
    ap = _ratio((pos_group * precision).sum(1), n_pos)
    return {"roc_auc": auc, "pr_auc": ap}


def multilabel_scores(W: np.ndarray, y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Each resample's multi-label metrics (micro/macro/weighted/samples averages, subset accuracy)."""
    tp_rows, fp_rows, fn_rows = y & pred, (1 - y) & pred, y & (1 - pred)
    tp, fp, fn = W @ tp_rows, W @ fp_rows, W @ fn_rows
    support = W @ y
    f1 = _ratio(2 * tp, 2 * tp + fp + fn)
    rows = W.sum(1)
    row_tp, row_fp, row_fn = tp_rows.sum(1), fp_rows.sum(1), fn_rows.sum(1)
    row_f1 = np.where(row_tp + row_fp + row_fn > 0, _ratio(2.0 * row_tp, 2.0 * row_tp + row_fp + row_fn), 1.0)
    return {
        "f1_micro": _ratio(2 * tp.sum(1), 2 * tp.sum(1) + fp.sum(1) + fn.sum(1)),
        "precision_micro": _ratio(tp.sum(1), (tp + fp).sum(1)),
        "recall_micro": _ratio(tp.sum(1), (tp + fn).sum(1)),
        "f1_macro": f1.mean(1),
        "f1_weighted": _ratio((f1 * support).sum(1), support.sum(1)),
        "f1_samples": (W @ row_f1) / rows,
        "subset_accuracy": (W @ (row_fp + row_fn == 0)) / rows,
        "hamming_loss": (W @ ((row_fp + row_fn) / y.shape[1])) / rows,
    }


def scores(
    W: np.ndarray, task: Any, y: np.ndarray, pred: np.ndarray, probs: np.ndarray, positive: int | None
) -> dict[str, np.ndarray]:
    from scripts.common import tasks

    kind = tasks.get(task) if isinstance(task, str) else task
    return kind.resampled(W, y, pred, probs, positive)


def interval(values: np.ndarray) -> list[float]:
    tail = (1 - LEVEL) / 2 * 100
    return [round(float(np.percentile(values, tail)), 4), round(float(np.percentile(values, 100 - tail)), 4)]


def intervals(
    W: np.ndarray,
    task: str,
    y: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray,
    positive: int | None,
    metrics: list[str],
) -> dict[str, list[float]]:
    """95 % percentile intervals of the headline metrics that have a resampled form."""
    resampled = scores(W, task, y, pred, probs, positive)
    return {m: interval(resampled[m]) for m in metrics if m in resampled}


def paired(
    W: np.ndarray, task: str, y: np.ndarray, ours: tuple, theirs: tuple, positive: int | None, metric: str
) -> dict[str, Any]:
    """The transformer minus the baseline on the same resamples: the difference, its interval, and the
    share of resamples where the transformer is ahead."""
    a = scores(W, task, y, *ours, positive)[metric]
    b = scores(W, task, y, *theirs, positive)[metric]
    difference = (a - b) * (-1 if metric in LOWER_IS_BETTER else 1)  # > 0: the transformer is better
    return {
        "metric": metric,
        "difference_interval": interval(difference),
        "transformer_wins_share": round(float((difference > 0).mean()), 4),
        "ties_share": round(float((difference == 0).mean()), 4),
        "resamples": len(W),
        "level": LEVEL,
    }
