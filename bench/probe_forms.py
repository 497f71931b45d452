"""The k-fold probe candidate's features against the frozen probe reference's, on make curve's draws.

The candidate must ship as a plain BertForSequenceClassification, so it reads the body's mean through
probe_start's appended layer and the pooler: tanh(LayerNorm(mean)) with an identity pooler, or the centred
mean at unit length with the pooler scaled by 1 / sqrt(d) (what it uses). The reference reads the
L2-normalised mean. Each form gets logistic regression with C chosen by 4-fold out-of-fold log-loss on the
drawn rows; test accuracy (or the curve's metric) on the preset's test split, which no draw contains.

    python -m bench.probe_forms [--data sms_spam] [--sizes 8,16,64] [--draws 5]
"""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np


def scored(
    dataset: Any, x_test: np.ndarray, y_test: np.ndarray, weight: np.ndarray, bias: np.ndarray
) -> float:
    """The curve's metric of the head on the test features, at the default decision (argmax, or 0.5)."""
    kind, labels = dataset.kind, dataset.label_names
    positive = labels.index(dataset.positive_label) if dataset.positive_label else None
    probs = kind.activate(x_test @ weight.T + bias)
    pred = kind.decide(probs, None, positive)
    return float(kind.score(y_test, pred, probs, labels, positive)[kind.curve_metric])


def main(argv: list[str] | None = None) -> int:
    from scripts import curve, train
    from scripts.common import settings
    from scripts.common.console import quiet
    from scripts.evaluation import frozen_probe
    from scripts.model import probe_start
    from scripts.training import probe_candidate

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="sms_spam")
    parser.add_argument("--sizes", default="8,16,64")
    parser.add_argument("--draws", type=int, default=5)
    args = parser.parse_args(argv)
    cfg = settings.resolve({"dataset": args.data})
    base, resolved = train.choose_model(cfg)
    cfg = {**cfg, **resolved}
    with quiet():
        dataset, splits, _ = train.prepare(cfg)
        max_len = train.make_plan(cfg, dataset, splits, base).max_len
    kind, n = dataset.kind, len(dataset.label_names)
    pool, test = splits["train"], splits["test"]
    y_test = curve.encoded(test, dataset)
    forms = {
        "identity pooler": probe_start.mean_pooled_model(base, n),
        "unit-norm pooler (shipped)": probe_start.mean_pooled_model(base, n, unit_norm=True),
    }
    tests = {
        name: probe_start.pooled_features(m, t, test["text"].tolist(), max_len)
        for name, (m, t) in forms.items()
    }
    tests["reference (L2-normalised mean)"] = frozen_probe.embed(base, test["text"].tolist(), max_len)
    print(f"| rows per class | draw | {' | '.join(tests)} |\n|---|---|" + "---|" * len(tests))
    for size in map(int, args.sizes.split(",")):
        for d in range(args.draws):
            rows = curve.draw(pool, dataset, size, seed=cfg["manual_seed"] + d)
            y, texts = curve.encoded(rows, dataset), rows["text"].tolist()
            found = []
            for name, x_test in tests.items():
                if name in forms:
                    x = probe_start.pooled_features(*forms[name], texts, max_len)
                else:
                    x = frozen_probe.embed(base, texts, max_len)
                weight, bias, _ = probe_candidate.fitted_head(x, y, kind, n, 0)
                found.append(scored(dataset, x_test, y_test, weight, bias))
            print(f"| {size} | {d} | " + " | ".join(f"{v:.4f}" for v in found) + " |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
