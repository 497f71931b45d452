"""Calibration: temperature scaling fitted on the validation split, and how calibrated the test scores are.

One temperature for single-label models (softmax(logits / T)), one per label for multi-label ones
(sigmoid(logit_j / T_j)), each the minimiser of the validation log-loss. Dividing by T never changes a
row's most probable class; thresholds are tuned after it, on the calibrated probabilities, so decisions
stay consistent. Expected calibration error (15 equal-width bins) and the Brier score are reported on
the test split before and after.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

BINS = 15
BOUNDS = (0.05, 20.0)


def activate(logits: np.ndarray, task: str, temperature: float | list[float] | None = None) -> np.ndarray:
    """Probabilities from logits at a temperature (None or 1: as the model gives them)."""
    scaled = logits / np.asarray(temperature if temperature is not None else 1.0, dtype=np.float64)
    if task == "multilabel":
        return 1.0 / (1.0 + np.exp(-scaled))
    shifted = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def _minimise(loss) -> float:
    from scipy.optimize import minimize_scalar

    found = minimize_scalar(lambda log_t: loss(np.exp(log_t)), bounds=np.log(BOUNDS), method="bounded")
    return float(np.exp(found.x))


def fit_temperature(logits: np.ndarray, y: np.ndarray, task: str) -> float | list[float]:
    """The temperature(s) minimising the log-loss of y (ids, or a 0/1 matrix for multi-label)."""
    eps = 1e-12
    if task == "multilabel":
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


def ece(probs: np.ndarray, y: np.ndarray, task: str, bins: int = BINS) -> float:
    """Expected calibration error: |accuracy - confidence| per confidence bin, weighted by the bin's rows.
    Multi-label: every (row, label) probability against whether the label is there."""
    if task == "multilabel":
        confidence, correct = probs.ravel(), y.ravel().astype(float)
    else:
        confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float)
    which = np.minimum((confidence * bins).astype(int), bins - 1)
    total = 0.0
    for b in range(bins):
        rows = which == b
        if rows.any():
            total += rows.mean() * abs(correct[rows].mean() - confidence[rows].mean())
    return round(float(total), 6)


def brier(probs: np.ndarray, y: np.ndarray, task: str) -> float:
    truth = y.astype(float) if task == "multilabel" else np.eye(probs.shape[1])[y]
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
        if task == "multilabel":
            confidence, correct = probs.ravel(), y.ravel().astype(float)
        else:
            confidence, correct = probs.max(axis=1), (probs.argmax(axis=1) == y).astype(float)
        which = np.minimum((confidence * BINS).astype(int), BINS - 1)
        points = [
            (confidence[which == b].mean(), correct[which == b].mean())
            for b in range(BINS)
            if (which == b).any()
        ]
        ax.plot(*zip(*points), marker="o", color=color, label=f"{name} (ECE {ece(probs, y, task):.3f})")
    ax.set(
        xlabel="confidence",
        ylabel="accuracy" if task != "multilabel" else "share of labels present",
        title="Reliability on the test split",
        xlim=(0, 1),
        ylim=(0, 1),
    )
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
