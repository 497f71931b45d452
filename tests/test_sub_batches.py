"""sub_batches: a training batch of mixed lengths run as sub-batches of similar length computes the same
loss, logits and gradients as the whole batch in one pass, on every architecture's tiny model, for
single-label cross-entropy (plain and class-weighted) and multi-label BCE with pos_weight; and the cut
is the cheapest one."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from scripts.common import tasks
from scripts.common.length_runs import sub_batches
from scripts.training.st.batching import trim_batch
from tests.tiny_models import ARCHITECTURES, build


def _cost(lengths: np.ndarray, runs: list[np.ndarray], pass_cost: float) -> float:
    return sum(pass_cost + len(r) * lengths[r].max() for r in runs)


def test_sub_batches_cover_the_batch_once_at_the_least_cost():
    """Every row once, no run over the row cap; the cost equals the best of every cut of the length-sorted
    rows within the cap (brute force)."""
    rng = np.random.default_rng(3)
    for _ in range(60):
        lengths = rng.integers(3, 90, size=int(rng.integers(1, 10)))
        pass_cost = float(rng.choice([0.0, 20.0, 80.0, 1e9]))
        cap = rng.choice([None, 1, 2, 3, 5])
        runs = sub_batches(lengths, pass_cost, cap)
        assert sorted(np.concatenate(runs).tolist()) == list(range(len(lengths)))
        assert cap is None or max(len(r) for r in runs) <= cap
        order = np.argsort(-lengths, kind="stable")
        best = min(
            _cost(lengths, pieces, pass_cost)
            for k in range(len(lengths))
            for cuts in itertools.combinations(range(1, len(lengths)), k)
            for pieces in [np.split(order, list(cuts))]
            if cap is None or max(len(p) for p in pieces) <= cap
        )
        assert _cost(lengths, runs, pass_cost) == best
    assert len(sub_batches(np.array([70, 68, 12, 10, 9]), 1e9)) == 1  # a pass dearer than any padding
    assert [sorted(r.tolist()) for r in sub_batches(np.array([70, 12, 70, 12]), 0.0)] == [[0, 2], [1, 3]]


def _bare_model(kind: str, tokenizer, **attributes):
    """quickfit's Simple Transformers subclass without its loading: only what the loss methods read."""
    from types import SimpleNamespace

    from scripts.training.st.trainer import model_classes

    cls = model_classes()[kind]
    bare = cls.__new__(cls)
    bare.tokenizer, bare.args, bare.pass_cost = tokenizer, SimpleNamespace(as_reranker=False), 0.0
    for key, value in attributes.items():
        setattr(bare, key, value)
    return bare


@pytest.mark.parametrize("arch", ARCHITECTURES)
def test_sub_batched_loss_gives_the_whole_batch_loss_and_gradient(arch, tmp_path):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = build(arch, tmp_path / arch)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    texts = ["free cash now", "see you later at home tonight my friend, call me back", "ok", "win", "a b c d"]
    inputs = trim_batch(dict(tokenizer(texts, padding="max_length", max_length=32, return_tensors="pt")))
    assert len(sub_batches(inputs["attention_mask"].sum(dim=1).numpy(), 0.0)) > 1  # really cut
    labels_single = torch.tensor([1, 0, 2, 1, 0])
    labels_multi = torch.tensor([[1, 0, 1], [0, 0, 0], [1, 1, 0], [0, 1, 0], [0, 0, 1]], dtype=torch.float32)
    labels_scores = torch.randn(5, 3, generator=torch.Generator().manual_seed(1))  # three regression targets
    cases = [
        ("single", labels_single, {"task_kind": tasks.MULTICLASS}),
        (
            "single",
            labels_single,
            {"task_kind": tasks.MULTICLASS, "loss_weight": torch.tensor([0.5, 2.0, 1.0])},
        ),
        (
            "multi",
            labels_multi,
            {"task_kind": tasks.MULTILABEL, "loss_weight": torch.tensor([2.0, 1.0, 3.0])},
        ),
        ("single", labels_scores, {"task_kind": tasks.REGRESSION}),
    ]
    for kind, labels, attributes in cases:
        torch.manual_seed(0)
        model = AutoModelForSequenceClassification.from_pretrained(folder, num_labels=3).eval()  # no dropout
        bare = _bare_model(kind, tokenizer, num_labels=3, **attributes)
        results = []
        for method in (bare._forward_loss, bare._sub_batched_loss):
            model.zero_grad()
            loss, logits = method(model, {**inputs, "labels": labels}, None, 3, bare.args)[:2]
            loss.backward()
            grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
            results.append((loss.detach(), logits.detach(), grads))
        (loss_a, logits_a, grads_a), (loss_b, logits_b, grads_b) = results
        torch.testing.assert_close(logits_b, logits_a, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(loss_b, loss_a, atol=1e-6, rtol=1e-5)
        assert len(grads_a) == len(grads_b) > 0
        for a, b in zip(grads_a, grads_b, strict=True):
            torch.testing.assert_close(b, a, atol=1e-5, rtol=1e-4)
