"""Regression metrics: RMSE, MAE, R², Pearson and Spearman per target and averaged over targets, and the same
for every bootstrap resample at once (rows weighted by a resamples x rows count matrix).

Spearman in a resample is the weighted Pearson correlation of the full sample's ranks (ties averaged): a
resample repeats rows, which re-ranking would only break into ties, so its ranks are the sample's."""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np


def _r(x: float) -> float:
    return round(float(x), 6)


def _columns(y: np.ndarray) -> np.ndarray:
    y = np.asarray(y, dtype=np.float64)
    return y.reshape(len(y), -1)


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    """Pearson's r; nan (undefined) when either side is constant, as a trivial predictor's is."""
    if (
        len(a) < 2
        or np.ptp(a) <= 1e-12 * max(1.0, np.abs(a).max())
        or np.ptp(b) <= 1e-12 * max(1.0, np.abs(b).max())
    ):
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _ranks(values: np.ndarray) -> np.ndarray:
    from scipy.stats import rankdata

    return rankdata(values, axis=0).reshape(values.shape)


def _r2(y: np.ndarray, pred: np.ndarray) -> float:
    total = ((y - y.mean()) ** 2).sum()
    return float(1 - ((y - pred) ** 2).sum() / total) if total > 0 else float("nan")


def mean_r2(y: np.ndarray, pred: np.ndarray) -> float:
    """R² averaged over targets: the selection metric (1 - MSE / variance, so scale-free)."""
    y, pred = _columns(y), _columns(pred)
    return float(np.nanmean([_r2(y[:, j], pred[:, j]) for j in range(y.shape[1])]))


def target_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    error = pred - y
    return {
        "rmse": _r(np.sqrt((error**2).mean())),
        "mae": _r(np.abs(error).mean()),
        "r2": _r(_r2(y, pred)),
        "pearson": _r(_pearson(y, pred)),
        "spearman": _r(_pearson(_ranks(y), _ranks(pred))),
        "mean_true": _r(y.mean()),
        "mean_predicted": _r(pred.mean()),
    }


def _mean(values: list[float]) -> float:
    """The mean over targets; nan when no target has the value (no warning)."""
    found = [v for v in values if v == v]
    return _r(np.mean(found)) if found else float("nan")


def regression_metrics(y: np.ndarray, pred: np.ndarray, names: list[str]) -> dict[str, Any]:
    """Each target's metrics, and their mean over targets as the headline values."""
    y, pred = _columns(y), _columns(pred)
    per_target = {name: target_metrics(y[:, j], pred[:, j]) for j, name in enumerate(names)}
    out: dict[str, Any] = {
        key: _mean([t[key] for t in per_target.values()])
        for key in ("rmse", "mae", "r2", "pearson", "spearman")
    }
    out["per_target"] = per_target
    return out


def _weighted_corr(W: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    n = W.sum(1)
    ma, mb = (W @ a) / n, (W @ b) / n
    cov = (W @ (a * b)) / n - ma * mb
    va = (W @ (a * a)) / n - ma**2
    vb = (W @ (b * b)) / n - mb**2
    den = np.sqrt(np.clip(va, 0, None) * np.clip(vb, 0, None))
    return np.divide(cov, den, out=np.full_like(cov, np.nan), where=den > 0)


def resampled_scores(W: np.ndarray, y: np.ndarray, pred: np.ndarray) -> dict[str, np.ndarray]:
    """Every resample's headline regression metrics, averaged over targets as regression_metrics does."""
    y, pred = _columns(y), _columns(pred)
    n = W.sum(1)
    found: dict[str, list[np.ndarray]] = {k: [] for k in ("rmse", "mae", "r2", "pearson", "spearman")}
    ry, rp = _ranks(y), _ranks(pred)
    for j in range(y.shape[1]):
        t, p = y[:, j], pred[:, j]
        sse = W @ ((p - t) ** 2)
        mean_t = (W @ t) / n
        sst = W @ (t**2) - n * mean_t**2
        found["rmse"].append(np.sqrt(sse / n))
        found["mae"].append((W @ np.abs(p - t)) / n)
        found["r2"].append(np.divide(sse, sst, out=np.full_like(sse, np.nan), where=sst > 0) * -1 + 1)
        found["pearson"].append(_weighted_corr(W, t, p))
        found["spearman"].append(_weighted_corr(W, ry[:, j], rp[:, j]))
    with warnings.catch_warnings():  # a constant predictor's correlation is nan in every resample
        warnings.simplefilter("ignore", RuntimeWarning)
        return {k: np.nanmean(np.stack(v), axis=0) for k, v in found.items()}
