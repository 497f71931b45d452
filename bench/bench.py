"""Benchmark: quickfit's training and prediction paths against Simple Transformers' defaults and a plain
transformers Trainer, on the same SMS spam rows, model, epochs, batch size, learning rate and seed.

    python -m bench.bench [--rows 800] [--rounds 3] [--epochs 1] [--variants A,B,B2,C,C2]
                          [--out bench/RESULTS.md]

Each variant runs in its own process (so peak memory is its own), alternating A, B, B2, C per round;
medians over rounds are reported with the ratios C/A, C/B, C/B2.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

PROJECT = Path(__file__).resolve().parent.parent
DEFAULT_VARIANTS = "A,B,B2,C,C2"
DEFAULT_OUT = PROJECT / "bench" / "RESULTS.md"
VARIANTS = {
    "A": "Simple Transformers defaults (max_seq_length 128, padded)",
    "B": "transformers Trainer, dynamic padding",
    "B2": "transformers Trainer, dynamic padding + group_by_length",
    "C": "quickfit defaults (auto max_seq_length, batches trimmed, grouped by length; under 250 steps "
    "each batch keeps its group's class mix; on the CPU, batches run as sub-batches of similar length)",
    "C2": "quickfit with length grouping alone (grouping_class_mix=False: groups of 8 batches sorted by "
    "length)",
    "C3": "quickfit with length_grouping=True and grouping_class_mix=True (each batch keeps the class mix)",
    "C1": "quickfit defaults without sub-batches (sub_batches=False: each batch in one pass)",
    "CF": "C with the pass cost fitted from the timed steps (quickfit's default before 2026-12-03)",
}


def bench_data(rows: int, seed: int, dataset: str = "sms_spam_uci") -> dict:
    """The UCI SMS file from ../shared (or the default download, `sms_spam`), de-duplicated; a stratified
    training subset, a test set, and the rows neither uses."""
    from sklearn.model_selection import train_test_split

    from scripts.common import settings
    from scripts.data import sources
    from scripts.data.dataset import load_dataset

    cfg = settings.resolve({"dataset": dataset})
    frame = load_dataset(sources.get_source(dataset), cfg).frames["all"]
    rest, test = train_test_split(frame, test_size=0.1, random_state=seed, stratify=frame["labels"])
    train, unused = train_test_split(rest, train_size=rows, random_state=seed, stratify=rest["labels"])
    encode = lambda s: [1 if v == "spam" else 0 for v in s]  # noqa: E731
    return {
        "train_texts": train["text"].tolist(),
        "train_labels": encode(train["labels"]),
        "test_texts": test["text"].tolist(),
        "test_labels": encode(test["labels"]),
        "unused_texts": unused["text"].tolist() + test["text"].tolist(),
        "unused_labels": encode(unused["labels"]) + encode(test["labels"]),
    }


def spam_f1(y: list[int], pred) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, np.asarray(pred), pos_label=1))


def st_args(epochs: int, batch: int, lr: float, seed: int, work: Path) -> dict:
    """Simple Transformers' args in every benchmark: no caches, no saving, the Trainer's warm-up and decay."""
    from scripts.training.fit import OFFLINE_SAFE

    return {
        **OFFLINE_SAFE,
        "num_train_epochs": epochs,
        "train_batch_size": batch,
        "learning_rate": lr,
        "manual_seed": seed,
        "output_dir": str(work / "st"),
        "cache_dir": str(work / "cache"),
        "tensorboard_dir": str(work / "tb"),
        "silent": True,
        "save_model_every_epoch": False,
        "save_steps": -1,
        "wandb_project": None,
        "warmup_ratio": 0.06,
        "weight_decay": 0.01,
    }


def run_variant(variant: str, spec: dict) -> dict:
    """One training run (in this process); returns timings, token counts and the test metric."""
    import torch

    from scripts.common import runtime
    from scripts.model import base_model
    from scripts.training import fit, recipes
    from scripts.training.st import trainer

    torch.set_num_threads(spec["threads"])
    base = base_model.resolve_model_name("packaged-minilm")
    work = Path(spec["work"])
    texts, labels = spec["data"]["train_texts"], spec["data"]["train_labels"]
    test_texts, test_labels = spec["data"]["test_texts"], spec["data"]["test_labels"]
    tokenizer = base_model.load_tokenizer(base)
    real_tokens = (
        sum(len(x) for x in tokenizer(texts, truncation=True, max_length=128)["input_ids"]) * spec["epochs"]
    )
    result: dict = {"variant": variant, "rows": len(texts), "real_tokens": real_tokens}
    if variant in ("B", "B2"):
        from bench.trainer_baseline import predict_labels, train_trainer

        out = train_trainer(
            base,
            texts,
            labels,
            spec["epochs"],
            spec["batch"],
            spec["lr"],
            spec["seed"],
            variant == "B2",
            work,
        )
        result.update(train_seconds=out["train_seconds"])
        result["spam_f1"] = spam_f1(test_labels, predict_labels(out["model_dir"], test_texts))
    else:
        import pandas as pd

        runtime.seed_everything(spec["seed"])
        frame = pd.DataFrame({"text": texts, "labels": labels})
        common = st_args(spec["epochs"], spec["batch"], spec["lr"], spec["seed"], work)
        if variant == "A":
            from simpletransformers.classification import ClassificationModel

            model = ClassificationModel(
                "bert", base, num_labels=2, use_cuda=torch.cuda.is_available(), args=common
            )
        else:
            max_len, _ = base_model.auto_max_seq_length(tokenizer, texts, 256)
            model = fit.model_classes()["single"](
                "bert",
                base,
                num_labels=2,
                use_cuda=torch.cuda.is_available(),
                args={**common, "max_seq_length": max_len},
            )
            settings = {
                "C": ("auto", "auto"),
                "C1": ("auto", "auto"),
                "CF": ("auto", "auto"),
                "C2": (True, False),
                "C3": (True, True),
            }[variant]
            grouped, mix = recipes.grouping(*settings, len(texts), spec["batch"], spec["epochs"])
            model.group_batches = trainer.GROUP_BATCHES if grouped else 1
            model.keep_class_mix = mix
            result["length_grouping"] = bool(grouped)
            result["grouping_class_mix"] = bool(mix)
            result["max_seq_length"] = max_len
            split = recipes.use_sub_batches("auto" if variant != "C1" else False)
            model.pass_cost = trainer.PASS_COST_POSITIONS if split else None
            model.fit_pass_cost = variant == "CF"
            result["sub_batches"] = model.pass_cost is not None
            trimmed = {"tokens": 0}

            def counting(module, args, kwargs):  # the token positions the model really processes
                if module.training:
                    trimmed["tokens"] += int(kwargs["input_ids"].numel())

            counter = model.model.register_forward_pre_hook(counting, with_kwargs=True)
        model.model.float()
        start = time.perf_counter()
        model.train_model(frame)
        result["train_seconds"] = time.perf_counter() - start
        if variant in ("C", "CF", "C1", "C2", "C3"):
            result["processed_tokens"] = trimmed["tokens"]
            result["pass_cost"] = model.pass_timer.measured if model.pass_timer else None
            counter.remove()
        saved = work / "model"
        model.model.save_pretrained(saved)
        model.tokenizer.save_pretrained(saved)
        base_model.write_label_map(
            saved,
            ["ham", "spam"],
            "binary",
            {"positive_label": "spam", "max_seq_length": result.get("max_seq_length", 128)},
        )
        preds, _ = model.predict(test_texts)
        result["spam_f1"] = spam_f1(test_labels, preds)
        if variant == "C":
            result.update(prediction_benchmark(saved, test_texts, spec["threads"]))
        params = sum(p.numel() for n, p in model.model.named_parameters() if "embeddings" not in n)
        result["non_embedding_params"] = int(params)
    result["samples_per_second"] = len(texts) * spec["epochs"] / result["train_seconds"]
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return result


def prediction_benchmark(model_dir: Path, texts: list[str], threads: int) -> dict:
    """quickfit predict (length-sorted, per-batch padding; and int8) vs Simple Transformers predict, same
    model."""
    from scripts.model.inference import load_predictor
    from tests.helpers import simpletransformers_model

    st = simpletransformers_model(model_dir, eval_batch_size=64)
    start = time.perf_counter()
    st_preds, _ = st.predict(texts)
    st_seconds = time.perf_counter() - start
    out = {"st_predict_rows_per_s": len(texts) / st_seconds}
    for name, quantize in (("quickfit", False), ("quickfit_int8", True)):
        predictor = load_predictor(model_dir, threads, quantize=quantize)
        predictor.predict_proba(texts[:64])  # warm-up
        start = time.perf_counter()
        probs = predictor.predict_proba(texts)
        seconds = time.perf_counter() - start
        out[f"{name}_rows_per_s"] = len(texts) / seconds
        out[f"{name}_identical_labels"] = float(np.mean(probs.argmax(1) == np.asarray(st_preds)))
    return out


def matmul_flops(threads: int, n: int = 2048, repeats: int = 10) -> float:
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(repeats):
        a @ b
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def child(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    result = run_variant(spec["variant"], spec)
    Path(spec["result"]).write_text(json.dumps(result))


def median(results: list[dict], key: str) -> float:
    values = [r[key] for r in results if key in r]
    return statistics.median(values) if values else float("nan")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=800)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--lr", type=float, default=5e-5)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=0, help="0: physical cores")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS)
    parser.add_argument("--out", default=str(DEFAULT_OUT))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return child(args.child)
    sys.path.insert(0, str(PROJECT))
    from scripts.common.runtime import physical_cores

    threads = args.threads or physical_cores()
    data = bench_data(args.rows, args.seed)
    results: dict[str, list[dict]] = {v: [] for v in args.variants.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        for round_ in range(args.rounds):
            for variant in results:
                spec = {
                    "variant": variant,
                    "data": data,
                    "epochs": args.epochs,
                    "batch": args.batch,
                    "lr": args.lr,
                    "seed": args.seed + round_,
                    "threads": threads,
                    "work": f"{tmp}/{variant}{round_}",
                    "result": f"{tmp}/{variant}{round_}.json",
                }
                Path(spec["work"]).mkdir()
                Path(f"{tmp}/spec.json").write_text(json.dumps(spec))
                print(
                    f"[bench] round {round_ + 1}/{args.rounds}: {variant} - {VARIANTS[variant]}", flush=True
                )
                subprocess.run(
                    [sys.executable, "-m", "bench.bench", "--child", f"{tmp}/spec.json"],
                    cwd=PROJECT,
                    check=True,
                    env={**os.environ, "TRANSFORMERS_VERBOSITY": "error"},
                )
                results[variant].append(json.loads(Path(spec["result"]).read_text()))
                r = results[variant][-1]
                print(
                    f"[bench]   {r['samples_per_second']:.1f} samples/s, {r['train_seconds']:.1f} s, "
                    f"spam F1 {r['spam_f1']:.4f}, peak RSS {r['peak_rss_mb']:.0f} MB",
                    flush=True,
                )
    flops = matmul_flops(threads)
    write_results(Path(args.out).resolve(), args, threads, data, results, flops)


def write_results(
    path: Path, args, threads: int, data: dict, results: dict[str, list[dict]], flops: float
) -> None:
    import torch

    med = {
        v: {k: median(rs, k) for k in ("samples_per_second", "train_seconds", "peak_rss_mb", "spam_f1")}
        for v, rs in results.items()
    }
    lines = [
        f"# Benchmark results ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch "
        f"{torch.__version__}, "
        f"{threads} "
        f"threads{', GPU ' + torch.cuda.get_device_name(0) if torch.cuda.is_available() else ', no GPU'}.",
        f"Command: `python -m bench.bench --rows {args.rows} --rounds {args.rounds} --epochs {args.epochs}"
        + (f" --variants {args.variants}" if args.variants != DEFAULT_VARIANTS else "")
        + (f" --out {os.path.relpath(path, PROJECT)}" if path != DEFAULT_OUT else "")
        + "`"
        + (" (`make bench`)." if (args.rows, args.rounds, args.epochs) == (800, 3, 1) else "."),
        "",
        f"Data: SMS spam (UCI file from ../shared/datasets, de-duplicated), {args.rows} stratified training "
        "rows, "
        f"{len(data['test_texts'])} test rows; the packaged all-MiniLM-L6-v2; {args.epochs} epoch(s), batch "
        f"{args.batch}, learning rate {args.lr}. Round r uses seed {args.seed} + r for every variant (the "
        "same "
        f"seed within a round); medians over {args.rounds} rounds, variants alternating, each in its own "
        "process.",
        "",
        "## Training",
        "",
        "| variant | samples/s | train s | peak RSS MB | test spam F1 (median) | spam F1 per seed |",
        "|---|---|---|---|---|---|",
    ]
    for v, m in med.items():
        per_seed = " / ".join(f"{r['spam_f1']:.3f}" for r in results[v])
        lines.append(
            f"| {v}: {VARIANTS[v]} | {m['samples_per_second']:.1f} | {m['train_seconds']:.1f} | "
            f"{m['peak_rss_mb']:.0f} | {m['spam_f1']:.4f} | {per_seed} |"
        )
    lines.append("")
    for mine in ("C", "CF", "C1", "C2", "C3"):
        if mine not in med:
            continue
        for other in ("A", "B", "B2") + (("CF", "C1") if mine == "C" else ()):
            if other in med:
                ratio = med[mine]["samples_per_second"] / med[other]["samples_per_second"]
                gap = 100 * (med[mine]["spam_f1"] - med[other]["spam_f1"])
                lines.append(
                    f"- {mine}/{other} training samples/s: **{ratio:.2f}x**; spam F1 "
                    f"{med[mine]['spam_f1']:.4f} vs "
                    f"{med[other]['spam_f1']:.4f} ({gap:+.1f} points)"
                )
        lines.append("")
    if "C" in results:
        c = results["C"]
        lines += [
            "## Prediction (test split, the model C trained)",
            "",
            "| predictor | rows/s | labels identical to Simple Transformers predict |",
            "|---|---|---|",
            f"| Simple Transformers `predict` | {median(c, 'st_predict_rows_per_s'):.1f} | - |",
            f"| quickfit predict (fp32) | {median(c, 'quickfit_rows_per_s'):.1f} | "
            f"{100 * median(c, 'quickfit_identical_labels'):.2f} % |",
            f"| quickfit predict (int8 dynamic) | {median(c, 'quickfit_int8_rows_per_s'):.1f} | "
            f"{100 * median(c, 'quickfit_int8_identical_labels'):.2f} % |",
            "",
            f"- quickfit fp32 / Simple Transformers: "
            f"**{median(c, 'quickfit_rows_per_s') / median(c, 'st_predict_rows_per_s'):.2f}x**",
            f"- quickfit int8 / Simple Transformers: "
            f"**{median(c, 'quickfit_int8_rows_per_s') / median(c, 'st_predict_rows_per_s'):.2f}x**",
            "",
            "## Utilisation",
            "",
            "Estimated training FLOP/s = 6 x non-embedding parameters x real tokens (padding excluded) / "
            "train seconds; "
            f"measured fp32 matmul (2048x2048, {threads} threads): {flops / 1e9:.1f} GFLOP/s.",
            "",
            "| variant | non-embedding params | real tokens | token positions processed | useful GFLOP/s | "
            "utilisation |",
            "|---|---|---|---|---|---|",
        ]
        for mine in ("C", "CF", "C1", "C2", "C3"):
            if mine in results:
                rs = results[mine]
                params, real = rs[0]["non_embedding_params"], median(rs, "real_tokens")
                useful = 6 * params * real / med[mine]["train_seconds"]
                lines.append(
                    f"| {mine} | {params / 1e6:.2f} M | {int(real):,} | "
                    f"{int(median(rs, 'processed_tokens')):,} "
                    f"(A: {args.rows * args.epochs * 128:,}) | {useful / 1e9:.1f} | "
                    f"**{100 * useful / flops:.0f} %** |"
                )
    lines += ["", "Raw results (every round):", "", "```json", json.dumps(results, indent=1), "```", ""]
    path.write_text("\n".join(lines))
    print("\n".join(lines[:40]))


if __name__ == "__main__":
    main()
