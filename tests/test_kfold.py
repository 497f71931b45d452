"""Small data: the epoch count chosen by k-fold cross-validation when the carved validation split is a
handful of rows, the final model trained on every labelled row, calibration and thresholds from the
out-of-fold scores, and make eval's cross-validated estimate beside a test split too small to stand alone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from scripts.common import tasks
from scripts.training import kfold
from scripts.training.folds import fold_indices, near_copy_groups
from tests.conftest import make_frame, make_multilabel_frame


def frames(n_train: int, n_val: int) -> dict[str, pd.DataFrame]:
    rows = make_frame({"ham": (n_train + n_val) // 2, "spam": (n_train + n_val) - (n_train + n_val) // 2})
    return {"train": rows.iloc[:n_train], "validation": rows.iloc[n_train:]}


@pytest.mark.parametrize(
    ("setting", "n_train", "n_val", "carved", "distributed", "method"),
    [
        ("auto", 30, 4, True, False, "kfold"),  # 4 validation rows cannot choose an epoch
        ("auto", 900, 100, True, False, "validation"),  # enough validation rows
        ("auto", 2500, 40, True, False, "validation"),  # folds would cost too much
        ("auto", 30, 4, False, False, "validation"),  # the dataset's own validation split
        ("auto", 30, 4, True, True, "validation"),  # NPROC=N
        ("kfold", 900, 100, True, False, "kfold"),
        ("validation", 30, 4, True, False, "validation"),
    ],
)
def test_kfold_is_chosen_when_the_carved_validation_split_is_too_small(
    setting, n_train, n_val, carved, distributed, method
):
    selection = kfold.choose(setting, frames(n_train, n_val), carved, distributed)
    assert selection.method == method and selection.reason


def test_a_validation_split_too_small_for_its_labels_gets_k_fold():
    """89 validation rows choose an epoch for 2 labels, not 28 labels' thresholds."""
    assert kfold.choose("auto", frames(359, 89), True, False, n_labels=2).method == "validation"
    many = kfold.choose("auto", frames(359, 89), True, False, n_labels=28)
    assert many.method == "kfold" and "28 labels" in many.reason
    enough = kfold.MIN_VALIDATION_ROWS_PER_LABEL * 28
    assert kfold.choose("auto", frames(359, enough), True, False, n_labels=28).method == "validation"


@pytest.mark.parametrize("task", ["binary", "multilabel", "regression"])
def test_folds_hold_out_every_row_once_and_keep_the_class_mix(task):
    from scripts.data.dataset import Dataset

    if task == "binary":  # splits name the label column "labels"
        rows = make_frame({"ham": 12, "spam": 8}).rename(columns={"label": "labels"})
        names = ["ham", "spam"]
    elif task == "multilabel":
        rows = make_multilabel_frame(20).assign(labels=lambda f: f["labels"].map(tuple))
        names = ["food", "money", "sport"]
    else:
        rows = pd.DataFrame(
            {"text": [f"t{i}" for i in range(40)], "labels": [(float(i),) for i in range(40)]}
        )
        names = ["score"]
    dataset = Dataset({"all": rows}, names, task, "spam" if task == "binary" else None)
    folds = fold_indices(rows, dataset, seed=0)
    held = np.concatenate([h for _, h in folds])
    assert len(folds) == kfold.FOLDS and sorted(held) == list(range(len(rows)))
    for train, held_out in folds:
        assert not set(train) & set(held_out)
        if task == "binary":
            assert set(rows["labels"].iloc[held_out]) == {"ham", "spam"}  # stratified
        if task == "multilabel":  # iterative stratification: every label is learnt in every fold
            assert {n for v in rows["labels"].iloc[train] for n in v} == set(names)
        if task == "regression":  # by target quantile: each held-out fold spans the range
            values = [v[0] for v in rows["labels"].iloc[held_out]]
            assert min(values) < 8 and max(values) >= 32


SAVED: list[dict] = []  # what each training of kfold_run left in its epoch checkpoints


@pytest.fixture(scope="module")
def kfold_run(tiny_model, tmp_path_factory):
    from scripts.training import fit
    from tests.helpers import tiny_args, train_run

    original = fit._keep_best_epoch

    def recording(model, details, work, checkpoints, *args):
        SAVED.append(
            {
                "kind": model.checkpoint_files,
                "files": {
                    c.name: sorted(f.name for f in c.iterdir()) for c in checkpoints.glob("checkpoint-*")
                },
                "best_folder": (checkpoints / "best").exists(),
            }
        )
        return original(model, details, work, checkpoints, *args)

    root = tmp_path_factory.mktemp("kfold")
    make_frame({"ham": 24, "spam": 16}).to_csv(root / "small.csv", index=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(fit, "_keep_best_epoch", recording)
        return train_run(
            root / "small.csv",
            tiny_args(tiny_model, root / "out") + ["num_train_epochs=4", "model_selection=auto"],
        )


def test_k_fold_trainings_write_only_what_is_read(kfold_run):
    """A fold's epochs keep only their out-of-fold outputs, the final model only its last epoch's
    weights (no optimizer: a k-fold run is not resumed), and no training a second "best" copy."""
    assert [s["kind"] for s in SAVED] == ["outputs"] * kfold.FOLDS + ["last"]
    for fold in SAVED[:-1]:
        assert len(fold["files"]) == 4 and not fold["best_folder"]
        for files in fold["files"].values():
            assert files == ["eval_results.txt", "validation_outputs.npy"]
    final = SAVED[-1]
    epochs = sorted(final["files"], key=lambda name: int(name.rsplit("-", 1)[1]))
    for name in epochs[:-1]:
        assert "model.safetensors" not in final["files"][name]
    assert {"model.safetensors", "validation_outputs.npy"} <= set(final["files"][epochs[-1]])
    assert "optimizer.pt" not in final["files"][epochs[-1]] and not final["best_folder"]


def test_a_small_run_chooses_its_epochs_out_of_fold_and_trains_on_every_labelled_row(kfold_run):
    record = json.loads((kfold_run / "run.json").read_text())
    selection = record["model_selection"]
    assert selection["method"] == "kfold" and selection["folds"] == kfold.FOLDS
    labelled = sum(len(pd.read_csv(kfold_run / "splits" / f"{p}.csv")) for p in ("train", "validation"))
    assert selection["rows"] == labelled
    # the tiny body is no sentence-transformers body: the probe is not a candidate, and the record says why
    assert selection["shipped"] == "fine-tune"
    assert "not a sentence-transformers body" in selection["probe_candidate"]
    by_epoch = selection["out_of_fold_by_epoch"]
    assert len(by_epoch) == 4 and by_epoch[selection["epoch"] - 1] == max(by_epoch)  # a best epoch
    assert record["validation_best"] == pytest.approx(by_epoch[selection["epoch"] - 1])
    history = pd.read_csv(kfold_run / "history.csv")
    assert len(history) == selection["epoch"] == record["best_epoch"]  # the final model ran that many
    calibration = record["calibration"]
    assert calibration["fitted_on"] == "out-of-fold" and calibration["rows"] == labelled
    saved = np.load(kfold_run / "out_of_fold.npz")
    oof = saved["logits"]
    assert oof.shape == (labelled, 2)
    # every epoch's out-of-fold outputs (the bias correction replays the choice) and each row's cluster
    assert saved["by_epoch"].shape == (4, labelled, 2)
    assert np.array_equal(saved["by_epoch"][selection["epoch"] - 1], oof)
    assert saved["groups"].shape == (labelled,)
    # the temperature is the held-out (cross-fitted) rule's decision on exactly these out-of-fold logits
    from scripts.evaluation.calibration import held_out_temperature

    rows = pd.concat([pd.read_csv(kfold_run / "splits" / f"{p}.csv") for p in ("train", "validation")])
    y = (rows["label"] if "label" in rows else rows["labels"]).map({"ham": 0, "spam": 1}).to_numpy()
    seed = json.loads((kfold_run / "config.json").read_text())["flat"]["manual_seed"]
    expected, reason = held_out_temperature(oof, y, "binary", seed)
    assert calibration["temperature"] == expected and calibration["reason"] == reason
    assert not (kfold_run / "folds").exists()


def test_eval_reports_the_cross_validated_estimate_beside_a_tiny_test_split(kfold_run, capsys):
    from scripts import card, evaluate
    from scripts.common.errors import run_cli

    assert run_cli(evaluate.main, ["--run", str(kfold_run)]) == 0
    out = capsys.readouterr().out
    assert "too few for its score to stand alone" in out and "Cross-validated estimate (4-fold" in out
    metrics = json.loads((kfold_run / "eval" / "metrics.json").read_text())
    estimate = metrics["cross_validated"]
    assert estimate["rows"] == json.loads((kfold_run / "run.json").read_text())["model_selection"]["rows"]
    low, high = estimate["intervals"]["f1_positive"]
    assert low <= estimate["metrics"]["f1_positive"] <= high
    assert estimate["method"] == "bootstrap bias-corrected" and estimate["level"] == 0.9
    assert "f1_positive" in estimate["naive"] and "corrected for choosing the epoch" in out
    assert "Cross-validated estimate" in (kfold_run / "eval" / "report.md").read_text()
    assert run_cli(card.main, ["--run", str(kfold_run)]) == 0
    text = (kfold_run / "model" / "README.md").read_text()
    assert "chosen by 4-fold cross-validation" in text and "Cross-validated estimate" in text
    # where the temperature was fitted, in the words of where it was: never "validation" for a k-fold run
    assert "calibrated on the out-of-fold scores of every labelled row" in text
    assert "calibrated on the validation split" not in text
    report = (kfold_run / "eval" / "report.md").read_text()
    assert "fitted on the out-of-fold scores" in report and "fitted on validation" not in report
    # the label audit reads every labelled row's out-of-fold scores: the final model trained on them all
    audit = metrics["label_audit"]
    assert set(audit["flagged"]) == {"test", "train + validation"}
    assert all(not row["split"].startswith("train") for row in audit["top"])  # no training text pushed
    issues = pd.read_csv(kfold_run / "eval" / "label_issues.csv", keep_default_na=False)
    labelled = issues[issues["split"] == "train + validation"]
    assert set(labelled["evidence"]) <= {"out-of-fold fine-tuned models"}


def test_an_interrupted_kfold_run_is_not_kept_for_resume(kfold_run):
    from scripts.train import _resumable
    from scripts.training.plan import Plan

    plan = Plan.__new__(Plan)
    plan.selection = kfold.Selection("kfold", "test")
    assert _resumable(plan)(kfold_run) is False


def test_ties_on_the_score_are_broken_by_the_out_of_fold_log_loss():
    scores = [0.5, 0.9, 0.9, 0.9, 0.8]
    assert kfold.best_epoch(scores, [0.7, 0.5, 0.3, 0.4, 0.1]) == 2  # the tied epoch with the lowest loss
    assert kfold.best_epoch(scores, [0.7, 0.2, 0.3, 0.4, 0.1]) == 1
    y = np.array([0, 1, 1])
    sure = np.array([[3.0, -3.0], [-3.0, 3.0], [-2.0, 2.0]])
    binary = tasks.get("binary")
    assert kfold.log_loss(binary, y, sure) < kfold.log_loss(binary, y, sure / 3)  # same argmax


def test_the_final_model_keeps_the_folds_learning_rate_schedule():
    """Trained for e of the folds' E epochs, the final model's linear schedule is laid out over E epochs
    (the schedule its epoch count was chosen under), not decayed to zero within e."""
    import torch
    from simpletransformers.classification import classification_model as st_module

    from scripts.training.st.patches import stretched_schedule

    def lr_after(steps: int, factor: float) -> float:
        optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
        with stretched_schedule(factor):
            scheduler = st_module.get_linear_schedule_with_warmup(
                optimizer, num_warmup_steps=1, num_training_steps=10
            )
        for _ in range(steps):
            optimizer.step()
            scheduler.step()
        return optimizer.param_groups[0]["lr"]

    assert lr_after(10, 1.0) == pytest.approx(0.0)  # e epochs on their own schedule: decayed to zero
    assert lr_after(10, 3.0) == pytest.approx((30 - 10) / (30 - 3))  # over 3e: two thirds still to go
    assert st_module.get_linear_schedule_with_warmup.__name__ == "get_linear_schedule_with_warmup"


def clustered_rows(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """20 clusters of three near-copies (30 words, the last one changed) and 24 lone texts;
    spam is the rarer class, and 'rare' a class of two lone rows."""
    import random

    rng = random.Random(seed)
    words = ["".join(rng.choice("abcdefghijklmnopqrstuvwxyz") for _ in range(6)) for _ in range(400)]
    texts, labels, cluster = [], [], []
    for c in range(20):
        body = rng.sample(words, 29)
        for _ in range(3):
            texts.append(" ".join(body + [rng.choice(words)]))
            labels.append("spam" if c % 3 == 0 else "ham")
            cluster.append(c)
    for i in range(24):
        texts.append(" ".join(rng.sample(words, 30)))
        labels.append("rare" if i < 2 else ("spam" if i % 2 else "ham"))
        cluster.append(100 + i)
    return pd.DataFrame({"text": texts, "labels": labels}), np.array(cluster)


def test_folds_keep_each_near_copy_cluster_together_and_every_class_stratified():
    from scripts.data.dataset import Dataset

    rows, truth = clustered_rows()
    dataset = Dataset({"all": rows}, ["ham", "rare", "spam"], "multiclass", None)
    groups = near_copy_groups(rows, dataset)
    assert len(np.unique(groups)) == len(np.unique(truth))  # the 20 clusters found, nothing else joined
    assert all(len(set(groups[truth == c])) == 1 for c in np.unique(truth))
    folds = fold_indices(rows, dataset, seed=0, groups=groups)
    assert sorted(np.concatenate([h for _, h in folds])) == list(range(len(rows)))
    for train, held in folds:
        assert not set(truth[train]) & set(truth[held])  # no cluster on both sides
        assert {"ham", "spam"} <= set(rows["labels"].iloc[held])
    assert sum("rare" in set(rows["labels"].iloc[held]) for _, held in folds) == 2  # a class of 2: spread


def test_multi_label_folds_keep_every_label_in_training_and_clusters_together():
    from scripts.data.dataset import Dataset

    rows, truth = clustered_rows(1)
    names = ["a", "b", "c", "d"]
    sets = [("a",) if i % 2 else ("b",) for i in range(len(rows))]
    for i in (60, 61, 62):  # 'c': three lone rows; 'd': one cluster of three
        sets[i] = ("a", "c")
    sets[3:6] = [("b", "d")] * 3
    rows = rows.assign(labels=sets)
    dataset = Dataset({"all": rows}, names, "multilabel", None)
    folds = fold_indices(rows, dataset, seed=0, groups=near_copy_groups(rows, dataset))
    for train, held in folds:
        assert not set(truth[train]) & set(truth[held])
        learnt = {n for v in rows["labels"].iloc[train] for n in v}
        assert {"a", "b", "c"} <= learnt  # c's three rows never all held out together


def test_references_tune_their_thresholds_on_their_own_out_of_fold_scores(kfold_run, monkeypatch):
    """In a k-fold run the references train on every labelled row, as the model does: their thresholds are
    tuned on their own out-of-fold scores of those rows, never on rows they were fitted on."""
    from scripts import evaluate
    from scripts.evaluation import baselines, thresholds

    seen = []
    original = thresholds.binary_threshold

    def spy(y, p, *args, **kwargs):
        seen.append((np.asarray(y).copy(), np.asarray(p).copy()))
        return original(y, p, *args, **kwargs)

    monkeypatch.setattr(thresholds, "binary_threshold", spy)
    rows = evaluate.load_rows(kfold_run, None)
    evaluate.reference_outputs(rows, kfold_run, [0.5])
    assert len(seen) == 2  # TF-IDF and the frozen probe
    tfidf_y, tfidf_p = seen[0]
    assert len(tfidf_y) == len(rows.train) and (tfidf_y == (rows.y_train == rows.positive)).all()
    x, _ = baselines.tfidf_features(rows.train, [])
    assert np.allclose(tfidf_p, baselines.out_of_fold(rows.kind, x, rows.y_train, 2)[:, rows.positive])
    # out of fold: each row scored by a model fitted without it, not the in-sample fit
    in_sample = baselines.fit_linear(rows.kind, x, rows.y_train, [x], 2)[0][:, rows.positive]
    assert not np.allclose(tfidf_p, in_sample, atol=1e-3)


def test_out_of_fold_outputs_come_from_models_fitted_without_the_row():
    from sklearn.model_selection import StratifiedKFold

    from scripts.evaluation import baselines

    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 5))
    y = (x[:, 0] + 0.3 * rng.normal(size=40) > 0).astype(int)
    kind = tasks.get("binary")
    got = baselines.out_of_fold(kind, x, y, 2, seed=0)
    for fit, held in StratifiedKFold(4, shuffle=True, random_state=0).split(np.zeros(40), y):
        expected = baselines.fit_linear(kind, x[fit], y[fit], [x[held]], 2)[0]
        assert np.allclose(got[held], expected)


def test_a_multi_label_k_fold_run_reports_a_corrected_estimate_of_its_tuned_cuts(tiny_model, tmp_path):
    """Per-label thresholds tuned on the same out-of-fold scores they are scored on: the correction replays
    that tuning on every resample (its in-bag rows), and the estimate says so."""
    from scripts import evaluate
    from tests.helpers import tiny_args, train_run, write_multilabel_csv

    csv = write_multilabel_csv(tmp_path / "m.csv", 60)
    args = [a for a in tiny_args(tiny_model, tmp_path / "out") if not a.startswith("model_selection")]
    run = train_run(csv, args + ["num_train_epochs=2", "model_selection=kfold"])
    saved = np.load(run / "out_of_fold.npz")
    assert saved["by_epoch"].shape[0] == 2 and saved["by_epoch"].shape[2] == 3
    estimate = evaluate.evaluate(run, threads=1)["cross_validated"]
    assert estimate["method"] == "bootstrap bias-corrected"
    assert set(estimate["metrics"]) == set(estimate["naive"]) and "f1_macro" in estimate["metrics"]
    low, high = estimate["intervals"]["f1_macro"]
    assert low <= estimate["metrics"]["f1_macro"] <= high
