"""The frozen probe as a k-fold candidate: scored out of fold on the run's own folds, chosen by the same
rule as the epochs, replayed by the bias correction, and shipped as a plain transformers model when it wins
(never fine-tuned), with the run, the report and the card saying so."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts.common import runs, tasks
from scripts.common.errors import UserError
from scripts.training import kfold, probe_candidate
from tests.conftest import make_frame
from tests.tiny_models import sentence_body


def test_each_rows_output_comes_from_a_probe_fitted_without_its_fold():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(48, 6)).astype(np.float32)
    y = (x[:, 0] + 0.3 * rng.normal(size=48) > 0).astype(int)
    kind = tasks.get("binary")
    folds = [(np.setdiff1d(np.arange(48), held), held) for held in np.array_split(np.arange(48), 4)]
    got = probe_candidate.out_of_fold(x, y, folds, kind, 2, seed=0)
    for train_idx, held in folds:
        weight, bias, how = probe_candidate.fitted_head(x[train_idx], y[train_idx], kind, 2, seed=0)
        assert np.allclose(got[held], x[held] @ weight.T + bias, atol=1e-5)
        assert how.startswith("C=")  # the penalty chosen on the fold's own rows
    # and not from one fitted on every row (which would have seen the held-out fold)
    weight, bias, _ = probe_candidate.fitted_head(x, y, kind, 2, seed=0)
    assert not np.allclose(got, x @ weight.T + bias, atol=1e-3)


def test_a_regression_probe_answers_in_the_datas_units():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(60, 4))
    y = (50 + 10 * x[:, :1] + rng.normal(size=(60, 1))).astype(np.float64)
    weight, bias, _ = probe_candidate.fitted_head(x, y, tasks.get("regression"), 1, seed=0)
    predicted = x @ weight.T + bias
    assert abs(predicted.mean() - 50) < 2 and np.corrcoef(predicted[:, 0], y[:, 0])[0, 1] > 0.9


def selection(per_epoch: list[float], losses: list[float]) -> kfold.Selection:
    by_epoch = np.zeros((len(per_epoch), 5, 2), dtype=np.float32)
    best = kfold.best_epoch(per_epoch, losses)
    return kfold.Selection(
        "kfold",
        "test",
        by_epoch=by_epoch,
        oof_logits=by_epoch[best],
        epoch=best + 1,
        per_epoch=per_epoch,
        losses=losses,
    )


def probe(score: float, loss: float) -> probe_candidate.Probe:
    return probe_candidate.Probe(np.ones((5, 2), dtype=np.float32), score, loss, np.zeros((5, 3)), None, None)


@pytest.mark.parametrize(
    ("probe_score", "probe_loss", "shipped"),
    [(0.9, 0.5, runs.SHIPPED_PROBE), (0.7, 0.1, "fine-tune"), (0.8, 0.2, runs.SHIPPED_PROBE)],
)
def test_the_probe_ships_only_when_it_scores_best_ties_by_log_loss(probe_score, probe_loss, shipped):
    s = selection([0.6, 0.8, 0.75], [0.5, 0.4, 0.3])
    chosen = probe_candidate.compete(s, probe(probe_score, probe_loss), "f1")
    assert chosen.shipped == shipped
    # the correction replays the choice with the probe in it: its outputs are one more candidate
    assert chosen.by_epoch.shape[0] == 4 and np.array_equal(chosen.by_epoch[-1], np.ones((5, 2)))
    expected = chosen.by_epoch[-1] if shipped == runs.SHIPPED_PROBE else s.oof_logits
    assert np.array_equal(chosen.oof_logits, expected)
    assert chosen.chosen_score() == (probe_score if shipped != "fine-tune" else 0.8)


@pytest.fixture(scope="module")
def probe_run(tmp_path_factory):
    """A k-fold run on a tiny mean-pooled sentence-transformers body whose fine-tune cannot learn (a learning
    rate of 1e-9, a fresh head): the probe, which reads the words that give each class away, wins."""
    from tests.helpers import tiny_args, train_run

    root = tmp_path_factory.mktemp("probe_candidate")
    body = sentence_body(root / "body")
    make_frame({"ham": 24, "spam": 16}).to_csv(root / "small.csv", index=False)
    args = tiny_args(body, root / "out") + ["num_train_epochs=2", "learning_rate=1e-9", "probe_start=False"]
    return train_run(root / "small.csv", [a for a in args if a != "model_selection=validation"])


def test_a_winning_probe_ships_as_a_plain_transformers_model_never_fine_tuned(probe_run):
    from transformers import AutoConfig, AutoModelForSequenceClassification

    record = json.loads((probe_run / "run.json").read_text())
    s = record["model_selection"]
    assert s["method"] == "kfold" and s["shipped"] == runs.SHIPPED_PROBE
    assert s["probe_candidate"]["out_of_fold"] > max(s["out_of_fold_by_epoch"])
    assert record["validation_best"] == pytest.approx(s["probe_candidate"]["out_of_fold"])
    assert record["best_epoch"] == 0 and pd.read_csv(probe_run / "history.csv").empty
    # the body with its appended mean layer and the probe's head: loads with every weight, no quickfit code
    config = AutoConfig.from_pretrained(probe_run / "model")
    assert config.num_hidden_layers == 3  # the tiny body's 2 and the mean layer
    model, info = AutoModelForSequenceClassification.from_pretrained(
        probe_run / "model", output_loading_info=True
    )
    assert not info["missing_keys"] and not info["unexpected_keys"]
    # the saved out-of-fold outputs: every epoch's, then the probe's, which is what shipped
    saved = np.load(probe_run / "out_of_fold.npz")
    assert saved["by_epoch"].shape[0] == 3 and np.array_equal(saved["by_epoch"][-1], saved["logits"])
    assert record["calibration"]["fitted_on"] == "out-of-fold"


def test_eval_and_card_say_the_probe_was_shipped(probe_run):
    from scripts import card, evaluate
    from scripts.common.errors import run_cli

    metrics = evaluate.evaluate(probe_run, threads=1)
    estimate = metrics["cross_validated"]
    assert estimate["method"] == "bootstrap bias-corrected"
    assert estimate["probe"] and "(or the frozen probe)" in (probe_run / "eval" / "report.md").read_text()
    assert run_cli(card.main, ["--run", str(probe_run)]) == 0
    text = (probe_run / "model" / "README.md").read_text()
    assert "This model is the frozen probe, not a fine-tune" in text
    from scripts import compare

    assert compare.describe(probe_run)["epochs"] == "frozen probe"  # make compare's leaderboard too


def test_probe_candidate_true_on_a_body_that_cannot_carry_it_is_refused_before_any_fold(tiny_model, tmp_path):
    from scripts import train
    from scripts.common.errors import run_cli

    make_frame({"ham": 24, "spam": 16}).to_csv(tmp_path / "small.csv", index=False)
    args = [a for a in tiny_args_for(tiny_model, tmp_path) if a != "model_selection=validation"]
    argv = ["--data", str(tmp_path / "small.csv"), "--set", *args, "model_selection=kfold"]
    assert run_cli(train.main, [*argv, "probe_candidate=True"]) == 2
    assert not list((tmp_path / "out").glob("small*"))  # nothing published
    cfg = {"probe_candidate": "auto", "model_type": "bert", "model_name": "x", "long_texts": "truncate"}
    assert "not a sentence-transformers body" in probe_candidate.unavailable(cfg, str(tiny_model))
    with pytest.raises(UserError, match="probe_candidate=True needs a mean-pooled"):
        probe_candidate.unavailable({**cfg, "probe_candidate": True}, str(tiny_model))
    assert probe_candidate.unavailable({**cfg, "probe_candidate": False}, str(tiny_model)) == (
        "probe_candidate=False"
    )


def tiny_args_for(model, root):
    from tests.helpers import tiny_args

    return tiny_args(model, root / "out")


@pytest.mark.parametrize("shape", ["multilabel", "regression"])
def test_a_shipped_probe_reloads_exactly_for_every_task_shape(shape, tmp_path):
    """finalise reloads the shipped probe with plain transformers and checks it gives the probe's own outputs
    on every labelled row: multi-label log-odds, and a regression's scores in the data's units (the
    target scale folded into the head)."""
    from scripts.model.inference import load_predictor
    from tests.conftest import make_multilabel_frame, make_regression_frame
    from tests.helpers import tiny_args, train_run

    body = sentence_body(tmp_path / "body")
    if shape == "multilabel":
        make_multilabel_frame(60).to_csv(tmp_path / "d.csv", index=False)
    else:
        make_regression_frame(60).to_csv(tmp_path / "d.csv", index=False)
    args = tiny_args(body, tmp_path / "out") + [
        "num_train_epochs=1",
        "learning_rate=1e-9",
        "probe_start=False",
    ]
    args = [a for a in args if a != "model_selection=validation"] + ["model_selection=kfold"]
    run = train_run(tmp_path / "d.csv", args)
    record = json.loads((run / "run.json").read_text())
    assert record["model_selection"]["shipped"] == runs.SHIPPED_PROBE
    assert record["task"] == ("multilabel" if shape == "multilabel" else "regression")
    predictor = load_predictor(run / "model", 1)
    assert predictor.model.config.num_hidden_layers == 3
