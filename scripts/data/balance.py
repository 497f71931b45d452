"""Rebalance the training split only: resampling with imbalanced-learn, or loss weights.

Validation and test keep the true distribution, so their metrics stay honest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.data.dataset import label_counts


@dataclass
class Balanced:
    train: pd.DataFrame
    method: str
    reason: str
    class_weight: list[float] | None = None  # Simple Transformers `weight` (single-label)
    pos_weight: list[float] | None = None  # Simple Transformers `pos_weight` (multi-label)
    counts_before: dict[str, int] = field(default_factory=dict)
    counts_after: dict[str, int] = field(default_factory=dict)


def choose_method(requested: str, task: str, counts: dict[str, int]) -> tuple[str, str]:
    """'auto' -> a method and its reason, from the task and the imbalance."""
    if requested != "auto":
        return requested, "set in config"
    if tasks.get(task).per_label:
        return "pos_weight", "multi-label: rare labels get a positive weight (negatives/positives, capped)"
    ratio = max(counts.values()) / max(1, min(counts.values()))
    if ratio >= 2:
        return (
            "class_weight",
            f"imbalance {ratio:.1f}:1 -> loss weights keep every row and lift the rare classes",
        )
    return "none", f"imbalance {ratio:.1f}:1 is mild"


def _resample(train: pd.DataFrame, method: str, ratio: float, seed: int) -> pd.DataFrame:
    from imblearn.over_sampling import RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    counts = train["labels"].value_counts()
    if method == "oversample":
        floor = math.ceil(counts.max() * ratio)
        strategy = {label: max(int(n), floor) for label, n in counts.items()}
        sampler = RandomOverSampler(sampling_strategy=strategy, random_state=seed)
    else:
        ceiling = max(int(counts.min()), math.ceil(counts.min() / ratio))
        strategy = {label: min(int(n), ceiling) for label, n in counts.items()}
        sampler = RandomUnderSampler(sampling_strategy=strategy, random_state=seed)
    # imbalanced-learn wants a 2-D X: resample row positions and index the frame with them.
    positions, _ = sampler.fit_resample(np.arange(len(train)).reshape(-1, 1), train["labels"].to_numpy())
    return train.iloc[positions.ravel()].reset_index(drop=True)


def rebalance(
    train: pd.DataFrame,
    task: str,
    label_names: list[str],
    requested: str,
    ratio: float,
    pos_weight_cap: float,
    seed: int,
) -> Balanced:
    """Apply the balancing choice to the training frame; returns the frame and the loss weights."""
    if not tasks.get(task).classifies:
        if requested not in ("auto", "none"):
            raise UserError(
                f"balance={requested} is for classes, and a regression's targets are numbers; use none or "
                "auto"
            )
        return Balanced(
            train=train, method="none", reason="regression: targets are numbers, nothing to balance"
        )
    before, kind = label_counts(train, task), tasks.get(task)
    method, reason = choose_method(requested, task, before)
    if kind.per_label and method in ("oversample", "undersample", "class_weight"):
        raise UserError(
            f"balance={method} does not apply to multi-label data (imbalanced-learn has no multi-label "
            "support); use balance=pos_weight or none"
        )
    if not kind.per_label and method == "pos_weight":
        raise UserError(
            "balance=pos_weight is for multi-label data; use class_weight, oversample or undersample"
        )
    result = Balanced(train=train, method=method, reason=reason, counts_before=before)
    if method in ("oversample", "undersample"):
        result.train = _resample(train, method, ratio, seed)
    elif method == "class_weight":
        counts = np.array([before.get(name, 0) for name in label_names], dtype=float)
        weights = len(train) / (len(label_names) * np.maximum(counts, 1))
        result.class_weight = [round(float(w), 6) for w in weights]
    elif method == "pos_weight":
        y = kind.encode(train["labels"], label_names)
        positives = y.sum(axis=0)
        weights = np.minimum((len(y) - positives) / np.maximum(positives, 1), pos_weight_cap)
        result.pos_weight = [round(float(w), 6) for w in np.maximum(weights, 1.0)]
    result.counts_after = label_counts(result.train, task)
    return result


def reweighted_for_windows(balanced: Balanced, windows: pd.DataFrame, dataset: Any, cap: float) -> Balanced:
    """long_texts=chunks trains on windows, each carrying its text's labels: loss weights counted on the
    windows (what the loss sees), not on the documents, so a class of long texts is not weighted twice."""
    from dataclasses import replace

    names = dataset.label_names
    if balanced.class_weight:
        counts = np.array([int((windows["labels"] == n).sum()) for n in names], dtype=float)
        weights = len(windows) / (len(names) * np.maximum(counts, 1))
        return replace(
            balanced,
            class_weight=[round(float(w), 6) for w in weights],
            reason=balanced.reason + "; counted on the training windows",
        )
    y = dataset.kind.encode(windows["labels"], names)
    positives = y.sum(axis=0)
    weights = np.minimum((len(y) - positives) / np.maximum(positives, 1), cap)
    return replace(
        balanced,
        pos_weight=[round(float(w), 6) for w in np.maximum(weights, 1.0)],
        reason=balanced.reason + "; counted on the training windows",
    )
