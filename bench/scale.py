"""make bench-scale: what quickfit's pipeline costs at 10k, 100k and 1M rows -> bench/SCALE.md.

    python -m bench.scale [--rows 10000,100000,1000000] [--out bench/SCALE.md] [--stage-timeout 1200]

Synthetic rows are built from the shared SMS spam and Reuters R8 texts (each row two texts joined with
a serial number, so no two rows are duplicates; the label is the first text's). Every stage runs in a
fresh process so its peak RSS is its own:

  prepare   read + clean (load_dataset), split, the leakage check and dedupe=near (as make train)
  tokenise  the training rows (the file's first 80 %) as Simple Transformers stores them (int64,
            padded to max_seq_length, three tensors) beside quickfit's compact store (compact_tokens.py,
            int32 ids, unpadded), which training uses
  train50   150 training steps of the tiny bench model inside quickfit's patched Simple Transformers
            loop on those training rows (the time until the first step, then the median of the three
            50-step windows)
  predict   make predict on the whole file with that model

The model is a tiny random BERT (hidden 64, 2 layers) so that the figures are the pipeline's cost, not
the encoder's; a stage that runs past --stage-timeout is reported as such.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import random
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from scripts.common.provenance import bench_command
from scripts.data.sources import shared_datasets_dir

if TYPE_CHECKING:
    import pandas as pd

PROJECT = Path(__file__).resolve().parent.parent
SHARED = shared_datasets_dir()  # ../shared/datasets beside the project, or QUICKFIT_SHARED
STAGES = ("prepare", "tokenise", "train50", "predict")
MAX_LEN = 64
STEPS = 150  # three windows of 50 training steps


def source_texts() -> list[tuple[str, str]]:
    """(text, label) pairs from the shared SMS spam and Reuters R8 files."""
    pairs = []
    for line in (SHARED / "sms_spam" / "SMSSpamCollection").read_text(encoding="utf-8").splitlines():
        label, _, text = line.partition("\t")
        if text:
            pairs.append((text, label))
    for line in (SHARED / "reuters_r8" / "reuters-r8-train.tab").read_text(encoding="utf-8").splitlines()[3:]:
        label, _, text = line.partition("\t")
        if text:
            pairs.append((" ".join(text.split()[:40]), label))
    return pairs


def write_rows(path: Path, rows: int, seed: int = 0) -> None:
    """A CSV of `rows` unique texts: two source texts and a serial number; the label is the first text's."""
    import csv

    rng = random.Random(seed)
    pairs = source_texts()
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        for i in range(rows):
            (a, label), (b, _) = rng.choice(pairs), rng.choice(pairs)
            writer.writerow([f"{a} {b[:80]} #{i}", label])


def tiny_model(folder: Path) -> Path:
    """A random BERT (hidden 64, 2 layers) with the packaged MiniLM's tokenizer."""
    from scripts.model.base_model import resolve_model_name
    from tests.tiny_models import tiny_bert

    if (folder / "config.json").exists():
        return folder
    return tiny_bert(folder, hidden=64, tokenizer_source=resolve_model_name("packaged-minilm"))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(csv: Path, work: Path, model: Path) -> dict[str, Any]:
    from scripts.common import settings

    return settings.resolve(
        {
            "dataset": str(csv),
            "model_name": str(model),
            "outputs_dir": str(work / "outputs"),
            "max_seq_length": MAX_LEN,
            "threads": 2,
            "use_early_stopping": False,
            "num_train_epochs": 1,
        }
    )


def stage_prepare(csv: Path, work: Path, model: Path) -> dict[str, Any]:
    from scripts.data import leakage, sources, split
    from scripts.data.dataset import load_dataset

    cfg = settings_for(csv, work, model)
    times = {}
    start = time.perf_counter()
    dataset = load_dataset(sources.get_source(cfg["dataset"]), cfg)
    times["read_clean_s"] = time.perf_counter() - start
    start = time.perf_counter()
    splits = split.make_splits(dataset, cfg["validation_size"], cfg["test_size"], cfg["manual_seed"])
    times["split_s"] = time.perf_counter() - start
    start = time.perf_counter()
    sketches = leakage.Sketches()
    parts, _ = leakage.separate(splits, splits.report["carved"], sketches)
    leakage.report(parts, sketches=sketches)
    times["leakage_s"] = time.perf_counter() - start
    return {**times, "train_rows": len(parts["train"])}


def training_rows(csv: Path) -> pd.DataFrame:
    """The file's first 80 % as the training split (the later stages do not wait on prepare's split)."""
    import pandas as pd

    frame = pd.read_csv(csv, keep_default_na=False)
    return frame.head(int(len(frame) * 0.8)).rename(columns={"label": "labels"})


def stage_tokenise(csv: Path, work: Path, model: Path) -> dict[str, Any]:
    from transformers import AutoTokenizer

    from scripts.training.st.compact_tokens import CompactTokens

    texts = training_rows(csv)["text"].tolist()
    tokenizer = AutoTokenizer.from_pretrained(model)
    start = time.perf_counter()
    compact = CompactTokens(texts, [0] * len(texts), tokenizer, MAX_LEN)
    compact_s = time.perf_counter() - start
    compact_peak = peak_rss_mb()  # what training's own tokenising costs, before the padded store below
    start = time.perf_counter()
    padded = tokenizer(texts, max_length=MAX_LEN, truncation=True, padding="max_length", return_tensors="pt")
    padded_s = time.perf_counter() - start
    padded_bytes = sum(t.element_size() * t.nelement() for t in padded.values())
    return {
        "compact_int32_s": compact_s,
        "compact_int32_mb": compact.nbytes / 2**20,
        "compact_peak_rss_mb": compact_peak,
        "padded_int64_s": padded_s,
        "padded_int64_mb": padded_bytes / 2**20,
    }


def stage_train50(csv: Path, work: Path, model: Path) -> dict[str, Any]:
    import torch

    from scripts.common import tasks
    from scripts.training import fit

    train = training_rows(csv)
    labels = sorted(train["labels"].unique())
    frame = train.assign(encoded=train["labels"].map(labels.index))
    cfg = {
        **settings_for(csv, work, model),
        **{"length_grouping": True, "model_type": "bert", "precision": "fp32", "balance": "none"},
        **{"learning_rate": 5e-5, "train_batch_size": 16, "warmup_ratio": 0.06},
        "num_train_epochs": -(-(STEPS + 1) * 16 // len(train)),  # enough epochs on a small file
    }
    steps: list[float] = []
    clip = torch.nn.utils.clip_grad_norm_

    def counting(*args, **kwargs):  # Simple Transformers clips once per optimizer step
        steps.append(time.perf_counter())
        if len(steps) > STEPS:
            raise KeyboardInterrupt
        return clip(*args, **kwargs)

    torch.nn.utils.clip_grad_norm_ = counting
    name, metric = tasks.get("multiclass").selection(None)
    start = time.perf_counter()
    with contextlib.suppress(KeyboardInterrupt):  # raised by `counting` after STEPS steps
        fit.train(
            "multiclass",
            "bert",
            str(model),
            labels,
            frame,
            frame.head(64),
            cfg,
            work / "run",
            MAX_LEN,
            name,
            metric,
        )
    return {
        "until_first_step_s": steps[0] - start,
        # a 50-step window lasts about a second: the median of three is steadier than one
        "steps_50_s": statistics.median(steps[k + 50] - steps[k] for k in range(0, STEPS, 50)),
    }


def stage_predict(csv: Path, work: Path, model: Path) -> dict[str, Any]:
    from scripts.predict import predict_file

    run = work / "predict-run"
    start = time.perf_counter()
    done = predict_file(run, csv, work / "predictions.csv", threads=2)
    return {"predict_s": time.perf_counter() - start, "rows": done["rows"]}


STAGE_FUNCTIONS = {
    "prepare": stage_prepare,
    "tokenise": stage_tokenise,
    "train50": stage_train50,
    "predict": stage_predict,
}


def run_stage(stage: str, csv: Path, work: Path, model: Path, timeout: int) -> dict[str, Any]:
    """One stage in a fresh process: its figures, wall seconds and peak RSS (or the timeout)."""
    cmd = [sys.executable, "-m", "bench.scale", "--stage", stage, "--csv", str(csv), "--work", str(work)]
    start = time.perf_counter()
    try:
        done = subprocess.run(
            cmd + ["--model", str(model)], cwd=PROJECT, capture_output=True, text=True, timeout=timeout
        )
    except subprocess.TimeoutExpired:
        return {"timed_out": timeout}
    wall = time.perf_counter() - start
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    if done.returncode != 0 or not last.startswith("{"):
        return {"failed": (done.stderr or done.stdout).strip().splitlines()[-1][:200]}
    return {**json.loads(last), "wall_s": wall}


def predict_run(work: Path, model: Path) -> Path:
    """A run of the tiny model, trained once on 10k rows through make train's entry point, for predict."""
    run = work / "predict-outputs" / "predict-run"
    if not (run / "run.json").exists():
        csv = work / "predict-train.csv"
        write_rows(csv, 10_000, seed=1)
        cmd = [sys.executable, "-m", "scripts.train", "--data", str(csv), "--set", f"model_name={model}"]
        cmd += [f"outputs_dir={work / 'predict-outputs'}", "run_name=predict-run", "num_train_epochs=1"]
        cmd += [f"max_seq_length={MAX_LEN}", "threads=2", "dedupe=exact"]
        subprocess.run(cmd, cwd=PROJECT, check=True, capture_output=True)
    return run


def per_row_us(result: dict[str, Any], keys: tuple[str, ...], rows: int) -> float | None:
    if any(k not in result for k in keys):
        return None
    return 1e6 * sum(result[k] for k in keys) / rows


PREPARE_KEYS = ("read_clean_s", "split_s", "leakage_s", "compact_int32_s")  # training tokenises compactly


def targets(results: dict[int, dict[str, dict[str, Any]]]) -> list[str]:
    """Each target against the smallest and the largest size measured: met, or missed by how much."""
    small, large = min(results), max(results)
    a, b = results[small], results[large]

    def total(r: dict[str, dict[str, Any]]) -> float | None:
        merged = {**r["prepare"], **r["tokenise"]}
        return sum(merged[k] for k in PREPARE_KEYS) if all(k in merged for k in PREPARE_KEYS) else None

    def rss(r: dict[str, dict[str, Any]]) -> float | None:
        found = [r["prepare"].get("peak_rss_mb"), r["tokenise"].get("compact_peak_rss_mb")]
        return max(found) if None not in found else None

    def line(name: str, value: float | None, limit: float, unit: str) -> str:
        if value is None:
            return f"- {name}: not measured (a stage failed or ran past its time limit)"
        verdict = "met" if value <= limit else f"missed by {value / limit:.2f}x"
        return f"- {name}: {value:,.2f}{unit} (target <= {limit:,}{unit}): {verdict}"

    ratio = lambda x, y: None if x is None or y is None else x / y  # noqa: E731
    per_row = ratio(total(b), large) and ratio(ratio(total(b), large), ratio(total(a), small))
    steps = ratio(b["train50"].get("steps_50_s"), a["train50"].get("steps_50_s"))
    predict = ratio(b["predict"].get("peak_rss_mb"), a["predict"].get("peak_rss_mb"))
    return [
        line(f"read + clean + split + leakage + tokenise at {large:,} rows", total(b), 180, " s"),
        line(f"its peak RSS at {large:,} rows", rss(b), 3072, " MB"),
        line(f"cost per row at {large:,} / at {small:,}", per_row, 1.5, "x"),
        line(f"50 training steps at {large:,} / at {small:,}", steps, 1.2, "x"),
        line(f"make predict peak RSS at {large:,} / at {small:,}", predict, 1.3, "x"),
    ]


def fmt(value: Any, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}" if isinstance(value, float) else str(value)


def write_report(path: Path, results: dict[int, dict[str, dict[str, Any]]], command: str) -> None:
    def cell(r: dict[str, Any], key: str, digits: int = 1) -> str:
        if "timed_out" in r:
            return f"over {r['timed_out']} s"
        if "failed" in r:
            return "failed"
        return fmt(r.get(key), digits)

    sizes = sorted(results)
    lines = [
        "# Scale: the pipeline at 10k, 100k and 1M rows",
        "",
        f"Command: `{command}` (this machine: 2 CPU cores, no GPU).",
        "Synthetic rows from the shared SMS spam and Reuters R8 texts; the tiny bench model (a random",
        "BERT, hidden 64), so the figures are the pipeline's cost. Each stage ran in its own process;",
        "RSS is that process's peak.",
        "",
        "| rows | read + clean s | split s | leakage s | prepare peak RSS MB "
        "| tokenise, compact int32 (training): s / MB / peak RSS MB "
        "| padded int64 (Simple Transformers): s / MB "
        "| until 1st step s | 50 steps s (median of 3 windows) | train peak RSS MB "
        "| predict s | predict peak RSS MB |",
        "|" + "---|" * 12,
    ]
    for n in sizes:
        r = results[n]
        p, t, s, q = r["prepare"], r["tokenise"], r["train50"], r["predict"]
        lines.append(
            f"| {n:,} | {cell(p, 'read_clean_s')} | {cell(p, 'split_s')} | {cell(p, 'leakage_s')} | "
            f"{cell(p, 'peak_rss_mb', 0)} | "
            f"{cell(t, 'compact_int32_s')} / {cell(t, 'compact_int32_mb', 0)} / "
            f"{cell(t, 'compact_peak_rss_mb', 0)} | "
            f"{cell(t, 'padded_int64_s')} / {cell(t, 'padded_int64_mb', 0)} | "
            f"{cell(s, 'until_first_step_s')} | {cell(s, 'steps_50_s', 2)} | "
            f"{cell(s, 'peak_rss_mb', 0)} | "
            f"{cell(q, 'predict_s')} | {cell(q, 'peak_rss_mb', 0)} |"
        )
    lines += [
        "",
        "Cost per row (microseconds) of reading + cleaning + splitting + the leakage check + tokenising:",
        "",
    ]
    for n in sizes:
        us = per_row_us({**results[n]["prepare"], **results[n]["tokenise"]}, PREPARE_KEYS, n)
        lines.append(f"- {n:,} rows: {fmt(us)}")
    lines += ["", "## The targets (issue 16)", "", *targets(results)]
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", default="10000,100000,1000000")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "SCALE.md"))
    parser.add_argument("--work", default=str(PROJECT / "outputs" / "bench-scale"))
    parser.add_argument("--stage-timeout", type=int, default=1200)
    parser.add_argument(
        "--stages", default=",".join(STAGES), help="rerun these stages; the others come from results.json"
    )
    parser.add_argument("--stage", choices=STAGES, help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    work = Path(args.work)
    if args.stage:  # a child: one stage, one JSON line
        from scripts.common.runtime import quiet_environment

        quiet_environment()
        figures = STAGE_FUNCTIONS[args.stage](Path(args.csv), work, Path(args.model))
        print(json.dumps({**figures, "peak_rss_mb": peak_rss_mb()}))
        return 0
    work.mkdir(parents=True, exist_ok=True)
    model = tiny_model(work / "tiny-bert")
    run = predict_run(work, model)
    (work / "predict-run").unlink(missing_ok=True)
    (work / "predict-run").symlink_to(run)
    saved = work / "results.json"
    earlier = {int(k): v for k, v in json.loads(saved.read_text()).items()} if saved.exists() else {}
    chosen = args.stages.split(",")
    results: dict[int, dict[str, dict[str, Any]]] = {}
    for n in (int(x) for x in args.rows.split(",")):
        size_dir = work / f"rows-{n}"
        size_dir.mkdir(exist_ok=True)
        (size_dir / "predict-run").unlink(missing_ok=True)
        (size_dir / "predict-run").symlink_to(run)
        csv = size_dir / "rows.csv"
        if not csv.exists():
            write_rows(csv, n)
        results[n] = dict(earlier.get(n, {}))
        for stage in STAGES:
            if stage in chosen or stage not in results[n]:
                results[n][stage] = run_stage(stage, csv, size_dir, model, args.stage_timeout)
                saved.write_text(json.dumps({**earlier, **results}, indent=1))
            print(f"{n:,} rows, {stage}: {results[n][stage]}", flush=True)
    command = bench_command("bench.scale", list(sys.argv[1:] if argv is None else argv))
    write_report(Path(args.out), results, command.strip())
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
