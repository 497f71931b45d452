"""Metrics with scikit-learn, by task; the selection metric that picks the best epoch."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from sklearn import metrics as skm


def selection_metric(task: str, positive_id: int | None) -> tuple[str, Callable]:
    """The validation metric that early stopping and the best epoch use: minority-class F1 for
    binary, macro-F1 otherwise. Multi-label receives probabilities and is scored at the per-label
    thresholds tuned on validation, as it will be used (at 0.5, pos_weight runs look far worse)."""
    if task == "binary":
        return "f1_positive", lambda y, p: skm.f1_score(y, p, pos_label=positive_id, zero_division=0)
    if task == "multiclass":
        return "f1_macro", lambda y, p: skm.f1_score(y, p, average="macro", zero_division=0)
    from scripts.evaluation.thresholds import tuned_macro_f1

    return "f1_macro_at_tuned_thresholds", tuned_macro_f1


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


def binary_metrics(
    y: np.ndarray, pred: np.ndarray, prob_pos: np.ndarray, positive: int, label_names: list[str]
) -> dict[str, Any]:
    p, r, f, _ = skm.precision_recall_fscore_support(
        y, pred, pos_label=positive, average="binary", zero_division=0
    )
    mp, mr, mf, _ = skm.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
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
    for avg in ("macro", "weighted", "micro"):
        p, r, f, _ = skm.precision_recall_fscore_support(y, pred, labels=ids, average=avg, zero_division=0)
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


HEADLINE = {
    "binary": [
        "accuracy",
        "balanced_accuracy",
        "precision_positive",
        "recall_positive",
        "f1_positive",
        "f1_macro",
        "roc_auc",
        "pr_auc",
        "mcc",
    ],
    "multiclass": [
        "accuracy",
        "balanced_accuracy",
        "f1_macro",
        "f1_weighted",
        "f1_micro",
        "precision_macro",
        "recall_macro",
        "roc_auc_ovr",
        "mcc",
    ],
    "multilabel": [
        "f1_micro",
        "f1_macro",
        "f1_weighted",
        "f1_samples",
        "precision_micro",
        "recall_micro",
        "subset_accuracy",
        "hamming_loss",
        "lrap",
        "roc_auc_micro",
        "roc_auc_macro",
    ],
}


COLLAPSE_METRIC = {"binary": "f1_positive", "multiclass": "f1_macro", "multilabel": "f1_macro"}


def score(
    task: str, y: np.ndarray, pred: np.ndarray, probs: np.ndarray, labels: list[str], positive: int | None
) -> dict[str, Any]:
    if task == "binary":
        return binary_metrics(y, pred, probs[:, positive], positive, labels)
    if task == "multiclass":
        return multiclass_metrics(y, pred, probs, labels)
    return multilabel_metrics(y, pred, probs, labels)


def collapse_check(
    task: str, model: dict[str, Any], majority: dict[str, Any], pred: np.ndarray
) -> tuple[bool, str]:
    """A model no better than predicting the majority class is reported as collapsed, loudly."""
    key = COLLAPSE_METRIC[task]
    if task != "multilabel" and len(np.unique(pred)) == 1:
        return True, "it predicts a single class for every row"
    if model[key] <= majority[key]:
        return (
            True,
            f"its {key} {model[key]:.4f} is not above the majority-class predictor's {majority[key]:.4f}",
        )
    return False, f"{key} {model[key]:.4f} > majority-class {majority[key]:.4f}"
