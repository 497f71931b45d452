"""A k-fold run's cross-validated estimate: its out-of-fold predictions at the chosen epoch (every
labelled row scored by a model that did not train on it), at the run's temperature and thresholds, with
bootstrap intervals. make eval reports it beside the test score, and says so when the test split is too
small for its score to mean much."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import tasks
from scripts.evaluation import uncertainty

FILE = "out_of_fold.npz"
MIN_TEST_ROWS = 50  # a test split smaller than this is reported as too small to stand alone


def save(work: Path, logits: np.ndarray) -> None:
    """The chosen epoch's out-of-fold logits, in the order of splits/train.csv then validation.csv."""
    np.savez(work / FILE, logits=np.asarray(logits, dtype=np.float32))


def out_of_fold_outputs(
    run_dir: Path, record: dict[str, Any], meta: dict[str, Any], rows: int
) -> np.ndarray | None:
    """A k-fold run's out-of-fold outputs (probabilities at the run's temperature, or scores) for its
    labelled rows, training split then validation split; None for a run selected on validation, or when
    the splits no longer hold as many rows (edited after training: nothing rather than a wrong row)."""
    path = run_dir / FILE
    if (record.get("model_selection") or {}).get("method") != "kfold" or not path.exists():
        return None
    logits = np.load(path, allow_pickle=False)["logits"]
    if len(logits) != rows:
        return None
    return tasks.get(record["task"]).activate(logits, meta.get("temperature"))


def estimate(
    run_dir: Path, record: dict[str, Any], meta: dict[str, Any], y: np.ndarray
) -> dict[str, Any] | None:
    """Metrics and 95 % intervals of the out-of-fold predictions, or None for a run selected on validation.
    `y`: the labelled rows' encoded labels, training split then validation split (as make eval reads them)."""
    probs = out_of_fold_outputs(run_dir, record, meta, len(y))
    if probs is None:
        return None
    selection = record.get("model_selection") or {}
    kind, labels = tasks.get(record["task"]), record["labels"]
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    pred = kind.decide(probs, meta.get("thresholds") or None, positive)
    metrics = kind.score(y, pred, probs, labels, positive)
    resamples = uncertainty.resample_counts(y, kind, uncertainty.RESAMPLES, seed=0)
    return {
        "rows": len(y),
        "folds": selection.get("folds"),
        "epoch": selection.get("epoch"),
        "metrics": {k: metrics[k] for k in kind.headline if k in metrics},
        "intervals": uncertainty.intervals(resamples, kind, y, pred, probs, positive, list(kind.headline)),
        "note": "thresholds and temperature were fitted on these same scores: slightly optimistic",
    }


def sentence(estimate: dict[str, Any] | None, test_rows: int, metric: str) -> str:
    """One sentence for report.md and the card ('' when there is no estimate)."""
    if not estimate or metric not in estimate["metrics"]:
        return ""
    low, high = estimate["intervals"].get(metric, [None, None])
    small = (
        f"The test split holds only {test_rows} rows, too few for its score to stand alone. "
        if test_rows < MIN_TEST_ROWS
        else ""
    )
    span = f" [{low:.4f}, {high:.4f}]" if low is not None else ""
    return (
        f"{small}Cross-validated estimate ({estimate['folds']}-fold, every one of the {estimate['rows']} "
        f"labelled rows scored by a model that did not train on it): {metric} "
        f"{estimate['metrics'][metric]:.4f}{span}."
    )
