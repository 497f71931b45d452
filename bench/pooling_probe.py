"""Why a fine-tune of a sentence-embedding body can lose to its frozen probe on a few labels: what each
pooled position of the frozen body carries. Logistic regression (the frozen probe's) on the same make
curve draw, once on the body's mean-pooled embedding (what a sentence-transformers body is trained to
produce, and what the probe and SetFit classify), once on its [CLS] position and once on BERT's pooler
(dense + tanh over [CLS], what BertForSequenceClassification's head reads). `--align-epochs N` first
trains the body for N epochs on the drawn texts (no labels) so that [CLS] reproduces the frozen body's
mean-pooled embedding (cosine loss), then probes again: can the head's input be made as good as the mean?
`--mean-layer` instead appends probe_start's mean-pooling layer (scripts/model/probe_start.py), which
hands [CLS] the mean without training.

    python -m bench.pooling_probe [--data reuters_r8] [--per-class 8] [--seed 42] [--align-epochs 8]
                                  [--mean-layer] [--save DIR]

--save DIR keeps the aligned (or extended) body, a model folder: make curve ... SET="model_name=DIR
probe_start=False" fine-tunes it with a new head.
"""

from __future__ import annotations

import argparse
import copy
import sys
from collections.abc import Sequence

import numpy as np

POSITIONS = ("mean", "cls", "pooler")


def _batches(n: int, size: int):
    for start in range(0, n, size):
        yield slice(start, start + size)


def features(model, tokenizer, texts: Sequence[str], max_len: int) -> dict[str, np.ndarray]:
    """L2-normalised mean-pooled, [CLS] and (when the body has one) pooler outputs, in input order."""
    import torch

    from scripts.model.base_model import batches_by_length, masked_mean

    out: dict[str, np.ndarray] = {}
    model.eval()
    with torch.inference_mode():
        for rows, batch in batches_by_length(tokenizer, texts, max_len, 64):
            result = model(**batch)
            hidden = result.last_hidden_state
            pooler = getattr(result, "pooler_output", None)
            positions = {"mean": masked_mean(hidden, batch["attention_mask"]), "cls": hidden[:, 0]}
            if pooler is not None:
                positions["pooler"] = pooler
            for name, value in positions.items():
                if name not in out:
                    out[name] = np.zeros((len(texts), value.shape[1]), dtype=np.float32)
                out[name][rows] = torch.nn.functional.normalize(value.float(), dim=1).numpy()
    return out


def align_cls(model, tokenizer, texts: Sequence[str], max_len: int, epochs: int, seed: int) -> list[float]:
    """Train `model` in place so that [CLS] points where the frozen model's mean-pooled embedding does
    (1 - cosine, batches of 8, AdamW 1e-4); the mean loss of each epoch."""
    import torch

    from scripts.model.base_model import batches_by_length, masked_mean

    torch.manual_seed(seed)
    teacher = copy.deepcopy(model).eval()
    target = torch.zeros(len(texts), model.config.hidden_size)
    with torch.inference_mode():
        for rows, batch in batches_by_length(tokenizer, texts, max_len, 64):
            target[rows] = masked_mean(teacher(**batch).last_hidden_state, batch["attention_mask"])
    del teacher
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    model.train()
    losses = []
    for epoch in range(epochs):
        order = np.random.default_rng(seed + epoch).permutation(len(texts))
        total = 0.0
        for part in _batches(len(texts), 8):
            rows = order[part]
            batch = tokenizer(
                [texts[i] for i in rows],
                truncation=True,
                max_length=max_len,
                padding=True,
                return_tensors="pt",
            )
            cls = model(**batch).last_hidden_state[:, 0]
            loss = (1 - torch.nn.functional.cosine_similarity(cls, target[rows], dim=1)).mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(rows)
        losses.append(total / len(texts))
    model.eval()
    return losses


def probe_scores(train_x: dict, y, test_x: dict, y_test, metric) -> dict[str, float]:
    """The frozen probe's logistic regression on each position's features; the metric on the test rows."""
    from sklearn.linear_model import LogisticRegression

    scores = {}
    for name in train_x:
        model = LogisticRegression(class_weight="balanced", max_iter=3000, C=1.0).fit(train_x[name], y)
        scores[name] = round(float(metric(y_test, model.predict(test_x[name]))), 4)
    return scores


def main(argv: Sequence[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pooling_probe", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--data", default="reuters_r8")
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument(
        "--seed", type=int, default=42, help="the draw's seed (make curve: manual_seed + draw)"
    )
    parser.add_argument("--align-epochs", type=int, default=0)
    parser.add_argument("--mean-layer", action="store_true", help="append probe_start's mean-pooling layer")
    parser.add_argument("--save", help="save the aligned or extended body and its tokenizer here")
    args = parser.parse_args(argv)

    from functools import partial

    from sklearn.metrics import accuracy_score, f1_score
    from transformers import AutoModel, AutoTokenizer

    from scripts import train
    from scripts.common import settings
    from scripts.curve import draw, encoded

    cfg, _ = settings.resolve_from_cli(args.data, [], None)
    base, resolved = train.choose_model({**cfg})
    dataset, splits, _ = train.prepare({**cfg, **resolved})
    if dataset.task == "multilabel":
        raise SystemExit("bench.pooling_probe: single-label data sets only")
    rows, test = draw(splits["train"], dataset, args.per_class, args.seed), splits["test"]
    y, y_test = encoded(rows, dataset), encoded(test, dataset)
    metric = accuracy_score if dataset.task == "binary" else partial(f1_score, average="macro")
    max_len = int(cfg["max_seq_length_cap"])
    tokenizer, model = AutoTokenizer.from_pretrained(base), AutoModel.from_pretrained(base)
    texts, test_texts = rows["text"].tolist(), test["text"].tolist()
    name = "accuracy" if dataset.task == "binary" else "macro-F1"
    print(f"{args.data}: {len(rows)} drawn rows (seed {args.seed}), {len(test)} test rows, {name}")
    frozen = probe_scores(
        features(model, tokenizer, texts, max_len),
        y,
        features(model, tokenizer, test_texts, max_len),
        y_test,
        metric,
    )
    print("frozen body:", frozen)
    if args.align_epochs or args.mean_layer:
        if args.mean_layer:
            from scripts.model.probe_start import append_mean_layer

            append_mean_layer(model)
            what = "probe_start's mean-pooling layer appended"
        else:
            losses = align_cls(model, tokenizer, texts, max_len, args.align_epochs, args.seed)
            what = f"[CLS] aligned for {args.align_epochs} epochs (loss {losses[0]:.3f} -> {losses[-1]:.3f})"
        changed = probe_scores(
            features(model, tokenizer, texts, max_len),
            y,
            features(model, tokenizer, test_texts, max_len),
            y_test,
            metric,
        )
        print(f"{what}:", changed)
        if args.save:
            model.save_pretrained(args.save)
            tokenizer.save_pretrained(args.save)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
