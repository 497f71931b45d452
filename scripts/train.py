"""Entry point: settings -> data -> split -> balance -> model -> run folder.

python -m scripts.train [--data FILE] [--set KEY=VALUE ...] [--resume] [--debug]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common import provenance, runs, runtime, settings
from scripts.common.console import say
from scripts.common.errors import UserError, run_cli
from scripts.data import balance, leakage, sources, split
from scripts.data.dataset import Dataset, encode_labels, label_counts, load_dataset, save_split
from scripts.evaluation import thresholds
from scripts.model import architectures, base_model, truncation
from scripts.training import checkpoints, distributed, recipes, tracking


def prepare(cfg: dict[str, Any]) -> tuple[Dataset, dict[str, pd.DataFrame], sources.Source]:
    """Load, clean and split the data (everything before the model); fails early on bad input."""
    source = sources.get_source(cfg["dataset"], cfg["hf_config"], cfg["hf_revision"])
    dataset = load_dataset(source, cfg)
    report = dataset.report
    say(
        f"data: {source.name} | task {dataset.task} | {len(dataset.label_names)} labels | "
        f"detected separator {report['detected']['separator']!r}, encoding {report['detected']['encoding']}"
    )
    if source.hub_dataset and source.hub_revision:
        say(
            f"  Hugging Face dataset {source.hub_dataset}"
            + (f" ({source.hub_config})" if source.hub_config else "")
            + f" at commit {source.hub_revision}"
            + (
                f"; splits left out: {', '.join(report['splits_left_out'])}"
                if report.get("splits_left_out")
                else ""
            )
        )
    for part, cleaning in report["cleaning"].items():
        say(
            f"  {part}: {cleaning['rows_read']} rows read, dropped {cleaning['dropped_empty_text']} empty "
            "texts, "
            f"{cleaning['dropped_missing_label']} missing labels, {cleaning['dropped_duplicates']} "
            "duplicates, "
            f"{cleaning['dropped_conflicting']} rows of {cleaning['conflicting_texts']} texts with "
            "conflicting labels"
        )
    splits = split.make_splits(dataset, cfg["validation_size"], cfg["test_size"], cfg["manual_seed"])
    report["split"] = splits.report
    sketches = leakage.Sketches()  # each text's near-duplicate signature, computed once for both steps
    if cfg["dedupe"] == "near":
        splits, moved = leakage.separate(splits, splits.report["carved"], sketches)
        report["split"]["near_duplicates"] = moved
        say(f"  dedupe=near: {moved}")
    if dataset.task != "multilabel" and 0 < cfg["max_train_rows"] < len(dataset.label_names):
        raise UserError(
            f"max_train_rows={cfg['max_train_rows']} is below the {len(dataset.label_names)} classes: "
            "a stratified sample needs a row of each; raise it or set 0 for all rows"
        )
    if cfg["max_train_rows"] and len(splits["train"]) > cfg["max_train_rows"]:
        report["split"]["train_rows_before_cap"] = len(splits["train"])
        splits["train"] = _subsample(splits["train"], cfg["max_train_rows"], dataset.task, cfg["manual_seed"])
        say(f"  training rows capped at {cfg['max_train_rows']} (max_train_rows)")
    sizes = {k: len(v) for k, v in splits.items()}
    report["split"]["sizes"] = sizes  # the rows trained and evaluated on (run.json, the card): after the cap
    say(f"split: {sizes} (carved: {report['split']['carved'] or 'none'}, given: {report['split']['given']})")
    report["leakage"] = leakage.report(splits, sketches=sketches)
    say(f"  leakage check: {leakage.summary(report['leakage'])}")
    return dataset, splits, source


def _subsample(frame: pd.DataFrame, n: int, task: str, seed: int) -> pd.DataFrame:
    if task == "multilabel":
        return frame.sample(n=n, random_state=seed).reset_index(drop=True)
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(frame, train_size=n, random_state=seed, stratify=frame["labels"])
    return kept.reset_index(drop=True)


def check_disk(path: Path, base_model: str, epochs: float) -> None:
    """Refuse to start when the checkpoints would not fit (weights + 2x optimizer state per epoch)."""
    weights = Path(base_model) / "model.safetensors"
    size = weights.stat().st_size if weights.exists() else 500 * 2**20
    need = int(size * 3 * (np.ceil(epochs) + 1) + size)
    free = shutil.disk_usage(path).free
    if free < need:
        raise UserError(
            f"not enough disk for the checkpoints: about {need / 2**30:.1f} GiB needed in {path}, "
            f"{free / 2**30:.1f} GiB free; free some space or set outputs_dir elsewhere"
        )


# Set while the finished run is being published: a stop signal then waits until the run is in place,
# so an interrupt can never strand a trained model between its clean-up and its publication.
PUBLISHING = threading.Event()


def _install_stop_handlers() -> None:
    """SIGTERM and Ctrl-C stop training; the last epoch checkpoint stays for RESUME=1. The flag makes
    the stop stick even where a library catches the KeyboardInterrupt."""

    def handler(signum, frame):
        from scripts.training.st.patches import STOP

        if STOP.is_set():  # already stopping (torchrun forwards the signal it got too): let clean-up finish
            return
        STOP.set()
        if not PUBLISHING.is_set():
            raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


def choose_model(cfg: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The base model, its architecture and the precision, before any data is read."""
    base = base_model.resolve_model_name(cfg["model_name"], cfg["allow_pickle_weights"])
    architecture = architectures.resolve(cfg["model_type"], base, runtime.offline())
    if cfg["model_type"] == "auto":
        say(f"model_type=auto -> {architecture} (config.json of {cfg['model_name']})")
    tracking.check(cfg.get("report_to", "none"))
    precision, why = runtime.resolve_precision(cfg["precision"])
    say(f"precision={cfg['precision']} -> {precision} ({why})")
    return base, {"model_type": architecture, "precision": precision}


LENGTH_SAMPLE = 20_000  # training texts measured when max_seq_length is given: the share cut within 1 %


def choose_max_seq_length(
    cfg: dict[str, Any], base: str, tokenizer: Any, train_texts: list[str]
) -> tuple[int, dict[str, Any]]:
    """auto: the 99th percentile of the training texts' token lengths; never above the model's positions."""
    limit = base_model.position_limit(base, tokenizer)
    if cfg["max_seq_length"] == "auto":
        max_len, stats = base_model.auto_max_seq_length(
            tokenizer, train_texts, min(cfg["max_seq_length_cap"], limit)
        )
        say(
            f"max_seq_length=auto -> {max_len} (99th percentile of training token lengths {stats['p99']}, "
            "rounded up "
            f"to 8, cap {cfg['max_seq_length_cap']}; {stats['truncated_share_pct']}% of texts truncated)"
        )
        return max_len, {**stats, "auto": True}
    max_len = int(cfg["max_seq_length"])
    if max_len > limit:
        say(f"max_seq_length={max_len} is above the model's {limit} positions: {limit} is used")
        max_len = limit
    # The share cut (what truncation=auto decides on) from a sample: a big file is not tokenised twice
    rng = np.random.default_rng(cfg["manual_seed"])
    sample = [train_texts[i] for i in rng.permutation(len(train_texts))[:LENGTH_SAMPLE]]
    stats = base_model.length_stats(base_model.token_lengths(tokenizer, sample), max_len)
    say(
        f"max_seq_length={max_len}: {stats['truncated_share_pct']}% of training texts are longer"
        + (f" (a sample of {LENGTH_SAMPLE:,})" if len(sample) < len(train_texts) else "")
    )
    return max_len, stats


def choose_truncation(cfg: dict[str, Any], tokenizer: Any, stats: dict[str, Any]) -> str:
    """truncation: head | tail | head+tail, or auto (head+tail when many training texts are cut), said
    with its reason. The cut needs a fast tokenizer's character offsets."""
    mode, why = truncation.choose(cfg["truncation"], stats.get("truncated_share_pct", 0.0))
    if mode != "head" and not getattr(tokenizer, "is_fast", False):
        if cfg["truncation"] != "auto":
            raise UserError(
                f"truncation={mode!r} needs a fast tokenizer (character offsets) and {cfg['model_name']!r} "
                "has none; use truncation=head"
            )
        mode, why = "head", "the tokenizer has no character offsets (not a fast tokenizer)"
    say(f"truncation={cfg['truncation']} -> {mode} ({why})")
    return mode


@dataclass
class Plan:
    """One training, resolved: the config with every "auto" filled in, the balanced training frame and
    the validation frame (labels encoded), the sequence length and the selection metric."""

    cfg: dict[str, Any]
    balanced: balance.Balanced
    train_df: pd.DataFrame
    val_df: pd.DataFrame
    max_len: int
    stats: dict[str, Any]
    threads: int
    metric_name: str
    metric_fn: Any


def make_plan(cfg: dict[str, Any], dataset: Dataset, splits: dict[str, pd.DataFrame], base: str) -> Plan:
    """Balancing, sequence length and the "auto" hyperparameters, each said with its reason. Reads the
    train and validation splits only (a sweep's trials never pass a test split)."""
    from scripts.evaluation.metrics import selection_metric

    balanced = balance.rebalance(
        splits["train"],
        dataset.task,
        dataset.label_names,
        cfg["balance"],
        cfg["balance_ratio"],
        cfg["pos_weight_cap"],
        cfg["manual_seed"],
    )
    say(
        f"balance: {balanced.method} ({balanced.reason}); train counts {balanced.counts_before} -> "
        f"{balanced.counts_after}"
    )
    tokenizer = base_model.load_tokenizer(base)  # one load for the length, the truncation and the cut
    max_len, stats = choose_max_seq_length(cfg, base, tokenizer, splits["train"]["text"].tolist())
    cut = choose_truncation(cfg, tokenizer, stats)
    positives = (
        int((splits["validation"]["labels"] == dataset.positive_label).sum())
        if dataset.task == "binary"
        else 0
    )
    chosen, reasons = recipes.choose(
        cfg, dataset.task, len(splits["train"]), len(dataset.label_names), positives
    )
    cfg = {**cfg, **chosen}
    runtime_chosen, runtime_reasons = recipes.choose_runtime(cfg, rows_per_epoch=len(balanced.train))
    for reason in reasons + runtime_reasons:
        say(f"recipe: {reason}")
    cfg = {
        **cfg,
        **runtime_chosen,
        "max_seq_length": max_len,
        "truncation": cut,
        "balance": balanced.method,
        "task": dataset.task,
        "positive_label": dataset.positive_label or cfg["positive_label"],
    }
    threads = runtime.set_threads(cfg["threads"])
    positive_id = dataset.label_names.index(dataset.positive_label) if dataset.positive_label else None
    metric_name, metric_fn = selection_metric(dataset.task, positive_id)
    # The model sees long texts cut by the truncation rule, in training and in its validation pass alike
    # (make eval, predict and the app apply the same rule from quickfit.json).
    train_df, val_df = (
        frame.assign(
            encoded=encode_labels(frame["labels"], dataset.label_names, dataset.task),
            text=truncation.fit(frame["text"].tolist(), tokenizer, max_len, cut),
        )
        for frame in (balanced.train, splits["validation"])
    )

    return Plan(cfg, balanced, train_df, val_df, max_len, stats, threads, metric_name, metric_fn)


def train_run(
    cfg: dict[str, Any],
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
) -> Path | None:
    """The whole training job, top to bottom; returns the published run folder (None on the ranks other
    than 0 of a multi-process run). `search`: the sweep that
    chose these hyperparameters (make sweep's best.json), recorded with the run and on its card."""
    from scripts.common import resume as resuming
    from scripts.evaluation.plots import training_curves
    from scripts.training.st.patches import STOP

    STOP.clear()
    started = time.time()
    out = runs.outputs_dir(cfg)
    runs.check_writable(out)
    interrupted = resuming.find(out) if resume else None
    if interrupted:
        cfg = resuming.config(interrupted, overrides or {})
        say(
            f"resuming {interrupted.work.name} after epoch {interrupted.epoch} from "
            f"{interrupted.checkpoint.name}"
        )
    requested = interrupted.saved["requested"] if interrupted else dict(cfg)  # before "auto" is resolved

    # 1. the model, before any data is read
    base, resolved = choose_model(cfg)
    cfg = {**cfg, **resolved}

    # 2. data and split (a resumed run continues on the split it saved)
    dataset, splits, source = prepare(cfg)
    if interrupted:
        splits = resuming.saved_splits(interrupted, source, dataset.task)
        say(f"  the split saved with the run is used ({ {k: len(v) for k, v in splits.items()} })")

    # 3. the recipe: balancing, sequence length, "auto" hyperparameters (every resolved value is saved)
    plan = make_plan(cfg, dataset, splits, base)
    cfg, balanced, train_df = plan.cfg, plan.balanced, plan.train_df
    max_len, stats, threads, grouped = plan.max_len, plan.stats, plan.threads, plan.cfg["length_grouping"]
    cut = plan.cfg["truncation"]
    metric_name = plan.metric_name

    # 4. train in outputs/.incomplete/<run>; published only when complete
    name = interrupted.work.name if interrupted else runs.new_run_name(source.name, cfg["run_name"])
    if not interrupted:
        check_disk(out, base, cfg["num_train_epochs"])

    def has_checkpoint(work: Path) -> bool:
        return bool(checkpoints.last_checkpoint(work / "checkpoints"))

    world = distributed.current()
    if not world.main:  # another rank of `make train NPROC=N`: train in step with rank 0, keep nothing
        with runs.rank_scratch() as scratch:
            train_with_plan(plan, dataset, base, scratch, interrupted)
        return None
    with runs.workspace(
        out, name, existing=interrupted.work if interrupted else None, resumable=has_checkpoint
    ) as work:
        if interrupted:
            resuming.keep_history_before(interrupted)
        else:
            runs.write_json(
                work / "config.json",
                {
                    "flat": cfg,
                    "requested": requested,
                    "sections": settings.by_section(cfg),
                    "data": resuming.fingerprint(source),
                    "world_size": world.size,
                },
            )
            (work / "splits").mkdir()
            for part, frame in splits.items():
                save_split(frame, work / "splits" / f"{part}.csv")
        say(
            f"training {cfg['model_type']} {cfg['model_name']} for up to {cfg['num_train_epochs']} epochs on "
            f"{len(train_df)} rows ({threads} threads, {cfg['precision']}); best epoch chosen on validation "
            f"{metric_name}; batches "
            + ("grouped by length" if grouped else "in random order")
            + f" (length_grouping={cfg['length_grouping']}), each trimmed to its longest text"
            + (
                ", cut into sub-batches of similar length where that saves padding"
                if cfg["sub_batches"]
                else ""
            )
        )
        if world.distributed:
            say(
                f"{world.size} processes ({world.backend}): each global batch of {cfg['train_batch_size']} "
                f"rows (train_batch_size) is shared between them, about "
                f"{cfg['train_batch_size'] // world.size} rows each; rank 0 evaluates and writes"
            )
        train_started = time.time()
        try:
            result = train_with_plan(plan, dataset, base, work, interrupted)
        except RuntimeError as exc:
            if not world.distributed:
                raise
            # another rank died under a collective: keep the last epoch checkpoint, as an interrupt does
            raise KeyboardInterrupt(f"lost a training process: {str(exc).splitlines()[0][:160]}") from exc
        train_seconds = time.time() - train_started

        # 5. check the saved model, tune thresholds on validation, write the record
        base_model.write_label_map(
            result.model_dir,
            dataset.label_names,
            dataset.task,
            {"positive_label": dataset.positive_label, "max_seq_length": max_len, "truncation": cut},
        )
        logits = _check_saved_model(result, splits["validation"], cfg)
        temperature, calibration_info, validation_probs = _calibrate(
            logits, dataset, splits["validation"], cfg
        )
        tuned, threshold_info = _tune_thresholds(dataset, cfg, splits["validation"], validation_probs)
        base_model.write_label_map(
            result.model_dir,
            dataset.label_names,
            dataset.task,
            {
                "positive_label": dataset.positive_label,
                "max_seq_length": max_len,
                "truncation": cut,
                "thresholds": tuned,
                "thresholds_tuned_on": "validation" if tuned else None,
                "model_type": cfg["model_type"],
                "temperature": temperature,
            },
        )
        training_curves(result.history, metric_name, work / "training_curve.png")
        record = {
            "run": work.name,
            "created": time.strftime("%Y-%m-%d %H:%M:%S"),
            "command": provenance.command_line(),
            "task": dataset.task,
            "labels": dataset.label_names,
            "positive_label": dataset.positive_label,
            "dataset": {
                "name": source.name,
                "description": source.description,
                "citation": source.citation,
                "license": source.license,
                "language": source.language,
                "hub_dataset": source.hub_dataset,
                "hub_config": source.hub_config,
                "hub_revision": source.hub_revision,
                **dataset.report,
            },
            "counts": {part: label_counts(frame, dataset.task) for part, frame in splits.items()},
            "balance": {
                "method": balanced.method,
                "reason": balanced.reason,
                "before": balanced.counts_before,
                "after": balanced.counts_after,
                "class_weight": balanced.class_weight,
                "pos_weight": balanced.pos_weight,
            },
            "max_seq_length": max_len,
            "truncation": cut,
            "token_lengths": stats,
            "length_grouping": bool(grouped),
            "grouping_class_mix": bool(cfg["grouping_class_mix"]),
            "sub_batches": bool(cfg["sub_batches"]),
            "sub_batch_pass_cost": result.pass_cost,
            "precision": cfg["precision"],
            "threads": threads,
            "distributed": {"world_size": world.size, "backend": world.backend or "none"},
            "model": {
                "model_type": cfg["model_type"],
                "model_name": cfg["model_name"],
                "base_model": base_model.hub_base_model(cfg["model_name"]),
            },
            "selection_metric": metric_name,
            "best_epoch": result.best_epoch,
            "validation_best": result.best_metric,
            "thresholds": threshold_info,
            "calibration": calibration_info,
            "resumed": bool(interrupted),
            "hyperparameter_search": search,
            "train_seconds": round(train_seconds, 1),
            "total_seconds": round(time.time() - started, 1),
            "versions": provenance.versions(),
            "hardware": provenance.hardware(),
        }
        runs.write_json(work / runs.RECORD, record)
        tracking.log_mlflow(cfg.get("report_to", "none"), record, result.history, cfg)

        # 6. publish, then drop the checkpoints; a stop signal waits for both
        PUBLISHING.set()
        try:
            final = runs.publish(work, out)
            for scratch in ("checkpoints", "cache"):
                shutil.rmtree(final / scratch, ignore_errors=True)
            (final / "history_before_resume.csv").unlink(missing_ok=True)
        finally:
            PUBLISHING.clear()
    say(f"best epoch {result.best_epoch}: validation {metric_name} = {result.best_metric:.4f}")
    say(f"run saved to {final} ({train_seconds:.0f} s training); outputs/latest points at it")
    return final


def train_with_plan(
    plan: Plan,
    dataset: Dataset,
    base: str,
    work: Path,
    interrupted: Any = None,
    on_epoch: Any = None,
):
    """model.train with everything the plan resolved (make train, and each sweep trial)."""
    from scripts.training import fit

    cfg = plan.cfg
    return fit.train(
        dataset.task,
        cfg["model_type"],
        base,
        dataset.label_names,
        plan.train_df,
        plan.val_df,
        cfg,
        work,
        plan.max_len,
        plan.metric_name,
        plan.metric_fn,
        plan.balanced.class_weight,
        plan.balanced.pos_weight,
        resume_from=interrupted.checkpoint if interrupted else None,
        start_epoch=interrupted.epoch if interrupted else 0,
        precision=cfg["precision"],
        on_epoch=on_epoch,
    )


# How far the saved model's validation probabilities may drift from the training-time ones: float
# round-off in fp32 (padding per batch instead of to max_seq_length); half precision rounds more.
SAVED_MODEL_TOLERANCE = {"fp32": 1e-4, "fp16": 2e-2, "bf16": 5e-2}


def _check_saved_model(result, validation: pd.DataFrame, cfg: dict[str, Any]) -> np.ndarray:
    """Load the saved folder as every later stage will (plain transformers) and check it reproduces the
    validation probabilities of the chosen epoch as computed during training: a head that does not
    round-trip, a tokenizer that differs, or weights that were not saved are caught here, not on the Hub."""
    from scripts.evaluation.calibration import activate
    from scripts.model.inference import load_predictor

    predictor = load_predictor(result.model_dir, cfg["threads"])
    logits = predictor.predict_logits(validation["text"].tolist(), cfg["eval_batch_size"])
    probs = activate(logits, predictor.task)
    drift = float(np.abs(probs - result.validation_probs).max()) if len(probs) else 0.0
    if drift > SAVED_MODEL_TOLERANCE[cfg["precision"]]:
        raise UserError(
            f"the saved {cfg['model_type']} model does not reproduce its training-time validation "
            f"probabilities (largest difference {drift:.2e}); nothing was published. Please report "
            "this with the model_name"
        )
    say(
        f"saved model checked: reloaded with plain transformers it gives the training-time validation "
        f"probabilities (largest difference {drift:.1e})"
    )
    return logits


def _calibrate(
    logits: np.ndarray, dataset: Dataset, validation: pd.DataFrame, cfg: dict[str, Any]
) -> tuple[Any, dict[str, Any] | None, np.ndarray]:
    """Temperature scaling fitted on validation (calibrate=True): the temperature, what it did there, and
    the calibrated validation probabilities the thresholds are then tuned on."""
    from scripts.evaluation import calibration

    before = calibration.activate(logits, dataset.task)
    if not cfg["calibrate"]:
        return None, None, before
    y = np.array(encode_labels(validation["labels"], dataset.label_names, dataset.task))
    temperature = calibration.fit_temperature(logits, y, dataset.task)
    after = calibration.activate(logits, dataset.task, temperature)
    info = {
        "temperature": temperature,
        "fitted_on": "validation",
        "rows": len(y),
        "validation_ece_before": calibration.ece(before, y, dataset.task),
        "validation_ece_after": calibration.ece(after, y, dataset.task),
    }
    shown = (
        temperature if isinstance(temperature, float) else f"{min(temperature):.2f}-{max(temperature):.2f}"
    )
    say(
        f"temperature scaling on validation: T={shown}, ECE {info['validation_ece_before']:.4f} -> "
        f"{info['validation_ece_after']:.4f}"
    )
    return temperature, info, after


def _tune_thresholds(
    dataset: Dataset, cfg: dict[str, Any], validation: pd.DataFrame, probs: np.ndarray
) -> tuple[list[float], dict[str, Any] | None]:
    """Multi-label always, binary when asked: thresholds from the validation split only."""
    if dataset.task == "multiclass" or (dataset.task == "binary" and not cfg["tune_binary_threshold"]):
        return [], None
    y = np.array(encode_labels(validation["labels"], dataset.label_names, dataset.task))
    if dataset.task == "binary":
        pos = dataset.label_names.index(dataset.positive_label)
        t, f1 = thresholds.best_threshold((y == pos).astype(int), probs[:, pos])
        say(f"binary threshold tuned on validation: {t:.2f} (validation F1 {f1:.4f})")
        return [t], {"values": {dataset.positive_label: t}, "tuned_on": "validation", "rows": len(y)}
    tuned, curves = thresholds.tune_per_label(y, probs)
    say(f"per-label thresholds tuned on {len(y)} validation rows (range {min(tuned):.2f}-{max(tuned):.2f})")
    return tuned, {
        "values": dict(zip(dataset.label_names, tuned)),
        "tuned_on": "validation",
        "rows": len(y),
        "grid": thresholds.GRID.tolist(),
        "curves": curves,
    }


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m scripts.train", description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="a CSV/TSV/JSON path or preset name (sets `dataset`)")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    parser.add_argument("--resume", action="store_true", help="continue the last interrupted run")
    parser.add_argument("--nproc", help="training processes on this machine, through torchrun (NPROC=)")
    parser.add_argument(
        "--torchrun-args", default="", help="torchrun options for several machines (TORCHRUN_ARGS=)"
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    args = parse_args(argv)
    overrides = settings.parse_overrides(args.set)
    if args.data:
        overrides["dataset"] = args.data
    cfg = settings.resolve(overrides)
    if (args.nproc or args.torchrun_args) and not distributed.current().distributed:
        from scripts.training import launch

        return launch.torchrun(args.nproc or "1", args.torchrun_args, launch.worker_argv(argv))
    world = distributed.start()
    _install_stop_handlers()
    try:
        train_run(cfg, resume=args.resume, overrides=overrides)
    except Exception:
        from scripts.training.st.patches import STOP

        if world.distributed and not world.main and STOP.is_set():
            return 130  # stopped with the others (rank 0 says so); its broken collective is no news
        raise
    except KeyboardInterrupt as exc:
        if getattr(exc, "resumable", False):
            print(
                "interrupted: the last good run is unchanged; continue from the last epoch checkpoint with "
                "`make train RESUME=1" + (f" NPROC={world.size}`" if world.distributed else "`")
            )
        else:
            print(
                "interrupted before the first epoch was checkpointed: nothing was kept and the last good "
                "run is "
                "unchanged; run `make train` again"
            )
        return 130
    finally:
        distributed.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(run_cli(main))
