"""The fast paths change the work, not the maths: trimmed batches give the padded logits, and the
length-grouped sampler covers every row once per epoch, reproducibly."""

import numpy as np
import torch

from scripts.training.st.batching import LengthGroupedBatches, trim_batch


def test_trimmed_batch_gives_the_padded_logits(tiny_model):
    from transformers import AutoTokenizer, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    torch.manual_seed(0)
    model = BertForSequenceClassification.from_pretrained(tiny_model, num_labels=3).eval()
    texts = ["free cash now", "see you later at home tonight my friend", "ok"]
    padded = tokenizer(texts, padding="max_length", max_length=64, return_tensors="pt")
    trimmed = trim_batch(dict(padded))
    assert trimmed["input_ids"].shape[1] == int(padded["attention_mask"].sum(1).max()) < 64
    with torch.inference_mode():
        full = model(**padded).logits
        short = model(**trimmed).logits
    torch.testing.assert_close(full, short, atol=1e-5, rtol=1e-5)


def test_sampler_covers_every_row_once_and_is_reproducible():
    rng = np.random.default_rng(0)
    lengths = rng.integers(3, 120, size=1003)
    sampler = LengthGroupedBatches(lengths, batch_size=16, seed=7)
    first, second = list(sampler), list(sampler)
    for epoch in (first, second):
        assert len(epoch) == len(sampler) == 63
        assert sorted(i for b in epoch for i in b) == list(range(1003))
    assert first != second  # a new order every epoch
    resumed = LengthGroupedBatches(lengths, batch_size=16, seed=7, start_epoch=1)
    assert list(resumed) == second  # epoch 2 does not depend on epoch 1 having run


def test_grouped_batches_need_far_fewer_token_positions_than_random():
    rng = np.random.default_rng(1)
    lengths = rng.integers(5, 120, size=800)
    classes = rng.integers(0, 3, size=800)  # classes whose lengths do not differ: the mix costs nothing
    order = rng.permutation(800)
    random_batches = sum(len(order[i : i + 16]) * lengths[order[i : i + 16]].max() for i in range(0, 800, 16))
    for mix in (None, classes):
        sampler = LengthGroupedBatches(lengths, 16, seed=0, classes=mix)
        assert sum(len(b) * lengths[b].max() for b in sampler) < 0.8 * random_batches


def test_grouped_batches_keep_the_class_mix_when_length_follows_the_class():
    """Minority rows much longer than majority rows (spam against ham): sorting a group by length alone
    gives batches of one class; keeping each class's length quantiles together gives every full batch the
    group's class mix (within one row), still with fewer token positions than random batches."""
    rng = np.random.default_rng(2)
    classes = (rng.random(1600) < 0.2).astype(np.int64)
    lengths = np.where(classes == 1, rng.integers(60, 120, 1600), rng.integers(5, 70, 1600))

    def minority_counts(sampler):
        return [int(classes[b].sum()) for b in sampler if len(b) == 16]

    by_length = minority_counts(LengthGroupedBatches(lengths, 16, seed=0))
    assert min(by_length) == 0 and max(by_length) >= 12  # all-ham and nearly all-spam batches
    # the sampler's groups: its epoch-0 permutation cut into 8 batches of rows
    group_of = np.empty(1600, np.int64)
    group_of[np.random.default_rng([0, 0]).permutation(1600)] = np.arange(1600) // 128
    group_share = np.bincount(group_of, weights=classes) / np.bincount(group_of)
    mixed = list(LengthGroupedBatches(lengths, 16, seed=0, classes=classes))
    for batch in mixed:
        assert len(set(group_of[batch])) == 1
        assert abs(classes[batch].sum() - len(batch) * group_share[group_of[batch[0]]]) <= 1
    assert min(minority_counts(mixed)) >= 1 and max(minority_counts(mixed)) <= 6
    positions = sum(len(b) * lengths[b].max() for b in mixed)
    order = rng.permutation(1600)
    random_positions = sum(16 * lengths[order[i : i + 16]].max() for i in range(0, 1600, 16))
    assert positions < 0.95 * random_positions  # the minority's long rows set every batch's length here


def test_trim_never_cuts_the_labels_even_when_their_width_is_the_sequence_length():
    """28 labels and max_seq_length=28: the multi-hot labels have the shape of the sequence tensors."""
    mask = torch.zeros(4, 28, dtype=torch.long)
    mask[:, :10] = 1
    labels = torch.randint(0, 2, (4, 28))
    inputs = {
        "input_ids": torch.ones(4, 28, dtype=torch.long),
        "attention_mask": mask,
        "token_type_ids": torch.zeros(4, 28, dtype=torch.long),
        "labels": labels,
    }
    trimmed = trim_batch(inputs)
    assert (
        trimmed["input_ids"].shape
        == trimmed["attention_mask"].shape
        == trimmed["token_type_ids"].shape
        == (4, 10)
    )
    assert trimmed["labels"] is labels and trimmed["labels"].shape == (4, 28)


def test_multilabel_training_with_as_many_labels_as_tokens(tiny_model, tmp_path):
    """End to end: the case that crashed with `shape '[-1, 28]' is invalid` before."""
    import random

    import pandas as pd

    from tests.conftest import TOPICS
    from tests.helpers import tiny_args, train_run

    names = [f"l{i}" for i in range(8)]
    rng = random.Random(0)
    words = [w for ws in TOPICS.values() for w in ws]
    rows = [
        {"text": " ".join(rng.choice(words) for _ in range(12)), "labels": ",".join(rng.sample(names, 2))}
        for _ in range(200)
    ]
    pd.DataFrame(rows).drop_duplicates("text").to_csv(tmp_path / "m.csv", index=False)
    run = train_run(
        tmp_path / "m.csv",
        tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=1", "max_seq_length=8"],
    )
    assert (run / "model" / "model.safetensors").exists()


def test_compact_tokens_hold_the_padded_ids_without_the_padding(tiny_model):
    """Training rows as one int32 array: each row is Simple Transformers' padded row with its padding
    removed, a batch is padded to its own longest row, and the store is a fraction of the padded one."""
    from transformers import AutoTokenizer

    from scripts.training.st.compact_tokens import CHUNK_ROWS, CompactTokens

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    rng = np.random.default_rng(0)
    words = ["free", "cash", "prize", "see", "you", "later", "the", "a"]
    texts = [" ".join(rng.choice(words, rng.integers(1, 40))) for _ in range(CHUNK_ROWS + 7)]  # two chunks
    labels = rng.integers(0, 2, len(texts))
    store = CompactTokens(texts, labels, tokenizer, max_seq_length=24)
    padded = tokenizer(texts, truncation=True, max_length=24, padding="max_length", return_tensors="np")
    for i in (0, 1, CHUNK_ROWS - 1, CHUNK_ROWS, len(texts) - 1):
        real = padded["input_ids"][i][padded["attention_mask"][i] == 1]
        assert store.row(i).tolist() == real.tolist()
    features, batch_labels = store.collate([3, 10, CHUNK_ROWS + 2])
    longest = int(store.lengths[[3, 10, CHUNK_ROWS + 2]].max())
    assert features["input_ids"].shape == (3, longest) and features["input_ids"].dtype == torch.int64
    assert features["attention_mask"].sum(dim=1).tolist() == store.lengths[[3, 10, CHUNK_ROWS + 2]].tolist()
    assert (features["token_type_ids"] == 0).all() and batch_labels.tolist() == labels[
        [3, 10, CHUNK_ROWS + 2]
    ].tolist()
    assert store.ids.dtype == np.int32
    assert store.nbytes < sum(v.nbytes for v in padded.values()) / 3


def test_a_multi_label_row_counts_as_its_rarest_label_when_batches_keep_the_mix():
    from scripts.training.st.batching import batch_classes

    assert batch_classes(np.array([2, 0, 1])).tolist() == [2, 0, 1]
    multi_hot = np.array([[1, 1, 0], [1, 0, 0], [1, 0, 1], [0, 0, 0], [1, 1, 0]], dtype=np.float32)
    # label counts 4, 2, 1: rows with label 2 count as 2, then label 1, then 0; no label: -1
    assert batch_classes(multi_hot).tolist() == [1, 0, 2, -1, 1]


def test_grouping_class_mix_reaches_the_sampler_and_the_record(tiny_model, tmp_path, monkeypatch):
    """grouping_class_mix=True: the training sampler gets each row's class; off (the default), one class."""
    from scripts.common import runs
    from tests.helpers import tiny_args, train_run, write_binary_csv

    seen = []
    original = LengthGroupedBatches.__init__

    def spy(self, *args, **kwargs):
        original(self, *args, **kwargs)
        seen.append((self.group, np.unique(self.classes).tolist()))

    monkeypatch.setattr(LengthGroupedBatches, "__init__", spy)
    path = write_binary_csv(tmp_path / "b.csv", ham=120, spam=60)
    args = tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=1", "length_grouping=True"]
    for mix in (True, False):
        run = train_run(path, args, f"grouping_class_mix={mix}", f"run_name=mix-{mix}")
        assert runs.read_record(run)["grouping_class_mix"] is mix
    assert seen == [(16 * 8, [0, 1]), (16 * 8, [0])]


def test_sub_batches_reach_training_and_the_record(tiny_model, tmp_path, monkeypatch):
    """sub_batches=True: training batches are cut into runs of similar length (a pass made free here so
    the tiny texts are cut); with the pass-cost fit on (bench variant CF) every training step is timed
    (its forward begun, its backward ended at the input embeddings) and the run completes its own checks;
    False: never cut, never timed. Both are recorded."""
    from scripts.common import runs
    from scripts.training import fit
    from scripts.training.st import models
    from tests.helpers import tiny_args, train_run, write_binary_csv

    calls, timers = [], []
    original = models.sub_batches

    def spy(lengths, pass_cost):
        runs_ = original(lengths, pass_cost)
        calls.append(len(runs_))
        return runs_

    class SpiedPassCost(models.PassCost):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            timers.append(self)

    monkeypatch.setattr(models, "sub_batches", spy)
    monkeypatch.setattr(models, "PassCost", SpiedPassCost)
    monkeypatch.setattr(fit, "PASS_COST_POSITIONS", 0.0)
    monkeypatch.setattr(models.FastPaths, "fit_pass_cost", True)
    path = write_binary_csv(tmp_path / "b.csv", ham=120, spam=60)
    args = tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=1"]
    for enabled in (True, False):
        calls.clear()
        timers.clear()
        run = train_run(path, args, f"sub_batches={enabled}", f"run_name=sub-{enabled}")
        record = runs.read_record(run)
        assert record["sub_batches"] is enabled
        assert (max(calls) > 1) if enabled else not calls
        assert [(t.begun, t.ended) for t in timers] == ([(len(calls), len(calls))] if enabled else [])
        fitted = enabled and timers[0].fitted
        expected = (round(timers[0].positions, 1) if fitted else 0.0) if enabled else None
        assert record["sub_batch_pass_cost"] == expected


def test_one_seed_trains_one_model_however_loaded_the_machine(tiny_model, tmp_path, monkeypatch):
    """Where a batch is cut into sub-batches decides each row's dropout mask. The cuts follow a fixed pass
    cost, not the steps' times: a run whose step times would fit a pass at no cost (keep cutting) and one
    whose times would fit it at 4,096 positions (stop cutting: a loaded machine) train the same model."""
    from scripts.data.dataset import load_split
    from scripts.model.inference import load_predictor
    from scripts.training import fit
    from scripts.training.st import pass_cost
    from tests.helpers import tiny_args, train_run, write_binary_csv

    def timings_fitting(positions: float):  # what a machine's step times would fit the pass cost to
        def fitted(timer):
            timer.positions, timer.fitted = positions, True

        return fitted

    monkeypatch.setattr(fit, "PASS_COST_POSITIONS", 0.0)  # the tiny texts are cut
    path = write_binary_csv(tmp_path / "b.csv", ham=160, spam=80)
    args = tiny_args(tiny_model, tmp_path / "out") + ["num_train_epochs=2", "sub_batches=True"]
    runs = []
    for name, positions in (("idle", 0.0), ("busy", pass_cost.MOST_POSITIONS)):
        monkeypatch.setattr(pass_cost.PassCost, "_fit", timings_fitting(positions))
        runs.append(train_run(path, args, f"run_name={name}"))
    texts = load_split(runs[0] / "splits/test.csv", "binary")["text"].tolist()
    probs = [load_predictor(run / "model", threads=1).predict_proba(texts) for run in runs]
    assert np.array_equal(probs[0], probs[1])
