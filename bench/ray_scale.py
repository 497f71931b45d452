"""make predict ENGINE=ray with 1 and 2 model workers on a local Ray, against make predict in one process, on
the same texts (a folder of CSV shards cut from the run's own splits): rows/s end to end (Ray's start, the
actors' model loads and the writing included) and the outputs checked equal.

    python -m bench.ray_scale [--run outputs/latest] [--rows 4000] [--files 8] [--out bench/RAY.md]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parent.parent


def shards(run: Path, rows: int, files: int, folder: Path) -> list[str]:
    """The run's split texts (or pairs) as CSV files with the run's own text columns."""
    from scripts.common import runs
    from scripts.data.dataset import load_split

    record = runs.read_record(run)
    columns = record["dataset"].get("text_columns") or ["text"]
    frames = [
        load_split(runs.split_path(run, part), record["task"]) for part in ("test", "validation", "train")
    ]
    texts = pd.concat(frames, ignore_index=True)
    texts = pd.concat([texts] * (rows // len(texts) + 1), ignore_index=True).head(rows)
    named = texts.rename(columns={"text": columns[0], "text_b": columns[-1]})[columns]
    folder.mkdir(parents=True)
    per = -(-rows // files)
    for k in range(files):
        named.iloc[k * per : (k + 1) * per].to_csv(folder / f"part-{k:03d}.csv", index=False)
    return columns


def main(argv: list[str] | None = None) -> int:
    from scripts.predict import predict_file
    from scripts.serving.ray_batch import predict_folder

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT / "outputs" / "latest"))
    parser.add_argument("--rows", type=int, default=4000)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--out", default=str(PROJECT / "bench" / "RAY.md"))
    args = parser.parse_args(argv)
    run = Path(args.run).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="quickfit_ray_"))
    try:
        shards(run, args.rows, args.files, tmp / "in")
        started = time.perf_counter()
        for file in sorted((tmp / "in").iterdir()):
            predict_file(run, file, tmp / "local" / file.name, backend="torch")
        local = time.perf_counter() - started
        timings = {}
        for workers in (1, 2):
            started = time.perf_counter()
            predict_folder(run, tmp / "in", tmp / f"ray{workers}", backend="torch", workers=workers)
            timings[workers] = time.perf_counter() - started
        same = all(
            pd.read_csv(tmp / "ray2" / f"{f.stem}.predictions.csv")["predicted"].equals(
                pd.read_csv(tmp / "local" / f.name)["predicted"]
            )
            for f in sorted((tmp / "in").iterdir())
        )
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    command = bench_command("bench.ray_scale", list(sys.argv[1:] if argv is None else argv))
    rate = {k: args.rows / v for k, v in timings.items()}
    text = "\n".join(
        [
            f"`{command}` on run `{run.name}`, {args.rows} rows in {args.files} CSV files, "
            f"{os.cpu_count()} CPUs, PyTorch; wall time end to end (Ray's start and model loads included).",
            "",
            "| engine | seconds | rows/s | vs 1 Ray worker |",
            "|---|---|---|---|",
            f"| make predict, one process, file by file | {local:.1f} | {args.rows / local:.1f} | - |",
            f"| ENGINE=ray WORKERS=1 | {timings[1]:.1f} | {rate[1]:.1f} | 1.00x |",
            f"| ENGINE=ray WORKERS=2 | {timings[2]:.1f} | {rate[2]:.1f} | {rate[2] / rate[1]:.2f}x |",
            "",
            f"Labels of WORKERS=2 equal make predict's on every file: {same}.",
            "",
        ]
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
