"""Why quickfit's training loop (Simple Transformers', patched) and the transformers Trainer score
differently at equal steps: the ablation behind bench/QUALITY.md.

    python -m bench.ablation lockstep [--rows 2000] [--epochs 2]   [--out bench/ABLATION_LOCKSTEP.json]
    python -m bench.ablation seeds --seeds 16 [--variants T,Q,Q128] [--out bench/ABLATION_SEEDS.json]

lockstep: both loops start from the same saved weights and take the same batches in the same order,
dropout off, so nothing random is left. If they compute the same thing, their per-step losses,
learning rates and optimizer parameter groups agree; any systematic difference of the loop (parameter
groups, epsilon, bias correction, warm-up and schedule arithmetic, head initialisation, loss weighting,
padding) shows up as a gap from the first step at which it acts.

seeds: each loop as it really runs (its own data order, dropout and head initialisation) over many seeds,
scored on every SMS row not used for training (about 3,000 rows, 400 spam, where the bench's 516-row test
split has 69), so the paired per-seed difference separates a real gap from seed noise. T: the Trainer
(bench variant B); Q: quickfit's loop with its automatic max_seq_length, random batches (bench variant C
with grouping off); Q128: Q with max_seq_length 128, the Trainer's; QD: quickfit's defaults (bench
variant C: batches grouped by length, with each batch's class mix on short runs).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
NO_DROPOUT = {"hidden_dropout_prob": 0.0, "attention_probs_dropout_prob": 0.0}
SEED_VARIANTS = {
    "T": "transformers Trainer (dynamic padding, max_length 128)",
    "Q": "quickfit's loop, automatic max_seq_length, random batches",
    "Q128": "quickfit's loop, max_seq_length 128, random batches",
    "QD": "quickfit's defaults: automatic max_seq_length, batches grouped as recipes.grouping decides",
}


def ablation_data(dataset: str, rows: int, seed: int) -> dict:
    """bench.bench's training rows; every other row of the file is the evaluation set."""
    from bench.bench import bench_data

    data = bench_data(rows, seed, dataset)
    return {**data, "eval_texts": data["unused_texts"], "eval_labels": data["unused_labels"]}


def epoch_orders(rows: int, epochs: int, seed: int) -> list[np.ndarray]:
    return [np.random.default_rng([seed, epoch]).permutation(rows) for epoch in range(epochs)]


class FixedBatches:
    """quickfit's batch sampler replaced by given orders (one per epoch), cut into consecutive batches."""

    def __init__(self, orders: list[np.ndarray], batch_size: int) -> None:
        self.orders, self.batch_size, self.epoch, self.share = orders, batch_size, 0, 1.0

    def __len__(self) -> int:
        return math.ceil(len(self.orders[0]) / self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        order = self.orders[self.epoch]
        self.epoch += 1
        for start in range(0, len(order), self.batch_size):
            yield order[start : start + self.batch_size].tolist()


class FixedOrder:
    """The Trainer's sampler replaced by the same orders, flattened (it batches them consecutively)."""

    def __init__(self, orders: list[np.ndarray]) -> None:
        self.orders, self.epoch = orders, 0

    def __len__(self) -> int:
        return len(self.orders[0])

    def __iter__(self) -> Iterator[int]:
        order = self.orders[self.epoch]
        self.epoch += 1
        return iter(order.tolist())


@contextmanager
def recording(model) -> Iterator[dict[str, list]]:
    """Every training forward pass's loss, and at every optimizer step its learning rate, the gradient
    norm after clipping and the parameter groups (size, weight decay, eps, betas)."""
    import torch
    from torch.optim.optimizer import register_optimizer_step_pre_hook

    log: dict[str, list] = {"loss": [], "lr": [], "grad_norm": [], "groups": []}

    def on_forward(module, args, output):
        if module.training and getattr(output, "loss", None) is not None:
            log["loss"].append(float(output.loss.detach()))

    def on_step(optimizer, args, kwargs):
        grads = [
            p.grad.detach().float().norm()
            for g in optimizer.param_groups
            for p in g["params"]
            if p.grad is not None
        ]
        log["grad_norm"].append(float(torch.stack(grads).norm()) if grads else 0.0)
        log["lr"].append(float(optimizer.param_groups[0]["lr"]))
        if not log["groups"]:
            log["groups"] = sorted(
                (
                    sum(p.numel() for p in g["params"]),
                    g["weight_decay"],
                    g["eps"],
                    tuple(g["betas"]),
                    bool(g.get("fused")),
                )
                for g in optimizer.param_groups
                if g["params"]
            )

    forward = model.register_forward_hook(on_forward)
    step = register_optimizer_step_pre_hook(on_step)
    try:
        yield log
    finally:
        forward.remove()
        step.remove()


def train_trainer(
    source: str,
    data: dict,
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
    work: Path,
    orders: list[np.ndarray] | None = None,
    model_kwargs: dict | None = None,
    max_length: int = 128,
) -> tuple[Any, dict]:
    """The Trainer as bench variant B runs it; with `orders`, on those batches instead of its sampler."""
    from transformers import DataCollatorWithPadding, Trainer

    from bench.trainer_baseline import trainer_inputs, training_arguments

    tokenizer, model, rows = trainer_inputs(
        source, data["train_texts"], data["train_labels"], seed, max_length, **(model_kwargs or {})
    )
    args = training_arguments(work, batch, lr, epochs, seed)

    class OrderedTrainer(Trainer):
        def _get_train_sampler(self, *args, **kwargs):
            return FixedOrder(orders) if orders is not None else super()._get_train_sampler(*args, **kwargs)

    trainer = OrderedTrainer(
        model=model, args=args, train_dataset=rows, data_collator=DataCollatorWithPadding(tokenizer)
    )
    with recording(model) as log:
        start = time.perf_counter()
        trainer.train()
        log["seconds"] = time.perf_counter() - start
    return model.eval(), {**log, "max_length": max_length}


def train_quickfit(
    source: str,
    data: dict,
    epochs: int,
    batch: int,
    lr: float,
    seed: int,
    work: Path,
    orders: list[np.ndarray] | None = None,
    config: dict | None = None,
    max_length: int | None = None,
    grouped: bool = False,
) -> tuple[Any, dict]:
    """quickfit's loop (its Simple Transformers subclass, as bench variant C builds it), random batches;
    with `orders`, on those batches; `grouped`: batches as quickfit's defaults group them.
    max_length None: quickfit's automatic max_seq_length."""
    import pandas as pd
    import torch

    from bench.bench import st_args
    from scripts.common import runtime
    from scripts.model import base_model
    from scripts.training import fit, recipes
    from scripts.training.st import batching, models

    runtime.seed_everything(seed)
    tokenizer = base_model.load_tokenizer(source)
    if max_length is None:
        max_length, _ = base_model.auto_max_seq_length(tokenizer, data["train_texts"], 256)
    args = {
        **st_args(epochs, batch, lr, seed, work),
        "max_seq_length": max_length,
        "do_lower_case": base_model.folds_case(tokenizer),
        "fp16": False,
        "config": config or {},
    }
    model = fit.model_classes()["single"](
        "bert", source, num_labels=2, use_cuda=torch.cuda.is_available(), args=args
    )
    model.model.float()
    length_grouped, class_mix = recipes.grouping("auto", "auto", len(data["train_texts"]), batch, epochs)
    model.group_batches = batching.GROUP_BATCHES if grouped and length_grouped else 1
    model.keep_class_mix = grouped and class_mix
    original = models.LengthGroupedBatches
    if orders is not None:
        models.LengthGroupedBatches = lambda *a, **k: FixedBatches(orders, batch)
    try:
        with recording(model.model) as log:
            start = time.perf_counter()
            model.train_model(pd.DataFrame({"text": data["train_texts"], "labels": data["train_labels"]}))
            log["seconds"] = time.perf_counter() - start
    finally:
        models.LengthGroupedBatches = original
    return model.model.eval(), {**log, "max_length": max_length}


def predict(model, tokenizer, texts: list[str], max_length: int, batch: int = 128) -> np.ndarray:
    """One predictor for every variant: the model's own truncation length, padding per batch."""
    import torch

    device = next(model.parameters()).device
    out = []
    with torch.inference_mode():
        for i in range(0, len(texts), batch):
            enc = tokenizer(
                texts[i : i + batch],
                truncation=True,
                max_length=max_length,
                padding=True,
                return_tensors="pt",
            ).to(device)
            out.append(model(**enc).logits.argmax(-1).cpu().numpy())
    return np.concatenate(out)


def spam_f1(labels: list[int], predicted: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(labels, predicted, pos_label=1))


def lockstep(args: argparse.Namespace) -> dict:
    """Both loops on identical inputs; returns their step-by-step records and where they part."""
    import torch
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, set_seed

    from scripts.model import base_model

    data = ablation_data(args.dataset, args.rows, args.seed)
    base = base_model.resolve_model_name(args.model)
    orders = epoch_orders(len(data["train_texts"]), args.epochs, args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        init = Path(tmp) / "init"
        set_seed(args.seed)  # one classifier head, saved, so both start from the same weights
        AutoModelForSequenceClassification.from_pretrained(base, num_labels=2).save_pretrained(init)
        tokenizer = AutoTokenizer.from_pretrained(base)
        tokenizer.save_pretrained(init)
        common = (str(init), data, args.epochs, args.batch, args.lr, args.seed)
        trained = {
            "trainer": train_trainer(*common, Path(tmp) / "t", orders, NO_DROPOUT, args.max_length),
            "quickfit": train_quickfit(*common, Path(tmp) / "q", orders, NO_DROPOUT, args.max_length),
        }
        t_model, q_model = trained["trainer"][0], trained["quickfit"][0]
        weights = {n: p for n, p in q_model.named_parameters()}
        weight_gap = max(float((p - weights[n]).detach().abs().max()) for n, p in t_model.named_parameters())
        logs = {k: v[1] for k, v in trained.items()}
        result = {
            "mode": "lockstep",
            "settings": vars(args),
            "device": device_name(),
            "steps": {k: len(v["loss"]) for k, v in logs.items()},
            "groups": {k: v["groups"] for k, v in logs.items()},
            "lr_max_abs_gap": max_gap(logs["trainer"]["lr"], logs["quickfit"]["lr"]),
            "loss_abs_gap": gap_profile(logs["trainer"]["loss"], logs["quickfit"]["loss"]),
            "grad_norm_rel_gap": gap_profile(
                logs["trainer"]["grad_norm"], logs["quickfit"]["grad_norm"], True
            ),
            "final_weight_max_abs_gap": weight_gap,
            "eval_spam_f1": {
                k: spam_f1(data["eval_labels"], predict(m, tokenizer, data["eval_texts"], args.max_length))
                for k, m in (("trainer", t_model), ("quickfit", q_model))
            },
            "logs": {k: {kk: v[kk] for kk in ("loss", "lr", "grad_norm")} for k, v in logs.items()},
        }
    del torch
    return result


def max_gap(a: list[float], b: list[float]) -> float:
    return max((abs(x - y) for x, y in zip(a, b, strict=True)), default=0.0)


def gap_profile(a: list[float], b: list[float], relative: bool = False) -> dict[str, float]:
    """The largest gap over the first step, the first 10, 50, and all steps."""
    gaps = [abs(x - y) / (max(abs(x), abs(y)) if relative else 1.0) for x, y in zip(a, b, strict=True)]
    return {f"first_{n}": max(gaps[:n]) for n in (1, 10, 50) if gaps} | {"all": max(gaps) if gaps else 0.0}


def seeds(args: argparse.Namespace) -> dict:
    """Each variant over seeds seed..seed+n-1, each scored on every row it did not train on."""
    from transformers import AutoTokenizer

    from scripts.model import base_model

    data = ablation_data(args.dataset, args.rows, args.seed)
    base = base_model.resolve_model_name(args.model)
    tokenizer = AutoTokenizer.from_pretrained(base)
    variants = args.variants.split(",")
    scores: dict[str, list[float]] = {v: [] for v in variants}
    seconds: dict[str, list[float]] = {v: [] for v in variants}
    out_path = Path(args.out)
    for seed in range(args.seed, args.seed + args.seeds):
        for variant in variants:
            with tempfile.TemporaryDirectory() as tmp:
                common = (base, data, args.epochs, args.batch, args.lr, seed, Path(tmp))
                if variant == "T":
                    model, log = train_trainer(*common)
                else:
                    model, log = train_quickfit(
                        *common, max_length=128 if variant == "Q128" else None, grouped=variant == "QD"
                    )
                f1 = spam_f1(
                    data["eval_labels"], predict(model, tokenizer, data["eval_texts"], log["max_length"])
                )
            scores[variant].append(f1)
            seconds[variant].append(log["seconds"])
            print(f"[ablation] seed {seed} {variant}: spam-F1 {f1:.4f} ({log['seconds']:.1f} s)", flush=True)
        partial = {"mode": "seeds", "settings": vars(args), "device": device_name(), "scores": scores}
        out_path.write_text(json.dumps(partial | {"seconds": seconds}, indent=1))  # keep what finished
    return {**partial, "seconds": seconds, "paired": paired(scores)}


def paired(scores: dict[str, list[float]]) -> dict[str, dict[str, float]]:
    """Each variant against T, seed by seed: mean difference, its 95 % t-interval and Wilcoxon's p."""
    from scipy import stats

    out = {}
    for variant, values in scores.items():
        if variant == "T" or "T" not in scores:
            continue
        diff = np.array(values) - np.array(scores["T"][: len(values)])
        half = (
            stats.t.ppf(0.975, len(diff) - 1) * diff.std(ddof=1) / math.sqrt(len(diff))
            if len(diff) > 1
            else 0
        )
        out[variant] = {
            "seeds": len(diff),
            "mean_diff": float(diff.mean()),
            "ci95": [float(diff.mean() - half), float(diff.mean() + half)],
            "wilcoxon_p": float(stats.wilcoxon(diff).pvalue)
            if len(diff) > 5 and diff.any()
            else float("nan"),
        }
    return out


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return f"{torch.cuda.get_device_name(0)}, torch {torch.__version__}, fp32 (TF32 off)"
    threads = torch.get_num_threads()
    return f"{platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__}, {threads} threads"


def summarise(result: dict) -> str:
    """A few lines for the console and for bench/QUALITY.md."""
    if result["mode"] == "lockstep":
        return "\n".join(
            [
                f"lockstep on {result['device']}: steps {result['steps']}",
                f"  parameter groups (size, weight decay, eps, betas, fused): {result['groups']}",
                f"  largest learning-rate gap: {result['lr_max_abs_gap']:.3g}",
                f"  loss gap: {result['loss_abs_gap']}",
                f"  gradient-norm relative gap: {result['grad_norm_rel_gap']}",
                f"  final weights' largest gap: {result['final_weight_max_abs_gap']:.3g}",
                f"  evaluation spam-F1: {result['eval_spam_f1']}",
            ]
        )
    lines = [f"seeds on {result['device']}:"]
    for variant, values in result["scores"].items():
        lines.append(
            f"  {variant}: median {statistics.median(values):.4f}, mean {statistics.mean(values):.4f} "
            f"(sd {statistics.stdev(values) if len(values) > 1 else 0:.4f}) over {len(values)} seeds"
        )
    for variant, p in result["paired"].items():
        lines.append(
            f"  {variant} - T: {100 * p['mean_diff']:+.2f} points, 95 % CI [{100 * p['ci95'][0]:+.2f}, "
            f"{100 * p['ci95'][1]:+.2f}], Wilcoxon p = {p['wilcoxon_p']:.3f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=("lockstep", "seeds"))
    parser.add_argument(
        "--dataset", default="sms_spam_uci", help="sms_spam_uci (../shared) or sms_spam (data/)"
    )
    parser.add_argument("--model", default="packaged-minilm")
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--seeds", type=int, default=16)
    parser.add_argument("--variants", default="T,Q,Q128")
    parser.add_argument("--max-length", type=int, default=128, help="lockstep: both loops' max length")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(PROJECT))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS, before CUDA starts
    import torch

    torch.backends.cuda.matmul.allow_tf32 = False  # fp32 on a GPU too, as on the CPU
    torch.backends.cudnn.allow_tf32 = False
    if args.mode == "lockstep":  # the same inputs must give the same numbers, run to run
        torch.use_deterministic_algorithms(True, warn_only=True)
    args.out = args.out or str(PROJECT / "bench" / f"ABLATION_{args.mode.upper()}.json")
    result = lockstep(args) if args.mode == "lockstep" else seeds(args)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(summarise(result))


if __name__ == "__main__":
    main()
