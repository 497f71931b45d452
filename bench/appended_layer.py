"""What `probe_start`'s appended mean layer costs at inference: the default body with and without it
(the same weights otherwise; a fresh head, since only the time is compared), forward passes on the
default data set's test texts at batch 1, 8 and 64, the two models interleaved round by round in one
process so that load on the machine falls on both alike. The layer's queries, keys and feed-forward
weights are zero and stay zero in fine-tuning (their gradients are zero at zero), yet a plain
BertForSequenceClassification computes them.

    python -m bench.appended_layer [--texts 256] [--rounds 5] [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import time
from statistics import median

import numpy as np


def timed(model, batches) -> float:
    import torch

    started = time.perf_counter()
    with torch.inference_mode():
        for batch in batches:
            model(**batch)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    import torch
    from transformers import AutoTokenizer, BertForSequenceClassification

    from scripts import train
    from scripts.common import settings
    from scripts.common.console import quiet
    from scripts.model.probe_start import append_mean_layer

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg, _ = settings.resolve_from_cli(None, [], "bench")
    base, resolved = train.choose_model(cfg)
    with quiet():
        _, splits, _ = train.prepare({**cfg, **resolved})
    texts = splits["test"]["text"].astype(str).tolist()[: args.texts]
    tokenizer = AutoTokenizer.from_pretrained(base)
    plain = BertForSequenceClassification.from_pretrained(base, num_labels=2).eval()
    appended = copy.deepcopy(plain)
    append_mean_layer(appended.bert)
    appended.eval()
    print(
        f"base {base}: {plain.config.num_hidden_layers} layers, with the mean layer "
        f"{appended.config.num_hidden_layers}; {len(texts)} test texts, {args.threads} threads"
    )
    print("| batch | plain rows/s | with the mean layer rows/s | time ratio (with / plain) |")
    print("|---|---|---|---|")
    order = np.argsort([len(t) for t in texts])  # length-sorted batches, as predict runs them
    for size in (1, 8, 64):
        batches = [
            tokenizer(
                [texts[i] for i in order[s : s + size]],
                padding=True,
                truncation=True,
                max_length=128,
                return_tensors="pt",
            )
            for s in range(0, len(texts), size)
        ]
        timed(plain, batches[:2]), timed(appended, batches[:2])  # warm-up
        plain_t, appended_t = [], []
        for _ in range(args.rounds):
            plain_t.append(timed(plain, batches))
            appended_t.append(timed(appended, batches))
        p, a = median(plain_t), median(appended_t)
        print(f"| {size} | {len(texts) / p:.1f} | {len(texts) / a:.1f} | {a / p:.3f} |")


if __name__ == "__main__":
    main()
