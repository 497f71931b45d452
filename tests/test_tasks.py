"""Pairs of texts and regression, end to end with the tiny model: a pair file, a regression file and a
multi-target regression file each go through train, eval, card, push (dry run), predict, export and the app
with nothing but DATA=; and what makes them right: pairs encoded as the tokenizer's pair (token types), a
regression's scale folded into the saved head, intervals measured on test rows."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts import card, evaluate, export, predict, push
from scripts.common.errors import run_cli
from tests.conftest import make_pair_frame, make_regression_frame
from tests.helpers import tiny_args, train_run


@pytest.fixture(scope="module")
def task_runs(tiny_model, tmp_path_factory):
    """Four tiny runs, each from a file and DATA= alone: question pairs (binary), one score a text (shifted
    far from 0, so only a folded scale can reach it), three scores a text, a similarity score a pair."""
    root = tmp_path_factory.mktemp("tasks")
    files = {
        "pair": make_pair_frame(240),
        "regression": make_regression_frame(240).assign(target=lambda f: f["target"] * 10 + 100),
        "multitarget": make_regression_frame(240, targets=3),
        "pair_regression": make_pair_frame(240, score=True),
    }
    runs = {}
    for name, frame in files.items():
        frame.to_csv(root / f"{name}.csv", index=False)
        args = tiny_args(tiny_model, root / name) + ["num_train_epochs=4", "learning_rate=0.003"]
        args += ["swap_pairs=True"] if name == "pair" else []
        runs[name] = train_run(root / f"{name}.csv", args)
        assert evaluate.main(["--run", str(runs[name])]) == 0
    return runs


def record(run):
    return json.loads((run / "run.json").read_text())


def test_each_file_is_read_as_its_task_and_said(task_runs):
    assert (record(task_runs["pair"])["task"], record(task_runs["pair"])["text_pair"]) == ("binary", True)
    assert record(task_runs["pair"])["dataset"]["text_columns"] == ["question1", "question2"]
    assert (record(task_runs["regression"])["task"], record(task_runs["regression"])["labels"]) == (
        "regression",
        ["target"],
    )
    assert record(task_runs["multitarget"])["labels"] == ["cohesion", "syntax", "vocabulary"]
    assert record(task_runs["pair_regression"])["task"] == "regression"
    assert record(task_runs["pair_regression"])["text_pair"] is True
    # swap_pairs=True (the fixture's pair run asks): each training pair also trained swapped, recorded
    assert json.loads((task_runs["pair"] / "config.json").read_text())["flat"]["swap_pairs"] is True
    n_train = sum(record(task_runs["pair"])["counts"]["train"].values())
    steps = pd.read_csv(task_runs["pair"] / "history.csv")["global_step"].iloc[0]
    assert steps >= 2 * n_train // 16  # an epoch of batches of 16 over twice the training rows
    regression_pairs = json.loads((task_runs["pair_regression"] / "config.json").read_text())
    assert regression_pairs["flat"]["swap_pairs"] is False  # auto: the given order


def test_a_pair_is_the_tokenizer_s_pair_input_with_token_types(task_runs):
    """What the saved model reads for a pair is tokenizer(first, second): the second text's tokens are of
    type 1, and swapping the texts changes the input (a joined text would not)."""
    from scripts.model.inference import load_predictor

    predictor = load_predictor(task_runs["pair"] / "model", threads=1)
    first, second = "free cash prize now", "see you at dinner"
    encoded = predictor.tokenizer(first, second)
    assert 1 in encoded["token_type_ids"] and encoded["token_type_ids"][0] == 0
    logits = predictor.predict_logits([(first, second), (second, first)])
    assert not np.allclose(logits[0], logits[1])
    with pytest.raises(Exception, match="reads pairs of texts"):
        predictor.predict_logits([first])


def test_a_regression_head_outputs_the_data_s_units(task_runs):
    """The scale is folded into the head: a plain transformers load gives the scores predict gives, around
    the training targets' mean of about 100, and quickfit.json carries a 90 % interval."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from scripts.model.inference import load_predictor

    run = task_runs["regression"]
    predictor = load_predictor(run / "model", threads=1)
    test = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False)
    scores = predictor.predict_proba(test["text"].tolist())[:, 0]
    model = AutoModelForSequenceClassification.from_pretrained(run / "model").eval()
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    with torch.no_grad():
        plain = model(**tokenizer(test["text"].tolist()[:5], padding=True, return_tensors="pt")).logits
    np.testing.assert_allclose(plain[:, 0].numpy(), scores[:5], atol=1e-4)
    assert model.config.problem_type == "regression" and model.config.id2label == {0: "target"}
    truth = np.array([json.loads(v)[0] for v in test["labels"]])
    assert abs(scores.mean() - truth.mean()) < 5 and 85 < scores.mean() < 115
    meta = json.loads((run / "model" / "quickfit.json").read_text())
    assert meta["interval"]["level"] == 0.9 and meta["interval"]["half_width"][0] > 0


@pytest.mark.parametrize("name", ["regression", "multitarget", "pair_regression"])
def test_regression_evaluation_has_intervals_references_and_coverage(task_runs, name):
    report = json.loads((task_runs[name] / "eval" / "metrics.json").read_text())
    ours = report["results"]["transformer"]
    for metric in ("pearson", "spearman", "rmse", "mae", "r2"):
        low, high = ours["intervals"][metric]
        assert low <= ours[metric] <= high, metric
    assert {"tfidf_logreg", "frozen_probe", "majority_class"} <= set(report["results"])
    assert report["paired_bootstrap"]["metric"] == "r2"
    coverage = report["interval"]["test"]
    assert coverage["rows"] == report["data"]["rows"] and 0 <= coverage["covered"] <= 1
    assert len(report["errors"]["largest_errors"]) == min(10, report["data"]["rows"])
    assert report["results"]["majority_class"]["r2"] <= 0.01  # the training mean explains nothing new
    assert (task_runs[name] / "eval" / "predicted_vs_true.png").exists()


def test_pair_classification_keeps_the_classification_evaluation(task_runs):
    report = json.loads((task_runs["pair"] / "eval" / "metrics.json").read_text())
    assert {"mcc", "f1_positive", "accuracy"} <= set(report["results"]["transformer"])
    assert "shared_texts" in record(task_runs["pair"])["dataset"]["leakage"]["pairs"]["train-test"]


@pytest.mark.parametrize("name", ["pair", "regression", "multitarget", "pair_regression"])
def test_card_push_predict_export_and_the_app_work_for_every_task(task_runs, name, tmp_path, capsys):
    from scripts import app
    from scripts.model.inference import load_predictor

    run = task_runs[name]
    assert run_cli(card.main, ["--run", str(run)]) == 0
    card_text = (run / "model" / "README.md").read_text()
    assert run_cli(push.main, ["--run", str(run), "--repo", "me/model", "--dry-run"]) == 0
    assert "model.safetensors" in capsys.readouterr().out
    test = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False).head(6)
    columns = ["question1", "question2"] if record(run)["text_pair"] else ["excerpt"]
    source = test.rename(columns={"text": columns[0], "text_b": columns[-1]})[columns]
    source.to_csv(tmp_path / "new.csv", index=False)
    args = ["--run", str(run), "--input", str(tmp_path / "new.csv"), "--backend", "torch"]
    assert run_cli(predict.main, [*args, "--output", str(tmp_path / "torch.csv")]) == 0
    assert run_cli(export.main, ["--run", str(run)]) == 0
    args[-1] = "onnx"
    assert run_cli(predict.main, [*args, "--output", str(tmp_path / "onnx.csv")]) == 0
    by_torch, by_onnx = pd.read_csv(tmp_path / "torch.csv"), pd.read_csv(tmp_path / "onnx.csv")
    predictor = load_predictor(run / "model", threads=1)
    rows = predictor.rows(
        list(zip(test["text"], test["text_b"])) if predictor.pair else test["text"].tolist()
    )
    expected = predictor.predict_proba(rows)
    if predictor.kind.classifies:
        assert "mcc" in card_text.lower() or "MCC" in card_text
        got = by_torch[[f"prob_{label}" for label in predictor.labels]].to_numpy()
    else:
        assert "pearsonr" in card_text and "prediction interval" in card_text
        names = predictor.labels
        got = by_torch[["predicted"] if len(names) == 1 else [f"predicted_{n}" for n in names]].to_numpy()
        low = by_torch["low" if len(names) == 1 else f"low_{names[0]}"].to_numpy()
        width = predictor.meta["interval"]["half_width"][0]
        np.testing.assert_allclose(got[:, 0] - low, width, atol=1e-5)
    np.testing.assert_allclose(got, expected, atol=1e-5)
    pd.testing.assert_frame_equal(by_torch, by_onnx, atol=1e-4)
    shown, words, _ = app.classifier(predictor)(*(rows[0] if predictor.pair else (rows[0],)))
    assert words and shown is not None and (predictor.kind.classifies or len(shown) == len(predictor.labels))
    app.build_app(run, threads=1, backend="torch")  # both text boxes, or a score table, built


def test_a_pair_model_refuses_a_file_without_both_texts(task_runs, tmp_path, capsys):
    pd.DataFrame({"question1": ["a b c"]}).to_csv(tmp_path / "one.csv", index=False)
    args = ["--run", str(task_runs["pair"]), "--input", str(tmp_path / "one.csv"), "--backend", "torch"]
    assert run_cli(predict.main, args) == 2
    err = capsys.readouterr().err
    assert "the pair's text columns" in err and "question2" in err and "Traceback" not in err


@pytest.mark.parametrize("kind", ["regression", "pair"])
def test_small_data_selects_by_k_fold_for_pairs_and_regression(tiny_model, tmp_path, kind):
    """Under 50 carved validation rows: 4-fold selection (a regression fold standardises with its own rows
    and its out-of-fold scores come back in the data's units), then the model on all labelled rows."""
    frame = make_regression_frame(60) if kind == "regression" else make_pair_frame(60)
    frame.to_csv(tmp_path / "small.csv", index=False)
    args = [a for a in tiny_args(tiny_model, tmp_path / "out") if not a.startswith("model_selection")]
    run = train_run(tmp_path / "small.csv", args + ["num_train_epochs=2"])
    selection = record(run)["model_selection"]
    assert selection["method"] == "kfold" and selection["folds"] == 4
    report = evaluate.evaluate(run, threads=1)
    assert report["cross_validated"]["rows"] == selection["rows"]
    if kind == "regression":  # out-of-fold scores in the data's units, their interval from them
        meta = json.loads((run / "model" / "quickfit.json").read_text())
        assert meta["interval"]["fitted_on"] == "out-of-fold"
        assert -5 < report["cross_validated"]["metrics"]["r2"] <= 1


@pytest.mark.parametrize("name", ["regression", "pair"])
def test_curve_sweep_and_compare_work_for_pairs_and_regression(
    tiny_model, task_runs, tmp_path, name, monkeypatch
):
    from scripts import compare, curve, sweep
    from scripts.common import settings

    frame = make_regression_frame(160) if name == "regression" else make_pair_frame(160)
    frame.to_csv(tmp_path / "d.csv", index=False)
    sets = tiny_args(tiny_model, tmp_path / "out")
    args = ["--data", str(tmp_path / "d.csv"), "--sizes", "16", "--draws", "1", "--name", "c", "--set", *sets]
    assert run_cli(curve.main, args) == 0
    table = pd.read_csv(tmp_path / "out" / "curves" / "c" / "curve.csv")
    metric = "r2" if name == "regression" else "accuracy"
    assert set(table["method"]) == {"quickfit", "frozen_probe", "tfidf_logreg"} and metric in table
    assert table[metric].notna().all()
    cfg = settings.resolve({**settings.parse_overrides(sets), "dataset": str(tmp_path / "d.csv")})
    folder = sweep.run_sweep(cfg, trials=1, name="s", retrain=False)
    assert (folder / "best.json").exists()
    groups = compare.leaderboard([task_runs[name]])
    (row,) = next(iter(groups.values()))
    lead = "r2" if name == "regression" else "f1_positive"
    assert row["headline"] == lead and row["test"] is not None


def run_snippet(card_text: str, section: str, first: str, second: str) -> str:
    """The card's snippet under `section` on (first, second) instead of its examples: its last line."""
    import re
    import subprocess
    import sys

    from tests.conftest import PROJECT

    snippet = re.search(re.escape(section) + r".*?```python\n(.*?)```", card_text, re.S).group(1)
    snippet = snippet.replace('"Your second text here"', json.dumps(second))
    snippet = snippet.replace('"Your text here"', json.dumps(first))
    result = subprocess.run(
        [sys.executable, "-c", snippet], capture_output=True, text=True, cwd=PROJECT, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]


SNIPPETS = [
    pytest.param("pair", "## How to use"),
    pytest.param("regression", "## How to use"),
    pytest.param("pair", "With ONNX Runtime", marks=pytest.mark.slow),
    pytest.param("pair_regression", "## How to use", marks=pytest.mark.slow),
    pytest.param("pair_regression", "With ONNX Runtime", marks=pytest.mark.slow),
    pytest.param("regression", "With Simple Transformers", marks=pytest.mark.slow),
]


@pytest.mark.parametrize(("name", "section"), SNIPPETS)
def test_the_card_s_snippets_give_predict_s_values(task_runs, name, section):
    """The pipeline snippet (a pair as text and text_pair), ONNX Runtime's (a pair as encode(a, b)) and
    Simple Transformers': predict's probabilities, or its scores and their interval."""
    import ast

    from scripts.model.inference import load_predictor

    run = task_runs[name]
    if not (run / "onnx" / "model.onnx").exists():
        assert run_cli(export.main, ["--run", str(run)]) == 0
    assert run_cli(card.main, ["--run", str(run)]) == 0
    card_text = (run / "model" / "README.md").read_text()
    test = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False)
    first, second = test["text"].iloc[0], test["text_b"].iloc[0] if "text_b" in test else ""
    predictor = load_predictor(run / "model", threads=1)
    row = (first, second) if predictor.pair else first
    expected = predictor.predict_proba([row])[0]
    printed = ast.literal_eval(run_snippet(card_text, section, first, second))
    if not predictor.kind.classifies:
        if section == "With Simple Transformers":  # it prints the score
            assert abs(float(np.ravel(printed)[0]) - expected[0]) <= 2e-4
            return
        width = predictor.meta["interval"]["half_width"][0]
        score, low, high = printed[predictor.labels[0]]
        assert abs(score - expected[0]) <= 2e-4 and abs((high - low) - 2 * width) <= 2e-4
        return
    shown = {r["label"]: r["score"] for r in printed}
    for label, p in zip(predictor.labels, expected):
        assert abs(shown[label] - p) <= 2e-4


def test_a_pair_and_its_swap_never_sit_on_both_sides_of_a_split(tmp_path):
    """A pair and its swap in one file: never on both sides of a split (pairs deduplicated as pairs)."""
    from scripts.common import settings
    from scripts.data.prepare import prepare

    frame = make_pair_frame(120)
    test = frame.iloc[:20]
    swapped = test.rename(columns={"question1": "question2", "question2": "question1"})
    train = pd.concat([frame.iloc[20:], swapped], ignore_index=True)
    train.to_csv(tmp_path / "train.csv", index=False)
    cfg = settings.resolve({"dataset": str(tmp_path / "train.csv"), "dedupe": "exact"})
    dataset, splits, _ = prepare(cfg)
    key = dataset.inputs.key
    for part in ("validation", "test"):
        assert not set(key(splits["train"])) & set(key(splits[part]))


def test_the_server_s_api_answers_every_task_as_make_predict_on_both_backends(task_runs, tmp_path):
    """make serve's model worker (in process): two requests batched together, split back, each answer make
    predict's columns for its rows, on PyTorch and on ONNX Runtime."""
    from scripts.serving.api import PairAPI, SingleTextAPI

    for name, run in task_runs.items():
        if not (run / "onnx" / "model.onnx").exists():
            assert run_cli(export.main, ["--run", str(run)]) == 0
        test = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False).head(5)
        pair = record(run)["text_pair"]
        columns = record(run)["dataset"]["text_columns"]
        source = test.rename(columns={"text": columns[0], "text_b": columns[-1]})[columns]
        rows = list(zip(test["text"], test["text_b"])) if pair else test["text"].tolist()
        for backend in ("torch", "onnx"):
            source.to_csv(tmp_path / "rows.csv", index=False)
            out = tmp_path / f"{name}.{backend}.csv"
            predict.predict_file(run, tmp_path / "rows.csv", out, threads=1, backend=backend)
            truth = pd.read_csv(out, keep_default_na=False).drop(columns=columns)
            api = (PairAPI if pair else SingleTextAPI)(run, backend, 1, 16, 0.005)
            api.setup("cpu")
            answers = api.unbatch(api.predict(api.batch([rows[:2], rows[2:]])))
            assert [len(a) for a in answers] == [2, 3]
            got = pd.DataFrame([api.encode_response(a)["predictions"] for a in answers][0] + answers[1])
            assert list(got.columns) == list(truth.columns), name
            if "prob_" in "".join(truth.columns):  # class names: the CSV reads "1" back as a number
                truth["predicted"] = truth["predicted"].astype(str)
            pd.testing.assert_frame_equal(got, truth, check_dtype=False, atol=2e-6)
