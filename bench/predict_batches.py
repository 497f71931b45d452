"""How a predictor cuts its texts into batches, measured: what a forward pass costs beyond its token
positions (the fit time = a + b x positions over passes of several shapes; a / b is the pass cost in
positions), and rows/s with batches cut by length at that cost (common/length_runs.py) against the former
cut (sorted by length, full batches of 64), on the run's own texts: random draws of 32 (a server's batch
at 32 clients) and blocks of 2,000 (make predict's). Both cuts alternate in rounds; medians are shown.

    python -m bench.predict_batches [--run outputs/latest] [--seconds 6] [--rounds 3] [--out F]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.serve import PROJECT, texts_of
from scripts.common.provenance import bench_command

SHAPES = [(1, 8), (1, 32), (1, 64), (4, 16), (8, 32), (16, 16), (16, 64), (32, 32), (64, 16)]
FULL_BATCHES = 1e9  # a pass dearer than any padding: the fewest passes, the former fixed cut


def forward(predictor: Any, rows: int, length: int):
    """One pass over rows x length positions, as the predictor runs it."""
    ids = np.ones((rows, length), dtype=np.int64)
    if hasattr(predictor.model, "run"):  # ONNX Runtime
        names = [i.name for i in predictor.model.get_inputs()]
        feed = {n: (np.zeros_like(ids) if n == "token_type_ids" else ids) for n in names}
        return lambda: predictor.model.run(None, feed)
    import torch

    inputs = {"input_ids": torch.ones((rows, length), dtype=torch.long)}
    inputs["attention_mask"] = torch.ones_like(inputs["input_ids"])

    def run() -> None:
        with torch.inference_mode():
            predictor.model(**inputs)

    return run


def pass_cost(predictor: Any, seconds: float) -> dict[str, float]:
    """Least squares of each shape's time a pass on (1, positions)."""
    times = []
    for rows, length in SHAPES:
        run = forward(predictor, rows, length)
        run()
        count, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / len(SHAPES) or count < 3:
            run()
            count += 1
        times.append((time.perf_counter() - start) / count)
    design = np.array([[1.0, rows * length] for rows, length in SHAPES])
    (a, b), *_ = np.linalg.lstsq(design, np.array(times), rcond=None)
    return {"pass_ms": a * 1000, "position_ms": b * 1000, "positions": a / b}


def rate(predictor: Any, frame: Any, draws: list[np.ndarray], cost: float) -> tuple[float, np.ndarray]:
    from scripts.model.prediction import predict_frame

    predictor.pass_cost = cost
    rows, outputs, start = 0, [], time.perf_counter()
    for draw in draws:
        out, _ = predict_frame(predictor, frame.iloc[draw], ["text"])
        outputs.append(out.filter(like="prob_").to_numpy())
        rows += len(draw)
    return rows / (time.perf_counter() - start), np.concatenate(outputs)


def compare(
    predictor: Any, items: list[str], size: int, seconds: float, rounds: int, cost: float
) -> dict[str, Any]:
    """rows/s of the former cut and of runs at `cost`, on the same draws, alternating in rounds."""
    import pandas as pd

    frame = pd.DataFrame({"text": items})
    rng = np.random.default_rng(0)
    first = [rng.choice(len(items), size, replace=False) for _ in range(3)]
    quick = rate(predictor, frame, first, FULL_BATCHES)[0]  # enough draws for about `seconds` a measurement
    draws = first + [rng.choice(len(items), size, replace=False) for _ in range(int(seconds * quick / size))]
    found: dict[float, list[float]] = {FULL_BATCHES: [], cost: []}
    outputs = {}
    for _ in range(rounds):
        for each in found:
            value, outputs[each] = rate(predictor, frame, draws, each)
            found[each].append(value)
    predictor.pass_cost = cost
    return {
        "full": float(np.median(found[FULL_BATCHES])),
        "runs": float(np.median(found[cost])),
        "gap": float(np.abs(outputs[FULL_BATCHES] - outputs[cost]).max()),
    }


def main(argv: list[str] | None = None) -> int:
    from scripts.common import runs
    from scripts.predict import choose_predictor

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default=str(PROJECT / "outputs" / "latest"))
    parser.add_argument("--seconds", type=float, default=6.0, help="seconds a measurement")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    run = Path(args.run).resolve()
    items = [x for x in texts_of(run, 4000) if isinstance(x, str)]
    if not items:
        raise SystemExit(f"{run} is a pair run: give a single-text run")
    backends = ["torch"] + (["onnx"] if (run / "onnx").is_dir() else [])
    lines = [
        "| backend | a pass (ms) | a position (ms) | pass cost (positions) | used | texts a call | rows/s, "
        "full batches of 64 | rows/s, cut by length | ratio | largest probability difference |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for backend in backends:
        predictor = choose_predictor(run, backend, False, runs.threads_here(run))
        fit = pass_cost(predictor, args.seconds)
        used = predictor.pass_cost  # the predictor's own constant is what ships
        for size in (32, 2000):
            got = compare(predictor, items, size, args.seconds, args.rounds, used)
            lines.append(
                f"| {backend} | {fit['pass_ms']:.2f} | {fit['position_ms']:.3f} | {fit['positions']:.0f} | "
                f"{used:.0f} | {size} | {got['full']:.1f} | {got['runs']:.1f} | "
                f"{got['runs'] / got['full']:.2f} | {got['gap']:.1e} |"
            )
    command = bench_command("bench.predict_batches", sys.argv[1:] if argv is None else argv)
    text = f"Command: `{command}` on {os.cpu_count()} CPU(s), run `{run.name}`.\n\n" + "\n".join(lines) + "\n"
    print(text)
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
