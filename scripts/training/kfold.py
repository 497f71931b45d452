"""Model selection that holds at small sizes. A validation split of a handful of rows cannot choose an
epoch (one text more or less right decides it) nor fit a temperature or a threshold. Under
MIN_VALIDATION_ROWS carved validation rows, the labelled rows (train + validation) are cut into FOLDS
folds: each fold is trained on the others and scores its held-out rows after every epoch; the epoch with
the best pooled out-of-fold score is chosen, and the final model is trained on all the labelled rows for
that many epochs. Calibration and thresholds are then fitted on the out-of-fold scores of that epoch.
On a body that can carry it, the frozen probe is one more candidate on the same folds, shipped instead of
a fine-tune when it scores best (probe_candidate.py).
"""

from __future__ import annotations

import dataclasses
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from scripts.common.console import quiet, say
from scripts.data.dataset import Dataset
from scripts.training.folds import FOLDS, fold_indices, near_copy_groups

SETTINGS = ("auto", "validation", "kfold")
NOT_DISTRIBUTED = (
    "model_selection=kfold trains its folds in one process, and this run starts several (NPROC or "
    "torchrun): k-fold is for small data, which one process trains in minutes; drop NPROC, or set "
    "model_selection=validation"
)
MIN_VALIDATION_ROWS = 50  # fewer carved validation rows than this: k-fold chooses the epoch
# ... or fewer than this many a label: 89 rows cannot choose 28 labels' thresholds (GoEmotions at 16 per
# label: k-fold with the small-data recipe 0.2122 and 0.2347 macro-F1 against 0.1695 and 0.1836;
# bench/SMALL_DATA.md)
MIN_VALIDATION_ROWS_PER_LABEL = 5
MAX_ROWS = 2_000  # above: a carved validation split holds enough rows, and folds would cost too much
FINE_TUNE = "fine-tune"  # what a k-fold run ships unless the frozen probe wins (runs.SHIPPED_PROBE)


@dataclass
class Selection:
    """How the epoch count was chosen, and (k-fold) the out-of-fold scores it was chosen on."""

    method: str
    reason: str
    rows: pd.DataFrame | None = None  # the labelled rows, in the order of oof_logits
    oof_logits: np.ndarray | None = None  # the chosen epoch's out-of-fold logits (log-odds, multi-label)
    by_epoch: np.ndarray | None = None  # every epoch's: the bias correction replays the choice
    groups: np.ndarray | None = None  # each row's near-copy cluster, the folds' and the bootstrap's unit
    epoch: int | None = None  # the fine-tune's chosen epoch count
    per_epoch: list[float] = dataclasses.field(default_factory=list)
    losses: list[float] = dataclasses.field(default_factory=list)  # the tie-break's, by epoch
    splits: list[tuple[np.ndarray, np.ndarray]] = dataclasses.field(default_factory=list)  # (train, held)
    probe_unavailable: str | None = None  # why the frozen probe is not a candidate (None: it is)
    probe_score: float | None = None  # its out-of-fold score, when it was one
    shipped: str = FINE_TUNE  # or runs.SHIPPED_PROBE

    def chosen_score(self) -> float:
        """The out-of-fold score of what ships."""
        if self.shipped != FINE_TUNE:
            return float(self.probe_score)
        return self.per_epoch[self.epoch - 1]

    def record(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "reason": self.reason,
            "folds": len(self.splits) or None,
            "rows": None if self.rows is None else len(self.rows),
            "epoch": self.epoch,
            "out_of_fold_by_epoch": [round(v, 6) for v in self.per_epoch] or None,
            "probe_candidate": (
                self.probe_unavailable
                if self.probe_score is None
                else {"out_of_fold": round(self.probe_score, 6)}
            ),
            "shipped": self.shipped,
        }


def enough_validation_rows(n_labels: int) -> int:
    """The fewest validation rows that can choose an epoch and the thresholds of n_labels labels."""
    return max(MIN_VALIDATION_ROWS, MIN_VALIDATION_ROWS_PER_LABEL * n_labels)


def choose(
    setting: str, splits: dict[str, pd.DataFrame], carved: bool, distributed: bool, n_labels: int = 2
) -> Selection:
    """kfold or validation, with the reason, from the setting and the size of the validation split."""
    n_val, n_rows = len(splits["validation"]), len(splits["train"]) + len(splits["validation"])
    enough = enough_validation_rows(n_labels)
    if setting == "kfold":
        if distributed:
            from scripts.common.errors import UserError

            raise UserError(NOT_DISTRIBUTED)
        return Selection("kfold", "set in the config")
    if setting == "validation":
        return Selection("validation", "set in the config")
    if distributed:
        return Selection("validation", "a multi-process run selects on its validation split")
    if not carved:
        return Selection("validation", "the dataset's own validation split is used as given")
    if n_val >= enough or n_rows > MAX_ROWS:
        return Selection("validation", f"{n_val} validation rows are enough to choose the epoch")
    per_label = f" for {n_labels} labels" if enough > MIN_VALIDATION_ROWS else ""
    return Selection(
        "kfold",
        f"{n_val} validation rows (< {enough}{per_label}) cannot choose an epoch: {FOLDS}-fold "
        f"cross-validation on all {n_rows} labelled rows chooses it, then the model trains on all of them",
    )


def pooled(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    return pd.concat([splits["train"], splits["validation"]], ignore_index=True)


def cross_validate(plan: Any, dataset: Dataset, base: str, work: Path, train_fn: Any) -> Selection:
    """Train each fold for the plan's epochs and keep every epoch's out-of-fold outputs; the epoch whose
    pooled out-of-fold score is best is chosen. `train_fn(plan, dataset, base, work)` trains one plan."""
    from scripts.training.plan import make_plan

    rows = plan.selection.rows
    epochs = int(plan.cfg["num_train_epochs"])
    oof = None
    groups = near_copy_groups(rows, dataset)
    clustered = len(groups) - len(np.unique(groups))
    if clustered:
        say(
            f"k-fold: {clustered} of {len(rows)} rows are near-copies of another (Jaccard >= 0.8 on "
            "character 5-grams): each cluster stays within one fold, so no fold scores a copy of a row it "
            "trained on"
        )
    folds = fold_indices(rows, dataset, plan.cfg["manual_seed"], groups)
    # every fold runs every epoch, and keeps only each epoch's out-of-fold outputs
    fold_cfg = {**plan.cfg, "use_early_stopping": False, "checkpoint_files": "outputs"}
    for k, (train_idx, held_idx) in enumerate(folds, 1):
        say(f"k-fold: fold {k} of {len(folds)} ({len(train_idx)} rows to train, {len(held_idx)} held out)")
        fold_splits = {"train": rows.iloc[train_idx], "validation": rows.iloc[held_idx]}
        with quiet():
            fold_plan = make_plan(fold_cfg, dataset, fold_splits, base)
        fold_work = work / "folds" / str(k)
        fold_work.mkdir(parents=True)
        train_fn(fold_plan, dataset, base, fold_work)
        # each fold's outputs in the data's units (a regression fold standardises with its own rows)
        outputs = dataset.kind.from_model(
            epoch_outputs(fold_work / "checkpoints", epochs), fold_plan.cfg["target_scale"]
        )
        if oof is None:
            oof = np.zeros((epochs, len(rows), outputs.shape[2]), dtype=np.float32)
        oof[:, held_idx] = outputs
        shutil.rmtree(fold_work, ignore_errors=True)
    shutil.rmtree(work / "folds", ignore_errors=True)
    y = dataset.kind.encode(rows["labels"], dataset.label_names)
    scores = [float(plan.metric_fn(y, logits)) for logits in oof]
    losses = [log_loss(dataset.kind, y, logits) for logits in oof]
    best = best_epoch(scores, losses)
    say(
        f"k-fold: out-of-fold {plan.metric_name} by epoch "
        + " ".join(f"{s:.3f}" for s in scores)
        + f" -> {best + 1} epochs (ties broken by out-of-fold log-loss {losses[best]:.4f}); the final "
        f"model is trained on all {len(rows)} rows for that many"
    )
    return dataclasses.replace(
        plan.selection,
        oof_logits=oof[best],
        by_epoch=oof,
        groups=groups,
        epoch=best + 1,
        per_epoch=scores,
        losses=losses,
        splits=folds,
    )


def best_epoch(scores: list[float], losses: list[float]) -> int:
    """The epoch (0-based) with the best out-of-fold score; among epochs tied on it (a few dozen rows give
    coarse scores, and a plateau would otherwise stop at its first, least trained epoch), the one with the
    lowest out-of-fold log-loss."""
    top = max(scores)
    tied = [i for i, s in enumerate(scores) if s >= top - 1e-9]
    return min(tied, key=lambda i: (losses[i], i))


def log_loss(kind: Any, y: np.ndarray, logits: np.ndarray) -> float:
    """Mean out-of-fold loss of the tie-break: log-loss (cross-entropy; per-label binary cross-entropy for
    multi-label), or the mean squared error of a regression's scores."""
    from scripts.evaluation import calibration

    if not kind.has_temperature:
        return float(np.mean((np.asarray(logits) - y.reshape(len(y), -1)) ** 2))
    return float(np.mean(calibration.log_loss(logits, y, kind.name)))


def epoch_outputs(checkpoints: Path, epochs: int) -> np.ndarray:
    """(epochs, held-out rows, outputs): each epoch's raw validation outputs (logits, every task)."""
    from scripts.training.checkpoints import epoch_checkpoint
    from scripts.training.st.patches import VALIDATION_OUTPUTS

    out = []
    for epoch in range(1, epochs + 1):
        raw = np.load(epoch_checkpoint(checkpoints, epoch) / VALIDATION_OUTPUTS, allow_pickle=False)
        out.append(raw.astype(np.float32))
    return np.stack(out)


def plan_for(
    cfg: dict[str, Any],
    dataset: Dataset,
    splits: dict[str, pd.DataFrame],
    base: str,
    carved: bool,
    distributed: bool,
) -> Any:
    """The training plan with its model selection: on the splits as they are, or (kfold) on all the
    labelled rows, which are then both what the final model trains on and what it is checked against."""
    from scripts.training.plan import make_plan

    selection = choose(cfg["model_selection"], splits, carved, distributed, len(dataset.label_names))
    say(f"model_selection={cfg['model_selection']} -> {selection.method} ({selection.reason})")
    if selection.method == "kfold":
        rows = pooled(splits)
        plan = make_plan(cfg, dataset, {"train": rows, "validation": rows}, base)
        from scripts.training import probe_candidate

        why_not = probe_candidate.unavailable(plan.cfg, base)
        selection = dataclasses.replace(selection, rows=rows, probe_unavailable=why_not)
    else:
        plan = make_plan(cfg, dataset, splits, base)
    plan.selection = selection
    return plan


def fit(plan: Any, dataset: Dataset, base: str, work: Path, train_fn: Any, **kwargs: Any) -> Any:
    """train_fn on the plan; with kfold, first the folds, then the final model for the chosen epochs."""
    if not is_kfold(plan):
        return train_fn(plan, dataset, base, work, **kwargs)
    from scripts.training import probe_candidate

    plan.selection = cross_validate(plan, dataset, base, work, train_fn)
    probe = probe_candidate.scored(plan, dataset, base)
    if probe is not None:
        plan.selection = probe_candidate.compete(plan.selection, probe, plan.metric_name)
        if plan.selection.shipped != FINE_TUNE:
            return probe_candidate.ship(plan, dataset, probe, work)
    plan.cfg = {
        **plan.cfg,
        "num_train_epochs": plan.selection.epoch,
        "schedule_epochs": plan.cfg["num_train_epochs"],  # the learning-rate schedule the folds had
        "use_early_stopping": False,
        "keep_last_epoch": True,
        "checkpoint_files": "last",  # a k-fold run is not resumed: its last epoch's weights are the model
    }
    return train_fn(plan, dataset, base, work, **kwargs)


def held_out_rows(plan: Any, splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The rows the saved model is checked on and calibrated with: validation, or all labelled rows."""
    return plan.selection.rows if is_kfold(plan) else splits["validation"]


def is_kfold(plan: Any) -> bool:
    return plan.selection is not None and plan.selection.method == "kfold"


def say_chosen(plan: Any, result: Any) -> None:
    """The last line of a training: the epoch kept and its score (out of fold for k-fold)."""
    if is_kfold(plan):
        s = plan.selection
        chosen = f"{s.epoch} epochs" if s.shipped == FINE_TUNE else f"the {s.shipped}"
        say(f"{chosen}, chosen by k-fold: out-of-fold {plan.metric_name} = {s.chosen_score():.4f}")
    else:
        say(f"best epoch {result.best_epoch}: validation {plan.metric_name} = {result.best_metric:.4f}")


def keep_scores(plan: Any, work: Path) -> None:
    """A k-fold run keeps its out-of-fold logits: make eval's cross-validated estimate."""
    if is_kfold(plan):
        from scripts.evaluation import cross_validated

        s = plan.selection
        cross_validated.save(work, s.oof_logits, s.by_epoch, s.groups)
