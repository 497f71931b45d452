"""Calibration: temperature scaling fitted on the validation split, and how calibrated the test scores are.

One temperature for single-label models (softmax(logits / T)), one per label for multi-label ones
(sigmoid(logit_j / T_j)), each the minimiser of the validation log-loss, applied only where it lowers the
log-loss of validation rows it was not fitted on (held_out_temperature). Dividing by T never changes a
row's most probable class; thresholds are tuned after it, on the calibrated probabilities, so decisions
stay consistent. Expected calibration error (15 equal-width bins) and the Brier score are reported on
the test split before and after.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

BINS = 15
BOUNDS = (0.05, 20.0)


def activate(logits: np.ndarray, task: str, temperature: float | list[float] | None = None) -> np.ndarray:
    """Probabilities from logits at a temperature (None or 1: as the model gives them): the task's own."""
    from scripts.common import tasks

    return tasks.get(task).activate(logits, temperature)


def _kind(task: str) -> Any:
    from scripts.common import tasks

    return tasks.get(task)


def _minimise(loss) -> float:
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(lambda log_t: loss(np.exp(log_t)), bounds=np.log(BOUNDS), method="bounded")
    return float(np.exp(found.x))


def fit_temperature(logits: np.ndarray, y: np.ndarray, task: str) -> float | list[float]:
    """The temperature(s) minimising the log-loss of y (ids, or a 0/1 matrix for multi-label)."""
    eps = 1e-12
    if _kind(task).per_label:
        temperatures = []
        for j in range(y.shape[1]):
            z, t = logits[:, j], y[:, j]

            def bce(temp: float, z=z, t=t) -> float:
                p = np.clip(1 / (1 + np.exp(-z / temp)), eps, 1 - eps)
                return float(-(t * np.log(p) + (1 - t) * np.log(1 - p)).mean())

            temperatures.append(round(_minimise(bce), 4) if 0 < t.sum() < len(t) else 1.0)
        return temperatures

    def nll(temp: float) -> float:
        return float(-np.log(np.clip(activate(logits, task, temp)[np.arange(len(y)), y], eps, 1)).mean())

    return round(_minimise(nll), 4)


MIN_ROWS = 30  # below this many validation rows a fitted temperature is noise (4 rows gave T = 0.05)
FOLDS = 2


def log_odds(probs: np.ndarray) -> np.ndarray:
    """Probabilities -> logits (Simple Transformers' multi-label outputs are sigmoid probabilities)."""
    p = np.clip(np.asarray(probs, dtype=np.float64), 1e-7, 1 - 1e-7)
    return np.log(p / (1 - p))


def log_loss(logits: np.ndarray, y: np.ndarray, task: str, temperature: Any = None) -> np.ndarray:
    """Mean log-loss at a temperature: one number (single-label), or one per label (multi-label)."""
    kind = _kind(task)
    terms = kind.loss_terms(np.clip(activate(logits, task, temperature), 1e-12, 1 - 1e-12), y)
    return terms.mean(axis=0) if kind.per_label else np.array(terms.mean())


def held_out_temperature(
    logits: np.ndarray, y: np.ndarray, task: str, seed: int = 0
) -> tuple[float | list[float] | None, str]:
    """The temperature to apply, or None, with the reason. It is fitted on the validation rows, but kept
    only where it lowers the log-loss of rows it was not fitted on (2-fold cross-fitting): fitted on a
    handful of rows it minimises their loss and nothing else. Multi-label: decided label by label (1.0
    where it does not pay)."""
    if len(y) < MIN_ROWS:
        return None, f"{len(y)} validation rows (< {MIN_ROWS}): a temperature fitted on them would be noise"
    folds = np.random.default_rng(seed).permutation(len(y)) % FOLDS
    fitted_loss, plain_loss = 0.0, 0.0
    for k in range(FOLDS):
        fit_rows, held = folds != k, folds == k
        t = fit_temperature(logits[fit_rows], y[fit_rows], task)
        fitted_loss = fitted_loss + log_loss(logits[held], y[held], task, t) * held.sum()
        plain_loss = plain_loss + log_loss(logits[held], y[held], task) * held.sum()
    gain = plain_loss - fitted_loss  # > 0: the fitted temperature lowered the held-out log-loss
    whole = fit_temperature(logits, y, task)
    if _kind(task).per_label:
        kept = [t if g > 0 else 1.0 for t, g in zip(whole, np.atleast_1d(gain))]
        n = sum(1 for t, g in zip(whole, np.atleast_1d(gain)) if g > 0 and t != 1.0)
        if not n:
            return None, "no label's temperature lowered the held-out (cross-fitted) validation log-loss"
        return kept, f"{n} of {len(kept)} labels' temperatures lowered the held-out validation log-loss"
    if float(gain) <= 0:
        return None, (
            f"T={whole} did not lower the held-out (cross-fitted) validation log-loss "
            f"({float(plain_loss) / len(y):.4f} -> {float(fitted_loss) / len(y):.4f})"
        )
    return whole, (
        f"lowers the held-out (cross-fitted) validation log-loss {float(plain_loss) / len(y):.4f} -> "
        f"{float(fitted_loss) / len(y):.4f}"
    )


def ece(probs: np.ndarray, y: np.ndarray, task: str, bins: int = BINS) -> float:
    """Expected calibration error: |accuracy - confidence| per confidence bin, weighted by the bin's rows.
    Multi-label: every (row, label) probability against whether the label is there."""
    confidence, correct = _kind(task).reliability(probs, y)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.mean() * abs(correct[rows].mean() - confidence[rows].mean())
    return round(float(total), 6)


def brier(probs: np.ndarray, y: np.ndarray, task: str) -> float:
    truth = _kind(task).truth(y, probs.shape[1])
    return round(float(((probs - truth) ** 2).sum(axis=1).mean()), 6)


def reliability_diagram(before: np.ndarray, after: np.ndarray, y: np.ndarray, task: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.6, 4.2))
    ax.plot([0, 1], [0, 1], color="#999999", lw=1, ls="--", label="perfect")
    for probs, name, color in (
        (before, "before", "#dd8452"),
        (after, "after temperature scaling", "#4c72b0"),
    ):
        confidence, correct = _kind(task).reliability(probs, y)
        which = np.minimum((confidence * BINS).astype(int), BINS - 1)
        points = [
            (confidence[which == b].mean(), correct[which == b].mean())
            for b in range(BINS)
            if (which == b).any()
        ]
        ax.plot(*zip(*points), marker="o", color=color, label=f"{name} (ECE {ece(probs, y, task):.3f})")
    ax.set(
        xlabel="confidence",
        ylabel=_kind(task).reliability_axis,
        title="Reliability on the test split",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
