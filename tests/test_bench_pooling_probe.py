"""bench.pooling_probe: the features each pooled position gives, and that aligning [CLS] to the body's
mean-pooled embedding moves it there (the packaged MiniLM, a few texts)."""

from __future__ import annotations

import numpy as np
import pytest

from bench import pooling_probe

TEXTS = [
    "the quarterly dividend was raised to ten cents a share",
    "wheat and corn exports fell sharply this season",
    "the company agreed to acquire its rival for cash",
    "crude oil prices rose after the output cut",
    "net profit rose on higher sales of its products",
    "the trade deficit widened in the third month",
    "interest rates were cut by the central bank",
    "shipping rates at the port climbed again",
]


@pytest.fixture(scope="module")
def body():
    from transformers import AutoModel, AutoTokenizer

    from scripts.model.base_model import PACKAGED_MINILM, resolve_model_name

    path = resolve_model_name(PACKAGED_MINILM)
    return AutoModel.from_pretrained(path), AutoTokenizer.from_pretrained(path)


def cls_to_mean_cosine(model, tokenizer) -> float:
    feats = pooling_probe.features(model, tokenizer, TEXTS, 64)
    return float(np.mean(np.sum(feats["cls"] * feats["mean"], axis=1)))


def test_every_position_is_one_unit_vector_per_text(body):
    model, tokenizer = body
    feats = pooling_probe.features(model, tokenizer, TEXTS, 64)
    assert set(feats) == set(pooling_probe.POSITIONS)  # a BERT body has a pooler
    for values in feats.values():
        assert values.shape == (len(TEXTS), model.config.hidden_size)
        np.testing.assert_allclose(np.linalg.norm(values, axis=1), 1.0, rtol=1e-5)


def test_aligning_cls_brings_it_to_the_mean_pooled_embedding(body):
    import copy

    model, tokenizer = body
    model = copy.deepcopy(model)
    before = cls_to_mean_cosine(model, tokenizer)
    losses = pooling_probe.align_cls(model, tokenizer, TEXTS, 64, epochs=4, seed=0)
    assert losses[-1] < losses[0]
    assert cls_to_mean_cosine(model, tokenizer) > before + 0.1


def test_the_mean_layer_hands_cls_and_the_pooler_the_mean(body):
    import copy

    from scripts.model.probe_start import append_mean_layer

    model, tokenizer = body
    model = copy.deepcopy(model)
    assert cls_to_mean_cosine(model, tokenizer) < 0.9  # this body's [CLS] is not its mean
    append_mean_layer(model)
    feats = pooling_probe.features(model, tokenizer, TEXTS, 64)
    assert np.sum(feats["cls"] * feats["mean"], axis=1).min() > 0.999  # every position is the mean now


def test_batched_features_are_in_input_order_and_match_one_text_at_a_time(body):
    """Texts are batched by length (base_model.batches_by_length): each row's features land back at its
    own position, padding changes nothing, and the frozen probe embeds exactly the bench's mean."""
    from scripts.evaluation import frozen_probe
    from scripts.model.base_model import PACKAGED_MINILM, batches_by_length, resolve_model_name

    model, tokenizer = body
    texts = [TEXTS[0] + " " + TEXTS[1], "oil", *TEXTS[2:5]]  # lengths out of order
    rows = [r for r, _ in batches_by_length(tokenizer, texts, 64, 2)]
    assert sorted(np.concatenate(rows).tolist()) == list(range(len(texts)))
    assert [len(texts[r[0]]) for r in rows] == sorted((len(texts[r[0]]) for r in rows), reverse=True)
    batched = pooling_probe.features(model, tokenizer, texts, 64)
    for i, text in enumerate(texts):
        alone = pooling_probe.features(model, tokenizer, [text], 64)
        for name in batched:
            np.testing.assert_allclose(batched[name][i], alone[name][0], atol=1e-4)
    embedded = frozen_probe.embed(resolve_model_name(PACKAGED_MINILM), texts, 64, batch_size=2)
    np.testing.assert_allclose(embedded, batched["mean"], atol=1e-4)
