"""Entry point: make curve - how much would more labels buy? quickfit, the frozen-embedding probe of the
same base model and TF-IDF + LR, trained on growing numbers of labelled rows (several draws each) and
scored on the same test rows, which no draw ever contains.

    python -m scripts.curve [--data FILE] [--sizes 8,16,32,64,all] [--draws 3] [--methods M,...]
                            [--set K=V ...] [--name NAME]

Sizes are labelled rows per class (multi-label: per label, drawn at random). quickfit carves its own
validation split out of each draw (`validation_size`, at least one row a class), as make train would for
a user with that many labels and a test split of their own (k-fold where that validation is too small);
the probe and TF-IDF fit on the whole draw. `--methods` may add `setfit` (the setfit library with the
same body, scripts/evaluation/setfit_reference.py) or leave methods out. Writes outputs/curves/<name>/:
curve.csv (every run), curve.md (medians and ranges) and curve.png.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts import train
from scripts.common import runs, settings
from scripts.common.console import quiet, say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data.dataset import Dataset
from scripts.evaluation.curve_quickfit import quickfit_probs
from scripts.evaluation.curve_store import (
    MAX_PER_CLASS,
    check_draws,
    check_methods,
    check_new_points,
    check_sizes,
    earlier_points,
    remove_stale_scratch,
    write_curve,
)

METHODS = ("quickfit", "frozen_probe", "tfidf_logreg")  # the default; SetFit is slower and opt-in
KNOWN_METHODS = METHODS + ("setfit",)


def draw(pool: pd.DataFrame, dataset: Dataset, per_class: int | None, seed: int) -> pd.DataFrame:
    """`per_class` rows of each class (multi-label and regression: per_class x labels, or targets, rows at
    random); None: the pool.
    A class with fewer training rows than asked gives all it has (Reuters R8's grain has 37: 64 per class
    there is 64 of seven classes and 37 of grain); note_short_classes says so, and the curve's `rows`."""
    if per_class is None:
        return pool.sample(frac=1, random_state=seed).reset_index(drop=True)
    if dataset.kind.stratify != "class":  # label sets, scores: per_class x labels (targets) rows at random
        n = min(len(pool), per_class * len(dataset.label_names))
        return pool.sample(n=n, random_state=seed).reset_index(drop=True)
    parts = [
        group.sample(n=min(per_class, len(group)), random_state=seed) for _, group in pool.groupby("labels")
    ]
    return pd.concat(parts).sample(frac=1, random_state=seed).reset_index(drop=True)


def note_short_classes(pool: pd.DataFrame, dataset: Dataset, per_class: int | None) -> None:
    """One line when a size asks more of a class than the training rows hold (every draw takes them all)."""
    if per_class is None or dataset.kind.stratify != "class":
        return
    counts = pool["labels"].value_counts()
    short = counts[counts < per_class]
    if len(short):
        listed = ", ".join(f"{name!r} has {n}" for name, n in short.items())
        say(f"{per_class} rows per class: {listed} in the training rows; every draw takes all of those")


def reference_probs(
    method: str,
    base: str,
    rows: pd.DataFrame,
    y: np.ndarray,
    test: pd.DataFrame,
    dataset,
    max_len: int,
    seed: int,
) -> tuple[np.ndarray, np.ndarray | None] | None:
    """A reference's test outputs and its out-of-fold outputs on the drawn rows (None for SetFit: four more
    trainings a point), or None where it cannot score."""
    from scripts.evaluation import baselines, frozen_probe

    n, kind, inputs = len(dataset.label_names), dataset.kind, dataset.inputs
    if method == "setfit":
        from scripts.evaluation.setfit_reference import setfit_proba

        return setfit_proba(
            base, rows["text"].tolist(), y, test["text"].tolist(), dataset.task, n, seed
        ), None
    if method == "frozen_probe":
        found = frozen_probe.probe_outputs(
            base, inputs.rows(rows), y, [inputs.rows(test)], kind, n, max_len, with_out_of_fold=True
        )[0]
        return found[0], found[1]
    try:
        found = baselines.tfidf_reference(rows, y, [test], kind, n, with_out_of_fold=True)
    except ValueError:  # a handful of rows can leave TF-IDF no term seen twice (min_df=2): no score
        return None
    return found[0], found[1]


def one_point(
    cfg, dataset, base, rows, test, y_test, method: str, seed: int, max_len: int
) -> tuple[float, dict[str, float] | None]:
    """One method's score at one draw. Every method's decision rule is fitted as quickfit's is: quickfit's
    thresholds on its own held-out (out-of-fold) scores, a reference's on its out-of-fold scores of the same
    drawn rows (per label for multi-label; binary as quickfit's recipe tunes its own; SetFit keeps 0.5).
    Beside quickfit's score in a k-fold draw: the cross-validated estimate make eval would show."""
    from scripts.evaluation.thresholds import reference_cuts

    kind, labels = dataset.kind, dataset.label_names
    positive = labels.index(dataset.positive_label) if dataset.positive_label else None
    cuts, estimate = None, None
    if method == "quickfit":
        probs, cuts, estimate = quickfit_probs(cfg, dataset, base, rows, dataset.inputs.rows(test), seed)
    else:
        found = reference_probs(method, base, rows, encoded(rows, dataset), test, dataset, max_len, seed)
        if found is None:
            return float("nan"), None
        probs, held = found
        y = encoded(rows, dataset)
        if held is not None:
            cuts = reference_cuts(kind, y, held, positive, binary_tuned(cfg, y, positive))
    pred = kind.decide(probs, cuts, positive)
    return float(kind.score(y_test, pred, probs, labels, positive)[kind.curve_metric]), estimate


def binary_tuned(cfg: dict[str, Any], y: np.ndarray, positive: int | None) -> bool:
    """Whether a binary reference gets a tuned threshold: as quickfit's recipe decides for itself (auto: from
    MIN_POSITIVES_TO_TUNE held-out positives, here those of the drawn rows it scores out of fold)."""
    from scripts.training.recipes import MIN_POSITIVES_TO_TUNE

    setting = cfg.get("tune_binary_threshold")
    if positive is None or setting is False:
        return False
    return setting is True or int((y == positive).sum()) >= MIN_POSITIVES_TO_TUNE


def encoded(frame: pd.DataFrame, dataset: Dataset) -> np.ndarray:
    return dataset.kind.encode(frame["labels"], dataset.label_names)


def run_curve(
    cfg: dict[str, Any],
    sizes: list[int | None],
    draws: int,
    name: str,
    methods: Sequence[str] = METHODS,
    first_draw: int = 0,
) -> Path:
    """Every (size, draw, method) point -> outputs/curves/<name>/ (csv, md, png). Draw d is seeded
    manual_seed + d; first_draw skips the earlier draws (a later draw, or another method on it, without
    rerunning the ones already measured). An existing NAME of the same data is added to, never replaced;
    each finished point is written at once, so a failure later keeps it."""
    from scripts.training.st.patches import STOP

    STOP.clear()  # a stop an earlier run in this process took (a notebook's Ctrl-C) must not stop this one
    check_draws(cfg, draws, first_draw)
    remove_stale_scratch()
    base, resolved = train.choose_model(cfg)
    cfg = {**cfg, **resolved}
    dataset, splits, _ = train.prepare(cfg)
    metric = dataset.kind.curve_metric
    pool, test = splits["train"], splits["test"]  # test rows are never drawn
    check_sizes(pool, dataset, sizes, methods)
    check_methods(dataset, methods)
    folder = runs.outputs_dir(cfg) / "curves" / name
    about = {
        "dataset": cfg["dataset"],
        "metric": metric,
        "test_rows": len(test),
        "test_sha256": runs.texts_digest(test["text"].tolist()),
    }
    earlier = earlier_points(folder, about)
    check_new_points(earlier, sizes, draws, first_draw, methods, name)
    y_test = encoded(test, dataset)
    whole = {"train": pool, "validation": splits["validation"]}
    with quiet():  # the whole pool's plan only sets the references' length; each draw plans its own
        max_len = train.make_plan(cfg, dataset, whole, base).max_len
    say(f"the frozen probe reads up to {max_len} tokens a text (the training pool's length)")
    points, total, done = [], len(sizes) * draws * len(methods), 0
    scores_kept: dict[str, dict[str, np.ndarray]] = {}  # k-fold draws' out-of-fold scores -> estimates/
    for size in sizes:
        note_short_classes(pool, dataset, size)
        for d in range(first_draw, first_draw + draws):
            seed = cfg["manual_seed"] + d
            rows = draw(pool, dataset, size, seed=seed)
            for method in methods:
                started = time.time()
                try:
                    value, estimate = one_point(cfg, dataset, base, rows, test, y_test, method, seed, max_len)
                except UserError as exc:
                    kept = f"; the {done} finished point(s) are in {folder}" if done else ""
                    raise UserError(f"{size or 'all'} per class, draw {d}, {method}: {exc}{kept}") from exc
                done += 1
                seconds = round(time.time() - started, 1)
                points.append(_point(size, rows, d, method, metric, value, seconds, estimate, scores_kept))
                say(f"curve {done}/{total}: {size or 'all'} per class, draw {d}, {method}: {value:.4f}")
                table = pd.concat([earlier, pd.DataFrame(points)], ignore_index=True)
                write_curve(table, folder, metric, len(test), about, quiet_write=True, kept=scores_kept)
    say(f"wrote {folder}/ (curve.csv, curve.md, curve.png)")
    return folder


def _point(size, rows, d: int, method: str, metric: str, value: float, seconds: float, estimate, kept):
    """One row of curve.csv; beside a k-fold draw's quickfit score the estimate make eval would show (the
    scores it came from go to `kept`, then to estimates/)."""
    estimate = dict(estimate or {})
    if "inputs" in estimate:
        kept[f"{size or 'all'}_{d}_{method}"] = estimate.pop("inputs")
    return {
        "per_class": size or "all",
        "rows": len(rows),
        "draw": d,
        "method": method,
        metric: round(value, 4),
        "seconds": seconds,
        **{k: round(v, 4) for k, v in estimate.items()},
    }


def parse_sizes(value: str) -> list[int | None]:
    sizes: list[int | None] = []
    for item in value.split(","):
        item = item.strip().lower()
        if item == "all":
            sizes.append(None)
        elif item.isdecimal() and 0 < int(item) <= MAX_PER_CLASS:  # isdigit() also passes "²", int() not
            sizes.append(int(item))
        else:
            raise UserError(
                f"SIZES={value!r}: give rows per class as whole numbers from 1 to {MAX_PER_CLASS:,} and/or "
                "all, e.g. 8,16,64,all"
            )
    return sizes


def parse_methods(value: str) -> list[str]:
    methods = list(dict.fromkeys(m.strip().lower() for m in value.split(",") if m.strip()))  # once each
    unknown = [m for m in methods if m not in KNOWN_METHODS]
    if unknown or not methods:
        raise UserError(f"METHODS={value!r}: choose from {', '.join(KNOWN_METHODS)}, comma-separated")
    if "setfit" in methods:
        import importlib.util

        if importlib.util.find_spec("setfit") is None:
            raise UserError(
                "METHODS asks for setfit but the setfit library is not installed: run make install"
            )
    return methods


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.curve", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CSV/TSV/JSON/Parquet path, hf:owner/name or a preset")
    parser.add_argument("--sizes", default="8,16,32,64,all", help="labelled rows per class, e.g. 8,16,64,all")
    parser.add_argument("--draws", type=int, default=3, help="draws (seeds) per size")
    parser.add_argument(
        "--first-draw",
        type=int,
        default=0,
        help="the first draw's number (seed manual_seed + it): later draws alone",
    )
    parser.add_argument("--methods", default=",".join(METHODS), help="e.g. quickfit,frozen_probe,setfit")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--name", help="the folder under outputs/curves (default: the dataset's name)")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # a stop cleans the draw's scratch folder
    if args.draws < 1:
        raise UserError(f"DRAWS={args.draws}: give at least 1 draw")
    if args.first_draw < 0:
        raise UserError(f"FIRST_DRAW={args.first_draw}: draws are numbered from 0")
    methods, sizes = parse_methods(args.methods), parse_sizes(args.sizes)
    cfg, name = settings.resolve_from_cli(args.data, args.set, args.name)
    folder = run_curve(cfg, sizes, args.draws, name, methods, args.first_draw)
    print((folder / "curve.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
