"""Entry point: settings -> data -> split -> plan -> fit -> finalise -> record -> publish.

python -m scripts.train [--data FILE] [--set KEY=VALUE ...] [--resume] [--debug]
"""

from __future__ import annotations

import argparse
import shutil
import signal
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scripts.common import locks, runs, settings
from scripts.common.console import say
from scripts.common.errors import Parser, UserError, run_cli
from scripts.data.dataset import Dataset, save_split
from scripts.data.prepare import prepare
from scripts.training import checkpoints, distributed, kfold, tracking
from scripts.training.checkpoints import check_disk
from scripts.training.plan import Plan, choose_model, make_plan

__all__ = ["check_disk", "choose_model", "main", "make_plan", "prepare", "train_run", "train_with_plan"]


class LostProcess(KeyboardInterrupt):
    """Another training process died under a collective: the work folder is kept as an interrupt keeps it
    (RESUME=1), but nobody sent a signal, so the exit code is 1, not 130."""


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


def train_run(
    cfg: dict[str, Any],
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    search: dict[str, Any] | None = None,
) -> Path | None:
    """The whole training job, top to bottom; returns the published run folder (None on the ranks other
    than 0 of a multi-process run). `search`: the sweep that chose these hyperparameters (make sweep's
    best.json), recorded with the run and on its card."""
    from scripts.common import resume as resuming

    timing = {"started": time.time()}
    out, interrupted, cfg, requested = _start(cfg, resume, overrides)
    # 1. the model, before any data is read
    base, resolved = choose_model(cfg)
    cfg = {**cfg, **resolved}
    # 2. data and split (a resumed run continues on the split it saved)
    dataset, splits, source = prepare(cfg)
    if interrupted:
        splits = resuming.saved_splits(interrupted, source, dataset.task)
        say(f"  the split saved with the run is used ({ {k: len(v) for k, v in splits.items()} })")
    # 3. the plan: model selection, balancing, sequence length, "auto" hyperparameters, the preflight
    world = distributed.current()
    carved = "validation" in dataset.report.get("split", {}).get("carved", [])
    plan = kfold.plan_for(cfg, dataset, splits, base, carved and not interrupted, world.distributed)
    name = interrupted.work.name if interrupted else runs.new_run_name(source.name, cfg["run_name"])
    if not interrupted:
        check_disk(out, base, plan.cfg["num_train_epochs"])
    if not world.main:  # another rank of `make train NPROC=N`: train in step with rank 0, keep nothing
        with runs.rank_scratch() as scratch:
            train_with_plan(plan, dataset, base, scratch, interrupted)
        return None
    # 4. fit in outputs/.incomplete/<run> (locked to this process); published only when complete
    auto_name = not interrupted and cfg["run_name"] == "auto"
    existing = interrupted.work if interrupted else None
    with (
        locks.run_claimed(out, out / runs.INCOMPLETE, name, auto_name) as name,
        runs.workspace(out, name, existing=existing, resumable=_resumable(plan)) as work,
    ):
        if interrupted:
            resuming.keep_history_before(interrupted)
        else:
            _write_inputs(work, plan.cfg, requested, source, splits, world)
        _say_start(plan, world)
        result = _fit(plan, dataset, base, work, interrupted, world, timing)
        # 5-6. finalise (the saved model checked, calibrated, thresholded on validation) and the record
        _finish(work, plan, dataset, source, splits, result, world, timing, bool(interrupted), search)
        # 7. publish
        final = _publish(work, out)
    kfold.say_chosen(plan, result)
    say(f"run saved to {final} ({timing['train_seconds']:.0f} s training); outputs/latest points at it")
    return final


def _start(cfg: dict[str, Any], resume: bool, overrides: dict[str, Any] | None):
    """The outputs folder (writable), the interrupted run to continue (RESUME=1) and its settings."""
    from scripts.common import resume as resuming
    from scripts.training.st.patches import STOP

    STOP.clear()
    out = runs.outputs_dir(cfg)
    runs.check_writable(out)
    interrupted = resuming.find(out) if resume else None
    if interrupted:
        cfg = resuming.config(interrupted, overrides or {})
        say(
            f"resuming {interrupted.work.name} after epoch {interrupted.epoch} "
            f"from {interrupted.checkpoint.name}"
        )
    requested = interrupted.saved["requested"] if interrupted else dict(cfg)  # before "auto" is resolved
    return out, interrupted, cfg, requested


def _finish(work: Path, plan: Plan, dataset, source, splits, result, world, timing, resumed, search) -> None:
    """The model folder made ready for every later stage, the training curve, run.json, the trackers."""
    from scripts.evaluation.plots import training_curves
    from scripts.training.finalise import finalise
    from scripts.training.record import run_record

    finalised = finalise(result, dataset, kfold.held_out_rows(plan, splits), plan.cfg, plan.selection)
    kfold.keep_scores(plan, work)
    training_curves(result.history, plan.metric_name, work / "training_curve.png")
    record = run_record(
        work.name, plan, dataset, source, splits, result, finalised, world, timing, resumed, search
    )
    runs.write_json(work / runs.RECORD, record)
    tracking.log_mlflow(plan.cfg.get("report_to", "none"), record, result.history, plan.cfg)


def _has_checkpoint(work: Path) -> bool:
    return bool(checkpoints.last_checkpoint(work / "checkpoints"))


def _resumable(plan: Plan):
    """A k-fold run (minutes, on small data) is not resumable: an interrupted one is trained again."""
    return (lambda work: False) if kfold.is_kfold(plan) else _has_checkpoint


def _write_inputs(work: Path, cfg, requested, source, splits, world) -> None:
    """config.json (resolved and requested settings, the data's fingerprint) and the splits, first."""
    from scripts.common import resume as resuming

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
        save_split(frame, work / "splits" / f"{part}.csv", cfg["task"])


def _say_start(plan: Plan, world: distributed.World) -> None:
    cfg = plan.cfg
    say(
        f"training {cfg['model_type']} {cfg['model_name']} for up to {cfg['num_train_epochs']} epochs on "
        f"{len(plan.train_df)} rows{' (and each pair swapped)' if cfg.get('swap_pairs') else ''} "
        f"({plan.threads} threads, {cfg['precision']}); "
        + (
            "the epoch count chosen by k-fold cross-validation first; "
            if kfold.is_kfold(plan)
            else f"best epoch chosen on validation {plan.metric_name}; "
        )
        + "batches "
        + ("grouped by length" if cfg["length_grouping"] else "in random order")
        + f" (length_grouping={cfg['length_grouping']}), each trimmed to its longest text"
        + (", cut into sub-batches of similar length where that saves padding" if cfg["sub_batches"] else "")
    )
    if world.distributed:
        say(
            f"{world.size} processes ({world.backend}): each global batch of {cfg['train_batch_size']} "
            f"rows (train_batch_size) is shared between them, about "
            f"{cfg['train_batch_size'] // world.size} rows each; rank 0 evaluates and writes"
        )


def _fit(plan: Plan, dataset: Dataset, base: str, work: Path, interrupted, world, timing: dict[str, float]):
    started = time.time()
    try:
        result = kfold.fit(plan, dataset, base, work, train_with_plan, interrupted=interrupted)
    except RuntimeError as exc:
        if not world.distributed:
            raise
        # another rank died under a collective: keep the last epoch checkpoint, as an interrupt does
        raise LostProcess(f"lost a training process ({str(exc).splitlines()[0][:160]})") from exc
    timing["train_seconds"] = time.time() - started
    return result


def _publish(work: Path, out: Path) -> Path:
    """Rename the run into outputs/, then drop the checkpoints; a stop signal waits for both."""
    PUBLISHING.set()
    try:
        final = runs.publish(work, out)
        for scratch in ("checkpoints", "cache"):
            shutil.rmtree(final / scratch, ignore_errors=True)
        (final / "history_before_resume.csv").unlink(missing_ok=True)
    finally:
        PUBLISHING.clear()
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


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = Parser(prog="python -m scripts.train", description=__doc__.splitlines()[0])
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
    several = (args.nproc and str(args.nproc).strip() != "1") or args.torchrun_args
    if cfg["model_selection"] == "kfold" and (several or distributed.current().distributed):
        raise UserError(kfold.NOT_DISTRIBUTED)
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
        if isinstance(exc, LostProcess):  # no signal: another rank failed; its own error says why
            print(
                f"stopped: {exc}; the last good run is unchanged"
                + (
                    f"; continue from the last epoch checkpoint with `make train RESUME=1 NPROC={world.size}`"
                    if getattr(exc, "resumable", False)
                    else ""
                )
            )
            return 1
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
