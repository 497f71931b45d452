"""What the fine-tuned model and the frozen probe give together on a saved regression run: each alone and
their average (equal weights, and the weight best on the validation split), scored by Spearman's rank
correlation on the run's validation and test splits. A measurement of what would lift a pair regression
such as STS-B, not a quickfit feature: a blend ships two models.

    python -m bench.probe_blend outputs/bench_tasks/stsb_seed42 [...]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np


def outputs(run: Path) -> dict[str, dict[str, np.ndarray]]:
    """The fine-tuned model's and the probe's first score, and the true one, on validation and test."""
    from scripts import evaluate
    from scripts.common import runs
    from scripts.evaluation import references
    from scripts.model.inference import load_predictor

    rows = evaluate.load_rows(run, None)
    if rows.kind.classifies:
        raise SystemExit(f"{run}: a regression run is needed (this one is {rows.task})")
    predictor = load_predictor(runs.model_dir(run), "auto")
    probe, info = references._frozen_probe(rows, run)
    if probe is None:
        raise SystemExit(f"{run}: the probe could not be fitted: {info}")
    val = rows.inputs.rows(rows.val)
    return {
        "validation": {
            "true": rows.y_val[:, 0],
            "model": predictor.predict_logits(val)[:, 0],
            "probe": probe[1][:, 0],
        },
        "test": {
            "true": rows.y[:, 0],
            "model": predictor.predict_logits(rows.texts)[:, 0],
            "probe": probe[0][:, 0],
        },
    }


def blended(found: dict[str, dict[str, np.ndarray]], weight: float) -> dict[str, float]:
    from scipy.stats import spearmanr

    return {
        split: float(spearmanr(weight * s["model"] + (1 - weight) * s["probe"], s["true"])[0])
        for split, s in found.items()
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", type=Path)
    args = parser.parse_args(argv)
    print(
        "| run | model: validation / test | probe | average | weight best on validation | "
        "its validation / test | error correlation, test |"
    )
    print("|---|---|---|---|---|---|---|")
    for run in args.runs:
        found = outputs(run)
        best = max(np.linspace(0, 1, 21), key=lambda w: blended(found, w)["validation"])
        cells = [blended(found, w) for w in (1.0, 0.0, 0.5, best)]
        test = found["test"]
        errors = np.corrcoef(test["model"] - test["true"], test["probe"] - test["true"])[0, 1]
        shown = [f"{c['validation']:.4f} / {c['test']:.4f}" for c in cells]
        print(f"| {run.name} | {' | '.join(shown[:3])} | {best:.2f} | {shown[3]} | {errors:.2f} |")


if __name__ == "__main__":
    main()
