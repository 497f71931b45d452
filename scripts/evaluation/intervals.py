"""Prediction intervals for regression: split conformal. The absolute residuals of rows the model was not
trained on (validation, or out of fold) give, per target, the half-width w such that the interval
prediction +- w covers the truth on a new row with probability at least `level` (the ceil((n+1) level)-th
smallest residual; Vovk et al. 2005, Lei et al. 2018). `make eval` measures the coverage on test rows."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

LEVEL = 0.9


def conformal_half_width(
    y: np.ndarray, pred: np.ndarray, level: float = LEVEL
) -> tuple[list[float] | None, str]:
    """Each target's half-width, or None when there are too few rows for the level, with the reason."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    n = len(y)
    rank = math.ceil((n + 1) * level)
    if rank > n:
        return (
            None,
            f"{n} held-out rows cannot bound a {level:.0%} interval (it needs "
            f"{math.ceil(level / (1 - level))} or more)",
        )
    residuals = np.sort(np.abs(y - pred), axis=0)
    widths = [round(float(residuals[rank - 1, j]), 6) for j in range(y.shape[1])]
    return widths, f"split conformal on {n} held-out rows: the {rank}-th smallest absolute residual"


def coverage(y: np.ndarray, pred: np.ndarray, half_width: list[float]) -> dict[str, Any]:
    """The share of rows whose true value lies inside prediction +- half-width, per target and overall."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), -1)
    pred = np.asarray(pred, dtype=np.float64).reshape(len(pred), -1)
    inside = np.abs(y - pred) <= np.asarray(half_width)[None, :]
    return {
        "covered": round(float(inside.mean()), 4),
        "per_target": [round(float(v), 4) for v in inside.mean(axis=0)],
        "rows": int(len(y)),
    }
