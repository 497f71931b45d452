"""Bootstrap intervals and the paired comparison: the resampled metrics are sklearn's, intervals contain the
point estimate and shrink with more rows, and a paired comparison of a model with itself is a tie."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from scripts.evaluation import uncertainty


def binary_case(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int)
    prob = np.clip(0.35 * y + rng.random(n) * 0.65, 0, 1).round(2)  # overlapping and tied scores
    return y, (prob >= 0.5).astype(int), np.c_[1 - prob, prob]


def test_each_resample_scores_like_sklearn_on_its_rows():
    y, pred, probs = binary_case(300)
    W = uncertainty.resample_counts(y, "binary", 5, seed=3)
    scores = uncertainty.scores(W, "binary", y, pred, probs, 1)
    for b in range(5):
        rows = np.repeat(np.arange(len(y)), W[b].astype(int))
        expected = {
            "accuracy": skm.accuracy_score(y[rows], pred[rows]),
            "f1_positive": skm.f1_score(y[rows], pred[rows]),
            "f1_macro": skm.f1_score(y[rows], pred[rows], average="macro"),
            "mcc": skm.matthews_corrcoef(y[rows], pred[rows]),
            "balanced_accuracy": skm.balanced_accuracy_score(y[rows], pred[rows]),
            "roc_auc": skm.roc_auc_score(y[rows], probs[rows, 1]),
            "pr_auc": skm.average_precision_score(y[rows], probs[rows, 1]),
        }
        for key, value in expected.items():
            assert scores[key][b] == pytest.approx(value, abs=1e-12), key


def test_multilabel_resamples_score_like_sklearn():
    rng = np.random.default_rng(1)
    y = (rng.random((200, 6)) < 0.3).astype(int)
    pred = np.where(rng.random((200, 6)) < 0.8, y, 1 - y)
    W = uncertainty.resample_counts(y, "multilabel", 3, seed=0)
    scores = uncertainty.scores(W, "multilabel", y, pred, None, None)
    for b in range(3):
        rows = np.repeat(np.arange(len(y)), W[b].astype(int))
        for key, average in (
            ("f1_micro", "micro"),
            ("f1_macro", "macro"),
            ("f1_weighted", "weighted"),
            ("f1_samples", "samples"),
        ):
            # samples: a row with no true and no predicted label is a perfect match (zero_division=1)
            expected = skm.f1_score(
                y[rows], pred[rows], average=average, zero_division=int(average == "samples")
            )
            assert scores[key][b] == pytest.approx(expected, abs=1e-12), key
        assert scores["subset_accuracy"][b] == pytest.approx(skm.accuracy_score(y[rows], pred[rows]))
        assert scores["hamming_loss"][b] == pytest.approx(skm.hamming_loss(y[rows], pred[rows]))


def test_stratified_resamples_keep_every_class_count():
    y, _, _ = binary_case(300)
    W = uncertainty.resample_counts(y, "binary", 50, seed=0)
    assert (W @ (y == 1) == (y == 1).sum()).all() and (W.sum(1) == len(y)).all()


def test_intervals_contain_the_estimate_and_shrink_with_more_rows():
    widths = []
    for n in (200, 3200):
        y, pred, probs = binary_case(n, seed=5)
        W = uncertainty.resample_counts(y, "binary", uncertainty.RESAMPLES, seed=0)
        found = uncertainty.intervals(W, "binary", y, pred, probs, 1, ["f1_positive", "accuracy", "roc_auc"])
        point = {
            "f1_positive": skm.f1_score(y, pred),
            "accuracy": skm.accuracy_score(y, pred),
            "roc_auc": skm.roc_auc_score(y, probs[:, 1]),
        }
        for key, (low, high) in found.items():
            assert low <= point[key] <= high, key
        widths.append(found["f1_positive"][1] - found["f1_positive"][0])
    assert widths[1] < widths[0] / 2  # 16x the rows: about a quarter of the width


def test_intervals_are_stable_to_the_third_decimal():
    y, pred, probs = binary_case(454, seed=2)
    a, b = (
        uncertainty.intervals(
            uncertainty.resample_counts(y, "binary", uncertainty.RESAMPLES, seed=s),
            "binary",
            y,
            pred,
            probs,
            1,
            ["f1_positive"],
        )["f1_positive"]
        for s in (0, 1)
    )
    assert max(abs(a[0] - b[0]), abs(a[1] - b[1])) < 0.006  # two seeds agree to about the third decimal


def test_paired_bootstrap_of_a_model_with_itself_is_a_tie_and_a_better_model_wins():
    y, pred, probs = binary_case(400)
    W = uncertainty.resample_counts(y, "binary", 500, seed=0)
    same = uncertainty.paired(W, "binary", y, (pred, probs), (pred, probs), 1, "f1_positive")
    assert same["difference_interval"] == [0.0, 0.0] and same["ties_share"] == 1.0
    perfect = uncertainty.paired(
        W, "binary", y, (y, np.c_[1 - y, y].astype(float)), (pred, probs), 1, "f1_positive"
    )
    assert perfect["transformer_wins_share"] == 1.0 and perfect["difference_interval"][0] > 0
