"""Is a pair as fast to train as one text? The same STS-B training rows trained as pairs (the tokenizer's pair
input) and as single texts (the two joined, text_pair=False), one epoch each, alternating, the wall time of
training divided by the real tokens each way read (a pair has one [SEP] more).

    python -m bench.pair_speed [--rows 1500] [--rounds 2] [--out bench/PAIR_SPEED.md]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parents[1]
OUT = PROJECT / "outputs" / "bench_pair_speed"


def real_tokens(run: Path, pair: bool) -> int:
    """The training rows' tokens as the model read them (truncated at the run's max_seq_length)."""
    import pandas as pd
    from transformers import AutoTokenizer

    train = pd.read_csv(run / "splits" / "train.csv", keep_default_na=False)
    tokenizer = AutoTokenizer.from_pretrained(run / "model")
    max_len = json.loads((run / "run.json").read_text())["max_seq_length"]
    args = (train["text"].tolist(), train["text_b"].tolist()) if pair else (train["text"].tolist(),)
    return sum(len(ids) for ids in tokenizer(*args, truncation=True, max_length=max_len)["input_ids"])


def one(pair: bool, rows: int, round_: int) -> dict[str, float]:
    name = f"{'pair' if pair else 'single'}_{round_}"
    sets = [
        f"outputs_dir={OUT}",
        f"run_name={name}",
        f"max_train_rows={rows}",
        "num_train_epochs=1",
        "model_selection=validation",
        f"text_pair={pair}",
        "max_seq_length=128",
    ]
    subprocess.run(
        [sys.executable, "-m", "scripts.train", "--data", "stsb", "--set", *sets], check=True, cwd=PROJECT
    )
    record = json.loads((OUT / name / "run.json").read_text())
    tokens = real_tokens(OUT / name, pair)
    return {
        "seconds": record["train_seconds"],
        "tokens": tokens,
        "ms_per_1k_tokens": 1e6 * record["train_seconds"] / tokens,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1500)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--out", default=str(PROJECT / "bench" / "PAIR_SPEED.md"))
    args = parser.parse_args(argv)
    results: dict[str, list[dict[str, float]]] = {"pair": [], "single": []}
    for r in range(args.rounds):
        for pair in (True, False):
            results["pair" if pair else "single"].append(one(pair, args.rows, r))
    median = {k: statistics.median(x["ms_per_1k_tokens"] for x in v) for k, v in results.items()}
    command = bench_command("bench.pair_speed", list(sys.argv[1:] if argv is None else argv))
    lines = [
        "# Pair training speed against single-text training",
        "",
        f"Command: `{command}` (this machine: 2 CPU cores, no GPU; the packaged MiniLM; each run one epoch, "
        "alternating).",
        "",
        "| input | run | training s | real tokens | ms per 1k real tokens |",
        "|---|---|---|---|---|",
    ]
    for kind, runs in results.items():
        for i, x in enumerate(runs):
            lines.append(
                f"| {kind} | {i} | {x['seconds']:.1f} | {x['tokens']:,} | {x['ms_per_1k_tokens']:.1f} |"
            )
    ratio = median["pair"] / median["single"]
    lines += [
        "",
        f"Median time per real token, pair / single: **{ratio:.3f}** (below 1: pairs are not slower).",
    ]
    Path(args.out).write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
