"""A learning curve's folder (outputs/curves/<name>/): its points added to by a later `make curve` with the
same NAME and data, never replaced; each finished point written at once; and the checks that refuse, before
any point is computed, what cannot be computed (seeds numpy cannot take, sizes quickfit cannot train on)."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import ownership, runs
from scripts.common.console import say
from scripts.common.errors import UserError

SCRATCH_PREFIX = "quickfit-curve-"  # + the pid: a draw's training folder in the temp dir
MAX_SEED = 2**32 - 1  # numpy's seeds; draw d is seeded manual_seed + d
KEY = ["per_class", "draw", "method"]  # one point of a curve
MAX_PER_CLASS = 10_000_000
MIN_PER_CLASS = 3  # quickfit carves a stratified validation split of each draw: 3 rows a class at least


def check_draws(cfg: dict[str, Any], draws: int, first_draw: int) -> None:
    """Every draw's seed (manual_seed + draw) is one numpy takes: refused before any work."""
    last = cfg["manual_seed"] + first_draw + draws - 1
    if last > MAX_SEED:
        raise UserError(
            f"draw {first_draw + draws - 1} would be seeded manual_seed + {first_draw + draws - 1} = {last}, "
            f"above {MAX_SEED} (the largest seed numpy takes); lower manual_seed, FIRST_DRAW or DRAWS"
        )


def check_sizes(pool: pd.DataFrame, dataset: Any, sizes: list[int | None], methods: Sequence[str]) -> None:
    """A size quickfit cannot train on (its validation split is carved stratified, 3 rows a class at
    least) is refused before any point is computed, naming the class that falls short."""
    if "quickfit" not in methods or dataset.kind.stratify != "class":
        return
    counts = pool["labels"].value_counts()
    for size in sizes:
        short = counts[counts.clip(upper=size) < MIN_PER_CLASS] if size else counts[counts < MIN_PER_CLASS]
        if len(short):
            name, have = short.index[0], int(short.iloc[0])
            took = min(have, size) if size else have
            raise UserError(
                f"SIZES: {size or 'all'} rows per class gives class {name!r} {took} row(s) ({have} in the "
                f"training pool), and quickfit carves a stratified validation split that needs at least "
                f"{MIN_PER_CLASS} a class; use sizes of {MIN_PER_CLASS} or more, or leave quickfit out of "
                "METHODS"
            )


def check_methods(dataset: Any, methods: Sequence[str]) -> None:
    """SetFit classifies single texts: refused up front for pairs and scores."""
    if "setfit" in methods and (dataset.text_pair or not dataset.kind.classifies):
        raise UserError(
            "METHODS=...,setfit: SetFit classifies single texts, and this data is "
            + ("pairs of texts" if dataset.text_pair else "a regression")
            + "; leave setfit out of METHODS"
        )


def remove_stale_scratch() -> None:
    """Draw folders of curve processes that were killed (kill -9 skips every clean-up)."""
    for folder in Path(tempfile.gettempdir()).glob(f"{SCRATCH_PREFIX}*-*"):
        pid = folder.name[len(SCRATCH_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not ownership.pid_alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def earlier_points(folder: Path, about: dict[str, Any]) -> pd.DataFrame:
    """The points an earlier `make curve` with this NAME wrote, when they were measured on the same data
    and test rows; an empty table when the folder is new. Anything else is refused: never replaced."""
    if not folder.exists():
        return pd.DataFrame()
    table_path, about_path = folder / "curve.csv", folder / "curve.json"
    if not table_path.exists() or not about_path.exists():
        raise UserError(
            f"{folder} exists but is not a curve quickfit can add to (no curve.csv or curve.json); choose "
            "another NAME, or move that folder away"
        )
    before = runs.read_json(about_path)
    differs = [k for k in ("dataset", "metric", "test_rows", "test_sha256") if before.get(k) != about.get(k)]
    if differs:
        raise UserError(
            f"NAME={folder.name} holds a curve of other data ({', '.join(differs)} differ); its points are "
            "kept: choose another NAME for this one"
        )
    try:
        earlier = pd.read_csv(table_path)
    except (OSError, ValueError) as exc:
        raise UserError(f"{table_path} cannot be read ({exc}); restore it or choose another NAME") from exc
    say(f"adding to {folder} ({len(earlier)} points already there)")
    return earlier


def check_new_points(earlier: pd.DataFrame, sizes, draws: int, first_draw: int, methods, name: str) -> None:
    """Adding to a curve never measures a point twice: refused, naming what it already holds."""
    if earlier.empty:
        return
    held = {(str(p), int(d), str(m)) for p, d, m in earlier[KEY].itertuples(index=False)}
    wanted = {
        (str(size or "all"), d, m)
        for size in sizes
        for d in range(first_draw, first_draw + draws)
        for m in methods
    }
    again = sorted(held & wanted)
    if again:
        draws_held = sorted({d for _, d, _ in held})
        raise UserError(
            f"NAME={name} already holds {len(again)} of these points (e.g. {again[0][0]} per class, draw "
            f"{again[0][1]}, {again[0][2]}; its draws: {', '.join(map(str, draws_held))}); add later draws "
            f"with FIRST_DRAW={max(draws_held) + 1}, other methods or sizes, or choose another NAME"
        )


def write_curve(
    table: pd.DataFrame,
    folder: Path,
    metric: str,
    test_rows: int,
    about: dict[str, Any] | None = None,
    quiet_write: bool = False,
    kept: dict[str, dict[str, np.ndarray]] | None = None,
) -> Path:
    """curve.csv, curve.md, curve.png (and estimates/: each k-fold draw's out-of-fold scores, those of
    earlier runs into the same folder kept) built aside and swapped in."""
    from scripts.evaluation.plots import learning_curve
    from scripts.evaluation.report import markdown_table

    table = table.assign(per_class=table["per_class"].astype(str))
    size = table["per_class"].map(lambda v: float("inf") if v == "all" else float(v))
    table = table.assign(_size=size).sort_values(["_size", "draw"], kind="stable").drop(columns="_size")
    with runs.built_aside(folder) as out:
        if about is not None:
            runs.write_json(out / "curve.json", about)
        table.to_csv(out / "curve.csv", index=False)
        if (folder / "estimates").is_dir():
            shutil.copytree(folder / "estimates", out / "estimates")
        for key, arrays in (kept or {}).items():
            (out / "estimates").mkdir(exist_ok=True)
            np.savez_compressed(out / "estimates" / f"{key}.npz", **arrays)
        groups = table.groupby(["per_class", "method"], sort=False)
        summary = groups[metric].agg(["median", "min", "max"]).join(groups["rows"].max())
        rows = [
            ["labelled rows per class", "rows drawn", "method", f"{metric} median", "range over draws"]
        ] + [
            [
                str(size),
                str(int(s["rows"])),
                method,
                f"{s['median']:.4f}",
                f"[{s['min']:.4f}, {s['max']:.4f}]",
            ]
            for (size, method), s in summary.iterrows()
        ]
        intro = f"# Learning curve\n\nScored on the same {test_rows} test rows (never drawn).\n\n"
        text = intro + markdown_table(rows) + "\n"
        (out / "curve.md").write_text(text, encoding="utf-8")
        learning_curve(table, metric, out / "curve.png")
    if not quiet_write:
        say(f"wrote {folder}/ (curve.csv, curve.md, curve.png)")
    return folder
