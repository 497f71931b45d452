"""Rows of mixed lengths cut into runs of similar length, each padded only to its own longest row: used by
training's sub-batches and by every predictor's batches (make predict, eval, the server).

A forward pass costs about a fixed amount plus a cost per token position (padding included), so one batch
of mixed lengths wastes positions on padding and many tiny batches waste passes; the cut below is the one
with the fewest positions plus `pass_cost` positions a pass."""

from __future__ import annotations

import numpy as np


def sub_batches(lengths: np.ndarray, pass_cost: float, max_rows: int | None = None) -> list[np.ndarray]:
    """Row indices in runs, longest first: the cut of the rows sorted by length that minimises token
    positions + pass_cost x passes (exact: dynamic programming), no run longer than max_rows."""
    lengths = np.asarray(lengths)
    order = np.argsort(-lengths, kind="stable")
    longest = lengths[order].astype(np.float64)
    cap = len(order) if max_rows is None else max(1, int(max_rows))
    best = np.zeros(len(order) + 1)
    start = np.zeros(len(order) + 1, dtype=np.int64)
    for end in range(1, len(order) + 1):
        # the last run is rows first..end-1, padded to row first's length (the longest of the run)
        first = max(0, end - cap)
        cost = best[first:end] + pass_cost + (end - np.arange(first, end)) * longest[first:end]
        start[end] = first + int(cost.argmin())
        best[end] = cost[start[end] - first]
    runs, end = [], len(order)
    while end > 0:
        runs.append(order[start[end] : end])
        end = int(start[end])
    return runs[::-1]
