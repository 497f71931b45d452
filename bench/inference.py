"""Inference speed of a trained run on this machine: PyTorch fp32 (make predict's default before ONNX),
PyTorch int8 (QUANTIZE=1), ONNX Runtime fp32 and int8 (make export QUANTIZE=1), side by side in one run.

    python -m bench.inference [--run outputs/latest] [--rows 2000] [--rounds 3] [--out bench/INFERENCE.md]

Rows/s at batch 64 (best of the rounds, backends interleaved within each round), single-text latency
(p50/p95), the cold start of `python -m scripts.predict` on two texts (a whole process, median of the
rounds), file sizes, and label agreement with PyTorch fp32 on the same rows.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from scripts.common.provenance import bench_command

PROJECT = Path(__file__).resolve().parent.parent
BACKENDS = ("torch fp32", "torch int8", "onnx fp32", "onnx int8")


def load(run: Path, name: str, threads):
    from scripts.common import runs
    from scripts.model.inference import load_predictor
    from scripts.model.onnx_predictor import load_onnx_predictor

    if name.startswith("torch"):
        return load_predictor(runs.model_dir(run), threads, quantize=name.endswith("int8"))
    return load_onnx_predictor(run / "onnx", threads, quantized=name.endswith("int8"))


def texts_of(run: Path, rows: int) -> list[str]:
    from scripts.common import runs
    from scripts.data.dataset import load_split

    task = runs.read_record(run)["task"]
    texts = [
        t
        for part in ("test", "validation", "train")
        for t in load_split(runs.split_path(run, part), task)["text"]
    ]
    return (texts * (rows // max(1, len(texts)) + 1))[:rows]


def throughput(predictors: dict, texts: list[str], rounds: int) -> dict[str, float]:
    best = dict.fromkeys(predictors, 0.0)
    for _ in range(rounds):
        for name, predictor in predictors.items():  # interleaved: a slow moment hits every backend
            start = time.perf_counter()
            predictor.predict_proba(texts, 64)
            best[name] = max(best[name], len(texts) / (time.perf_counter() - start))
    return best


def latency(predictor, texts: list[str]) -> tuple[float, float]:
    times = []
    for text in texts:
        start = time.perf_counter()
        predictor.predict_proba([text])
        times.append(1000 * (time.perf_counter() - start))
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def cold_start(run: Path, backend: str, rounds: int) -> float:
    command = [
        sys.executable,
        "-m",
        "scripts.predict",
        "--run",
        str(run),
        "--backend",
        backend,
        "free prize now",
        "see you",
    ]
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        subprocess.run(command, cwd=PROJECT, check=True, capture_output=True)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def sizes(run: Path, int8_torch) -> dict[str, float]:
    import torch

    buffer = io.BytesIO()
    torch.save(int8_torch.model.state_dict(), buffer)
    mb = 2**20
    return {
        "torch fp32": (run / "model" / "model.safetensors").stat().st_size / mb,
        "torch int8": len(buffer.getvalue()) / mb,
        "onnx fp32": (run / "onnx" / "model.onnx").stat().st_size / mb,
        "onnx int8": (run / "onnx" / "model_quantized.onnx").stat().st_size / mb,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT / "outputs" / "latest"))
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", default="auto")
    parser.add_argument("--out", default=str(PROJECT / "bench" / "INFERENCE.md"))
    args = parser.parse_args(argv)
    run = Path(args.run).resolve()
    if not (run / "onnx" / "model_quantized.onnx").exists():
        from scripts.model.onnx_export import export_run

        export_run(run, with_int8=True, threads=args.threads)
    predictors = {name: load(run, name, args.threads) for name in BACKENDS}
    texts = texts_of(run, args.rows)
    speed = throughput(predictors, texts, args.rounds)
    reference = predictors["torch fp32"]
    labels = reference.decide(reference.predict_proba(texts))
    agree = {
        n: float(np.mean([a == b for a, b in zip(p.decide(p.predict_proba(texts)), labels)]))
        for n, p in predictors.items()
    }
    lat = {name: latency(p, texts[:100]) for name, p in predictors.items()}
    cold = {"torch": cold_start(run, "torch", args.rounds), "onnx": cold_start(run, "onnx", args.rounds)}
    size = sizes(run, predictors["torch int8"])
    rows = [
        f"| {n} | {speed[n]:.0f} | {speed[n] / speed['torch fp32']:.2f}x | "
        f"{lat[n][0]:.1f} / {lat[n][1]:.1f} | {size[n]:.1f} | {100 * agree[n]:.2f} % |"
        for n in BACKENDS
    ]
    command = bench_command("bench.inference", list(sys.argv[1:] if argv is None else argv))
    text = "\n".join(
        [
            "# Inference: PyTorch against ONNX Runtime",
            "",
            f"`{command}` on run `{run.name}` ({len(texts)} texts, batch 64, best of {args.rounds} "
            "interleaved rounds; this machine: 2 CPU cores).",
            "",
            "| backend | rows/s | vs torch fp32 | latency p50 / p95 (ms, one text) | file (MB) "
            "| labels = torch fp32 |",
            "|---|---|---|---|---|---|",
            *rows,
            "",
            "Cold start, `python -m scripts.predict` on two texts, whole process "
            f"(median of {args.rounds}): "
            f"PyTorch {cold['torch']:.2f} s, ONNX {cold['onnx']:.2f} s "
            f"({cold['onnx'] / cold['torch']:.2f}x).",
            "",
        ]
    )
    Path(args.out).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
