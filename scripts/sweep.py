"""Entry point: make sweep - an Optuna search over config.SEARCH, every trial scored on validation only.

    python -m scripts.sweep [--trials 20] [--data FILE] [--set KEY=VALUE ...] [--name NAME] [--resume]

The data is read and split once, as `make train` would; trials train on the train split and are scored
on the validation split with the run's selection metric, and are pruned on it epoch by epoch (median
pruner). The test split is held back from every trial. The study lives in SQLite under
outputs/sweeps/<name>/, so `--resume` continues an interrupted sweep without rerunning finished trials.
At the end: trials.csv/.md, the optimisation-history and parameter-importance plots, best.json, and
the best configuration retrained once as a normal run (evaluated on test, its card naming the sweep).
Under kfold.MIN_VALIDATION_ROWS validation rows the trials' scores are mostly noise: the sweep says so
before it starts and best.json records the row count (make train itself then chooses its epoch by k-fold).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from scripts import train
from scripts.common import locks, runs, settings, tasks
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli

MULTILABEL_BALANCE = ("pos_weight", "none")  # what a multi-label sweep may try for `balance`


def sample(trial: Any, space: dict[str, tuple], task: str) -> dict[str, Any]:
    """One point of the search space (config.SEARCH), as config overrides."""
    params: dict[str, Any] = {}
    for key, spec in space.items():
        kind = spec[0]
        if kind == "log":
            params[key] = trial.suggest_float(key, spec[1], spec[2], log=True)
        elif kind == "float":
            params[key] = trial.suggest_float(key, spec[1], spec[2])
        elif kind == "int":
            params[key] = trial.suggest_int(key, spec[1], spec[2])
        elif kind == "choice":
            choices = list(spec[1])
            if key == "balance":  # resampling has no multi-label form; pos_weight has no single-label one
                kind = tasks.get(task)
                allowed = (
                    MULTILABEL_BALANCE
                    if kind.stratify == "iterative"
                    else ("none",)
                    if not kind.classifies
                    else tuple(c for c in choices if c != "pos_weight")
                )
                choices = [c for c in choices if c in allowed] or list(allowed)
            params[key] = trial.suggest_categorical(key, choices)
        else:
            raise UserError(f"SEARCH[{key!r}] = {spec!r}: the kind must be log, float, int or choice")
    return params


def check_space(space: dict[str, tuple], cfg: dict[str, Any]) -> None:
    unknown = [k for k in space if k not in cfg]
    if unknown:
        raise UserError(
            f"SEARCH names keys that are not config keys: {unknown}; fix SEARCH in scripts/config.py"
        )


def check_folder(folder: Path, name: str, resume: bool) -> None:
    """Before any work: RESUME=1 needs a study, a new sweep needs a free name."""
    db = folder / "study.db"
    if resume and not db.exists():
        raise UserError(f"nothing to resume: no sweep study in {folder}; run `make sweep` without RESUME=1")
    if not resume and db.exists():
        raise UserError(
            f"a sweep named {name!r} exists in {folder}; continue it with RESUME=1, or give another NAME=..."
        )


def _study(folder: Path, name: str, seed: int, resume: bool) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    db = folder / "study.db"
    check_folder(folder, name, resume)
    folder.mkdir(parents=True, exist_ok=True)
    study = optuna.create_study(
        study_name=name,
        storage=f"sqlite:///{db}",
        load_if_exists=resume,
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=1),
    )
    # A trial that was running when the sweep was interrupted did not finish: mark it failed, rerun it.
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
        study._storage.set_trial_state_values(trial._trial_id, optuna.trial.TrialState.FAIL)
    # A resumed sweep's sampler must not replay the first trials' random draws: seed it past them.
    done = len(study.get_trials(deepcopy=False))
    if done:
        study.sampler = optuna.samplers.TPESampler(seed=(seed + 1000 * done) % 2**32)  # numpy: < 2**32
    return study


def finished(study: Any) -> int:
    import optuna

    done = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)
    return len(study.get_trials(deepcopy=False, states=done))


def run_sweep(
    cfg: dict[str, Any], trials: int, name: str, resume: bool = False, retrain: bool = True
) -> Path:
    """The whole sweep; returns its folder (outputs/sweeps/<name>)."""
    from scripts.common.resume import fingerprint
    from scripts.config import SEARCH
    from scripts.training.st.patches import STOP

    STOP.clear()
    check_space(SEARCH, cfg)
    folder = runs.outputs_dir(cfg) / "sweeps" / name
    check_folder(folder, name, resume)
    base, resolved = train.choose_model(cfg)
    cfg = {**cfg, **resolved}
    dataset, splits, source = train.prepare(cfg)
    tuning = {"train": splits["train"], "validation": splits["validation"]}  # the test split stays out
    train.make_plan(cfg, dataset, tuning, base)  # preflight: a plan that cannot train fails before any study
    warn_small_validation(len(splits["validation"]), len(dataset.label_names))
    meta = {"dataset": cfg["dataset"], "data": fingerprint(source), "trials": trials, "config": cfg}
    with locks.held(folder, f"sweep {name}"):
        check_resumable(folder, name, meta, resume)
        study = _study(folder, name, cfg["manual_seed"], resume)
        runs.write_json(folder / "sweep.json", meta)
        remaining = trials - finished(study)
        if remaining > 0:
            done = finished(study)
            say(f"sweep {name}: {remaining} trial(s) to run of {trials} ({done} done), on validation")
            objective = _objective(cfg, dataset, tuning, base, folder)
            study.optimize(objective, n_trials=remaining, catch=())
        best = _best(study, folder, dataset, name, len(splits["validation"]))
    if retrain:
        final = train.train_run({**cfg, **best["params"], "run_name": f"{name}-best"}, search=best)
        from scripts.evaluate import evaluate

        evaluate(final, threads=cfg["threads"])
        say(f"the best configuration, retrained and evaluated on test: {final}")
    return folder


def check_resumable(folder: Path, name: str, meta: dict[str, Any], resume: bool) -> None:
    """RESUME=1 continues a sweep on the same data and settings, or not at all (as make train RESUME=1)."""
    if not resume:
        return
    if not (folder / "sweep.json").exists():
        raise UserError(f"nothing to resume: no sweep in {folder}; run `make sweep` without RESUME=1")
    saved = runs.read_json(folder / "sweep.json")
    if saved.get("data") != meta["data"]:
        raise UserError(
            f"the data changed since sweep {name} started; start a new sweep with another NAME=..."
        )
    before, now = saved.get("config", {}), meta["config"]
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed:
        raise UserError(
            f"sweep {name} started with other settings ({', '.join(changed[:5])} differ); resume with the "
            "same SET, or start a new sweep with another NAME=..."
        )


def _objective(cfg: dict[str, Any], dataset: Any, tuning: dict[str, Any], base: str, folder: Path):
    """One trial: a plan with the sampled values, trained and scored on validation (pruned per epoch)."""
    import optuna

    from scripts.config import SEARCH

    def objective(trial: Any) -> float:
        params = sample(trial, SEARCH, dataset.task)
        say(f"trial {trial.number}: {params}")
        plan = train.make_plan({**cfg, **params}, dataset, tuning, base)
        work = folder / "trials" / str(trial.number)
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        started = time.time()

        def report(epoch: int, value: float) -> None:
            trial.report(value, epoch)
            if trial.should_prune():
                raise optuna.TrialPruned(f"validation {plan.metric_name} {value:.4f} at epoch {epoch}")

        try:
            result = train.train_with_plan(plan, dataset, base, work, on_epoch=report)
            trial.set_user_attr("epochs", len(result.history))
            return float(result.best_metric)
        finally:
            trial.set_user_attr("seconds", round(time.time() - started, 1))
            shutil.rmtree(work, ignore_errors=True)  # a trial keeps its score, not its checkpoints

    return objective


def warn_small_validation(rows: int, n_labels: int) -> None:
    from scripts.training.kfold import MIN_VALIDATION_ROWS, enough_validation_rows

    enough = enough_validation_rows(n_labels)
    per_label = f" for {n_labels} labels" if enough > MIN_VALIDATION_ROWS else ""
    if rows < enough:
        say(
            f"warning: the validation split has {rows} rows (< {enough}{per_label}): trials "
            "ranked on it differ mostly by chance; label more rows or raise validation_split before trusting "
            "the winner"
        )


def _best(study: Any, folder: Path, dataset: Any, name: str, validation_rows: int) -> dict[str, Any]:
    """trials.md, the plots and best.json."""
    metric = plan_metric(dataset)
    write_results(study, folder, metric)
    best = {
        "params": study.best_params,
        "value": study.best_value,
        "trial": study.best_trial.number,
        "trials": finished(study),
        "metric": f"validation {metric}",
        "validation_rows": validation_rows,
        "sweep": name,
    }
    runs.write_json(folder / "best.json", best)
    say(f"best trial {best['trial']}: validation {metric} {best['value']:.4f} with {best['params']}")
    return best


def plan_metric(dataset: Any) -> str:
    positive = dataset.label_names.index(dataset.positive_label) if dataset.positive_label else None
    return dataset.kind.selection(positive)[0]


def write_results(study: Any, folder: Path, metric: str) -> None:
    """trials.csv and trials.md (params, validation metric, epochs, state, seconds) and the two plots."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import optuna

    from scripts.evaluation.report import markdown_table

    rows = [
        {
            "trial": t.number,
            **t.params,
            f"validation {metric}": t.value
            if t.value is not None
            else (max(t.intermediate_values.values()) if t.intermediate_values else None),
            "epochs": t.user_attrs.get("epochs", len(t.intermediate_values)),
            "state": t.state.name.lower(),
            "seconds": t.user_attrs.get("seconds"),
        }
        for t in study.get_trials(deepcopy=False)
    ]
    table = pd.DataFrame(rows)
    table.to_csv(folder / "trials.csv", index=False)
    cells = [[str(c) for c in table.columns]] + [
        ["" if v is None or v != v else f"{v:.4g}" if isinstance(v, float) else str(v) for v in row]
        for row in table.itertuples(index=False)
    ]
    (folder / "trials.md").write_text(markdown_table(cells) + "\n")
    plots = [("optimization_history.png", optuna.visualization.matplotlib.plot_optimization_history)]
    if len([t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]) >= 2:
        plots.append(("param_importances.png", optuna.visualization.matplotlib.plot_param_importances))
    for file, plot in plots:
        try:
            ax = plot(study)
        except (ValueError, RuntimeError) as exc:  # e.g. importances when every trial had the same params
            say(f"{file} not drawn: {exc}")
            continue
        ax.figure.tight_layout()
        ax.figure.savefig(folder / file, dpi=110)
        plt.close(ax.figure)


def main(argv: Sequence[str]) -> int:
    parser = Parser(prog="python -m scripts.sweep", description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--data", help="a CSV/TSV/JSON/Parquet path, hf:owner/name or a preset")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument(
        "--name", help="the sweep's folder under outputs/sweeps (default: the dataset's name)"
    )
    parser.add_argument("--resume", action="store_true", help="continue the interrupted sweep of that name")
    args = parser.parse_args(argv)
    if args.trials < 1:
        raise UserError(f"TRIALS={args.trials}: give at least 1 trial")
    cfg, name = settings.resolve_from_cli(args.data, args.set, args.name)
    train._install_stop_handlers()
    try:
        folder = run_sweep(cfg, args.trials, name, resume=args.resume)
    except KeyboardInterrupt:
        print(
            f"interrupted: finished trials are kept; continue with `make sweep RESUME=1 NAME={name}`",
            flush=True,
        )
        return 130
    say(f"sweep results in {folder} (trials.md, best.json, optimization_history.png)")
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
