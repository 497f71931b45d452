"""ONNX settled: each backend in its own process, at the batch sizes a server lives at (1 and 8) and make
predict's (64), and ONNX Runtime's quantisation options side by side: dynamic int8 per tensor (what make
export QUANTIZE=1 writes), per channel, after ONNX Runtime's pre-processing (graph optimisation and shape
inference), and both.

    python -m bench.onnx_batches [--run outputs/latest] [--rows 512] [--out bench/ONNX_BATCHES.md]

Each variant runs in a fresh `python -m bench.onnx_batches --worker` process (no other model in memory, its
own threads); texts come in consecutive groups of the batch size, as requests do (not sorted across the whole
set); rows/s over every group, latency per call (p50 / p99); labels compared with PyTorch fp32's.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parent.parent
BATCHES = (1, 8, 64)
VARIANTS = (
    "torch fp32",
    "onnx fp32",
    "onnx int8",
    "onnx int8 per-channel",
    "onnx int8 pre-processed",
    "onnx int8 pre-processed per-channel",
    "onnx int8 no-spin",  # ONNX Runtime's threads sleep between runs (what a shared CPU may want)
)


def quantized_variant(onnx_dir: Path, name: str, into: Path) -> Path:
    """A copy of the run's onnx/ folder whose int8 model is built with the variant's options."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    from onnxruntime.quantization.shape_inference import quant_pre_process

    folder = into / name.replace(" ", "_")
    folder.mkdir(parents=True)
    for item in onnx_dir.iterdir():
        if item.name != "model_quantized.onnx":
            (folder / item.name).symlink_to(item.resolve())
    source = onnx_dir / "model.onnx"
    if "pre-processed" in name:  # ONNX Runtime's graph optimisation and shape inference first; its symbolic
        # shape inference stops on this export ("Incomplete symbolic shape inference"), so it is skipped
        prepared = folder / "prepared.onnx"
        quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
        source = prepared
    quantize_dynamic(  # no-spin: the default options, loaded differently
        str(source),
        str(folder / "model_quantized.onnx"),
        weight_type=QuantType.QInt8,
        per_channel="per-channel" in name,
    )
    return folder


def texts_of(run: Path, rows: int) -> list[Any]:
    from scripts.common import runs, tasks
    from scripts.data.dataset import load_split

    record = runs.read_record(run)
    found = [
        x
        for part in ("test", "validation")
        for x in tasks.inputs_of(record).rows(load_split(runs.split_path(run, part), record["task"]))
    ]
    return (found * (rows // max(1, len(found)) + 1))[:rows]


def worker(run: Path, variant: str, folder: str, rows: int) -> dict[str, Any]:
    """One variant in this process: rows/s and latency at each batch size, and its labels."""
    from scripts.common import runs
    from scripts.model.inference import load_predictor
    from scripts.model.onnx_predictor import load_onnx_predictor

    if variant == "torch fp32":
        predictor = load_predictor(runs.model_dir(run), "auto")
    else:
        predictor = load_onnx_predictor(
            Path(folder), "auto", quantized="int8" in variant, spinning="no-spin" not in variant
        )
    texts = texts_of(run, rows)
    predictor.predict_proba(texts[:64], 64)  # warm
    result: dict[str, Any] = {"variant": variant}
    for batch in BATCHES:
        share = texts[: max(batch * 25, rows // (4 if batch == 1 else 1))]
        times = []
        for start in range(0, len(share), batch):
            began = time.perf_counter()
            predictor.predict_proba(share[start : start + batch], batch)
            times.append(time.perf_counter() - began)
        result[str(batch)] = {
            "rows_per_s": len(share) / sum(times),
            "p50_ms": 1000 * float(np.percentile(times, 50)),
            "p99_ms": 1000 * float(np.percentile(times, 99)),
        }
    outputs = predictor.predict_proba(texts, 64)
    result["labels"] = [str(x) for x in predictor.decide(outputs)]
    result["outputs"] = outputs.tolist()
    return result


def agreement(run: Path, result: dict[str, Any], base: dict[str, Any]) -> float:
    """Share of rows decided as PyTorch fp32 decides them (a regression: scores within a tenth of the
    interval's half-width, make export's rule)."""
    from scripts.common import runs, tasks

    record = runs.read_record(run)
    if tasks.get(record["task"]).classifies:
        return float(np.mean([a == b for a, b in zip(result["labels"], base["labels"])]))
    width = np.asarray((record.get("interval") or {}).get("half_width") or [1.0])
    gap = np.abs(np.asarray(result["outputs"]) - np.asarray(base["outputs"]))
    return float(np.mean((gap <= width / 10).all(axis=1)))


def measure(run: Path, variant: str, folder: Path | None, rows: int) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "bench.onnx_batches",
        "--worker",
        variant,
        "--run",
        str(run),
        "--folder",
        str(folder or ""),
        "--rows",
        str(rows),
    ]
    done = subprocess.run(command, cwd=PROJECT, check=True, capture_output=True, text=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(run: Path, results: list[dict[str, Any]], sizes: dict[str, float]) -> str:
    base = results[0]
    head = "| variant | " + " | ".join(f"batch {b}: rows/s (x torch), p50 / p99 ms" for b in BATCHES)
    lines = [head + " | file MB | labels = torch fp32 |", "|---" * (len(BATCHES) + 3) + "|"]
    for r in results:
        cells = [
            f"{r[str(b)]['rows_per_s']:.0f} ({r[str(b)]['rows_per_s'] / base[str(b)]['rows_per_s']:.2f}x), "
            f"{r[str(b)]['p50_ms']:.1f} / {r[str(b)]['p99_ms']:.1f}"
            for b in BATCHES
        ]
        agree = agreement(run, r, base)
        lines.append(
            f"| {r['variant']} | "
            + " | ".join(cells)
            + f" | {sizes[r['variant']]:.1f} | {100 * agree:.2f} % |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT / "outputs" / "latest"))
    parser.add_argument("--rows", type=int, default=512)
    parser.add_argument("--out", default=str(PROJECT / "bench" / "ONNX_BATCHES.md"))
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    run = Path(args.run).resolve()
    if args.worker:
        print(json.dumps(worker(run, args.worker, args.folder, args.rows)))
        return 0
    if not (run / "onnx" / "model.onnx").exists():
        from scripts.model.onnx_export import export_run

        export_run(run)
    results, sizes = [], {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in VARIANTS:
            folder = None
            if variant == "onnx fp32":
                folder = run / "onnx"
            elif variant != "torch fp32":  # every int8 variant built here, kept or not by make export
                folder = quantized_variant(run / "onnx", variant, Path(tmp))
            file = (
                runs_model(run)
                if folder is None
                else folder / ("model.onnx" if variant == "onnx fp32" else "model_quantized.onnx")
            )
            sizes[variant] = os.path.getsize(file) / 2**20
            results.append(measure(run, variant, folder, args.rows))
            print(variant, {b: round(results[-1][str(b)]["rows_per_s"]) for b in BATCHES}, flush=True)
        shutil.rmtree(tmp, ignore_errors=True)
    command = bench_command("bench.onnx_batches", list(sys.argv[1:] if argv is None else argv))
    text = (
        f"`{command}` on run `{run.name}` ({args.rows} texts; {os.cpu_count()} CPUs; each variant in its own "
        "process)\n\n" + table(run, results, sizes) + "\n"
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


def runs_model(run: Path) -> Path:
    from scripts.common import runs

    return runs.model_dir(run) / "model.safetensors"


if __name__ == "__main__":
    raise SystemExit(main())
