"""The optimism of a k-fold run's out-of-fold score, measured and removed. The run chose its epoch (the best
of up to 30) and fitted its thresholds on the same out-of-fold scores it would report, so that score is
the best of many tries on few rows. Bootstrap bias correction (Tsamardinos et al. 2018, "BBC-CV") replays
the whole choice on resamples: each resample of near-copy clusters chooses its epoch (the run's rule: the
selection metric, ties by log-loss) and fits its thresholds on its in-bag rows, then decides its
out-of-bag rows, which took no part in either choice. The metric of all those out-of-bag decisions pooled
(pooled rather than averaged per resample: an F1 of a few dozen rows is biased low) is the estimate; the
optimism is the naive score minus it. The interval is a Bayesian bootstrap of the same clusters (a row
and its near-copies are one unit: they are not independent evidence) around the naive score, its worse end
from a bootstrap with half a row of prior for each label's right and wrong answers (so that a few rows all
answered right do not claim certainty) and its better end from the rows alone (the prior would pull it
under what the rows show, and the model shipped trains on a third more rows than the fold models the
scores come from, so its score falls above theirs more often than below); cross_validated shows the span
of it and of its copy moved by the optimism.

The out-of-bag score errs the other way: each replay chooses on the 63 % of clusters a resample holds, and
a threshold fitted on fewer rows decides worse than the run's, fitted on all. Efron and Tibshirani's
.632+ rule (1997) weighs the two: 0.368 of the naive score and 0.632 of the out-of-bag one when the choice
barely overfits, moving to the out-of-bag score alone as the naive score's lead over it nears its lead over
no information (labels shuffled among the rows: what a model with no signal scores)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

RESAMPLES = 200  # selection replays; each one chooses among every epoch and fits thresholds
SHUFFLES = 20  # label shuffles averaged for the no-information score
IN_BAG = 1 - np.exp(-1)  # 0.632: the share of clusters a resample holds, on average
INTERVAL_RESAMPLES = 2000
LEVEL = 0.90


def cluster_counts(groups: np.ndarray, strata: np.ndarray | None, resamples: int, seed: int) -> np.ndarray:
    """(resamples, rows): how often each row is drawn when whole near-copy clusters are drawn with
    replacement, within strata (a cluster's stratum: its first row's) so every class keeps its count of
    clusters."""
    _, first, cluster = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    n_clusters = len(first)
    stratum = np.zeros(n_clusters, dtype=int) if strata is None else np.asarray(strata)[first]
    rng = np.random.default_rng(seed)
    drawn = np.zeros((resamples, n_clusters))
    for value in np.unique(stratum):
        members = np.flatnonzero(stratum == value)
        picks = members[rng.integers(0, len(members), size=(resamples, len(members)))]
        np.add.at(drawn, (np.arange(resamples)[:, None], picks), 1)
    return drawn[:, cluster]


def row_losses(kind: Any, y: np.ndarray, outputs: np.ndarray) -> np.ndarray:
    """Each row's loss of the selection's tie-break (kfold.log_loss, row by row)."""
    n = len(y)
    if not kind.has_temperature:
        return ((np.asarray(outputs).reshape(n, -1) - np.asarray(y).reshape(n, -1)) ** 2).mean(1)
    return kind.loss_terms(np.clip(kind.activate(outputs), 1e-12, 1 - 1e-12), y).mean(1)


def in_bag_scores(
    W: np.ndarray,
    kind: Any,
    y: np.ndarray,
    outputs: np.ndarray,
    metric: tuple[str, Callable[[np.ndarray, np.ndarray], float]],
    positive: int | None,
) -> np.ndarray:
    """The selection metric of each resample's in-bag rows, at the default decision rule as the epoch is
    chosen; at once where the metric has a resampled form, else resample by resample."""
    from scripts.evaluation.thresholds import tuned_macro_f1_resampled

    name, fn = metric
    activated = kind.activate(outputs)
    if name == "f1_macro_at_tuned_thresholds":  # the multi-label selection metric
        return tuned_macro_f1_resampled(W, y, activated)
    found = kind.resampled(W, y, kind.decide(activated, None, positive), activated, positive)
    if name in found:
        return np.asarray(found[name], dtype=float)
    rows = np.arange(len(y))
    return np.array([fn(y[idx], outputs[idx]) for idx in (np.repeat(rows, w.astype(int)) for w in W)])


def chosen_epochs(scores: np.ndarray, losses: np.ndarray) -> np.ndarray:
    """(epochs, resamples) -> each resample's epoch: the best score, ties by the lowest loss (as
    kfold.best_epoch chooses)."""
    scores = np.nan_to_num(scores, nan=-np.inf)
    tied = scores >= scores.max(axis=0, keepdims=True) - 1e-9
    return np.where(tied, losses, np.inf).argmin(axis=0)


def corrected(
    by_epoch: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    kind: Any,
    names: Sequence[str],
    positive: int | None,
    metric: tuple[str, Callable[[np.ndarray, np.ndarray], float]],
    tuned: bool,
    temperature: Any,
    seed: int = 0,
    resamples: int = RESAMPLES,
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """The headline metrics of the pooled out-of-bag decisions, each made by a selection (epoch, then
    thresholds) replayed on its resample's in-bag rows. `by_epoch`: (epochs, rows, outputs) out-of-fold
    outputs; `tuned`: whether the run fitted a binary threshold (multi-label always fits per-label ones);
    `weights`: each row's weight in the scores (the bias bench's class mix), None for every row once."""
    W = cluster_counts(groups, kind.strata(y), resamples, seed)
    weight = np.maximum(W.sum(1), 1)
    scores = np.stack([in_bag_scores(W, kind, y, e, metric, positive) for e in by_epoch])
    losses = np.stack([W @ row_losses(kind, y, e) / weight for e in by_epoch])
    epochs = chosen_epochs(scores, losses)
    rows = np.arange(len(y))
    pooled_rows, pooled_decided, pooled_outputs = [], [], []
    for e in np.unique(epochs):
        picked = np.flatnonzero(epochs == e)
        outputs = kind.activate(by_epoch[e], temperature) if kind.has_temperature else by_epoch[e]
        cuts = fitted_rules(kind, W[picked], y, outputs, positive, tuned)
        for b, rule in zip(picked, cuts, strict=True):
            out_of_bag = rows[W[b] == 0]
            pooled_rows.append(out_of_bag)
            pooled_decided.append(kind.decide(outputs[out_of_bag], rule, positive))
            pooled_outputs.append(outputs[out_of_bag])
    idx = np.concatenate(pooled_rows)
    return scored(
        kind,
        y[idx],
        np.concatenate(pooled_decided),
        np.concatenate(pooled_outputs),
        names,
        positive,
        None if weights is None else weights[idx],
    )


def scored(
    kind: Any,
    y: np.ndarray,
    decided: np.ndarray,
    outputs: np.ndarray,
    names: Sequence[str],
    positive: int | None,
    weights: np.ndarray | None = None,
) -> dict[str, float]:
    """The headline metrics (make eval's); with row weights, their resampled form (rows counted by weight)."""
    if weights is None:
        found = kind.score(y, decided, outputs, names, positive)
    else:
        found = {k: v[0] for k, v in kind.resampled(weights[None], y, decided, outputs, positive).items()}
    return {k: float(v) for k, v in found.items() if k in kind.headline and v is not None and v == v}


def no_information(
    kind: Any,
    y: np.ndarray,
    decided: np.ndarray,
    outputs: np.ndarray,
    names: Sequence[str],
    positive: int | None,
    weights: np.ndarray | None = None,
    seed: int = 0,
) -> dict[str, float]:
    """The headline metrics of the run's own decisions against its labels shuffled among the rows (a row's
    weight follows its label): what the same answers score when they carry no information about the rows."""
    rng = np.random.default_rng(seed)
    found: dict[str, list[float]] = {}
    for _ in range(SHUFFLES):
        order = rng.permutation(len(y))
        w = None if weights is None else weights[order]
        for m, v in scored(kind, y[order], decided, outputs, names, positive, w).items():
            found.setdefault(m, []).append(v)
    return {m: float(np.mean(v)) for m, v in found.items()}


def weighed(naive: float, out_of_bag: float, none: float | None, lower_is_better: bool) -> float:
    """The .632+ estimate of one metric (Efron & Tibshirani 1997, in score form): the naive and the
    out-of-bag scores weighed by how far the choice overfits, relative to no information."""
    if none is None or not np.isfinite(none):
        return out_of_bag
    sign = -1.0 if lower_is_better else 1.0  # below, higher is better
    a, o, g = sign * naive, sign * out_of_bag, sign * none
    o = max(o, g)  # an out-of-bag score under no information is read as none
    overfit = (a - o) / (a - g) if a > o and a > g else 0.0
    weight = IN_BAG / (1 - (1 - IN_BAG) * min(max(overfit, 0.0), 1.0))
    return sign * ((1 - weight) * a + weight * o)


def fitted_rules(
    kind: Any, W: np.ndarray, y: np.ndarray, outputs: np.ndarray, positive: int | None, tuned: bool
) -> list[list[float] | None]:
    """Each resample's decision rule fitted on its in-bag rows as the run fitted its own: per-label
    thresholds (multi-label, all resamples at once), the binary threshold where the run tuned one."""
    from scripts.evaluation.thresholds import per_label_cuts_resampled, reference_cuts

    if kind.classifies and kind.per_label:
        return [list(row) for row in per_label_cuts_resampled(W, y, outputs)]
    if not (kind.classifies and tuned and positive is not None):
        return [None] * len(W)
    in_bag = [np.repeat(np.arange(len(y)), w.astype(int)) for w in W]
    return [reference_cuts(kind, y[rows], outputs[rows], positive, True) for rows in in_bag]


def cluster_weights(groups: np.ndarray, resamples: int, seed: int) -> np.ndarray:
    """(resamples, rows) Bayesian-bootstrap weights: one Gamma(1) draw a near-copy cluster, shared by its
    rows (Rubin's Bayesian bootstrap over clusters: every cluster in every resample, none duplicated)."""
    _, cluster = np.unique(np.asarray(groups), return_inverse=True)
    draws = np.random.default_rng(seed).gamma(
        1.0, size=(resamples, int(cluster.max()) + 1 if len(cluster) else 0)
    )
    return draws[:, cluster]


RANKING = ("roc_auc", "pr_auc")  # read from the real rows only: a pseudo-row has no meaningful score
PRIOR_WEIGHT = 0.5  # each pseudo-row's Gamma shape: Jeffreys' half a row


def interval(
    kind: Any,
    y: np.ndarray,
    decided: np.ndarray,
    outputs: np.ndarray,
    groups: np.ndarray,
    positive: int | None,
    metrics: Sequence[str],
    seed: int = 0,
    weights: np.ndarray | None = None,
) -> dict[str, list[float]]:
    """LEVEL credible intervals of the scores: a Bayesian bootstrap over near-copy clusters; for classes
    the worse end with half a row of prior for each label's right and wrong answers (kind.prior_rows), the
    better end from the rows alone. A plain bootstrap of 16 rows all answered right says [1, 1]; this says
    about [0.84, 1], as a binomial would."""
    W = cluster_weights(groups, INTERVAL_RESAMPLES, seed)
    if weights is not None:
        W = W * weights[None]
    found = dict(kind.resampled(W, y, decided, outputs, positive))
    tail = (1 - LEVEL) / 2 * 100
    rows_alone = {m: bounds(found[m], tail) for m in metrics if m in found}
    prior = kind.prior_rows(outputs.shape[1]) if kind.classifies else None
    if prior is not None:
        y_p, decided_p, outputs_p = prior
        G = np.random.default_rng(seed + 1).gamma(PRIOR_WEIGHT, size=(len(W), len(y_p)))
        if weights is not None and y.ndim == 1:  # a pseudo-row weighs what a real row of its class does
            per_class = [weights[y == c].mean() if (y == c).any() else 1.0 for c in range(outputs.shape[1])]
            G = G * np.asarray(per_class)[y_p][None]
        with_prior = kind.resampled(
            np.hstack([W, G]),
            np.concatenate([y, y_p]),
            np.concatenate([decided, decided_p]),
            np.concatenate([outputs, outputs_p]),
            positive,
        )
        found.update({m: v for m, v in with_prior.items() if m not in RANKING})
    spans = {m: bounds(found[m], tail) for m in metrics if m in found}
    for m, (lo, hi) in spans.items():  # the better end as the rows alone show it
        alone_lo, alone_hi = rows_alone[m]
        spans[m] = [min(lo, alone_lo), hi] if m in kind.lower_is_better else [lo, max(hi, alone_hi)]
    return spans


def bounds(values: np.ndarray, tail: float) -> list[float]:
    """The equal-tailed percentiles of resampled scores, `tail` percent outside each end."""
    return [float(np.nanpercentile(values, tail)), float(np.nanpercentile(values, 100 - tail))]
