import numpy as np
import pandas as pd
import pytest

from scripts.common.errors import UserError
from scripts.data import balance, split
from scripts.data.dataset import Dataset, encode_labels
from tests.conftest import make_frame, make_multilabel_frame


def dataset_from(frame, task, names, positive=None):
    return Dataset(
        frames={"all": frame.rename(columns={"label": "labels"})},
        label_names=names,
        task=task,
        positive_label=positive,
    )


def test_split_is_stratified_disjoint_and_seeded():
    frame = make_frame({"ham": 400, "spam": 100})
    ds = dataset_from(frame, "binary", ["ham", "spam"], "spam")
    parts = split.make_splits(ds, 0.1, 0.1, seed=7)
    assert sum(len(p) for p in parts.values()) == 500
    texts = [set(parts[s]["text"]) for s in split.SPLITS]
    assert not (texts[0] & texts[1]) and not (texts[0] & texts[2]) and not (texts[1] & texts[2])
    for part in parts.values():  # each keeps the 20 % spam share within a row
        assert abs((part["labels"] == "spam").mean() - 0.2) < 0.03
    again = split.make_splits(dataset_from(frame, "binary", ["ham", "spam"], "spam"), 0.1, 0.1, seed=7)
    assert list(again["test"]["text"]) == list(parts["test"]["text"])


def test_multilabel_split_uses_iterative_stratification():
    frame = make_multilabel_frame(400).assign(labels=lambda f: f["labels"].map(tuple))
    ds = Dataset(
        frames={"all": frame}, label_names=["food", "money", "sport"], task="multilabel", positive_label=None
    )
    parts = split.make_splits(ds, 0.2, 0.2, seed=1)
    share = {
        s: np.array(encode_labels(parts[s]["labels"], ds.label_names, "multilabel")).mean(0) for s in parts
    }
    assert np.abs(share["train"] - share["test"]).max() < 0.05
    assert np.abs(share["train"] - share["validation"]).max() < 0.05


def test_given_test_split_is_honoured():
    train = make_frame({"ham": 100, "spam": 50}, seed=1).rename(columns={"label": "labels"})
    test = make_frame({"ham": 10, "spam": 10}, seed=2).rename(columns={"label": "labels"})
    test = test[~test["text"].isin(train["text"])]
    ds = Dataset(
        frames={"train": train, "test": test},
        label_names=["ham", "spam"],
        task="binary",
        positive_label="spam",
    )
    parts = split.make_splits(ds, 0.1, 0.1, seed=0)
    assert list(parts["test"]["text"]) == list(test["text"])
    assert parts.report["carved"] == ["validation"]  # the split says what it carved


def test_eight_rows_a_class_of_eight_classes_split_with_every_class_in_each_split():
    """10 % of 64 rows is 7, fewer than the classes: every split still gets one row of each."""
    names = [f"topic{i}" for i in range(8)]
    frame = pd.DataFrame(
        {"text": [f"text {i} about {n}" for n in names for i in range(8)], "label": np.repeat(names, 8)}
    )
    parts = split.make_splits(dataset_from(frame, "multiclass", names), 0.1, 0.1, seed=0)
    for part in parts.values():
        assert sorted(set(part["labels"])) == names
    assert len(parts["test"]) == len(parts["validation"]) == 8 and len(parts["train"]) == 48


def test_class_with_one_example_cannot_be_stratified():
    frame = pd.concat(
        [make_frame({"ham": 30, "spam": 30}), pd.DataFrame({"text": ["lonely"], "label": ["rare"]})]
    )
    with pytest.raises(UserError, match=r"class 'rare' has 1 example\(s\)"):
        split.make_splits(dataset_from(frame, "multiclass", ["ham", "rare", "spam"]), 0.1, 0.1, seed=0)


@pytest.mark.parametrize("method", ["oversample", "undersample"])
def test_resampling_touches_training_rows_only(method):
    train = make_frame({"ham": 90, "spam": 10}).rename(columns={"label": "labels"})
    result = balance.rebalance(train, "binary", ["ham", "spam"], method, 0.5, 30, seed=0)
    assert result.counts_before == {"ham": 90, "spam": 10}
    if method == "oversample":
        assert result.counts_after == {"ham": 90, "spam": 45}
    else:
        assert result.counts_after == {"ham": 20, "spam": 10}
    assert set(result.train["text"]) <= set(train["text"])  # only rows of the training split


def test_class_weights_and_pos_weight():
    train = make_frame({"ham": 75, "spam": 25}).rename(columns={"label": "labels"})
    result = balance.rebalance(train, "binary", ["ham", "spam"], "auto", 0.5, 30, seed=0)
    assert result.method == "class_weight"
    assert result.class_weight == pytest.approx([100 / (2 * 75), 100 / (2 * 25)])
    multi = pd.DataFrame({"text": list("abcd"), "labels": [("x",), ("x", "y"), ("x",), ()]})
    result = balance.rebalance(multi, "multilabel", ["x", "y"], "auto", 0.5, 2.0, seed=0)
    assert result.method == "pos_weight"
    assert result.pos_weight == pytest.approx([1.0, 2.0])  # x: 1/3 -> floor 1; y: 3/1 capped at 2


def test_resampling_refused_for_multilabel():
    multi = pd.DataFrame({"text": ["a"], "labels": [("x",)]})
    with pytest.raises(UserError, match="multi-label"):
        balance.rebalance(multi, "multilabel", ["x"], "oversample", 0.5, 30, seed=0)


def test_capped_training_rows_are_the_recorded_split_size(tmp_path):
    """max_train_rows: the split sizes that run.json, the card and the experiments report are the rows
    trained on, with the count before the cap beside them (they were the uncapped count)."""
    from scripts import train
    from scripts.common import settings
    from tests.helpers import write_binary_csv

    cfg = settings.resolve({"dataset": str(write_binary_csv(tmp_path / "b.csv")), "max_train_rows": 50})
    dataset, splits, _ = train.prepare(cfg)
    recorded = dataset.report["split"]
    assert len(splits["train"]) == 50
    assert recorded["sizes"] == {part: len(frame) for part, frame in splits.items()}
    assert recorded["train_rows_before_cap"] > 50
    uncapped, _, _ = train.prepare({**cfg, "max_train_rows": 0})
    assert "train_rows_before_cap" not in uncapped.report["split"]
    assert uncapped.report["split"]["sizes"]["train"] == recorded["train_rows_before_cap"]
