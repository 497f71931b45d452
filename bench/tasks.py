"""Pairs and regression with the defaults: `make train DATA=<preset>` then `make eval`, on STS-B (pair
regression), MRPC (pair binary) and the three VADER sentence sets (regression), each against the references
make eval scores on the same test rows (TF-IDF + a linear model, the frozen-embedding probe, the trivial
predictor) and, on the VADER sets, the vaderSentiment rules' compound score; the 90 % interval's coverage.

    python -m bench.tasks [--datasets stsb,mrpc,vader_tweets,...] [--seeds 42] [--out bench/TASKS.md]
                          [--variant NAME --set key=value ...]

--variant keeps a changed recipe's runs (config keys given by --set) apart, under outputs/bench_tasks/NAME/.

Each run is a real `python -m scripts.train` process (its own torch threads), then the evaluation; the table
is rebuilt from every result file under outputs/bench_tasks/ (a later call adds seeds or sets)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

PROJECT = Path(__file__).resolve().parents[1]
OUT = PROJECT / "outputs" / "bench_tasks"
HEADLINE = {"stsb": "spearman", "mrpc": "f1_positive"}  # GLUE's metric (F1 and accuracy for MRPC)


def train_and_evaluate(
    dataset: str, seed: int, out: Path = OUT, extra: list[str] | None = None
) -> dict[str, Any]:
    """One default run (or with the extra config keys) and its evaluation; the result file it leaves in
    out."""
    name = f"{dataset}_seed{seed}"
    started = time.time()
    sets = [f"outputs_dir={out}", f"run_name={name}", f"manual_seed={seed}", *(extra or [])]
    subprocess.run(
        [sys.executable, "-m", "scripts.train", "--data", dataset, "--set", *sets], check=True, cwd=PROJECT
    )
    trained = time.time() - started
    subprocess.run(
        [sys.executable, "-m", "scripts.evaluate", "--run", str(out / name)], check=True, cwd=PROJECT
    )
    report = json.loads((out / name / "eval" / "metrics.json").read_text())
    record = json.loads((out / name / "run.json").read_text())
    result = {
        "dataset": dataset,
        "seed": seed,
        "task": report["task"],
        "pair": report.get("text_pair"),
        "test_rows": report["data"]["rows"],
        "train_rows": record["dataset"]["split"]["sizes"]["train"],
        "train_seconds": record["train_seconds"],
        "wall_seconds": round(trained, 1),
        "epochs": f"{record['best_epoch']} of {len(pd.read_csv(out / name / 'history.csv'))}",
        "config": extra or [],
        "results": {k: v for k, v in report["results"].items() if not k.startswith("_")},
        "paired": {
            "tfidf": report.get("paired_bootstrap"),
            "probe": report.get("paired_bootstrap_frozen_probe"),
        },
        "interval": report.get("interval"),
    }
    if dataset.startswith("vader"):
        result["results"]["vader_rules"] = vader_rules(out / name)
    (out / f"{name}.result.json").write_text(json.dumps(result, indent=2, default=float))
    return result


def vader_rules(run: Path) -> dict[str, float]:
    """The vaderSentiment rules' compound score (-1 to 1) on the run's test rows, against the raters'
    mean: correlations are scale-free, so they compare with the fine-tuned model's."""
    from scipy.stats import pearsonr, spearmanr
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    test = pd.read_csv(run / "splits" / "test.csv", keep_default_na=False)
    truth = np.array([json.loads(v)[0] for v in test["labels"]])
    rules = SentimentIntensityAnalyzer()
    compound = np.array([rules.polarity_scores(t)["compound"] for t in test["text"]])
    return {"pearson": float(pearsonr(truth, compound)[0]), "spearman": float(spearmanr(truth, compound)[0])}


def cell(result: dict[str, Any], name: str, metric: str) -> str:
    found = result["results"].get(name, {})
    value = found.get(metric)
    if value is None:
        return "-"
    low_high = (found.get("intervals") or {}).get(metric)
    return f"{value:.4f}" + (f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else "")


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| data set (test rows) | seed | metric | quickfit | TF-IDF | frozen probe | vaderSentiment rules | "
        "paired vs TF-IDF / probe (95 %) | 90 % interval covers | training |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in sorted(results, key=lambda r: (r["dataset"], r["seed"])):
        metrics = (
            ["pearson", "spearman", "rmse"]
            if r["task"] == "regression"
            else ["f1_positive", "accuracy", "mcc"]
        )
        metrics = [HEADLINE.get(r["dataset"], metrics[0])] + [
            m for m in metrics if m != HEADLINE.get(r["dataset"])
        ]
        paired = " / ".join(
            f"{p['metric']} [{p['difference_interval'][0]:+.3f}, {p['difference_interval'][1]:+.3f}]"
            for p in (r["paired"]["tfidf"], r["paired"]["probe"])
            if p
        )
        covers = f"{r['interval']['test']['covered']:.1%}" if r.get("interval") else "-"
        heads = [
            f"{r['dataset']} ({r['test_rows']})",
            str(r["seed"]),
            paired,
            covers,
            f"{r['train_seconds']:.0f} s, best epoch {r['epochs']}",
        ]
        for k, metric in enumerate(metrics):
            name, seed, pair_cell, cover_cell, time_cell = heads if k == 0 else [""] * 5
            scores = " | ".join(
                cell(r, m, metric) for m in ("transformer", "tfidf_logreg", "frozen_probe", "vader_rules")
            )
            rows.append(
                f"| {name} | {seed} | {metric} | {scores} | {pair_cell} | {cover_cell} | {time_cell} |"
            )
    return "\n".join(rows)


def median_of(runs: list[dict[str, Any]], method: str, metric: str) -> str:
    values = [r["results"].get(method, {}).get(metric) for r in runs]
    values = [v for v in values if v is not None]
    return f"{np.median(values):.4f}" if values else "-"


def medians(results: list[dict[str, Any]]) -> str:
    """Per data set, the median over its seeds of the headline metric for quickfit and each reference,
    how many seeds put quickfit ahead of the probe on the paired bootstrap (interval above 0), coverage."""
    rows = [
        "| data set | seeds | metric | quickfit | TF-IDF | frozen probe | vaderSentiment rules "
        "| ahead of the probe (paired 95 %, seeds) | 90 % interval covers |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for dataset in sorted({r["dataset"] for r in results}):
        mine = sorted((r for r in results if r["dataset"] == dataset), key=lambda r: r["seed"])
        metric = HEADLINE.get(dataset, "pearson" if mine[0]["task"] == "regression" else "f1_positive")
        scores = " | ".join(
            median_of(mine, m, metric) for m in ("transformer", "tfidf_logreg", "frozen_probe", "vader_rules")
        )
        probe = [r["paired"]["probe"] for r in mine if r["paired"].get("probe")]
        ahead = sum(p["difference_interval"][0] > 0 for p in probe)
        covers = [r["interval"]["test"]["covered"] for r in mine if r.get("interval")]
        shown = f"{np.median(covers):.1%} ({min(covers):.1%} to {max(covers):.1%})" if covers else "-"
        seeds = ", ".join(str(r["seed"]) for r in mine)
        rows.append(f"| {dataset} | {seeds} | {metric} | {scores} | {ahead} of {len(probe)} | {shown} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", default="stsb,mrpc,vader_tweets,vader_movies,vader_amazon")
    parser.add_argument("--seeds", default="42")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "TASKS_RESULTS.md"))
    parser.add_argument("--variant", default="", help="a name for the runs of a changed recipe")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="the recipe's config keys")
    args = parser.parse_args(argv)
    if args.set and not args.variant:
        parser.error("--set needs --variant (a changed recipe's runs are kept apart from the defaults')")
    out = OUT / args.variant if args.variant else OUT
    out.mkdir(parents=True, exist_ok=True)
    for dataset in args.datasets.split(","):
        for seed in map(int, args.seeds.split(",")):
            if not (out / f"{dataset}_seed{seed}.result.json").exists():
                train_and_evaluate(dataset, seed, out, args.set)
    results = [json.loads(p.read_text()) for p in sorted(out.glob("*.result.json"))]
    text = "Medians over seeds:\n\n" + medians(results) + "\n\nEvery run:\n\n" + table(results) + "\n"
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
