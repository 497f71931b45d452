"""How far the cross-validated estimate a k-fold run shows its user lies from the score on a large test
split, before and after the bias correction, on make curve's draws (each k-fold draw keeps its
out-of-fold scores in outputs/curves/<name>/estimates/). Before: the naive out-of-fold score (the epoch
and thresholds chosen on it) with the 95 % row bootstrap it was printed with; after: today's estimate
(scripts/evaluation/selection_bias.py: the .632+ weighing of the naive and the out-of-bag scores) and its
90 % interval; the out-of-bag score alone (plain BBC-CV) is shown beside it. All are recomputed from the
same saved scores, so the comparison is like for like.

    python -m bench.estimate_bias outputs/curves/bias_sms outputs/curves/bias_r8=reuters_r8 ...

`=NAME` gives a curve's data set (the default one: none). make curve draws as many rows of every class
while its test split keeps the data's own mix, so the drawn rows are counted at the test split's class
mix (single-label; `--draw-mix` counts them as drawn): otherwise the comparison measures the mix, not
the estimate.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd


def label_names(data: str | None) -> tuple[list[str], int | None, np.ndarray]:
    """The data set's label names, positive label and test split's share of each class (single-label), as
    make curve prepared them."""
    from scripts import train
    from scripts.common import settings
    from scripts.common.console import quiet

    cfg, _ = settings.resolve_from_cli(data, [], "curve")
    with quiet():
        dataset, splits, _ = train.prepare(cfg)
    names = dataset.label_names
    y = dataset.kind.encode(splits["test"]["labels"], names)
    share = np.bincount(y, minlength=len(names)) / len(y) if y.ndim == 1 else np.array([])
    return names, names.index(dataset.positive_label) if dataset.positive_label else None, share


def test_mix(y: np.ndarray, share: np.ndarray) -> np.ndarray | None:
    """Row weights that give the drawn rows the test split's class mix: make curve draws as many rows of
    every class, the test split has the data's own mix, and an estimate on the one is no estimate of a
    score on the other (None for multi-label: a row holds several labels)."""
    if y.ndim != 1 or not len(share):
        return None
    drawn = np.bincount(y, minlength=len(share)) / len(y)
    return share[y] / drawn[y]


def saved_temperature(arrays: dict[str, np.ndarray]) -> Any:
    """The run's temperature as quickfit.json holds it: None, one number, or one a label."""
    found = arrays["temperature"].tolist() or None
    return found[0] if isinstance(found, list) and len(found) == 1 else found


def before(
    arrays: dict[str, np.ndarray], kind: Any, names: list[str], positive: int | None, weights: Any
) -> tuple:
    """The estimate as it was shown before the correction: naive, with a 95 % stratified row bootstrap."""
    from scripts.evaluation import selection_bias, uncertainty

    y, logits = arrays["y"], arrays["logits"]
    temperature = saved_temperature(arrays)
    probs = kind.activate(logits, temperature)
    cuts = arrays["thresholds"].tolist() or None
    pred = kind.decide(probs, cuts, positive)
    value = selection_bias.scored(kind, y, pred, probs, names, positive, weights)[kind.curve_metric]
    W = uncertainty.resample_counts(y, kind, uncertainty.RESAMPLES, seed=0)
    W = W if weights is None else W * weights[None]
    low, high = uncertainty.intervals(W, kind, y, pred, probs, positive, [kind.curve_metric])[
        kind.curve_metric
    ]
    return float(value), low, high


def after(
    arrays: dict[str, np.ndarray], kind: Any, names: list[str], positive: int | None, weights: Any
) -> tuple:
    from scripts.evaluation.cross_validated import estimate_from

    temperature = saved_temperature(arrays)
    metric = str(arrays["metric"]) if "metric" in arrays else None
    found = estimate_from(
        arrays["logits"],
        arrays["by_epoch"],
        arrays["groups"],
        arrays["y"],
        kind,
        names,
        positive,
        metric,
        arrays["thresholds"].tolist() or None,
        temperature,
        weights,
    )
    m = kind.curve_metric
    return found["metrics"][m], *found["intervals"][m], found.get("out_of_bag", found["metrics"])[m]


def rows_of(folder: Path, data: str | None, mix: bool = True) -> list[dict[str, Any]]:
    from scripts.common import tasks

    table = pd.read_csv(folder / "curve.csv")
    found, cached = [], None
    for _, point in table[table["method"] == "quickfit"].iterrows():
        path = folder / "estimates" / f"{point['per_class']}_{point['draw']}_quickfit.npz"
        if not path.exists():
            continue
        with np.load(path, allow_pickle=False) as saved:
            arrays = {k: saved[k] for k in saved.files}
        cached = cached or label_names(data)
        names, positive, share = cached
        kind = tasks.get(
            str(arrays["task"])
            if "task" in arrays
            else "multilabel"
            if arrays["y"].ndim == 2
            else "binary"
            if len(names) == 2
            else "multiclass"
        )
        weights = test_mix(arrays["y"], share) if mix else None
        test = float(point[kind.curve_metric])
        b, b_low, b_high = before(arrays, kind, names, positive, weights)
        a, a_low, a_high, oob = after(arrays, kind, names, positive, weights)
        found.append(
            {
                "curve": folder.name,
                "per_class": point["per_class"],
                "draw": int(point["draw"]),
                "metric": kind.curve_metric,
                "test": test,
                "before": b,
                "before_low": b_low,
                "before_high": b_high,
                "after": a,
                "after_low": a_low,
                "after_high": a_high,
                "out_of_bag": oob,
            }
        )
    return found


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("curves", nargs="+", help="outputs/curves/<name>[=DATA]")
    parser.add_argument(
        "--draw-mix",
        action="store_true",
        help="score the drawn rows as drawn (as many of every class), not at the test split's class mix",
    )
    args = parser.parse_args(argv)
    points = []
    for item in args.curves:
        folder, _, data = item.partition("=")
        points += rows_of(Path(folder), data or None, mix=not args.draw_mix)
    table = pd.DataFrame(points)
    inside_b = (table["before_low"] <= table["test"]) & (table["test"] <= table["before_high"])
    inside_a = (table["after_low"] <= table["test"]) & (table["test"] <= table["after_high"])
    print(
        "| curve | per class | draw | metric | test | before (95 % row bootstrap) | after (90 % clusters) |"
    )
    print("|---|---|---|---|---|---|---|")
    for i, r in table.iterrows():
        shown = [
            f"{r[k]:.4f} [{r[k + '_low']:.4f}, {r[k + '_high']:.4f}]{'' if inside[i] else ' (out)'}"
            for k, inside in (("before", inside_b), ("after", inside_a))
        ]
        print(
            f"| {r['curve']} | {r['per_class']} | {r['draw']} | {r['metric']} | {r['test']:.4f} | "
            f"{shown[0]} | {shown[1]} |"
        )
    print()
    print(
        "| curve | per class | draws | bias before | bias after | bias, out-of-bag alone | "
        "test inside, before | test inside, after |"
    )
    print("|---|---|---|---|---|---|---|---|")
    table = table.assign(inside_b=inside_b, inside_a=inside_a)
    for (curve, size), g in table.groupby(["curve", "per_class"], sort=False):
        print(
            f"| {curve} | {size} | {len(g)} | {(g['before'] - g['test']).mean():+.4f} | "
            f"{(g['after'] - g['test']).mean():+.4f} | {(g['out_of_bag'] - g['test']).mean():+.4f} | "
            f"{int(g['inside_b'].sum())} of {len(g)} | "
            f"{int(g['inside_a'].sum())} of {len(g)} |"
        )
    print(
        f"| all | | {len(table)} | {(table['before'] - table['test']).mean():+.4f} | "
        f"{(table['after'] - table['test']).mean():+.4f} | "
        f"{(table['out_of_bag'] - table['test']).mean():+.4f} | {int(inside_b.sum())} of {len(table)} | "
        f"{int(inside_a.sum())} of {len(table)} |"
    )


if __name__ == "__main__":
    main()
