"""bench.threshold_rules: one multi-label curve draw trained as make train trains it, its validation
probabilities turned into thresholds by several rules, each scored on the test rows (a tiny model)."""

from __future__ import annotations

import re

import numpy as np

from bench import threshold_rules
from tests.helpers import tiny_args, write_multilabel_csv


def test_every_rule_is_scored_and_none_beats_the_test_rows_own_thresholds(tiny_model, tmp_path, capsys):
    csv = write_multilabel_csv(tmp_path / "m.csv", 400)
    extra = ["num_train_epochs=1", "model_selection=validation", "probe_start=False"]
    threshold_rules.main(
        ["--data", str(csv), "--per-label", "40", "--draws", "1", "--set"]
        + tiny_args(tiny_model, tmp_path / "out")
        + extra
    )
    out = capsys.readouterr().out
    # re-tuning the draw's validation probabilities reproduces the thresholds make train published
    assert re.search(
        r"^draw 0: \d+ validation rows, .*; 0 of the published per-label thresholds differ", out, re.M
    )
    rows = dict(re.findall(r"^\| (.+?) \| (\d\.\d{4}) \| \d\.\d{4} \|$", out, flags=re.M))
    names = ["per label (today)", "shared", "0.5"] + [
        f"per label, shared under {k} positives" for k in threshold_rules.FALLBACK_POSITIVES
    ]
    assert set(rows) == set(names) | {"ceiling: per label tuned on test"}
    ceiling = float(rows["ceiling: per label tuned on test"])
    assert all(0 <= float(rows[name]) <= ceiling for name in names)  # every rule picks from the same grid


def test_the_shared_threshold_is_the_one_best_for_all_labels_together():
    rng = np.random.default_rng(0)
    y = rng.random((200, 3)) < 0.3
    probs = np.clip(y * 0.35 + rng.random((200, 3)) * 0.6, 0, 1)  # positives sit 0.35 higher
    shared = threshold_rules.shared_threshold(y.astype(int), probs)
    best = threshold_rules.macro_f1(y.astype(int), probs, [shared] * 3)
    assert all(threshold_rules.macro_f1(y.astype(int), probs, [t] * 3) <= best for t in (0.2, 0.35, 0.5, 0.7))
    few = y.copy()
    few[:, 2] = False
    few[:3, 2] = True  # three validation positives: under 5, the label falls back to the shared threshold
    chosen = threshold_rules.rules(few.astype(int), probs)
    assert chosen["per label, shared under 5 positives"][2] == threshold_rules.shared_threshold(
        few.astype(int), probs
    )
    assert chosen["per label, shared under 5 positives"][:2] == chosen["per label (today)"][:2]


def test_a_finished_runs_published_thresholds_score_as_the_rule_of_today(tiny_model, tmp_path, capsys):
    from scripts.data.dataset import encode_labels, load_split
    from scripts.model.inference import load_predictor
    from tests.helpers import train_run

    args = tiny_args(tiny_model, tmp_path / "outputs") + ["num_train_epochs=1"]
    run = train_run(write_multilabel_csv(tmp_path / "ml.csv"), args)
    threshold_rules.main(["--run", str(run)])
    rows = dict(re.findall(r"^\| (.+?) \| (\d\.\d{4}) \|$", capsys.readouterr().out, flags=re.M))
    predictor = load_predictor(run / "model", threads=1)
    test = load_split(run / "splits/test.csv", "multilabel")
    y = np.array(encode_labels(test["labels"], predictor.labels, "multilabel"))
    published = threshold_rules.macro_f1(
        y, predictor.predict_proba(test["text"].tolist()), predictor.thresholds
    )
    assert float(rows["per label (today)"]) == round(published, 4)
    assert float(rows["per label (today)"]) <= float(rows["ceiling: per label tuned on test"])
