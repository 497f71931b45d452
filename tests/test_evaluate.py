import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from scripts import evaluate
from scripts.common.errors import UserError
from scripts.data.dataset import encode_labels, load_split
from scripts.evaluation import baselines, metrics, thresholds
from scripts.model.inference import load_predictor
from tests.conftest import shared_file
from tests.helpers import tiny_args, train_run, write_binary_csv, write_multilabel_csv


def test_binary_metrics_by_hand():
    # 6 rows, positive = 1: TP=2, FN=1, FP=1, TN=2
    y = np.array([1, 1, 1, 0, 0, 0])
    pred = np.array([1, 1, 0, 1, 0, 0])
    prob = np.array([0.9, 0.8, 0.4, 0.7, 0.2, 0.1])
    m = metrics.binary_metrics(y, pred, prob, 1, ["neg", "pos"])
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    assert m["precision_positive"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["recall_positive"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["f1_positive"] == pytest.approx(2 / 3, abs=1e-6)
    assert m["confusion_matrix"] == [[2, 1], [1, 2]]
    # ROC-AUC by hand: of 9 (pos, neg) pairs, the positive scores higher in 8
    assert m["roc_auc"] == pytest.approx(8 / 9, abs=1e-6)
    assert m["mcc"] == pytest.approx((2 * 2 - 1 * 1) / 9, abs=1e-6)


def test_multiclass_metrics_by_hand():
    y = np.array([0, 0, 1, 1, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0])
    probs = np.eye(3)[pred] * 0.8 + 0.2 / 3
    m = metrics.multiclass_metrics(y, pred, probs, ["a", "b", "c"])
    assert m["accuracy"] == pytest.approx(4 / 6, abs=1e-6)
    # per-class F1: a: p=1/2 r=1/2 -> .5; b: p=2/3 r=1 -> .8; c: p=1 r=1/2 -> 2/3
    assert m["f1_macro"] == pytest.approx((0.5 + 0.8 + 2 / 3) / 3, abs=1e-6)
    assert m["per_class"]["b"]["f1"] == pytest.approx(0.8, abs=1e-6)
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 0], [1, 0, 1]]


def test_multilabel_metrics_by_hand():
    y = np.array([[1, 0], [1, 1], [0, 1]])
    pred = np.array([[1, 0], [1, 0], [1, 1]])
    probs = pred * 0.9 + 0.05
    m = metrics.multilabel_metrics(y, pred, probs, ["x", "y"])
    # micro: TP=3, FP=1, FN=1 -> F1 = 6/8
    assert m["f1_micro"] == pytest.approx(0.75, abs=1e-6)
    assert m["subset_accuracy"] == pytest.approx(1 / 3, abs=1e-6)
    assert m["hamming_loss"] == pytest.approx(2 / 6, abs=1e-6)
    # x: p=2/3 r=1 -> .8; y: p=1 r=1/2 -> 2/3
    assert m["f1_macro"] == pytest.approx((0.8 + 2 / 3) / 2, abs=1e-6)


def test_best_threshold_maximises_f1():
    y = np.array([1, 1, 0, 0, 0])
    scores = np.array([0.35, 0.3, 0.25, 0.1, 0.05])
    t, f1 = thresholds.best_threshold(y, scores)
    assert f1 == 1.0 and 0.25 < t <= 0.3


def test_one_row_better_is_the_best_f1_after_fixing_any_single_row():
    rng = np.random.default_rng(0)
    for _ in range(20):
        y = rng.integers(0, 2, 40)
        scores = np.clip(y * 0.3 + rng.random(40) * 0.7, 0, 1)
        pred = (scores >= 0.5).astype(int)
        fixed = []
        for i in np.flatnonzero(pred != y):  # set one wrong row right, score the rest as they are
            p = pred.copy()
            p[i] = y[i]
            fixed.append(thresholds.f1_at(y, p.astype(float), 0.5))
        assert thresholds.one_row_better(y, scores) == pytest.approx(max(fixed, default=1.0))


def test_binary_threshold_keeps_half_unless_the_gain_is_more_than_one_row():
    y = np.array([1] * 50 + [0] * 50)
    scores = np.r_[np.full(49, 0.9), 0.3, np.full(50, 0.1)]  # a lower cut finds one more positive
    t, f1, reason = thresholds.binary_threshold(y, scores)
    assert thresholds.best_threshold(y, scores)[0] < 0.5 and t == 0.5
    assert f1 == pytest.approx(thresholds.f1_at(y, scores, 0.5)) and "0.5" in reason
    scores[45:50] = 0.3  # five positives below 0.5, all above every negative: a real gain
    t, f1, reason = thresholds.binary_threshold(y, scores)
    assert 0.1 < t <= 0.3 and f1 == 1.0 and reason == ""


def test_tuned_macro_f1_is_the_macro_f1_at_the_tuned_thresholds():
    rng = np.random.default_rng(0)
    y = (rng.random((200, 5)) < [0.5, 0.2, 0.05, 0.3, 0.0]).astype(int)  # the last label has no positive
    probs = np.clip(0.3 * y + rng.random((200, 5)) * 0.8, 0, 1)
    cuts, _ = thresholds.tune_per_label(y, probs)
    expected = skm.f1_score(y, probs >= np.array(cuts), average=None, zero_division=0)
    expected[4] = 0.0  # no positive: counts 0, whatever is predicted
    assert thresholds.tuned_macro_f1(y, probs) == pytest.approx(expected.mean(), abs=1e-9)
    assert thresholds.tuned_macro_f1(y, probs) > skm.f1_score(
        y, probs >= 0.5, average="macro", zero_division=0
    )


def test_collapse_flag_fires_on_a_constant_predictor():
    y = np.array([0] * 8 + [1] * 2)
    constant = np.zeros((10, 2))
    constant[:, 0] = 1
    pred = evaluate.decide(constant, "binary", None, 1)
    model = evaluate.score("binary", y, pred, constant, ["ham", "spam"], 1)
    majority = evaluate.score("binary", y, pred, constant, ["ham", "spam"], 1)
    assert model["accuracy"] == 0.8  # looks fine ...
    collapsed, reason = evaluate.collapse_check("binary", model, majority, pred)
    assert collapsed and "single class" in reason  # ... but is flagged


def sms_sample(rows: int, train_rows: int):
    """A seeded sample of the real SMS spam file (duplicates dropped): train, test and their label ids."""
    path = shared_file("sms_spam", "SMSSpamCollection")
    frame = pd.read_csv(path, sep="\t", header=None, names=["labels", "text"], quoting=3)
    frame = frame.drop_duplicates("text").sample(rows, random_state=0)
    train, test = frame.iloc[:train_rows], frame.iloc[train_rows:]
    encode = lambda f: np.array(encode_labels(f["labels"], ["ham", "spam"], "binary"))  # noqa: E731
    return train, test, encode(train), encode(test)


def test_baseline_on_real_sms_data():
    train, test, y_train, y_test = sms_sample(2000, 1500)
    (probs,) = baselines.tfidf_logreg_proba(train, y_train, [test["text"].tolist()], "binary", 2)
    f1 = skm.f1_score(y_test, probs.argmax(1))
    assert f1 > 0.8  # TF-IDF + LR is a strong spam baseline
    majority = baselines.majority_proba(y_train, len(test), "binary", 2)
    assert (majority.argmax(1) == 0).all()


def test_eval_files_and_metrics_equal_sklearn_on_predictions(binary_run):
    code = evaluate.main(["--run", str(binary_run)])
    assert code == 0
    out = binary_run / "eval"
    for name in (
        "metrics.json",
        "report.md",
        "predictions.csv",
        "confusion_matrix.png",
        "roc_pr.png",
        "per_class_f1.png",
    ):
        assert (out / name).exists(), name
    report = json.loads((out / "metrics.json").read_text())
    preds = pd.read_csv(out / "predictions.csv", keep_default_na=False)
    test = load_split(binary_run / "splits/test.csv", "binary")
    assert list(preds["text"]) == list(test["text"]) and report["data"]["rows"] == len(test)
    y = (preds["true"] == "spam").astype(int)
    p = (preds["predicted"] == "spam").astype(int)
    m = report["results"]["transformer"]
    assert m["f1_positive"] == pytest.approx(skm.f1_score(y, p), abs=1e-6)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, p), abs=1e-6)
    assert m["roc_auc"] == pytest.approx(skm.roc_auc_score(y, preds["prob_spam"]), abs=1e-4)
    assert not report["collapsed"]
    assert report["results"]["majority_class"]["f1_positive"] == 0.0
    assert "Most confident wrong predictions" in (out / "report.md").read_text()


def test_eval_on_another_csv_with_unseen_label_is_an_error(binary_run, tmp_path):
    path = tmp_path / "other.csv"
    pd.DataFrame(
        {"text": ["free cash now", "see you home", "odd one"], "label": ["spam", "ham", "promo"]}
    ).to_csv(path, index=False)
    with pytest.raises(UserError, match="promo"):
        evaluate.evaluate(binary_run, str(path), threads=1)


def test_eval_on_another_labelled_csv_never_feeds_the_card_or_compare(binary_run, tmp_path):
    """`make eval DATA=` writes its own folder; eval/ (card, push, compare) keeps the test split's scores."""
    from scripts import card, compare
    from scripts.common import runs

    evaluate.evaluate(binary_run, threads=1)
    own = json.loads((binary_run / "eval" / "metrics.json").read_text())
    path = write_binary_csv(tmp_path / "fresh.csv", ham=30, spam=10)
    report = evaluate.evaluate(binary_run, str(path), threads=1)
    assert report["data"]["rows"] == 40
    other = runs.eval_dir(binary_run, str(path))
    assert other.name.startswith("eval-fresh-") and (other / "metrics.json").exists()
    assert json.loads((binary_run / "eval" / "metrics.json").read_text()) == own
    assert card.ensure_eval(binary_run)["data"]["rows"] == own["data"]["rows"]
    assert not [p for p in binary_run.iterdir() if ".incomplete" in p.name or ".old-" in p.name]
    # an eval/ that scores other rows (an older version, a hand copy) is never shown as the test score
    (binary_run / "eval" / "metrics.json").write_text((other / "metrics.json").read_text())
    assert runs.test_metrics(binary_run) is None
    assert compare.describe(binary_run)["test"] is None
    assert card.ensure_eval(binary_run)["data"]["sha256"] == own["data"]["sha256"]  # evaluated again


def test_an_interrupted_eval_leaves_the_previous_one_whole(binary_run, monkeypatch):
    evaluate.evaluate(binary_run, threads=1)
    before = {p.name: p.read_bytes() for p in (binary_run / "eval").iterdir()}

    def stop(*args, **kwargs):
        raise KeyboardInterrupt

    from scripts.evaluation import outputs

    monkeypatch.setattr(outputs, "_plots", stop)
    with pytest.raises(KeyboardInterrupt):
        evaluate.evaluate(binary_run, threads=1)
    assert {p.name: p.read_bytes() for p in (binary_run / "eval").iterdir()} == before
    assert not [p for p in binary_run.iterdir() if ".incomplete" in p.name]


def test_binary_threshold_auto_tunes_on_validation_with_enough_positives(tiny_model, tmp_path):
    few = train_run(
        write_binary_csv(tmp_path / "few.csv", ham=300, spam=100), tiny_args(tiny_model, tmp_path / "a")
    )
    assert (
        json.loads((few / "config.json").read_text())["flat"]["tune_binary_threshold"] is False
    )  # 10 positives
    assert not load_predictor(few / "model", threads=1).thresholds
    run = train_run(
        write_binary_csv(tmp_path / "many.csv", ham=600, spam=400), tiny_args(tiny_model, tmp_path / "b")
    )
    assert (
        json.loads((run / "config.json").read_text())["flat"]["tune_binary_threshold"] is True
    )  # 40 positives
    predictor = load_predictor(run / "model", threads=1)
    val = load_split(run / "splits/validation.csv", "binary")
    y_val = (val["labels"] == "spam").to_numpy().astype(int)
    spam = predictor.labels.index("spam")
    again = thresholds.binary_threshold(y_val, predictor.predict_proba(val["text"].tolist())[:, spam])[0]
    assert [again] == predictor.thresholds  # tuned on the validation split, nothing else
    report = evaluate.evaluate(run, threads=1)
    assert report["thresholds"] == {"values": {"spam": again}, "tuned_on": "validation"}
    assert "transformer_at_0.5" in report["results"]
    preds = pd.read_csv(run / "eval" / "predictions.csv")
    assert (
        (preds["prob_spam"] >= again) == (preds["predicted"] == "spam")
    ).all()  # the tuned cut-off decides


def test_multilabel_thresholds_come_from_validation(tiny_model, tmp_path):
    run = train_run(write_multilabel_csv(tmp_path / "ml.csv"), tiny_args(tiny_model, tmp_path / "outputs"))
    record = json.loads((run / "run.json").read_text())
    val = load_split(run / "splits/validation.csv", "multilabel")
    test = load_split(run / "splits/test.csv", "multilabel")
    assert record["thresholds"]["rows"] == len(val)
    predictor = load_predictor(run / "model", threads=1)
    labels = record["labels"]
    y_val = np.array(encode_labels(val["labels"], labels, "multilabel"))
    again, _ = thresholds.tune_per_label(y_val, predictor.predict_proba(val["text"].tolist()))
    assert again == predictor.thresholds  # re-tuning on validation rows reproduces the stored ones
    report = evaluate.evaluate(run, threads=1)
    assert report["data"]["rows"] == len(test)
    assert "transformer_at_0.5" in report["results"] and report["thresholds"]["tuned_on"] == "validation"
    assert (run / "eval" / "thresholds.png").exists()
    preds = pd.read_csv(run / "eval" / "predictions.csv")
    y = preds[[f"true_{n}" for n in labels]].to_numpy()
    p = preds[[f"pred_{n}" for n in labels]].to_numpy()
    assert report["results"]["transformer"]["f1_macro"] == pytest.approx(
        skm.f1_score(y, p, average="macro", zero_division=0), abs=1e-6
    )


def test_eval_reports_the_frozen_probe_beside_the_transformer(binary_run):
    report = evaluate.evaluate(binary_run, threads=1)
    probe = report["results"]["frozen_probe"]
    assert set(report["headline"]) <= set(probe) and probe["intervals"]
    assert report["frozen_probe"]["train_rows"] == len(load_split(binary_run / "splits/train.csv", "binary"))
    paired = report["paired_bootstrap_frozen_probe"]
    assert paired["metric"] == "f1_positive" and 0 <= paired["transformer_wins_share"] <= 1
    assert "frozen_probe" in (binary_run / "eval" / "report.md").read_text()


def test_the_probe_on_real_data_with_the_packaged_minilm():
    """Mean-pooled all-MiniLM-L6-v2 embeddings separate SMS spam from ham with a linear probe."""
    from scripts.evaluation import frozen_probe
    from scripts.model.base_model import resolve_model_name

    train, test, y_train, y_test = sms_sample(400, 200)
    (probs,), info = frozen_probe.probe_proba(
        resolve_model_name("packaged-minilm"),
        train["text"].tolist(),
        y_train,
        [test["text"].tolist()],
        "binary",
        2,
        64,
    )
    assert info["train_rows"] == 200 and skm.f1_score(y_test, probs.argmax(1)) > 0.7


def test_a_base_model_that_is_gone_skips_the_probe_with_its_reason(tiny_model, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(tiny_model, base)
    run = train_run(write_binary_csv(tmp_path / "b.csv", 120, 60), tiny_args(base, tmp_path / "o"))
    shutil.rmtree(base)
    report = evaluate.evaluate(run, threads=1)
    assert "frozen_probe" not in report["results"] and report["frozen_probe"]["skipped"]
    assert "No frozen-embedding probe" in (run / "eval" / "report.md").read_text()


def test_rows_with_no_true_and_no_predicted_label_are_perfect_matches():
    """Most rows of a one-hot file can carry no label: such a row predicted empty scores 1, not 0."""
    y = np.array([[0, 0], [0, 0], [0, 0], [1, 0], [0, 1]])
    pred = np.array([[0, 0], [0, 0], [1, 0], [1, 0], [0, 0]])
    m = metrics.multilabel_metrics(y, pred, pred * 0.8 + 0.1, ["a", "b"])
    # rows: empty/empty 1, empty/empty 1, empty/{a} 0, {a}/{a} 1, {b}/empty 0
    assert m["f1_samples"] == pytest.approx(3 / 5) and m["subset_accuracy"] == pytest.approx(3 / 5)
    assert m["precision_samples"] == pytest.approx(3 / 5) and m["recall_samples"] == pytest.approx(3 / 5)
    assert m["f1_samples"] == pytest.approx(skm.f1_score(y, pred, average="samples", zero_division=1))
    from scripts.evaluation import uncertainty

    W = uncertainty.resample_counts(y, "multilabel", 50, seed=0)
    again = uncertainty.scores(np.eye(5, dtype=np.int64), "multilabel", y, pred, pred * 0.8 + 0.1, None)
    assert again["f1_samples"] == pytest.approx(np.array([1, 1, 0, 1, 0]))
    assert W.shape == (50, 5)
