"""make curve: every (size, draw, method) point scored on the same test rows, none of which is ever drawn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from scripts import curve
from scripts.common import settings
from scripts.common.errors import UserError, run_cli
from scripts.evaluation import curve_quickfit
from tests.helpers import tiny_args, write_binary_csv, write_multilabel_csv


def test_a_stop_taken_by_an_earlier_run_in_the_process_does_not_stop_the_curve(tiny_model, tmp_path):
    """make train's Ctrl-C handler sets a process-wide stop flag; a curve run later in the same process (a
    notebook, the test session) starts afresh, as make train and make sweep do."""
    from scripts.training.st.patches import STOP

    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    STOP.set()
    args = ["--data", str(csv), "--sizes", "8", "--draws", "1", "--methods", "quickfit", "--name", "s"]
    assert run_cli(curve.main, args + ["--set", *tiny_args(tiny_model, tmp_path / "out")]) == 0
    assert len(pd.read_csv(tmp_path / "out" / "curves" / "s" / "curve.csv")) == 1


def test_first_draw_runs_a_later_draw_alone_with_its_own_seed(tiny_model, tmp_path, monkeypatch):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=30)
    seeds = []
    original = curve.draw

    def spying(pool, dataset, per_class, seed):
        seeds.append(seed)
        return original(pool, dataset, per_class, seed)

    monkeypatch.setattr(curve, "draw", spying)
    args = ["--data", str(csv), "--sizes", "8", "--methods", "tfidf_logreg", "--set"]
    sets = tiny_args(tiny_model, tmp_path / "out")
    assert run_cli(curve.main, ["--draws", "3", "--name", "all", *args, *sets]) == 0
    assert run_cli(curve.main, ["--draws", "1", "--first-draw", "2", "--name", "late", *args, *sets]) == 0
    assert seeds == [42, 43, 44, 44]
    every = pd.read_csv(tmp_path / "out" / "curves" / "all" / "curve.csv")
    late = pd.read_csv(tmp_path / "out" / "curves" / "late" / "curve.csv")
    assert late["draw"].tolist() == [2]
    assert late["accuracy"].tolist() == every.loc[every["draw"] == 2, "accuracy"].tolist()
    assert run_cli(curve.main, ["--first-draw", "-1", *args, *sets]) == 2


def test_the_curve_scores_three_methods_on_rows_no_draw_contains(tiny_model, tmp_path, monkeypatch, capsys):
    csv = write_binary_csv(tmp_path / "b.csv", ham=120, spam=60)
    drawn = []
    original = curve.draw

    frames = []

    def spying(pool, dataset, per_class, seed):
        rows = original(pool, dataset, per_class, seed)
        drawn.append(set(rows["text"]))
        frames.append((rows, dataset))
        return rows

    monkeypatch.setattr(curve, "draw", spying)
    args = ["--data", str(csv), "--sizes", "8,16", "--draws", "2", "--name", "c", "--set"]
    assert run_cli(curve.main, args + tiny_args(tiny_model, tmp_path / "out")) == 0
    said = capsys.readouterr().out
    # each draw's own plan in one line, not the whole training pool's recipe (which no draw trains with)
    assert said.count("quickfit on the draw: ") == 4 and "recipe: " not in said
    assert "model_selection -> validation" in said  # as tiny_args sets it
    folder = tmp_path / "out" / "curves" / "c"
    table = pd.read_csv(folder / "curve.csv")
    assert len(table) == 2 * 2 * 3 and set(table["method"]) == set(curve.METHODS)
    assert table["accuracy"].dropna().between(0, 1).all() and table["rows"].isin([16, 32]).all()
    assert (folder / "curve.png").exists() and "range over draws" in (folder / "curve.md").read_text()
    assert "| 16 | 32 | quickfit |" in (folder / "curve.md").read_text()  # the rows drawn at each size
    assert len(drawn) == 4 and drawn[0] != drawn[1]  # two draws differ
    from scripts import train

    cfg = settings.resolve(
        {**settings.parse_overrides(tiny_args(tiny_model, tmp_path / "out")), "dataset": str(csv)}
    )
    _, splits, _ = train.prepare(cfg)
    assert not set(splits["test"]["text"]) & set().union(*drawn)
    # each TF-IDF point is that method's accuracy on those test rows, recomputed from its draw
    from scripts.evaluation import baselines

    points = table[table["method"] == "tfidf_logreg"].reset_index(drop=True)
    for (rows, dataset), (_, point) in zip(frames, points.iterrows()):
        y = curve.encoded(rows, dataset)
        probs = baselines.tfidf_reference(rows, y, [splits["test"]], dataset.kind, 2)[0]
        truth = curve.encoded(splits["test"], dataset)
        assert point["accuracy"] == pytest.approx(round(float((probs.argmax(1) == truth).mean()), 4))


def prepared(csv, tiny_model, out):
    """The dataset and splits make curve draws from, for a tiny model."""
    from scripts import train

    cfg = settings.resolve({**settings.parse_overrides(tiny_args(tiny_model, out)), "dataset": str(csv)})
    dataset, splits, _ = train.prepare(cfg)
    return dataset, splits


def test_multilabel_draws_are_per_label(tiny_model, tmp_path):

    csv = write_multilabel_csv(tmp_path / "m.csv", 200)
    dataset, splits = prepared(csv, tiny_model, tmp_path / "o")
    rows = curve.draw(splits["train"], dataset, 4, seed=0)
    assert len(rows) == 4 * len(dataset.label_names)


@pytest.mark.parametrize("sizes", ["0", "eight", "8,-1"])
def test_bad_sizes_are_one_line(sizes):
    with pytest.raises(UserError, match="SIZES="):
        curve.parse_sizes(sizes)


def test_a_class_with_fewer_rows_than_asked_gives_all_it_has_and_says_so(tiny_model, tmp_path, capsys):
    """Reuters R8's grain has 37 training rows: 64 per class there takes all 37 of it, and says so."""
    csv = write_binary_csv(tmp_path / "b.csv", ham=120, spam=30)
    dataset, splits = prepared(csv, tiny_model, tmp_path / "o")
    pool = splits["train"]
    spam = int((pool["labels"] == "spam").sum())
    curve.note_short_classes(pool, dataset, 64)
    assert f"64 rows per class: 'spam' has {spam} in the training rows" in capsys.readouterr().out
    rows = curve.draw(pool, dataset, 64, seed=0)
    assert rows["labels"].value_counts().to_dict() == {"ham": 64, "spam": spam}
    assert not rows.duplicated().any()
    curve.note_short_classes(pool, dataset, 8)
    assert "rows per class" not in capsys.readouterr().out


def test_a_draw_carves_validation_as_make_train_carves_it_given_a_test_split():
    """The curve's quickfit decides k-fold on validation carved as make train would carve it: an R8 draw
    at 64 a class (485 rows) leaves 49 validation rows, under k-fold's 50, where a 20 % carve held 97."""
    from scripts.data.dataset import Dataset
    from scripts.data.split import make_splits
    from scripts.training import kfold

    names = [f"topic{i}" for i in range(8)]
    counts = [64] * 7 + [37]  # R8's grain has 37 training rows
    labels = [n for n, c in zip(names, counts) for _ in range(c)]
    rows = pd.DataFrame({"text": [f"row {i} on {n}" for i, n in enumerate(labels)], "labels": labels})
    dataset = Dataset({"train": rows}, names, "multiclass", None)
    carved = curve_quickfit.carve_validation(rows, dataset, 0.1, seed=3)
    test = pd.DataFrame({"text": [f"test on {n}" for n in names], "labels": names})
    made = make_splits(Dataset({"train": rows, "test": test}, names, "multiclass", None), 0.1, 0.1, seed=3)
    assert list(carved["validation"]["text"]) == list(made["validation"]["text"])
    assert len(carved["validation"]) == 49 and len(carved["train"]) == 436
    assert kfold.choose("auto", carved, True, False, 8).method == "kfold"
    wider = curve_quickfit.carve_validation(rows, dataset, 0.2, seed=3)
    assert len(wider["validation"]) == 97
    assert kfold.choose("auto", wider, True, False, 8).method == "validation"


def test_a_curve_point_under_the_validation_minimum_is_chosen_by_k_fold(tiny_model, tmp_path, capsys):
    """quickfit's points go the way make train goes: a draw whose validation is a few rows cross-validates."""
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=40)
    args = ["--data", str(csv), "--sizes", "8", "--draws", "1", "--name", "k", "--set"]
    extra = ["num_train_epochs=2", "model_selection=auto"]
    assert run_cli(curve.main, args + tiny_args(tiny_model, tmp_path / "out") + extra) == 0
    out = capsys.readouterr().out
    assert "k-fold: fold 4 of 4" in out and "-> " in out.split("out-of-fold")[1]
    folder = tmp_path / "out" / "curves" / "k"
    table = pd.read_csv(folder / "curve.csv")
    quickfit = table[table["method"] == "quickfit"].iloc[0]
    assert 0 <= quickfit["accuracy"] <= 1
    # the estimate make eval would show, beside the test score, and what it was computed from
    assert quickfit["estimate_low"] <= quickfit["estimate"] <= quickfit["estimate_high"]
    assert 0 <= quickfit["estimate_naive"] <= 1
    saved = np.load(folder / "estimates" / "8_0_quickfit.npz")
    assert saved["by_epoch"].shape[:2] == (2, len(saved["y"])) and str(saved["task"]) == "binary"
    # the bias bench recomputes both estimates from those scores: the after-column is the curve's own
    from bench import estimate_bias

    (point,) = estimate_bias.rows_of(folder, str(csv), mix=False)
    assert point["after"] == pytest.approx(quickfit["estimate"], abs=1e-4)
    assert point["before"] == pytest.approx(quickfit["estimate_naive"], abs=1e-4)
    assert point["before_low"] <= point["before"] <= point["before_high"]
    # at the test split's class mix the drawn rows (as many of each class) are weighted, not counted once
    y = saved["y"]
    share = np.array([0.8, 0.2])
    weights = estimate_bias.test_mix(y, share)
    assert np.allclose(np.bincount(y, weights=weights) / weights.sum(), share)


def test_setfit_is_an_opt_in_method_scored_on_the_same_rows(tiny_model, tmp_path, capsys):
    csv = write_binary_csv(tmp_path / "b.csv", ham=60, spam=40)
    args = [
        "--data",
        str(csv),
        "--sizes",
        "8",
        "--draws",
        "1",
        "--methods",
        "setfit,tfidf_logreg",
        "--name",
        "s",
    ]
    assert run_cli(curve.main, args + ["--set"] + tiny_args(tiny_model, tmp_path / "out")) == 0
    table = pd.read_csv(tmp_path / "out" / "curves" / "s" / "curve.csv")
    assert list(table["method"]) == ["setfit", "tfidf_logreg"]
    assert table.loc[0, "accuracy"] >= 0 and table.loc[0, "accuracy"] <= 1 and table.loc[0, "seconds"] > 0
    beats = [line for line in capsys.readouterr().out.splitlines() if "SetFit pairs:" in line]
    assert 1 <= len(beats) <= 10 and beats[-1].split("SetFit pairs: ")[1].startswith("40 of 40 batches")


def test_methods_are_read_once_each_whatever_their_case():
    assert curve.parse_methods(" TFIDF_logreg,frozen_probe,tfidf_logreg ") == ["tfidf_logreg", "frozen_probe"]


@pytest.mark.parametrize("methods", ["", "quickfit,svm", " , "])
def test_unknown_methods_are_one_line(methods):
    with pytest.raises(UserError, match="METHODS="):
        curve.parse_methods(methods)


def test_setfit_reference_scores_every_label_for_multilabel(tiny_model, tmp_path):
    from scripts.model.inference import decide

    csv = write_multilabel_csv(tmp_path / "m.csv", 200)
    dataset, splits = prepared(csv, tiny_model, tmp_path / "o")
    rows = curve.draw(splits["train"], dataset, 4, seed=0)
    texts = splits["test"]["text"].tolist()
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    probs, held = curve.reference_probs(
        "setfit", tiny_model, rows, curve.encoded(rows, dataset), splits["test"], dataset, 64, 0
    )
    assert held is None  # SetFit keeps 0.5: out-of-fold scores would cost four more trainings a point
    assert probs.shape == (len(texts), len(dataset.label_names)) and ((probs >= 0) & (probs <= 1)).all()
    assert hf_logging.get_verbosity() == verbosity  # the curve's later fits keep their warnings
    assert decide(probs, "multilabel", [0.5] * len(dataset.label_names), None).shape == probs.shape


def test_multi_label_references_get_thresholds_fitted_on_their_own_out_of_fold_scores(
    tiny_model, tmp_path, monkeypatch
):
    """make curve compares like with like: a reference's per-label cuts come from its out-of-fold scores
    of the drawn rows (as quickfit's come from its own held-out scores), not 0.5."""
    from scripts.evaluation import baselines, thresholds

    csv = write_multilabel_csv(tmp_path / "m.csv", 200)
    dataset, splits = prepared(csv, tiny_model, tmp_path / "o")
    rows = curve.draw(splits["train"], dataset, 8, seed=0)
    y = curve.encoded(rows, dataset)
    seen = []
    original = thresholds.reference_cuts
    monkeypatch.setattr(thresholds, "reference_cuts", lambda *a: seen.append(a) or original(*a))
    y_test = curve.encoded(splits["test"], dataset)
    score, _ = curve.one_point({}, dataset, tiny_model, rows, splits["test"], y_test, "tfidf_logreg", 0, 64)
    ((kind, y_seen, held, _, _),) = seen
    x, _ = baselines.tfidf_features(rows, [])
    assert (y_seen == y).all() and np.allclose(held, baselines.out_of_fold(kind, x, y, y.shape[1]))
    cuts = original(kind, y, held, None, False)
    probs = baselines.tfidf_reference(rows, y, [splits["test"]], kind, y.shape[1])[0]
    expected = kind.score(y_test, kind.decide(probs, cuts, None), probs, dataset.label_names, None)
    assert score == pytest.approx(expected[kind.curve_metric])
