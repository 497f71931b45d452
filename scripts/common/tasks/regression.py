"""Regression: one or several numeric targets a text (or pair), trained on standardised targets."""

from __future__ import annotations

import json

import numpy as np

from scripts.common.tasks.base import Task


class Regression(Task):
    """One or several numeric targets. Trained on standardised targets (each target's training mean and
    standard deviation), with the scale folded back into the saved head, so a plain transformers load
    outputs the score in the data's units. No temperature or thresholds: a prediction interval instead
    (split conformal on validation or out-of-fold residuals, quickfit.json `interval`)."""

    name, word, head = "regression", "regression", "single"
    usual_epochs = 4
    read_back_from_labels = False
    epochs_why = "regression: a score keeps improving past three epochs (the best epoch is kept)"
    problem_type = "regression"
    classifies = False
    has_temperature = False
    stratify = "quantile"
    headline = ("pearson", "spearman", "rmse", "mae", "r2")
    unbounded_above = frozenset({"rmse", "mae"})
    compare = curve_metric = "r2"
    hub_metrics = {
        "pearson": "pearsonr",
        "spearman": "spearmanr",
        "rmse": "rmse",
        "mae": "mae",
        "r2": "r_squared",
    }

    def encode(self, labels, names):
        return np.array([list(v) for v in labels], dtype=np.float64).reshape(-1, len(names))

    def dump_label(self, value):
        return json.dumps([float(v) for v in value])

    def parse_label(self, cell):
        return tuple(float(v) for v in json.loads(cell))

    def target_scale(self, y):
        mean = y.mean(axis=0)
        std = y.std(axis=0)
        std = np.where(std > 0, std, 1.0)
        return {"mean": [float(v) for v in mean], "std": [float(v) for v in std]}

    def to_model(self, y, scale):
        return (y - np.asarray(scale["mean"])) / np.asarray(scale["std"]) if scale else y

    def from_model(self, outputs, scale):
        return (
            np.asarray(outputs) * np.asarray(scale["std"]) + np.asarray(scale["mean"]) if scale else outputs
        )

    def loss(self, logits, labels, weight=None):
        import torch

        return torch.nn.functional.mse_loss(
            logits.float().view(labels.shape[0], -1), labels.float().view(labels.shape[0], -1)
        )

    def activate(self, logits, temperature=None):
        return np.asarray(logits, dtype=np.float64)

    def decide(self, outputs, thresholds, positive):
        return np.asarray(outputs, dtype=np.float64)

    def named(self, decided, names):
        return [tuple(float(v) for v in row) for row in decided]

    def output_columns(self, names):
        return []  # the score is `predicted` (one target) or pred_<target>; intervals beside it

    def selection(self, positive):
        from scripts.evaluation.regression_metrics import mean_r2

        return "r2", lambda y, z: mean_r2(
            np.asarray(y).reshape(len(y), -1), np.asarray(z).reshape(len(z), -1)
        )

    def score(self, y, decided, outputs, names, positive):
        from scripts.evaluation.regression_metrics import regression_metrics

        return regression_metrics(y, decided, list(names))

    def resampled(self, W, y, decided, outputs, positive):
        from scripts.evaluation.regression_metrics import resampled_scores

        return resampled_scores(W, y, decided)

    def strata(self, y):
        return quantile_bins(y[:, 0] if y.ndim == 2 else y)

    def linear_reference(self, seed=0, C=1.0):  # C: unused, RidgeCV chooses its own penalty
        from sklearn.linear_model import RidgeCV

        return RidgeCV(alphas=np.logspace(-3, 3, 13))

    def reference_outputs(self, model, x, n_out, keep=None):
        if not x.shape[0]:
            return np.zeros((0, n_out))
        return np.asarray(model.predict(x), dtype=np.float64).reshape(x.shape[0], n_out)

    def constant(self, y_train, n_rows, n_out):
        return np.tile(y_train.mean(axis=0), (n_rows, 1))

    def validate_meta(self, meta, path, n):
        from scripts.model.meta import _numbers, damaged

        if meta.get("temperature") is not None or meta.get("thresholds"):
            raise damaged(path, "temperature", "and thresholds must be empty for regression")
        scale = meta.get("target_scale")
        if scale is not None and not (
            isinstance(scale, dict)
            and _numbers(scale.get("mean"), n)
            and _numbers(scale.get("std"), n, 1e-12)
        ):
            raise damaged(path, "target_scale", "must hold a mean and a positive std per target")
        interval = meta.get("interval")
        if interval is not None and not (
            isinstance(interval, dict)
            and _numbers([interval.get("level")], 1, 0.0, 1.0)
            and _numbers(interval.get("half_width"), n, 0.0)
        ):
            raise damaged(path, "interval", "must hold a level in (0, 1) and a half_width per target")
        if interval is not None and "edges" in interval and not _ranges(interval, n):
            raise damaged(path, "interval", "must hold, per target, rising edges and a width for each range")


def quantile_bins(values: np.ndarray, bins: int = 5) -> np.ndarray:
    """Each value's quantile bin (0..bins-1): regression splits and resamples keep the target's spread."""
    values = np.asarray(values, dtype=np.float64)
    if len(values) < 2 * bins:
        bins = max(1, len(values) // 2)
    edges = np.unique(np.quantile(values, np.linspace(0, 1, bins + 1)[1:-1]))
    return np.searchsorted(edges, values, side="right").astype(np.int64)


def _ranges(interval: dict, n: int) -> bool:
    """An interval by predicted range: per target, increasing edges and one non-negative width a range."""
    from scripts.model.meta import _numbers

    edges, widths = interval.get("edges"), interval.get("widths")
    return (
        isinstance(edges, list)
        and isinstance(widths, list)
        and len(edges) == len(widths) == n
        and all(_numbers(e) and list(e) == sorted(set(e)) for e in edges)
        and all(_numbers(w, len(e) + 1, 0.0) for e, w in zip(edges, widths))
    )
