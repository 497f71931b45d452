"""Entry point: make compare - a leaderboard of finished runs, ranked only against comparable runs.

    python -m scripts.compare [--runs RUN,RUN,...]

Runs are comparable when they were tested on the same rows: the same dataset and the same test split
(its sha256). Each such group gets its own table, ranked by the task's headline test metric; runs on
other data or another split are never ranked against each other. Printed and written to
outputs/compare.md, with one plot (outputs/compare.png).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.common import runs, settings, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data.sources import sha256_of


def describe(run_dir: Path) -> dict[str, Any]:
    """One leaderboard row: what was trained, how, and how it scored (test metrics from eval/metrics.json)."""
    record = runs.read_record(run_dir)
    cfg = runs.saved_config(run_dir)
    report = runs.test_metrics(run_dir)  # only scores of the run's own test split are ranked
    results = report["results"]["transformer"] if report else {}
    # the metric each run leads with: its evaluation's first (the dataset's official one where it has one)
    headline = (report or {}).get("lead_metric") or tasks.get(record["task"]).compare
    interval = (results.get("intervals") or {}).get(headline)
    return {
        "run": run_dir.name,
        "dataset": record["dataset"]["name"],
        "test split": sha256_of(runs.split_path(run_dir, "test"))[:12],
        "task": record["task"],
        "model": Path(record["model"]["model_name"]).name,
        "lr": cfg["learning_rate"],
        "epochs": (
            runs.SHIPPED_PROBE  # k-fold shipped the frozen probe: nothing was fine-tuned
            if (record.get("model_selection") or {}).get("shipped") == runs.SHIPPED_PROBE
            else f"{record['best_epoch']}/{cfg['num_train_epochs']}"
        ),
        "batch": cfg["train_batch_size"],
        "balance": record["balance"]["method"],
        f"validation {record['selection_metric']}": round(record["validation_best"], 4),
        "headline": headline,
        "test": results.get(headline),
        "interval": interval,
        "seconds": record.get("total_seconds"),
        "sweep": bool(record.get("hyperparameter_search")),
    }


def leaderboard(run_dirs: list[Path]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    """Rows grouped by (dataset, test split), each group ranked by its test headline metric
    (unevaluated runs last). A damaged run is left out with one line, not a traceback."""
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for run_dir in run_dirs:
        try:
            row = describe(run_dir)
        except (UserError, KeyError, TypeError, ValueError, OSError) as exc:
            say(f"left out {run_dir.name}: its records are damaged ({str(exc)[:120]})")
            continue
        groups.setdefault((row["dataset"], row["test split"]), []).append(row)
    for rows in groups.values():
        rows.sort(key=lambda r: -1 if r["test"] is None else r["test"], reverse=True)
    return groups


def render(groups: dict[tuple[str, str], list[dict[str, Any]]]) -> str:
    from scripts.evaluation.report import markdown_table

    parts = [
        "# Runs compared",
        "",
        "Ranked within each group of runs tested on the same rows (dataset and "
        "test split); groups are not ranked against each other.",
        "",
    ]
    for (dataset, split), rows in groups.items():
        metric = rows[0]["headline"]
        head = [
            "rank",
            "run",
            "model",
            "lr",
            "epochs (best/max)",
            "batch",
            "balance",
            "validation",
            f"test {metric}",
            "wall s",
            "sweep",
        ]
        table = [head] + [
            [
                str(i + 1) if r["test"] is not None else "-",
                r["run"],
                r["model"],
                f"{r['lr']:g}",
                r["epochs"],
                str(r["batch"]),
                r["balance"],
                f"{next(v for k, v in r.items() if k.startswith('validation '))}",
                _score(r),
                str(r["seconds"]),
                "yes" if r["sweep"] else "",
            ]
            for i, r in enumerate(rows)
        ]
        parts += [f"## {dataset} (test split {split}, {rows[0]['task']})", "", markdown_table(table), ""]
    return "\n".join(parts)


def _score(row: dict[str, Any]) -> str:
    if row["test"] is None:
        return "not evaluated (make eval)"
    low_high = row["interval"]
    return f"{row['test']:.4f}" + (f" [{low_high[0]:.4f}, {low_high[1]:.4f}]" if low_high else "")


def plot(groups: dict[tuple[str, str], list[dict[str, Any]]], path: Path) -> None:
    """One panel per comparable group: each run's headline test metric."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tallest = max(len(rows) for rows in groups.values())
    fig, axes = plt.subplots(len(groups), 1, figsize=(8, len(groups) * (1.2 + 0.45 * tallest)), squeeze=False)
    for ax, ((dataset, split), rows) in zip(axes[:, 0], groups.items()):
        scored = [r for r in rows if r["test"] is not None][::-1]
        ax.barh([r["run"] for r in scored], [r["test"] for r in scored], color="#4c72b0")
        ax.set_xlim(0, 1)
        ax.set_title(f"{dataset} (test split {split}): test {rows[0]['headline']}", fontsize=9)
        ax.tick_params(labelsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.compare", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", help="comma-separated run folders or names (default: every finished run)")
    args = parser.parse_args(argv)
    out = runs.outputs_dir(settings.resolve())
    if args.runs:  # each run once, in the order given
        names = dict.fromkeys(name.strip() for name in args.runs.split(",") if name.strip())
        run_dirs = list(dict.fromkeys(runs.find(out, name) for name in names))
    else:
        run_dirs = (
            sorted(
                p for p in out.iterdir() if p.is_dir() and not p.is_symlink() and (p / runs.RECORD).exists()
            )
            if out.is_dir()
            else []
        )
    if not run_dirs:
        raise UserError(f"no finished runs in {out}/ to compare; run `make train` first")
    groups = leaderboard(run_dirs)
    text = render(groups)
    (out / "compare.md").write_text(text + "\n")
    plot(groups, out / "compare.png")
    print(text)
    say(f"written to {out / 'compare.md'} and {out / 'compare.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
