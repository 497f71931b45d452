"""Prediction intervals for regression: split conformal, by predicted range. The absolute residuals of rows
the model was not trained on (validation, or out of fold) give, per target, the half-width w such that the
interval prediction +- w covers the truth on a new row with probability at least `level` (the
ceil((n+1) level)-th smallest residual; Vovk et al. 2005, Lei et al. 2018). With enough held-out rows the
rows are split by their predicted value into ranges (quantiles of the held-out predictions) and each range
gets its own width (Mondrian conformal, Bostrom & Johansson 2020): a score near the ends of the scale, where
the model errs less, gets a narrower interval than one in the middle, and the level holds within each range
rather than only on average. `make eval` measures the coverage on test rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LEVEL = 0.9
MAX_RANGES = 5
# held-out rows a range needs: its width is the 72nd of 80 residuals or later, not one row's accident
MIN_RANGE_ROWS = 80


def conformal_interval(y: np.ndarray, pred: np.ndarray, level: float = LEVEL) -> tuple[dict | None, str]:
    """Each target's widths by predicted range (`edges` between ranges, `widths` one a range) and its overall
    `half_width`, or None when there are too few rows for the level, with the reason."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    n = len(y)
    if math.ceil((n + 1) * level) > n:
        return (
            None,
            f"{n} held-out rows cannot bound a {level:.0%} interval (it needs "
            f"{math.ceil(level / (1 - level))} or more)",
        )
    residuals = np.abs(y - pred)
    found = {"half_width": [], "edges": [], "widths": []}
    for j in range(y.shape[1]):
        edges = _range_edges(pred[:, j], min(MAX_RANGES, n // MIN_RANGE_ROWS))
        ranges = np.digitize(pred[:, j], edges)
        found["half_width"].append(_rank_residual(residuals[:, j], level))
        found["edges"].append([round(float(e), 6) for e in edges])
        by_range = [_rank_residual(residuals[ranges == r, j], level) for r in range(len(edges) + 1)]
        found["widths"].append(by_range)
    count = len(found["edges"][0]) + 1
    how = f"split conformal on {n} held-out rows" + (
        f", {count} ranges of predicted value with their own width" if count > 1 else ""
    )
    return found, how


def _range_edges(values: np.ndarray, ranges: int) -> np.ndarray:
    """Edges cutting the held-out predictions into `ranges` equal-count ranges, fewer where ties make a range
    smaller than MIN_RANGE_ROWS."""
    for count in range(max(ranges, 1), 1, -1):
        edges = np.unique(np.quantile(values, np.linspace(0, 1, count + 1)[1:-1]))
        if np.bincount(np.digitize(values, edges), minlength=len(edges) + 1).min() >= MIN_RANGE_ROWS:
            return edges
    return np.array([])


def _rank_residual(residuals: np.ndarray, level: float) -> float:
    rank = math.ceil((len(residuals) + 1) * level)
    return round(float(np.sort(residuals)[min(rank, len(residuals)) - 1]), 6)


def _ranges(interval: dict[str, Any]) -> tuple[list[list[float]], list[list[float]]]:
    """Each target's edges and widths; an interval saved before ranges is one range of its one width."""
    if "edges" not in interval:
        return [[] for _ in interval["half_width"]], [[w] for w in interval["half_width"]]
    return interval["edges"], interval["widths"]


def has_ranges(interval: dict[str, Any] | None) -> bool:
    """Whether the interval's width depends on the predicted value (some target has two ranges or more)."""
    return bool(interval) and any(_ranges(interval)[0])


def half_widths(interval: dict[str, Any], pred: np.ndarray) -> np.ndarray:
    """Each row's half-width per target: the width of the range its prediction falls in."""
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    return np.stack(
        [
            np.asarray(widths, dtype=np.float64)[np.digitize(pred[:, j], np.asarray(edges, dtype=np.float64))]
            for j, (edges, widths) in enumerate(zip(*_ranges(interval)))
        ],
        axis=1,
    )


def coverage(y: np.ndarray, pred: np.ndarray, interval: dict[str, Any]) -> dict[str, Any]:
    """The share of rows whose true value lies inside prediction +- its half-width, per target and overall."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    inside = np.abs(y - pred) <= half_widths(interval, pred)
    return {
        "covered": round(float(inside.mean()), 4),
        "per_target": [round(float(v), 4) for v in inside.mean(axis=0)],
        "rows": int(len(y)),
    }


def width_words(interval: dict[str, Any], target: int) -> str:
    """A target's half-width in words: one number, or each predicted range's (the card, the report)."""
    edges, widths = (found[target] for found in _ranges(interval))
    if not edges:
        return f"+- {widths[0]:.4g}"
    bounds = [f"below {edges[0]:.4g}"]
    bounds += [f"{a:.4g} to {b:.4g}" for a, b in zip(edges, edges[1:])] + [f"from {edges[-1]:.4g}"]
    return "; ".join(f"+- {w:.4g} {where}" for w, where in zip(widths, bounds))
