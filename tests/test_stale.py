"""No stale results: a changed CSV trains and evaluates on its own rows, never on cached features."""

import json

import pandas as pd

from scripts import evaluate
from scripts.model.inference import load_predictor
from tests.helpers import tiny_args, train_run, write_binary_csv


def test_changed_csv_is_never_read_from_an_old_cache(tiny_model, tmp_path):
    csv = write_binary_csv(tmp_path / "d.csv")
    args = tiny_args(tiny_model, tmp_path / "outputs")
    first = train_run(csv, args + ["run_name=first"])
    frame = pd.read_csv(csv)
    frame["label"] = frame["label"].map({"ham": "spam", "spam": "ham"})  # same texts, labels swapped
    frame.to_csv(csv, index=False)
    second = train_run(csv, args + ["run_name=second"])
    assert not list((tmp_path / "outputs").rglob("cached_*"))  # Simple Transformers' feature cache is off
    texts = ["free cash prize claim now", "see you at home for dinner tonight"]
    a = load_predictor(first / "model", threads=1)
    b = load_predictor(second / "model", threads=1)
    assert a.decide(a.predict_proba(texts)) == ["spam", "ham"]
    assert b.decide(b.predict_proba(texts)) == ["ham", "spam"]
    report = evaluate.evaluate(second, threads=1)
    truth = pd.read_csv(second / "eval" / "predictions.csv")["true"]
    assert (truth == pd.read_csv(second / "splits" / "test.csv")["labels"]).all()
    assert json.loads((second / "run.json").read_text())["counts"]["train"]["ham"] < 150  # the swapped counts
    assert report["data"]["rows"] == len(truth)
