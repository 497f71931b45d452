"""The k-fold estimate's bias correction (scripts/evaluation/selection_bias.py): choosing the best of many
epochs on the scores it then reports is optimistic; replaying the choice on resamples and scoring only the
rows each choice never saw removes that optimism, and keeps a real signal's score."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from scripts.common import tasks
from scripts.evaluation import selection_bias, thresholds
from scripts.evaluation.cross_validated import estimate_from, sentence


def test_whole_near_copy_clusters_are_drawn_together_and_every_class_keeps_its_clusters():
    groups = np.array([0, 0, 0, 1, 2, 2, 3, 4, 5, 6])
    strata = np.array([0, 0, 0, 0, 1, 1, 1, 0, 1, 0])  # clusters 0,1,4,6 of class 0; 2,3,5 of class 1
    W = selection_bias.cluster_counts(groups, strata, 300, seed=1)
    assert (W[:, 0] == W[:, 1]).all() and (W[:, 1] == W[:, 2]).all() and (W[:, 4] == W[:, 5]).all()
    first_rows = [0, 3, 4, 6, 7, 8, 9]
    per_class0 = W[:, [0, 3, 7, 9]].sum(1)
    per_class1 = W[:, [4, 6, 8]].sum(1)
    assert (per_class0 == 4).all() and (per_class1 == 3).all()  # clusters drawn within their class
    assert len({tuple(r) for r in W[:, first_rows]}) > 50  # and not the same resample every time


def test_the_resampled_threshold_rules_equal_the_row_by_row_ones():
    rng = np.random.default_rng(0)
    for trial in range(10):
        y = (rng.random((50, 5)) < 0.3).astype(int)
        probs = np.round(rng.random((50, 5)), 2 if trial % 2 else 6)
        w = rng.integers(0, 3, size=50).astype(float)
        rows = np.repeat(np.arange(50), w.astype(int))
        cuts = thresholds.per_label_cuts_resampled(w[None], y, probs)[0]
        assert np.allclose(cuts, thresholds.tune_per_label(y[rows], probs[rows])[0])
        tuned = thresholds.tuned_macro_f1_resampled(w[None], y, probs)[0]
        assert tuned == pytest.approx(thresholds.tuned_macro_f1(y[rows], probs[rows]))


def _noise_estimate(task: str, n: int, k: int, seed: int = 1) -> tuple[dict, float]:
    """30 epochs of outputs that know nothing of y: any score above chance is the choice's optimism."""
    rng = np.random.default_rng(seed)
    kind = tasks.get(task)
    y = np.tile(np.arange(k), n // k)
    by_epoch = rng.normal(size=(30, n, k)).astype(np.float32)
    positive = 1 if task == "binary" else None
    name, fn = kind.selection(positive)
    best = int(np.argmax([fn(y, e) for e in by_epoch]))
    labels = [f"l{i}" for i in range(k)]
    found = estimate_from(by_epoch[best], by_epoch, np.arange(n), y, kind, labels, positive, None, None, None)
    return found, 1 / k


@pytest.mark.parametrize("task,n,k", [("binary", 40, 2), ("multiclass", 64, 4)])
def test_the_optimism_of_choosing_the_best_of_thirty_noise_epochs_is_removed(task, n, k):
    found, chance = _noise_estimate(task, n, k)
    naive, fair = found["naive"]["accuracy"], found["metrics"]["accuracy"]
    assert naive > chance + 0.1  # the best of 30 coin flips looks like skill
    assert abs(fair - chance) < abs(naive - chance) / 2  # the correction removes most of it
    assert found["method"] == "bootstrap bias-corrected" and found["weighting"] == ".632+"
    # all of the naive score's lead is overfitting here: .632+ leans on the out-of-bag score
    assert abs(fair - chance) < abs(naive - chance) / 3
    low, high = found["intervals"]["accuracy"]
    assert low <= fair <= high and high - low > 0.1  # 40-64 rows: a wide interval, honestly


def test_the_632_plus_rule_weighs_naive_and_out_of_bag_by_how_far_the_choice_overfits():
    weighed = selection_bias.weighed
    assert weighed(0.8, 0.8, 0.5, False) == pytest.approx(0.8)  # no optimism to remove
    # a small lead over the out-of-bag score (a quarter of the lead over no information): weight 0.696
    w = 0.632 / (1 - 0.368 * 0.25)
    assert weighed(0.9, 0.8, 0.5, False) == pytest.approx((1 - w) * 0.9 + w * 0.8, abs=1e-3)
    assert 0.8 < weighed(0.9, 0.8, 0.5, False) < 0.85  # nearer the out-of-bag score than the naive
    assert weighed(0.8, 0.45, 0.5, False) == pytest.approx(0.5)  # out of bag under chance: no information
    rmse = weighed(0.5, 0.6, 1.0, True)  # lower is better: the same rule, mirrored
    assert 0.55 < rmse < 0.6
    assert weighed(0.9, 0.8, None, False) == 0.8  # no no-information score: the out-of-bag score alone


def test_the_no_information_score_is_what_the_answers_score_against_shuffled_labels():
    rng = np.random.default_rng(5)
    kind, y = tasks.get("multiclass"), np.tile(np.arange(4), 50)
    logits = rng.normal(size=(200, 4)) + 3.0 * np.eye(4)[y]
    found = selection_bias.no_information(kind, y, logits.argmax(1), logits, list("abcd"), None)
    assert found["accuracy"] == pytest.approx(0.25, abs=0.04)  # a right answer 9 in 10, shuffled: chance


def test_a_real_signal_chosen_without_a_choice_keeps_its_score():
    """Every epoch the same: no choice to be optimistic about, so the correction moves nothing much."""
    rng = np.random.default_rng(2)
    kind = tasks.get("multiclass")
    y = np.tile(np.arange(3), 40)
    logits = rng.normal(size=(120, 3)) + 2.0 * np.eye(3)[y]  # about 80 % right
    by_epoch = np.stack([logits] * 5).astype(np.float32)
    found = estimate_from(
        by_epoch[0], by_epoch, np.arange(120), y, kind, ["a", "b", "c"], None, None, None, None
    )
    assert found["metrics"]["accuracy"] == pytest.approx(found["naive"]["accuracy"], abs=0.02)
    assert found["naive"]["accuracy"] > 0.6


def test_a_saved_file_from_before_the_correction_is_reported_naive_and_said_so():
    rng = np.random.default_rng(3)
    kind, y = tasks.get("binary"), np.tile([0, 1], 20)
    logits = rng.normal(size=(40, 2)).astype(np.float32)
    found = estimate_from(logits, None, None, y, kind, ["ham", "spam"], 1, None, None, None)
    assert found["method"] == "naive" and found["metrics"] == found["naive"]
    line = sentence({**found, "rows": 40, "folds": 4}, 10, "f1_positive")
    assert "uncorrected" in line and "optimistic" in line and "too few" in line


def test_the_sentence_says_the_correction_the_naive_score_and_the_interval():
    found, _ = _noise_estimate("binary", 40, 2)
    line = sentence({**found, "rows": 40, "folds": 4}, 500, "f1_positive")
    assert "corrected for choosing the epoch and thresholds" in line
    assert f"naive {found['naive']['f1_positive']:.4f}" in line and "90 % interval" in line
    assert "too few" not in line


def test_multi_label_and_regression_estimates_replay_their_own_rules():
    rng = np.random.default_rng(4)
    ml = tasks.get("multilabel")
    y = (rng.random((80, 4)) < 0.3).astype(int)
    by_epoch = (rng.normal(size=(10, 80, 4)) + 1.5 * (2 * y - 1)).astype(np.float32)
    found = estimate_from(
        by_epoch[3], by_epoch, np.arange(80), y, ml, list("abcd"), None, None, [0.5] * 4, None
    )
    assert 0.3 < found["metrics"]["f1_macro"] <= 1 and found["method"] == "bootstrap bias-corrected"
    reg = tasks.get("regression")
    t = rng.normal(size=60).astype(np.float32)
    outs = (t[None, :, None] + rng.normal(scale=0.5, size=(8, 60, 1))).astype(np.float32)
    found = estimate_from(outs[0], outs, np.arange(60), t, reg, ["score"], None, None, None, None)
    assert 0.3 < found["metrics"]["r2"] < 1 and {"pearson", "rmse"} <= set(found["metrics"])


def test_the_probe_penalty_is_chosen_by_out_of_fold_log_loss():
    """Unit-norm embeddings under C=1 are a heavily shrunk probe: a clear signal asks for a weaker
    penalty, noise for the strongest; regression keeps RidgeCV's own choice."""
    from scripts.evaluation.baselines import C_GRID, chosen_c

    rng = np.random.default_rng(5)
    kind = tasks.get("binary")
    y = np.tile([0, 1], 40)
    signal = rng.normal(size=(80, 16)) * 0.05
    signal[:, 0] += np.where(y == 1, 0.2, -0.2)
    c, how = chosen_c(kind, signal, y, 2)
    assert c >= 10 and "lowest 4-fold log-loss" in how and all(f"{g:g}:" in how for g in C_GRID)
    c, _ = chosen_c(kind, rng.normal(size=(80, 16)), y, 2)
    assert c == min(C_GRID)
    c, how = chosen_c(tasks.get("regression"), signal, y.astype(float), 1)
    assert c == 1.0 and "RidgeCV" in how


def test_the_prior_widens_the_worse_end_and_the_rows_alone_give_the_better_end():
    kind = tasks.get("multiclass")
    y = np.repeat(np.arange(8), 8)  # 8 classes, 8 rows each, 7 of each answered right
    decided = y.copy()
    decided[::8] = (y[::8] + 1) % 8
    outputs = np.eye(8)[decided]
    groups = np.arange(len(y))
    naive = selection_bias.scored(kind, y, decided, outputs, [str(c) for c in range(8)], None)["f1_macro"]
    lo, hi = selection_bias.interval(kind, y, decided, outputs, groups, None, ["f1_macro"])["f1_macro"]
    without_prior = copy.copy(kind)
    without_prior.prior_rows = lambda n: None
    alone = selection_bias.interval(without_prior, y, decided, outputs, groups, None, ["f1_macro"])[
        "f1_macro"
    ]
    assert lo < alone[0] < naive < hi == alone[1]
    # every row right: the prior keeps the worse end off 1 (a binomial's), the better end is 1
    right = np.eye(2)[np.tile([0, 1], 8)]
    lo, hi = selection_bias.interval(
        tasks.get("binary"), np.tile([0, 1], 8), np.tile([0, 1], 8), right, np.arange(16), 1, ["accuracy"]
    )["accuracy"]
    assert 0.75 < lo < 0.92 and hi == 1.0
    # a metric where lower is better keeps its better end at the bottom
    ml = tasks.get("multilabel")
    truth = np.tile(np.eye(3, dtype=int), (10, 1))
    lo, hi = selection_bias.interval(
        ml, truth, truth, truth.astype(float), np.arange(30), None, ["hamming_loss"]
    )["hamming_loss"]
    assert lo == 0.0 and hi > 0.0


def test_the_interval_moved_by_the_optimism_stays_within_the_metric_s_range():
    from scripts.evaluation.cross_validated import weighed_estimate

    binary = tasks.get("binary")
    found = weighed_estimate(
        {"accuracy": 0.99},
        {"accuracy": 0.995},
        {"accuracy": 0.5},
        {"accuracy": [0.9, 1.0]},
        binary,
        np.arange(16),
    )
    assert found["intervals"]["accuracy"] == [0.9, 1.0]  # not 1.005
    regression = tasks.get("regression")
    found = weighed_estimate(
        {"rmse": 0.05, "r2": 0.9},
        {"rmse": 0.02, "r2": 0.95},
        {"rmse": 1.0, "r2": 0.0},
        {"rmse": [0.01, 0.2], "r2": [0.8, 0.98]},
        regression,
        np.arange(16),
    )
    assert found["intervals"]["rmse"][0] == 0.0 and found["intervals"]["rmse"][1] == 0.2
    assert found["intervals"]["r2"][1] == 1.0
