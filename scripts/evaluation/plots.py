"""Matplotlib figures saved as PNG (Agg backend: no screen needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def training_curves(history: pd.DataFrame, metric: str, path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.4))
    for column, style in (("train_loss", "o-"), ("eval_loss", "s-")):
        if column in history:
            left.plot(history["epoch"], history[column], style, label=column.replace("_", " "))
    left.set(xlabel="epoch", ylabel="loss", title="Loss")
    left.legend()
    if not len(history):  # k-fold shipped the frozen probe: nothing was fine-tuned
        right.text(0.5, 0.5, "not fine-tuned:\nthe frozen probe won\nout of fold", ha="center", va="center")
    elif metric in history:
        right.plot(history["epoch"], history[metric], "o-", color="tab:green")
        best = history[metric].idxmax()
        right.scatter(
            [history["epoch"][best]],
            [history[metric][best]],
            s=120,
            facecolors="none",
            edgecolors="k",
            label="best (kept)",
        )
        right.legend()
    right.set(xlabel="epoch", ylabel=metric, title=f"Validation {metric}")
    return _save(fig, path)


def confusion_matrix(matrix: Sequence[Sequence[int]], labels: list[str], path: Path, top: int = 15) -> Path:
    """Row-normalised confusion matrix; with many classes only the `top` most frequent are drawn."""
    m = np.asarray(matrix, dtype=float)
    keep = np.argsort(-m.sum(axis=1))[:top] if len(labels) > top else np.arange(len(labels))
    m = m[np.ix_(keep, keep)]
    norm = m / np.maximum(m.sum(axis=1, keepdims=True), 1)
    names = [labels[i] for i in keep]
    size = max(3.5, 0.45 * len(names) + 1.5)
    fig, ax = plt.subplots(figsize=(size + 1, size))
    image = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            ax.text(
                j,
                i,
                f"{norm[i, j]:.2f}\n({int(m[i, j])})",
                ha="center",
                va="center",
                fontsize=7,
                color="white" if norm[i, j] > 0.5 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted", ylabel="true", title="Confusion matrix (row-normalised)")
    fig.colorbar(image, ax=ax, fraction=0.046)
    return _save(fig, path)


def roc_pr_curves(curves: dict[str, dict[str, list[float]]], path: Path) -> Path:
    """curves: name -> {fpr, tpr, precision, recall, auc, ap}."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.8))
    for name, c in curves.items():
        left.plot(c["fpr"], c["tpr"], label=f"{name} (AUC {c['auc']:.3f})")
        right.plot(c["recall"], c["precision"], label=f"{name} (AP {c['ap']:.3f})")
    left.plot([0, 1], [0, 1], ":", color="grey")
    left.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC")
    right.set(xlabel="recall", ylabel="precision", title="Precision-recall")
    for ax in (left, right):
        ax.legend(fontsize=7)
    return _save(fig, path)


def per_class_f1(
    per_class: dict[str, dict[str, float]], path: Path, baseline: dict[str, dict[str, float]] | None = None
) -> Path:
    names = sorted(per_class, key=lambda n: -per_class[n]["support"])
    fig, ax = plt.subplots(figsize=(max(5, 0.35 * len(names) + 2), 3.6))
    x = np.arange(len(names))
    width = 0.4 if baseline else 0.8
    ax.bar(x, [per_class[n]["f1"] for n in names], width, label="transformer")
    if baseline:
        ax.bar(x + width, [baseline[n]["f1"] for n in names], width, label="TF-IDF + LR")
        ax.legend()
    ax.set_xticks(x + (width / 2 if baseline else 0), names, rotation=60, ha="right", fontsize=8)
    ax.set(ylabel="F1", ylim=(0, 1), title="Per-class F1 (test)")
    return _save(fig, path)


def threshold_curves(
    grid: Sequence[float],
    curves: list[list[float]],
    thresholds: list[float],
    labels: list[str],
    path: Path,
    top: int = 12,
) -> Path:
    """Validation F1 against the threshold, one line per label, the chosen threshold marked."""
    fig, ax = plt.subplots(figsize=(7, 4))
    order = np.argsort([-max(c) for c in curves])[:top]
    for j in order:
        (line,) = ax.plot(grid, curves[j], label=labels[j], linewidth=1)
        ax.scatter(
            [thresholds[j]],
            [
                curves[j][list(np.round(grid, 2)).index(round(thresholds[j], 2))]
                if round(thresholds[j], 2) in list(np.round(grid, 2))
                else 0
            ],
            color=line.get_color(),
            s=15,
        )
    ax.set(xlabel="threshold", ylabel="validation F1", title=f"Threshold vs F1 (top {len(order)} labels)")
    ax.legend(fontsize=6, ncol=2)
    return _save(fig, path)


def learning_curve(table, metric: str, path: Path) -> None:
    """Median and range over draws of each method's test metric against the labelled rows per class."""
    fig, ax = plt.subplots(figsize=(7, 4.2))
    sizes = list(dict.fromkeys(table["per_class"].astype(str)))
    for method, rows in table.groupby("method", sort=False):
        stats = rows.groupby(rows["per_class"].astype(str), sort=False)[metric].agg(["median", "min", "max"])
        stats = stats.reindex(sizes)
        x = range(len(sizes))
        ax.plot(x, stats["median"], marker="o", label=method)
        ax.fill_between(x, stats["min"], stats["max"], alpha=0.2)
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_xlabel("labelled rows per class")
    ax.set_ylabel(f"test {metric}")
    ax.set_title("How much would more labels buy?")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def regression_plots(
    y: np.ndarray, pred: np.ndarray, names: list[str], scatter: Path, residuals: Path
) -> None:
    """Predicted against true (the diagonal is perfect) and residuals against predicted, one panel a target
    (at most four)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float).reshape(len(y), -1)
    shown = list(range(min(4, y.shape[1])))
    for path, draw in ((scatter, _true_vs_predicted), (residuals, _residual_panel)):
        fig, axes = plt.subplots(1, len(shown), figsize=(4.2 * len(shown), 3.8), squeeze=False)
        for ax, j in zip(axes[0], shown):
            draw(ax, y[:, j], pred[:, j], names[j])
        _save(fig, path)


def _true_vs_predicted(ax, truth: np.ndarray, guess: np.ndarray, name: str) -> None:
    low, high = float(min(truth.min(), guess.min())), float(max(truth.max(), guess.max()))
    ax.scatter(truth, guess, s=8, alpha=0.4)
    ax.plot([low, high], [low, high], ":", color="grey")
    ax.set(xlabel=f"true {name}", ylabel=f"predicted {name}", title="Predicted vs true (test)")


def _residual_panel(ax, truth: np.ndarray, guess: np.ndarray, name: str) -> None:
    ax.scatter(guess, guess - truth, s=8, alpha=0.4)
    ax.axhline(0, ls=":", color="grey")
    ax.set(xlabel=f"predicted {name}", ylabel="predicted - true", title="Residuals (test)")
