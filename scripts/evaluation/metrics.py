"""Classification metrics with scikit-learn (regression_metrics.py has the regression ones); which metrics
a task shows first and compares on come from its description (scripts/common/tasks.py)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn import metrics as skm


def _r(x: float) -> float:
    return round(float(x), 6)


def per_class(y: np.ndarray, pred: np.ndarray, label_names: list[str]) -> dict[str, dict[str, Any]]:
    """Precision, recall, F1 and support for each label (ids or multi-hot columns in label order)."""
    labels = None if y.ndim == 2 else list(range(len(label_names)))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    return {
        name: {"precision": _r(p[i]), "recall": _r(r[i]), "f1": _r(f[i]), "support": int(s[i])}
        for i, name in enumerate(label_names)
    }


def averaged_labels(y: np.ndarray, pred: np.ndarray) -> list[int]:
    """The labels a single-label macro average runs over, the same in the point estimate and in every
    bootstrap resample: those present in the truth or the predictions of the scored rows."""
    return sorted(set(np.asarray(y).tolist()) | set(np.asarray(pred).tolist()))


def binary_metrics(
    y: np.ndarray, pred: np.ndarray, prob_pos: np.ndarray, positive: int, label_names: list[str]
) -> dict[str, Any]:
    p, r, f, _ = skm.precision_recall_fscore_support(
        y, pred, pos_label=positive, average="binary", zero_division=0
    )
    mp, mr, mf, _ = skm.precision_recall_fscore_support(
        y, pred, labels=averaged_labels(y, pred), average="macro", zero_division=0
    )
    y_pos = (y == positive).astype(int)
    two_classes = len(np.unique(y_pos)) == 2
    return {
        "accuracy": _r(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _r(skm.balanced_accuracy_score(y, pred)),
        "precision_positive": _r(p),
        "recall_positive": _r(r),
        "f1_positive": _r(f),
        "precision_macro": _r(mp),
        "recall_macro": _r(mr),
        "f1_macro": _r(mf),
        "roc_auc": _r(skm.roc_auc_score(y_pos, prob_pos)) if two_classes else None,
        "pr_auc": _r(skm.average_precision_score(y_pos, prob_pos)) if two_classes else None,
        "mcc": _r(skm.matthews_corrcoef(y, pred)),
        "confusion_matrix": skm.confusion_matrix(y, pred, labels=[1 - positive, positive]).tolist(),
        "per_class": per_class(y, pred, label_names),
    }


def multiclass_metrics(
    y: np.ndarray, pred: np.ndarray, probs: np.ndarray, label_names: list[str]
) -> dict[str, Any]:
    ids = list(range(len(label_names)))
    out: dict[str, Any] = {
        "accuracy": _r(skm.accuracy_score(y, pred)),
        "balanced_accuracy": _r(skm.balanced_accuracy_score(y, pred)),
    }
    averaged = averaged_labels(y, pred)  # as the bootstrap intervals average them
    for avg in ("macro", "weighted", "micro"):
        p, r, f, _ = skm.precision_recall_fscore_support(
            y, pred, labels=averaged, average=avg, zero_division=0
        )
        out.update({f"precision_{avg}": _r(p), f"recall_{avg}": _r(r), f"f1_{avg}": _r(f)})
    present = np.unique(y)
    try:
        out["roc_auc_ovr"] = (
            _r(
                skm.roc_auc_score(
                    y,
                    probs[:, present] / probs[:, present].sum(1, keepdims=True),
                    multi_class="ovr",
                    labels=present,
                )
            )
            if len(present) > 2
            else None
        )
    except ValueError:
        out["roc_auc_ovr"] = None
    out["mcc"] = _r(skm.matthews_corrcoef(y, pred))
    out["per_class"] = per_class(y, pred, label_names)
    out["confusion_matrix"] = skm.confusion_matrix(y, pred, labels=ids).tolist()
    return out


def multilabel_metrics(
    y: np.ndarray, pred: np.ndarray, probs: np.ndarray, label_names: list[str]
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for avg in ("micro", "macro", "weighted"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, average=avg, zero_division=0)
        out.update({f"precision_{avg}": _r(p), f"recall_{avg}": _r(r), f"f1_{avg}": _r(f)})
    out.update({f"{k}_samples": _r(v.mean()) for k, v in per_row_scores(y, pred).items()})
    out["subset_accuracy"] = _r(skm.accuracy_score(y, pred))
    out["hamming_loss"] = _r(skm.hamming_loss(y, pred))
    out["lrap"] = _r(skm.label_ranking_average_precision_score(y, probs))
    has_both = (y.sum(0) > 0) & (y.sum(0) < len(y))
    out["roc_auc_micro"] = (
        _r(skm.roc_auc_score(y[:, has_both], probs[:, has_both], average="micro")) if has_both.any() else None
    )
    out["roc_auc_macro"] = (
        _r(skm.roc_auc_score(y[:, has_both], probs[:, has_both], average="macro")) if has_both.any() else None
    )
    out["per_class"] = per_class(y, pred, label_names)
    return out


def per_row_scores(y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Each row's precision, recall and F1 over its label set. A row with no true and no predicted label
    is a perfect match (1.0): scikit-learn's default (zero_division=0) scores it 0, which on data where
    most rows carry no label gave f1_samples 0.07 beside subset accuracy 0.995."""
    tp = (y & pred).sum(1).astype(float)
    fp = ((1 - y) & pred).sum(1).astype(float)
    fn = (y & (1 - pred)).sum(1).astype(float)

    def ratio(num, den, empty):
        return np.where(den > 0, num / np.maximum(den, 1), empty)

    return {
        "precision": ratio(tp, tp + fp, (fn == 0).astype(float)),
        "recall": ratio(tp, tp + fn, (fp == 0).astype(float)),
        "f1": ratio(2 * tp, 2 * tp + fp + fn, 1.0),
    }


def _task(name: str) -> Any:
    from scripts.common import tasks

    return tasks.get(name)


class _ByTask(dict):
    """HEADLINE[task] and COLLAPSE_METRIC[task], read from the task descriptions (scripts/common/tasks.py)."""

    def __init__(self, field: str):
        super().__init__()
        self.field = field

    def __missing__(self, task: str) -> Any:
        value = getattr(_task(task), self.field)
        return list(value) if isinstance(value, tuple) else value


HEADLINE = _ByTask("headline")
COLLAPSE_METRIC = _ByTask("compare")


def score(
    task: str, y: np.ndarray, pred: np.ndarray, probs: np.ndarray, labels: list[str], positive: int | None
) -> dict[str, Any]:
    return _task(task).score(y, pred, probs, labels, positive)


def collapse_check(
    task: str, model: dict[str, Any], majority: dict[str, Any], pred: np.ndarray
) -> tuple[bool, str]:
    """A model no better than the trivial predictor (the majority class, or a regression's training mean)
    is reported as collapsed, loudly."""
    kind = _task(task)
    key, trivial = kind.compare, "majority-class" if kind.classifies else "training-mean"
    if kind.stratify == "class" and len(np.unique(pred)) == 1:
        return True, "it predicts a single class for every row"
    if not kind.classifies and np.allclose(np.std(pred, axis=0), 0):
        return True, "it predicts the same score for every row"
    ours, theirs = model[key], majority[key]
    if ours != ours or (theirs == theirs and ours <= theirs):  # nan: no score at all
        return True, f"its {key} {ours:.4f} is not above the {trivial} predictor's {theirs:.4f}"
    return False, f"{key} {ours:.4f} > {trivial} {theirs:.4f}"
