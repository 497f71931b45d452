"""Split leakage: planted near-duplicates are found, dedupe=near keeps them on one side, make eval scores
the rows without a near-copy in training beside the full score."""

from __future__ import annotations

import pandas as pd

from scripts import evaluate, leakage, runs
from tests.conftest import make_frame
from tests.helpers import tiny_args, train_run

PROMO = "WINNER!! You have won a {}.00 cash prize, call 0906{}123 now to claim before {}pm"


def test_normalising_maps_case_digits_punctuation_and_spaces():
    assert (
        leakage.normalise("Call 0906-123!!  NOW")
        == leakage.normalise("call 1234 567   now")
        == "call 0000 000 now"
    )


def test_planted_near_duplicates_are_found_and_unrelated_texts_are_not():
    corpus = [PROMO.format(500, 1, 9), "see you at dinner tonight my friend", "the match ended in a draw"]
    queries = [
        PROMO.format(750, 7, 5),  # digits differ: identical after normalising
        PROMO.format(100, 2, 3) + " txt stop",  # a few characters added: near
        "see you at the cinema tomorrow",
        "completely different words here",
    ]
    hits = leakage.near_copies(queries, corpus)
    assert hits == [[0], [0], [], []]


def frame_with_planted_copies() -> pd.DataFrame:
    base = make_frame({"ham": 150, "spam": 75})
    planted = pd.DataFrame({"text": [PROMO.format(100 + i, i, i % 12) for i in range(40)], "label": "spam"})
    return pd.concat([base, planted], ignore_index=True).sample(frac=1, random_state=0)


def test_training_reports_leakage_and_dedupe_near_keeps_copies_on_one_side(tiny_model, tmp_path, capsys):
    path = tmp_path / "d.csv"
    frame_with_planted_copies().to_csv(path, index=False)
    args = tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=1"]
    exact = train_run(path, args, "run_name=exact", "dedupe=exact")
    found = runs.read_record(exact)["dataset"]["leakage"]["pairs"]["train-test"]
    assert found["near"] >= 3 and found["near_by_class"].get("spam", 0) == found["near"]
    assert "leakage check: train-validation:" in capsys.readouterr().out

    near = train_run(path, args, "run_name=near", "dedupe=near")
    record = runs.read_record(near)
    assert record["dataset"]["split"]["near_duplicates"]["test_rows_moved_to_train"] >= 3
    for pair in ("train-validation", "train-test"):
        assert record["dataset"]["leakage"]["pairs"][pair]["near"] == 0  # no test text has a copy in training

    report = evaluate.evaluate(exact, threads=1)
    assert report["leakage"]["rows_with_near_copy_in_train"] == found["near"]
    unleaked = report["results"]["transformer_unleaked"]
    assert (
        unleaked["confusion_matrix"]
        and sum(map(sum, unleaked["confusion_matrix"])) == report["data"]["rows"] - found["near"]
    )
    assert "transformer_unleaked" in (exact / "eval" / "report.md").read_text()
    # the near run's report says what dedupe=near moved at the split
    moved = record["dataset"]["split"]["near_duplicates"]["test_rows_moved_to_train"]
    evaluate.evaluate(near, threads=1)
    assert (
        f"{moved} test rows with a near-copy in training moved to training"
        in (near / "eval" / "report.md").read_text()
    )


def test_label_audit_finds_planted_label_flips(tiny_model, tmp_path):
    """Twenty training-size rows get the wrong label; the audit (cross-validated TF-IDF + LR on the training
    split, the fine-tuned model on validation and test) must flag most of them, and drop nothing."""
    frame = make_frame({"ham": 600, "spam": 300}, seed=3)
    flipped = frame.index[:20]
    frame.loc[flipped, "label"] = frame.loc[flipped, "label"].map({"ham": "spam", "spam": "ham"})
    frame.to_csv(tmp_path / "noisy.csv", index=False)
    run = train_run(tmp_path / "noisy.csv", tiny_args(tiny_model, tmp_path / "out"), "num_train_epochs=1")
    report = evaluate.evaluate(run, threads=1)
    issues = pd.read_csv(run / "eval" / "label_issues.csv", keep_default_na=False)
    planted = set(frame.loc[flipped, "text"])
    in_train = planted & set(pd.read_csv(runs.split_path(run, "train"))["text"])
    found = planted & set(issues["text"])
    assert len(found & in_train) >= 0.9 * len(in_train)  # recall on the training split
    train_flags = set(issues.loc[issues["split"] == "train", "text"])
    assert len(train_flags & planted) >= 0.8 * len(train_flags)  # and few false alarms
    flagged = issues[issues["text"].isin(found)]
    assert (flagged["given"] != flagged["suggested"]).all()  # the suggestion is the other class
    assert report["label_audit"]["flagged"]["train"] >= len(found & in_train)
    assert all(row["split"] != "train" for row in report["label_audit"]["top"])  # no training text is pushed
    assert (
        len(pd.read_csv(runs.split_path(run, "train"))) + len(pd.read_csv(runs.split_path(run, "test"))) > 300
    )
