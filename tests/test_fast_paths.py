"""The fast paths change the work, not the maths: trimmed batches give the padded logits, and the
length-grouped sampler covers every row once per epoch, reproducibly."""

import numpy as np
import torch

from scripts.st_patches import LengthGroupedBatches, trim_batch


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
    grouped = sum(len(b) * lengths[b].max() for b in LengthGroupedBatches(lengths, 16, seed=0))
    order = rng.permutation(800)
    random_batches = sum(len(order[i : i + 16]) * lengths[order[i : i + 16]].max() for i in range(0, 800, 16))
    assert grouped < 0.8 * random_batches


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

    from scripts.compact import CHUNK_ROWS, CompactTokens

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
