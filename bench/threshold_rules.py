"""Multi-label thresholds on few validation rows, looked into: one curve draw trained as make train trains
it, then the same validation probabilities turned into thresholds by several rules, each scored on the
test rows. The validation chooses every threshold; the test rows only score the rules (the last line, the
test's own best per-label thresholds, is a ceiling no rule can reach, shown for scale).

    python -m bench.threshold_rules [--data NAME] --per-label 64 [--draws 3] [--first-draw 0] [--set K=V ...]
    python -m bench.threshold_rules --run outputs/<run>   (a finished multi-label run: its own splits)
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from scripts.evaluation import thresholds

FALLBACK_POSITIVES = (3, 5, 10)  # the rules "per label, shared under k validation positives"


def shared_threshold(y: np.ndarray, probs: np.ndarray) -> float:
    """The one grid threshold for every label with the best validation macro-F1 (ties: nearest 0.5)."""
    best = max(
        (np.mean([thresholds.f1_at(y[:, j], probs[:, j], t) for j in range(y.shape[1])]), -abs(t - 0.5), t)
        for t in thresholds.GRID
    )
    return float(best[2])


def rules(y_val: np.ndarray, p_val: np.ndarray) -> dict[str, list[float]]:
    """Every rule's thresholds, from the validation rows alone."""
    per_label, _ = thresholds.tune_per_label(y_val, p_val)
    shared = shared_threshold(y_val, p_val)
    positives = y_val.sum(axis=0)
    out = {"per label (today)": per_label, "shared": [shared] * y_val.shape[1], "0.5": [0.5] * y_val.shape[1]}
    for k in FALLBACK_POSITIVES:
        out[f"per label, shared under {k} positives"] = [
            t if n >= k else shared for t, n in zip(per_label, positives)
        ]
    return out


def macro_f1(y: np.ndarray, probs: np.ndarray, cuts: list[float]) -> float:
    return float(np.mean([thresholds.f1_at(y[:, j], probs[:, j], cuts[j]) for j in range(y.shape[1])]))


def one_draw(cfg: dict[str, Any], dataset: Any, base: str, splits: Any, per_label: int, d: int) -> dict:
    """Train the draw as the curve does (validation carved as make train carves it) and score every rule."""
    from scripts import curve, train
    from scripts.common.console import quiet
    from scripts.evaluation import curve_quickfit
    from scripts.model.inference import load_predictor
    from scripts.training import kfold
    from scripts.training.finalise import finalise

    seed = cfg["manual_seed"] + d
    rows = curve.draw(splits["train"], dataset, per_label, seed=seed)
    parts = curve_quickfit.carve_validation(rows, dataset, cfg["validation_size"], seed)
    with quiet():
        plan = kfold.plan_for({**cfg, "manual_seed": seed}, dataset, parts, base, True, False)
    if kfold.is_kfold(plan):
        raise SystemExit("this draw selects by k-fold (out-of-fold thresholds): use a larger --per-label")
    with tempfile.TemporaryDirectory(prefix="threshold-rules-") as work:
        result = kfold.fit(plan, dataset, base, Path(work), train.train_with_plan)
        finalise(result, dataset, parts["validation"], plan.cfg, plan.selection)
        predictor = load_predictor(result.model_dir, cfg["threads"])
        p_val = predictor.predict_proba(parts["validation"]["text"].tolist())
        p_test = predictor.predict_proba(splits["test"]["text"].tolist())
        published = predictor.thresholds
    y_val, y_test = curve.encoded(parts["validation"], dataset), curve.encoded(splits["test"], dataset)
    chosen = rules(y_val, p_val)
    differ = int(np.sum(~np.isclose(chosen["per label (today)"], published)))  # make train's rule, re-run
    scores = scored_rules(chosen, y_test, p_test)
    positives = y_val.sum(axis=0)
    print(
        f"draw {d}: {len(parts['validation'])} validation rows, positives a label: median "
        f"{np.median(positives):.0f}, min {positives.min()}, {int((positives < 5).sum())} labels under 5; "
        f"{differ} of the published per-label thresholds differ from the re-tuned ones"
    )
    return scores


def scored_rules(chosen: dict[str, list[float]], y_test: np.ndarray, p_test: np.ndarray) -> dict:
    """Every rule's test macro-F1, and the test rows' own per-label ceiling."""
    scores = {name: macro_f1(y_test, p_test, cuts) for name, cuts in chosen.items()}
    ceiling = thresholds.tune_per_label(y_test, p_test)[0]
    scores["ceiling: per label tuned on test"] = macro_f1(y_test, p_test, ceiling)
    return scores


def from_run(run_dir: Path) -> dict:
    """The rules on a finished run: its model's probabilities on its own validation and test splits."""
    from scripts.common import runs
    from scripts.data.dataset import encode_labels, load_split
    from scripts.model.inference import load_predictor

    predictor = load_predictor(runs.model_dir(run_dir))
    if predictor.task != "multilabel":
        raise SystemExit("multi-label runs only (per-label thresholds)")
    parts = {
        part: load_split(runs.split_path(run_dir, part), "multilabel") for part in ("validation", "test")
    }
    y = {k: np.array(encode_labels(v["labels"], predictor.labels, "multilabel")) for k, v in parts.items()}
    p = {k: predictor.predict_proba(v["text"].tolist()) for k, v in parts.items()}
    positives = y["validation"].sum(axis=0)
    print(
        f"{run_dir.name}: {len(y['validation'])} validation rows, positives a label: median "
        f"{np.median(positives):.0f}, min {positives.min()}, {int((positives < 10).sum())} labels under 10"
    )
    return scored_rules(rules(y["validation"], p["validation"]), y["test"], p["test"])


def main(argv: list[str] | None = None) -> None:
    from scripts import train
    from scripts.common import settings

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="goemotions")
    parser.add_argument("--per-label", type=int)
    parser.add_argument("--run", type=Path, help="score the rules on a finished run instead of curve draws")
    parser.add_argument("--draws", type=int, default=3)
    parser.add_argument("--first-draw", type=int, default=0)
    parser.add_argument("--set", nargs="*", default=[])
    args = parser.parse_args(argv)
    if args.run:
        scores = from_run(args.run)
        print("\n| rule | test macro-F1 |\n|---|---|")
        print("\n".join(f"| {name} | {value:.4f} |" for name, value in scores.items()))
        return
    if not args.per_label:
        parser.error("give --per-label (curve draws) or --run (a finished run)")
    cfg, _ = settings.resolve_from_cli(args.data, args.set, "threshold_rules")
    base, resolved = train.choose_model(cfg)
    cfg = {**cfg, **resolved}
    dataset, splits, _ = train.prepare(cfg)
    if dataset.task != "multilabel":
        raise SystemExit("multi-label data sets only (per-label thresholds)")
    table = {}
    for d in range(args.first_draw, args.first_draw + args.draws):
        table[d] = one_draw(cfg, dataset, base, splits, args.per_label, d)
        print("  " + "; ".join(f"{k}: {v:.4f}" for k, v in table[d].items()), flush=True)
    names = list(next(iter(table.values())))
    print(
        f"\n| rule | {' | '.join(f'draw {d}' for d in table)} | median |\n|---|" + "---|" * (len(table) + 1)
    )
    for name in names:
        values = [table[d][name] for d in table]
        print(f"| {name} | {' | '.join(f'{v:.4f}' for v in values)} | {np.median(values):.4f} |")


if __name__ == "__main__":
    main()
