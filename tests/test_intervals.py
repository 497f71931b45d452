"""A regression's prediction interval by predicted range (split conformal, Mondrian): each range of
predicted value holds the level where the errors differ along the scale, small held-out sets keep one
width, and every stage that shows an interval (predict, eval, the card's snippet, ONNX, the app) reads the
ranges the same way."""

from __future__ import annotations

import ast
import json

import numpy as np
import pandas as pd
import pytest

from scripts.evaluation.intervals import (
    LEVEL,
    MIN_RANGE_ROWS,
    conformal_interval,
    coverage,
    half_widths,
    width_words,
)


def heteroscedastic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Predictions over 0..5 whose errors are five times larger in the middle of the scale than at its ends
    (as STS-B's and the VADER sets' residuals are)."""
    rng = np.random.default_rng(seed)
    pred = rng.uniform(0, 5, n)
    return pred + rng.normal(0, 0.2 + 0.8 * np.sin(np.pi * pred / 5), n), pred


def test_each_range_of_predicted_value_holds_the_level_where_one_width_does_not():
    y, pred = heteroscedastic(1000, seed=0)
    found, how = conformal_interval(y, pred)
    assert len(found["widths"][0]) == 5 and "5 ranges" in how
    assert found["widths"][0][2] > 2 * max(found["widths"][0][0], found["widths"][0][4])
    y_new, pred_new = heteroscedastic(40_000, seed=1)
    inside = np.abs(y_new - pred_new) <= half_widths(found, pred_new)[:, 0]
    one_width = np.abs(y_new - pred_new) <= found["half_width"][0]
    fifths = np.digitize(pred_new, [1, 2, 3, 4])
    by_range = [inside[fifths == r].mean() for r in range(5)]
    assert all(LEVEL - 0.04 <= c <= LEVEL + 0.05 for c in by_range), by_range
    assert one_width[fifths == 2].mean() < LEVEL - 0.05 and one_width[fifths == 0].mean() > LEVEL + 0.05
    assert abs(inside.mean() - LEVEL) < 0.02
    assert coverage(y_new, pred_new, found)["covered"] == pytest.approx(inside.mean(), abs=1e-4)


def test_few_held_out_rows_keep_one_width_and_ties_never_leave_a_range_short():
    y, pred = heteroscedastic(2 * MIN_RANGE_ROWS - 1, seed=2)
    found, _ = conformal_interval(y, pred)
    assert found["edges"] == [[]] and found["widths"] == [found["half_width"]]
    assert conformal_interval(y[:5], pred[:5])[0] is None
    tied = np.repeat([1.0, 2.0, 3.0], [300, 60, 300])  # a middle value too rare for a range of its own
    found, _ = conformal_interval(tied + 0.5, tied)
    ranges = np.digitize(tied, found["edges"][0])
    assert np.bincount(ranges).min() >= MIN_RANGE_ROWS
    assert len(found["widths"][0]) == len(found["edges"][0]) + 1


def test_several_targets_get_their_own_ranges_and_an_interval_from_before_ranges_reads_as_one_width():
    y0, p0 = heteroscedastic(800, seed=3)
    y = np.stack([y0, 10 * y0], axis=1)
    found, _ = conformal_interval(y, np.stack([p0, 10 * p0], axis=1))
    assert np.allclose(np.asarray(found["edges"][1]), 10 * np.asarray(found["edges"][0]), rtol=1e-4)
    old = {"level": 0.9, "half_width": [0.5, 2.0]}
    assert np.array_equal(half_widths(old, np.zeros((3, 2))), np.tile([0.5, 2.0], (3, 1)))
    assert width_words(old, 1) == "+- 2"
    words = width_words({"half_width": [1.0], "edges": [[1.5]], "widths": [[0.5, 1.25]]}, 0)
    assert words == "+- 0.5 below 1.5; +- 1.25 from 1.5"


def test_a_damaged_range_table_is_refused(tmp_path):
    from scripts.common.errors import UserError
    from scripts.common.tasks.regression import Regression

    good = {"level": 0.9, "half_width": [1.0], "edges": [[1.0, 2.0]], "widths": [[0.5, 1.0, 0.5]]}
    Regression().validate_meta({"interval": good}, tmp_path / "quickfit.json", 1)
    for bad in ({"edges": [[2.0, 1.0]]}, {"widths": [[0.5, 1.0]]}, {"widths": [[0.5, -1.0, 0.5]]}):
        with pytest.raises(UserError, match="interval"):
            Regression().validate_meta({"interval": {**good, **bad}}, tmp_path / "quickfit.json", 1)


@pytest.mark.slow
def test_training_writes_ranges_that_predict_eval_the_card_onnx_and_the_app_all_read(tiny_model, tmp_path):
    """A regression with enough validation rows for ranges: predict's low/high, eval's predictions and
    coverage, the ONNX predictor, the app and the card's pipeline snippet give each row its range's width."""
    from scripts import app, card, evaluate, export, predict
    from scripts.common.errors import run_cli
    from scripts.model.inference import load_predictor
    from tests.conftest import make_regression_frame
    from tests.helpers import tiny_args, train_run
    from tests.test_tasks import run_snippet

    make_regression_frame(1400).to_csv(tmp_path / "scores.csv", index=False)
    args = tiny_args(tiny_model, tmp_path / "out") + ["validation_size=0.15"]
    run = train_run(tmp_path / "scores.csv", args)
    assert run_cli(evaluate.main, ["--run", str(run)]) == 0
    predictor = load_predictor(run / "model", threads=1)
    interval = predictor.meta["interval"]
    assert len(interval["edges"][0]) >= 1 and len(set(interval["widths"][0])) > 1
    assert interval["method"] == "split conformal by predicted range"
    scored = pd.read_csv(run / "eval" / "predictions.csv")
    width = half_widths(interval, scored["pred_target"].to_numpy())[:, 0]
    np.testing.assert_allclose(scored["high_target"] - scored["pred_target"], width, atol=2e-6)
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    inside = (scored["true_target"] - scored["pred_target"]).abs() <= width + 1e-6
    assert metrics["interval"]["test"]["covered"] == pytest.approx(inside.mean(), abs=1e-3)

    texts = scored["text"].iloc[np.argsort(width)[[0, -1]]].tolist()  # a narrow row and a wide one
    pd.DataFrame({"excerpt": texts}).to_csv(tmp_path / "new.csv", index=False)
    assert run_cli(export.main, ["--run", str(run)]) == 0
    for backend in ("torch", "onnx"):
        out = tmp_path / f"{backend}.csv"
        args = ["--run", str(run), "--input", str(tmp_path / "new.csv"), "--output", str(out)]
        assert run_cli(predict.main, [*args, "--backend", backend]) == 0
        got = pd.read_csv(out)
        np.testing.assert_allclose(got["high"] - got["predicted"], np.sort(width)[[0, -1]], atol=1e-4)
    table, _, _ = app.classifier(predictor)(texts[-1])
    assert table[0][3] - table[0][1] == pytest.approx(np.sort(width)[-1], abs=2e-4)
    assert run_cli(card.main, ["--run", str(run)]) == 0
    card_text = (run / "model" / "README.md").read_text()
    for text, expected in zip(texts, np.sort(width)[[0, -1]]):
        score, low, high = ast.literal_eval(run_snippet(card_text, "## How to use", text, ""))["target"]
        assert high - score == pytest.approx(expected, abs=2e-4)
