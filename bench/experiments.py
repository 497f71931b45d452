"""`make experiments`: the three shared datasets with quickfit's defaults, test metrics in one table.

    python -m bench.experiments [--datasets sms_spam_uci,reuters_r8,goemotions] [--seeds 42,43,44]
                                [--rows reuters_r8=2000,goemotions=10000] [--out bench/EXPERIMENTS.md]

Defaults only: each run is `make train DATA=<preset>` (plus the seed and, where given, a row cap),
then `make eval`. Full R8 and GoEmotions take hours on 2 CPU cores: --rows states the subset used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent
KEYS = {
    "sms_spam_uci": ["accuracy", "f1_positive", "pr_auc", "mcc"],
    "reuters_r8": ["accuracy", "f1_macro", "f1_weighted", "mcc"],
    "goemotions": ["f1_macro", "f1_micro", "f1_samples", "lrap"],
}
TARGETS = {
    "sms_spam_uci": {"f1_positive": 0.98, "accuracy": 0.994},
    "reuters_r8": {"accuracy": 0.98, "f1_macro": 0.95},
    "goemotions": {"f1_macro": 0.50, "f1_micro": 0.58},
}
PUBLISHED = {
    "sms_spam_uci": "fine-tuned DistilBERT/BERT-base model cards: accuracy ~0.99, spam F1 ~0.96 "
    "(own random splits)",
    "reuters_r8": "accuracy: BERT-base 0.964, RoBERTa-base 0.978 (Lin et al. 2021); "
    "TextGCN 0.971 (Yao et al. 2019)",
    "goemotions": "macro-F1: BERT-base 0.46 (Demszky et al. 2020); class-weighted BERT ~0.49",
}


def run_one(dataset: str, seed: int, rows: int) -> dict:
    from scripts import evaluate, train
    from scripts.common import runs, settings

    cfg = settings.resolve({"dataset": dataset, "manual_seed": seed, "max_train_rows": rows})
    started = time.time()
    run_dir = train.train_run(cfg)
    report = evaluate.evaluate(run_dir, threads=cfg["threads"])
    record = runs.read_record(run_dir)
    flat = runs.read_json(run_dir / "config.json")["flat"]
    return {
        "dataset": dataset,
        "seed": seed,
        "run": run_dir.name,
        "rows_cap": rows,
        "train_rows": record["dataset"]["split"]["sizes"]["train"],
        "test_rows": report["data"]["rows"],
        "epochs": flat["num_train_epochs"],
        "best_epoch": record["best_epoch"],
        "learning_rate": flat["learning_rate"],
        "max_seq_length": record["max_seq_length"],
        "balance": record["balance"]["method"],
        "wall_seconds": round(time.time() - started, 1),
        "train_seconds": record["train_seconds"],
        "transformer": {k: report["results"]["transformer"].get(k) for k in KEYS[dataset]},
        "at_0.5": {k: report["results"].get("transformer_at_0.5", {}).get(k) for k in KEYS[dataset]},
        "tfidf_logreg": {k: report["results"]["tfidf_logreg"].get(k) for k in KEYS[dataset]},
        "collapsed": report["collapsed"],
    }


def summary(values: list[float]) -> str:
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{statistics.mean(values):.4f} ± {statistics.stdev(values):.4f}"


def write(results: list[dict], out: Path, command: str) -> None:
    import torch

    lines = [
        f"# Experiments: quickfit defaults on the shared datasets ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}; torch "
        f"{torch.__version__}.",
        f"Command: `{command}`",
        "",
        "Test split metrics (mean ± standard deviation over seeds where there are several). Model: the "
        "packaged "
        "all-MiniLM-L6-v2. Defaults only; `rows` caps the training split where the full run does not fit "
        "this "
        "machine's time.",
        "",
    ]
    for dataset in dict.fromkeys(r["dataset"] for r in results):
        rs = [r for r in results if r["dataset"] == dataset]
        first = rs[0]
        lines += [
            f"## {dataset}",
            "",
            (
                f"Training rows {first['rows_cap']} (sampled with the seed from the {first['train_rows']} "
                "available), "
                if first["rows_cap"] and first["rows_cap"] < first["train_rows"]
                else f"Training rows {first['train_rows']}, "
            )
            + f"test rows {first['test_rows']}; seeds {', '.join(str(r['seed']) for r in rs)}; "
            + f"up to {first['epochs']} "
            f"epochs (best: {', '.join(str(r['best_epoch']) for r in rs)}), lr {first['learning_rate']}, "
            f"max_seq_length {first['max_seq_length']}, balance {first['balance']}; wall time "
            f"{', '.join(str(round(r['wall_seconds'])) for r in rs)} s.",
            "",
            "| metric | quickfit | "
            + ("at threshold 0.5 | " if first["at_0.5"].get(KEYS[dataset][0]) is not None else "")
            + "TF-IDF + LR | target |",
            "|---|---|---|---|" + ("---|" if first["at_0.5"].get(KEYS[dataset][0]) is not None else ""),
        ]
        for key in KEYS[dataset]:
            row = [key, summary([r["transformer"][key] for r in rs])]
            if first["at_0.5"].get(KEYS[dataset][0]) is not None:
                row.append(summary([r["at_0.5"][key] for r in rs]))
            row.append(summary([r["tfidf_logreg"][key] for r in rs]))
            target = TARGETS[dataset].get(key)
            mean = statistics.mean(r["transformer"][key] for r in rs)
            row.append(
                ""
                if target is None
                else f">= {target} ({'met' if mean >= target else f'gap {target - mean:.4f}'})"
            )
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", f"Published (not measured here): {PUBLISHED[dataset]}.", ""]
    lines += ["Raw results:", "", "```json", json.dumps(results, indent=1), "```", ""]
    out.write_text("\n".join(lines))
    print("\n".join(lines[: lines.index("Raw results:")]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="sms_spam_uci,reuters_r8,goemotions")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--rows", default="", help="row caps, e.g. reuters_r8=2000,goemotions=10000")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "EXPERIMENTS.md"))
    parser.add_argument(
        "--render",
        metavar="COMMAND",
        help="only re-render --out from its .json, naming the command that made it",
    )
    args = parser.parse_args(argv)
    if args.render:
        return write(json.loads(Path(args.out).with_suffix(".json").read_text()), Path(args.out), args.render)
    caps = {k: int(v) for k, v in (item.split("=") for item in args.rows.split(",") if item)}
    results_path = Path(args.out).with_suffix(".json")
    results = []
    for dataset in args.datasets.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            print(f"[experiments] {dataset} seed {seed} rows {caps.get(dataset, 'all')}", flush=True)
            results.append(run_one(dataset, seed, caps.get(dataset, 0)))
            results_path.write_text(json.dumps(results, indent=1))  # keep what finished
    command = (
        "python -m bench.experiments --datasets "
        + args.datasets
        + " --seeds "
        + args.seeds
        + (" --rows " + args.rows if args.rows else "")
    )
    write(results, Path(args.out), command)


if __name__ == "__main__":
    main()
