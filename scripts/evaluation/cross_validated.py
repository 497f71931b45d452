"""A k-fold run's cross-validated estimate: its out-of-fold predictions (every labelled row scored by a
model that did not train on it), with the optimism of choosing the epoch and thresholds on those same
scores removed (selection_bias) and 90 % intervals over near-copy clusters. make eval reports it beside
the test score, and says so when the test split is too small for its score to mean much."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import tasks

FILE = "out_of_fold.npz"
MIN_TEST_ROWS = 50  # a test split smaller than this is reported as too small to stand alone


def save(work: Path, logits: np.ndarray, by_epoch: np.ndarray | None, groups: np.ndarray | None) -> None:
    """The chosen epoch's out-of-fold outputs, every epoch's (the selection replayed by the bias correction)
    and the near-copy cluster of each row, in the order of splits/train.csv then validation.csv."""
    arrays = {"logits": np.asarray(logits, dtype=np.float32)}
    if by_epoch is not None and groups is not None:
        arrays.update(by_epoch=np.asarray(by_epoch, dtype=np.float32), groups=np.asarray(groups))
    np.savez(work / FILE, **arrays)


def load(run_dir: Path, record: dict[str, Any], rows: int) -> dict[str, np.ndarray] | None:
    """The saved out-of-fold arrays of a k-fold run; None for a run selected on validation, or when the
    splits no longer hold as many rows (edited after training: nothing rather than a wrong row)."""
    path = run_dir / FILE
    if (record.get("model_selection") or {}).get("method") != "kfold" or not path.exists():
        return None
    with np.load(path, allow_pickle=False) as found:
        arrays = {k: found[k] for k in found.files}
    return arrays if len(arrays["logits"]) == rows else None


def out_of_fold_outputs(
    run_dir: Path, record: dict[str, Any], meta: dict[str, Any], rows: int
) -> np.ndarray | None:
    """A k-fold run's out-of-fold outputs (probabilities at the run's temperature, or scores) for its
    labelled rows, training split then validation split; None as load()."""
    arrays = load(run_dir, record, rows)
    if arrays is None:
        return None
    return tasks.get(record["task"]).activate(arrays["logits"], meta.get("temperature"))


def estimate(
    run_dir: Path, record: dict[str, Any], meta: dict[str, Any], y: np.ndarray
) -> dict[str, Any] | None:
    """The estimate of a k-fold run (estimate_from), or None for a run selected on validation.
    `y`: the labelled rows' encoded labels, training split then validation split (as make eval reads them)."""
    arrays = load(run_dir, record, len(y))
    if arrays is None:
        return None
    selection = record.get("model_selection") or {}
    labels = record["labels"]
    positive = labels.index(record["positive_label"]) if record.get("positive_label") else None
    found = estimate_from(
        arrays["logits"],
        arrays.get("by_epoch"),
        arrays.get("groups"),
        y,
        tasks.get(record["task"]),
        labels,
        positive,
        record.get("selection_metric"),
        meta.get("thresholds") or None,
        meta.get("temperature"),
    )
    probe = isinstance(selection.get("probe_candidate"), dict)  # the frozen probe was a candidate
    return {
        "rows": len(y),
        "folds": selection.get("folds"),
        "epoch": selection.get("epoch"),
        "probe": probe,
        **found,
    }


def estimate_from(
    logits: np.ndarray,
    by_epoch: np.ndarray | None,
    groups: np.ndarray | None,
    y: np.ndarray,
    kind: Any,
    labels: list[str],
    positive: int | None,
    selection_metric: str | None,
    thresholds: list[float] | None,
    temperature: Any,
    weights: np.ndarray | None = None,
) -> dict[str, Any]:
    """The out-of-fold headline metrics with their optimism removed (selection_bias), and LEVEL intervals
    over near-copy clusters. `naive`: the scores as they fall, the epoch and thresholds having been chosen
    on them. Saved files from before the correction (no `by_epoch`) get the naive scores, said so.
    `weights`: rows counted by weight (bench/estimate_bias.py: the test split's class mix), else once."""
    from scripts.evaluation import selection_bias

    outputs = kind.activate(logits, temperature) if kind.has_temperature else logits
    pred = kind.decide(outputs, thresholds, positive)
    naive = selection_bias.scored(kind, y, pred, outputs, labels, positive, weights)
    groups = np.arange(len(y)) if groups is None else groups
    spans = selection_bias.interval(kind, y, pred, outputs, groups, positive, list(naive), weights=weights)
    if by_epoch is None:
        return uncorrected(naive, spans)
    own = kind.selection(positive)
    metric = (
        own
        if selection_metric in (None, own[0])
        else (selection_metric, kind.metric(selection_metric, labels, positive))
    )
    fair = selection_bias.corrected(
        by_epoch, y, groups, kind, labels, positive, metric, bool(thresholds), temperature, weights=weights
    )
    none = selection_bias.no_information(kind, y, pred, outputs, labels, positive, weights)
    return weighed_estimate(naive, fair, none, spans, kind, groups)


def weighed_estimate(
    naive: dict[str, float],
    fair: dict[str, float],
    none: dict[str, float],
    spans: dict[str, list[float]],
    kind: Any,
    groups: np.ndarray,
) -> dict[str, Any]:
    """The estimate shown: naive and out-of-bag (`fair`) scores weighed by .632+ against no information
    (`none`), and the interval spanning the uncorrected one and its copy moved by the optimism."""
    from scripts.evaluation import selection_bias

    shift = {m: fair[m] - naive[m] for m in fair if m in naive}
    shown = {
        m: selection_bias.weighed(naive[m], fair[m], none.get(m), m in kind.lower_is_better) for m in shift
    }
    return {
        "metrics": {m: round(shown[m], 4) for m in shift},
        "naive": {m: round(naive[m], 4) for m in shift},
        "out_of_bag": {m: round(fair[m], 4) for m in shift},
        # the interval spans the uncorrected one and the corrected one: the correction measures the
        # optimism of the choice, but the fold models it is measured on trained on a quarter fewer rows
        # than the model shipped, which on small data understates it (bench/SMALL_DATA.md)
        "intervals": {
            m: within_range(
                m,
                kind,
                min(lo, lo + shift[m], fair[m], shown[m]),
                max(hi, hi + shift[m], fair[m], shown[m]),
            )
            for m in shift
            if m in spans
            for lo, hi in [spans[m]]
        },
        "level": selection_bias.LEVEL,
        "method": "bootstrap bias-corrected",
        "weighting": ".632+",
        "clusters": int(len(np.unique(groups))),
        "note": (
            f"the epoch and thresholds were chosen on these scores; their optimism is replayed on "
            f"{selection_bias.RESAMPLES} resamples and removed, the naive and out-of-bag scores weighed "
            "by .632+"
        ),
    }


def within_range(metric: str, kind: Any, low: float, high: float) -> list[float]:
    """An interval cut to the values its metric can take: a copy moved by the optimism can pass them (an
    accuracy of 1.002)."""
    high = high if metric in kind.unbounded_above else min(high, 1.0)
    low = max(low, 0.0) if metric in kind.lower_is_better else low
    return [round(low, 4), round(high, 4)]


def uncorrected(naive: dict[str, float], spans: dict[str, list[float]]) -> dict[str, Any]:
    """The estimate of a run saved before the correction: its naive scores, said to be optimistic."""
    from scripts.evaluation import selection_bias

    return {
        "metrics": naive,
        "naive": naive,
        "intervals": spans,
        "level": selection_bias.LEVEL,
        "method": "naive",
        "note": "the epoch and thresholds were chosen on these same scores: optimistic",
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
    level = estimate.get("level", 0.95)
    span = (
        f" [{low:.4f}, {high:.4f}] ({level * 100:.0f} % interval over near-copy clusters)"
        if low is not None
        else ""
    )
    how = (
        f", corrected for choosing the epoch{' (or the frozen probe)' if estimate.get('probe') else ''} "
        f"and thresholds on the same scores (naive "
        f"{estimate['naive'][metric]:.4f}; bootstrap bias correction"
        f"{', .632+ weighted' if estimate.get('weighting') else ''})"
        if estimate.get("method") == "bootstrap bias-corrected"
        else ", uncorrected: the epoch and thresholds were chosen on these same scores (optimistic)"
    )
    return (
        f"{small}Cross-validated estimate ({estimate['folds']}-fold, every one of the {estimate['rows']} "
        f"labelled rows scored by a model that did not train on it{how}): {metric} "
        f"{estimate['metrics'][metric]:.4f}{span}."
    )
