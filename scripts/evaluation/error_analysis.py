"""Error analysis of an evaluation: the most confident wrong predictions and the most confused label pairs."""

from __future__ import annotations

from typing import Any

import numpy as np

from scripts.common import tasks


def error_analysis(
    texts: list[str],
    y: np.ndarray,
    pred: np.ndarray,
    probs: np.ndarray,
    labels: list[str],
    task: str,
    top: int = 10,
) -> dict[str, Any]:
    """The most confident wrong predictions and the most confused label pairs (a regression: the largest
    errors)."""
    wrong: list[dict[str, Any]] = []
    pairs: dict[tuple[str, str], int] = {}
    kind = tasks.get(task)
    if not kind.classifies:
        return largest_errors(texts, y, pred, labels, top)
    if kind.per_label:
        for i, j in zip(*np.nonzero(pred != y)):
            kind = "false positive" if pred[i, j] else "false negative"
            confidence = probs[i, j] if pred[i, j] else 1 - probs[i, j]
            wrong.append(
                {
                    "text": texts[i],
                    "label": labels[j],
                    "kind": kind,
                    "probability": round(float(probs[i, j]), 4),
                    "confidence": float(confidence),
                }
            )
        for i in range(len(y)):
            for a in np.flatnonzero(y[i] & (1 - pred[i])):
                for b in np.flatnonzero(pred[i] & (1 - y[i])):
                    pairs[(labels[a], labels[b])] = pairs.get((labels[a], labels[b]), 0) + 1
    else:
        for i in np.flatnonzero(pred != y):
            wrong.append(
                {
                    "text": texts[i],
                    "true": labels[y[i]],
                    "predicted": labels[pred[i]],
                    "probability": round(float(probs[i, pred[i]]), 4),
                    "confidence": float(probs[i, pred[i]]),
                }
            )
            key = (labels[y[i]], labels[pred[i]])
            pairs[key] = pairs.get(key, 0) + 1
    wrong.sort(key=lambda w: -w["confidence"])
    for w in wrong:
        w.pop("confidence")
    confused = [
        {"true": a, "predicted": b, "count": n} for (a, b), n in sorted(pairs.items(), key=lambda kv: -kv[1])
    ]
    return {"n_wrong": len(wrong), "confident_wrong": wrong[:top], "confused_pairs": confused[:top]}


def largest_errors(
    texts: list[str], y: np.ndarray, pred: np.ndarray, names: list[str], top: int
) -> dict[str, Any]:
    """A regression's largest errors (each target's error scaled by its spread on these rows, averaged)."""
    y, pred = np.asarray(y, dtype=float), np.asarray(pred, dtype=float).reshape(len(y), -1)
    spread = np.where(y.std(axis=0) > 0, y.std(axis=0), 1.0)
    size = (np.abs(pred - y) / spread).mean(axis=1)
    worst = np.argsort(-size, kind="stable")[:top]
    return {
        "n_wrong": 0,
        "confident_wrong": [],
        "confused_pairs": [],
        "largest_errors": [
            {
                "text": texts[i],
                "true": {n: round(float(y[i, j]), 4) for j, n in enumerate(names)},
                "predicted": {n: round(float(pred[i, j]), 4) for j, n in enumerate(names)},
            }
            for i in worst
        ],
    }
