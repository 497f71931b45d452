"""Long texts: the same data, seed and split trained with `long_texts=truncate` and `long_texts=chunks`,
each evaluated on the same test rows beside TF-IDF + LR (paired bootstrap), with training time and the
rows/s of `make predict` on the test texts.

    python -m bench.long_texts [--data reuters_r8] [--rows 0] [--seed 42] [--out bench/LONG_TEXTS.md]

--rows caps the training split (0: all of it); the page says which was used.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parent.parent
MODES = ("truncate", "chunks")


def run_mode(data: str, mode: str, seed: int, rows: int, extra: dict) -> dict:
    import pandas as pd

    from scripts import evaluate, train
    from scripts.common import runs, settings
    from scripts.model.inference import load_predictor

    cfg = settings.resolve(
        {**extra, "dataset": data, "manual_seed": seed, "max_train_rows": rows, "long_texts": mode}
    )
    run_dir = train.train_run(cfg)
    report = evaluate.evaluate(run_dir, threads=cfg["threads"])
    record = runs.read_record(run_dir)
    texts = pd.read_csv(run_dir / "splits" / "test.csv", keep_default_na=False)["text"].tolist()
    predictor = load_predictor(run_dir / "model", cfg["threads"])
    started = time.perf_counter()
    predictor.predict_proba(texts)
    rows_per_s = len(texts) / (time.perf_counter() - started)
    metric = report["paired_bootstrap"]["metric"]
    return {
        "mode": mode,
        "run": run_dir.name,
        "train_rows": record["dataset"]["split"]["sizes"]["train"],
        "test_rows": report["data"]["rows"],
        "long_texts": record.get("long_texts"),
        "truncated_share_pct": record["token_lengths"].get("truncated_share_pct"),
        "max_seq_length": record["max_seq_length"],
        "best_epoch": record["best_epoch"],
        "train_seconds": record["train_seconds"],
        "predict_rows_per_s": round(rows_per_s, 1),
        "transformer": {k: report["results"]["transformer"].get(k) for k in ("accuracy", "f1_macro")},
        "intervals": report["results"]["transformer"].get("intervals", {}),
        "tfidf_logreg": {k: report["results"]["tfidf_logreg"].get(k) for k in ("accuracy", "f1_macro")},
        "paired_vs_tfidf": {"metric": metric, **report["paired_bootstrap"]},
    }


def interval(result: dict, key: str) -> str:
    low_high = result["intervals"].get(key)
    return f" [{low_high[0]:.4f}, {low_high[1]:.4f}]" if isinstance(low_high, list) else ""


def write(results: list[dict], out: Path, command: str, data: str) -> None:
    import torch

    by_mode = {r["mode"]: r for r in results}
    lines = [
        f"# Long texts on {data} ({time.strftime('%Y-%m-%d')})",
        "",
        f"Machine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"{torch.cuda.get_device_name(0) if torch.cuda.is_available() else 'no GPU'}. Command: `{command}`",
        "",
        f"Same data, seed and split; training rows {results[0]['train_rows']}, test rows "
        f"{results[0]['test_rows']}, max_seq_length {results[0]['max_seq_length']} "
        f"({results[0]['truncated_share_pct']}% of training texts longer). In brackets: 95 % bootstrap "
        "intervals; `vs TF-IDF`: the paired bootstrap interval of the transformer's lead on the same rows.",
        "",
        "| long_texts | accuracy | macro-F1 | TF-IDF + LR accuracy / macro-F1 | vs TF-IDF | best epoch | "
        "training s | predict rows/s | run |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        paired = r["paired_vs_tfidf"]
        lines.append(
            f"| {r['mode']} | {r['transformer']['accuracy']:.4f}{interval(r, 'accuracy')} | "
            f"{r['transformer']['f1_macro']:.4f}{interval(r, 'f1_macro')} | "
            f"{r['tfidf_logreg']['accuracy']:.4f} / {r['tfidf_logreg']['f1_macro']:.4f} | "
            f"{paired['metric']} {paired['difference_interval']} | {r['best_epoch']} | "
            f"{r['train_seconds']:.0f} | {r['predict_rows_per_s']} | {r['run']} |"
        )
    if set(MODES) <= set(by_mode):
        ratio = by_mode["chunks"]["train_seconds"] / max(by_mode["truncate"]["train_seconds"], 1e-9)
        lines += ["", f"Training time, chunks / truncate: {ratio:.2f}x (target <= 2x)."]
    lines += ["", "Raw results:", "", "```json", json.dumps(results, indent=1), "```", ""]
    out.write_text("\n".join(lines))
    print("\n".join(lines[: lines.index("Raw results:")]))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="reuters_r8")
    parser.add_argument("--rows", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="other settings")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "LONG_TEXTS.md"))
    args = parser.parse_args(argv)
    from scripts.common.settings import parse_overrides

    extra = parse_overrides(args.set)
    results = [run_mode(args.data, mode, args.seed, args.rows, extra) for mode in args.modes.split(",")]
    command = bench_command("bench.long_texts", list(argv if argv is not None else sys.argv[1:]))
    write(results, Path(args.out), command.strip(), args.data)


if __name__ == "__main__":
    main()
