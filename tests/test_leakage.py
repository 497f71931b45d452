"""Split leakage: planted near-duplicates are found, dedupe=near keeps them on one side, make eval scores
the rows without a near-copy in training beside the full score."""

from __future__ import annotations

import random
import re

import pandas as pd

from scripts import evaluate
from scripts.common import runs
from scripts.data import leakage
from scripts.data.near_duplicates import Sketches, jaccard, shingles
from tests.conftest import make_frame, shared_file
from tests.helpers import tiny_args, train_run

PROMO = "WINNER!! You have won a {}.00 cash prize, call 0906{}123 now to claim before {}pm"


def test_normalising_maps_case_digits_punctuation_and_spaces():
    assert (
        leakage.normalise("Call 0906-123!!  NOW")
        == leakage.normalise("call 1234 567   now")
        == "call 0000 000 now"
    )


def test_fast_normalising_equals_its_definition():
    """ASCII texts take a byte-translation path: it must give what the regular expressions define."""

    def by_definition(text: str) -> str:
        text = re.sub(r"\d", "0", text.lower())
        return " ".join(re.sub(r"[^\w\s]|_", " ", text).split())

    rng = random.Random(0)
    alphabet = "aZq09 _-!?.,'\"#\t\n\r\x0b\x0c\x1c\x1f\x00\x7féÄ€😀٣\u00a0"
    for _ in range(5000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40)))
        assert leakage.normalise(text) == by_definition(text), repr(text)


def _texts_with_near_copies(pairs: int, seed: int) -> tuple[list[str], list[str]]:
    """Random-word texts and copies with a few words changed: Jaccard spread around the 0.8 threshold."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyz"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 8))) for _ in range(3000)]
    originals, copies = [], []
    for _ in range(pairs):
        text = [rng.choice(words) for _ in range(rng.randint(6, 60))]
        copy = list(text)
        for _ in range(rng.randint(0, max(1, len(text) // 8))):
            copy[rng.randrange(len(copy))] = rng.choice(words)
        originals.append(" ".join(text))
        copies.append(" ".join(copy))
    return originals, copies


def test_every_pair_at_or_above_the_threshold_is_found():
    """Recall at the threshold: each copy whose exact 5-gram Jaccard with its original is >= 0.8 is found,
    and nothing below 0.8 is reported (datasketch's default banding found 40 % of pairs at 0.8)."""
    originals, copies = _texts_with_near_copies(600, seed=1)
    hits = leakage.near_copies(copies, originals)
    truth = [
        [j for j in (i,) if jaccard(shingles(leakage.normalise(c)), shingles(leakage.normalise(o))) >= 0.8]
        for i, (c, o) in enumerate(zip(copies, originals))
    ]
    near_threshold = sum(
        0.8 <= jaccard(shingles(leakage.normalise(c)), shingles(leakage.normalise(o))) < 0.85
        for c, o in zip(copies, originals)
    )
    assert near_threshold >= 30  # the test exercises the hard cases
    assert hits == truth


def test_near_copies_match_a_brute_force_search_on_real_messages():
    lines = shared_file("sms_spam", "SMSSpamCollection").read_text(encoding="utf-8").splitlines()
    texts = [line.partition("\t")[2] for line in lines]
    random.Random(0).shuffle(texts)
    queries, corpus = texts[:150], texts[150:2650]
    corpus_grams = [shingles(leakage.normalise(t)) for t in corpus]
    expected = []
    for query in queries:
        grams = shingles(leakage.normalise(query))
        expected.append([j for j, other in enumerate(corpus_grams) if jaccard(grams, other) >= 0.8])
    assert sum(map(bool, expected)) >= 10
    sketches = Sketches()
    assert leakage.near_copies(queries, corpus, sketches=sketches) == expected
    firsts = leakage.near_copies(queries, corpus, sketches=sketches, first_only=True)
    assert [bool(f) and f[0] in e for f, e in zip(firsts, expected)] == [bool(e) for e in expected]


def test_dedupe_near_moves_chains_of_copies_until_none_is_left():
    """A test row near a training row moves to training; a validation row near that test row (but not
    near the training row) must then move too, or training holds a near-copy of a validation text."""
    base = "the quarterly report shows revenue rising across all regions and a strong order book for next"
    step1 = base.replace("rising", "growing")
    step2 = step1.replace("regions", "markets")
    grams = [shingles(leakage.normalise(t)) for t in (base, step1, step2)]
    assert jaccard(grams[0], grams[1]) >= 0.8 and jaccard(grams[1], grams[2]) >= 0.8
    assert jaccard(grams[0], grams[2]) < 0.8
    filler = [f"unrelated message number {w} about {w * 7} things" for w in ("one", "two", "three")]
    frame = lambda texts: pd.DataFrame({"text": texts, "labels": ["a"] * len(texts)})  # noqa: E731
    splits = {
        "train": frame([base, filler[0]]),
        "validation": frame([step2, filler[1]]),
        "test": frame([step1, filler[2]]),
    }
    parts, moved = leakage.separate(splits, ["validation", "test"])
    assert moved == {"validation_rows_moved_to_train": 1, "test_rows_moved_to_train": 1}
    assert parts["validation"]["text"].tolist() == [filler[1]] and step2 in parts["train"]["text"].tolist()
    report = leakage.report(parts)
    assert report["pairs"]["train-validation"]["near"] == report["pairs"]["train-test"]["near"] == 0


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
