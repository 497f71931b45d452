"""Temperature scaling: it lowers the calibration error of an over-confident model, keeps every argmax,
and predict, the thresholds and the card use the calibrated probabilities."""

from __future__ import annotations

import json

import numpy as np
import pytest

from scripts.common import runs
from scripts.evaluation import calibration
from scripts.model.inference import load_predictor
from tests.helpers import tiny_args, train_run, write_binary_csv


def overconfident(n: int, k: int, seed: int):
    """Labels drawn from softmax(z), the model reporting softmax(4 z): right on average, far too sure."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 1.2, size=(n, k))
    p = calibration.activate(z, "multiclass")
    y = np.array([rng.choice(k, p=row) for row in p])
    return 4 * z, y


def test_temperature_scaling_lowers_ece_and_keeps_argmax():
    logits_val, y_val = overconfident(2000, 3, seed=0)
    logits_test, y_test = overconfident(2000, 3, seed=1)
    t = calibration.fit_temperature(logits_val, y_val, "multiclass")
    assert 3.0 < t < 5.5  # it finds the factor the scores were inflated by
    before = calibration.activate(logits_test, "multiclass")
    after = calibration.activate(logits_test, "multiclass", t)
    assert calibration.ece(after, y_test, "multiclass") < calibration.ece(before, y_test, "multiclass") / 2
    assert calibration.brier(after, y_test, "multiclass") < calibration.brier(before, y_test, "multiclass")
    assert (after.argmax(1) == before.argmax(1)).all()


def test_multilabel_gets_one_temperature_per_label():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, size=(3000, 3))
    y = (rng.random((3000, 3)) < 1 / (1 + np.exp(-z))).astype(int)
    inflation = np.array([1.0, 3.0, 6.0])
    t = calibration.fit_temperature(z * inflation, y, "multilabel")
    assert np.allclose(t, inflation, rtol=0.2)


def test_predict_and_thresholds_use_the_calibrated_probabilities(tiny_model, tmp_path):
    run = train_run(
        write_binary_csv(tmp_path / "b.csv", 300, 100),
        tiny_args(tiny_model, tmp_path / "o"),
        "tune_binary_threshold=True",
    )
    meta = json.loads((run / "model" / "quickfit.json").read_text())
    record = runs.read_record(run)
    assert (
        isinstance(meta["temperature"], float) and record["calibration"]["temperature"] == meta["temperature"]
    )
    predictor = load_predictor(run / "model", threads=1)
    texts = ["free cash prize now", "see you at dinner tonight"]
    expected = calibration.activate(
        predictor.predict_logits(texts).astype(np.float64), "binary", meta["temperature"]
    )
    assert predictor.predict_proba(texts) == pytest.approx(expected, abs=1e-6)
    # the stored threshold was tuned on calibrated validation probabilities
    from scripts.data.dataset import load_split
    from scripts.evaluation import thresholds

    validation = load_split(runs.split_path(run, "validation"), "binary")
    probs = predictor.predict_proba(validation["text"].tolist())
    y = (validation["labels"] == "spam").to_numpy().astype(int)
    assert thresholds.binary_threshold(y, probs[:, 1])[0] == pytest.approx(meta["thresholds"][0])


def cross_fitted_losses(logits, y, task, seed=0):
    """The held-out log-loss at T = 1 and at the temperature fitted on the other half, summed over 2 folds."""
    folds = np.random.default_rng(seed).permutation(len(y)) % 2
    plain = fitted = 0.0
    for k in range(2):
        t = calibration.fit_temperature(logits[folds != k], y[folds != k], task)
        held = folds == k
        plain += calibration.log_loss(logits[held], y[held], task) * held.sum()
        fitted += calibration.log_loss(logits[held], y[held], task, t) * held.sum()
    return plain, fitted


def test_a_temperature_is_applied_only_where_it_lowers_held_out_log_loss():
    applied = refused = 0
    for seed in range(30):
        rng = np.random.default_rng(seed)
        z = rng.normal(0, 1.5, size=(40, 3))  # a calibrated model on 40 validation rows: T = 1 is right
        y = np.array([rng.choice(3, p=row) for row in calibration.activate(z, "multiclass")])
        t, reason = calibration.held_out_temperature(z, y, "multiclass")
        plain, fitted = cross_fitted_losses(z, y, "multiclass")
        if t is None:
            refused += 1
            assert fitted >= plain and "did not lower" in reason
        else:
            applied += 1
            assert fitted < plain and t == calibration.fit_temperature(z, y, "multiclass")
    assert refused > 0  # on calibrated data the fitted temperature is often noise, and is then refused
    logits, y = overconfident(600, 3, seed=2)
    t, reason = calibration.held_out_temperature(logits, y, "multiclass")
    assert t is not None and t > 2 and "lowers" in reason


def test_a_handful_of_validation_rows_gets_no_temperature():
    logits, y = overconfident(12, 2, seed=0)
    t, reason = calibration.held_out_temperature(logits, y, "binary")
    assert t is None and "12 validation rows" in reason
    assert calibration.fit_temperature(logits, y, "binary") != 1.0  # a fit would have moved it


def test_multilabel_temperatures_are_kept_label_by_label():
    rng = np.random.default_rng(0)
    z = rng.normal(0, 1.5, size=(800, 2))
    y = (rng.random((800, 2)) < 1 / (1 + np.exp(-z))).astype(int)
    t, _ = calibration.held_out_temperature(z * np.array([1.0, 6.0]), y, "multilabel")
    plain, fitted = cross_fitted_losses(z * np.array([1.0, 6.0]), y, "multilabel")
    assert t is not None and t[1] > 3
    assert all((ti == 1.0) == (f >= p) for ti, f, p in zip(t, fitted, plain))
