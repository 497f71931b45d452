"""Default recipes: from the task and the data, choose what the user left as "auto", with a reason.

Rules of thumb measured with the packaged MiniLM (see ../shared/docs/stack-notes.md and the README
results): single-label tasks train well at 5e-5 for 3-4 epochs; multi-label tasks with many rare
labels need a higher rate, more epochs, positive weights and per-label thresholds.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from scripts.common import tasks
from scripts.common.errors import UserError

# What choose() resolves when the config says "auto" (max_seq_length, balance, model_type and precision
# are resolved where their evidence is: the tokenizer, the labels, the model's config and the machine).
AUTO_KEYS = (
    "learning_rate",
    "num_train_epochs",
    "train_batch_size",
    "warmup_ratio",
    "tune_binary_threshold",
    "use_early_stopping",
    "probe_start",
)
# resolved by choose_runtime()
RUNTIME_AUTO_KEYS = ("length_grouping", "grouping_class_mix", "sub_batches", "threads")
# Fewer validation positives than this and the F1-best threshold is set by one or two texts.
MIN_POSITIVES_TO_TUNE = 30
# Length grouping is used from 250 steps on: `make bench` measured that on a 50-step fine-tune it cost
# a lot of minority-class F1 (all-ham batches of short texts push AdamW towards "ham"), while at 250
# steps (bench/QUALITY.md, 3 seeds) grouped runs scored median spam-F1 0.938 against 0.931 in random
# order and 0.922 for Simple Transformers' defaults.
GROUPING_MIN_STEPS = 250
# Below this many training rows the usual recipe runs a few dozen optimizer steps and loses to a linear
# probe on the frozen embeddings (make curve, bench/SMALL_DATA.md: SMS spam at 16 and 64 rows per class).
# The small-data recipe gives it hundreds: batches of 8, 30 epochs at 1e-4, and no early stopping on a
# validation split of a handful of rows (the best epoch on validation is still the one kept).
SMALL_DATA_ROWS = 250
# ... and below this many training rows per label: many labels share few rows (GoEmotions at 16 comments
# per label, 448 rows for 28 labels: macro-F1 0.1695 and 0.1836 with the usual recipe, 0.2122 and 0.2347
# with this one and k-fold selection on the same two draws; Reuters R8 at 64 rows per class, 388 training
# rows for 8 classes: 0.8903 / 0.9083 / 0.9175 with the usual recipe, 0.9249 / 0.9184 / 0.9163 with this
# one on the same three draws; GoEmotions at 64 per label, 1,434 training rows: 0.2408 against 0.4081 on
# one draw; bench/SMALL_DATA.md)
SMALL_ROWS_PER_LABEL = 64
# ... up to about this many optimizer steps: k-fold chose 15 to 19 epochs at 8 rows per class (2 steps an
# epoch, 30 to 38 steps) but 2 to 9 at 64 (15 steps an epoch) on SMS spam (bench/SMALL_DATA.md), so 30
# epochs there only cost time
SMALL_DATA_STEPS = 120


def is_small(n_train: int, n_labels: int) -> bool:
    """Whether the small-data recipe applies: few training rows, or few for each label."""
    return n_train < SMALL_DATA_ROWS or n_train < SMALL_ROWS_PER_LABEL * max(n_labels, 1)


# Multi-label runs start from the probe at every size on a body that can (beyond the small-data cut-over
# too): a fresh head on [CLS], which a mean-pooled sentence-transformers body never trained, learns rare
# labels slowly. GoEmotions at 256 comments a label (6,458 training rows, the usual recipe): macro-F1
# 0.3673 / 0.3752 from a fresh head, 0.4674 / 0.4739 from the probe on the same two draws; the full data
# set (42,820 training rows, seed 42): test macro-F1 0.4944 from a fresh head, 0.5213 from the probe
# (bench/SMALL_DATA.md, bench/EXPERIMENTS.md).
def probe_start_helps(task: str, n_train: int, n_labels: int) -> bool:
    """Whether auto starts the fine-tune from the frozen probe (on a body that can): on small data, and on
    multi-label data of any size."""
    return is_small(n_train, n_labels) or tasks.get(task).rare_labels


def grouping(
    length_setting: Any, mix_setting: Any, rows: int, batch_size: int, epochs: float
) -> tuple[bool, bool]:
    """(length_grouping, grouping_class_mix), resolved. "auto" groups batches by length on every run and,
    on runs under GROUPING_MIN_STEPS steps, keeps each batch's class mix: grouping by length alone made
    one-class batches that cost minority F1 there (bench/GROUPING.md, 5 seeds at 50 steps)."""
    grouped = True if length_setting == "auto" else bool(length_setting)
    short = np.ceil(rows / batch_size) * epochs < GROUPING_MIN_STEPS
    mix = bool(grouped and short) if mix_setting == "auto" else bool(mix_setting)
    return grouped, mix


# A decision table: every "auto" training value in one place, each with its reason, read top to bottom;
# longer than 60 lines on purpose (splitting it would scatter the rules).
def choose(
    cfg: dict[str, Any],
    task: str,
    n_train: int,
    n_labels: int,
    validation_positives: int = 0,
    body_unsuited: str | None = "the body was not checked",
) -> tuple[dict[str, Any], list[str]]:
    """Values for the "auto" hyperparameters and one line of reason for each. body_unsuited: why the base
    cannot start from the frozen probe (scripts/model/probe_start.py), None when it can."""
    chosen: dict[str, Any] = {}
    reasons: list[str] = []

    def pick(key: str, value: Any, why: str) -> None:
        if cfg.get(key) == "auto":
            chosen[key] = value
            reasons.append(f"{key}={value}: {why}")

    small = is_small(n_train, n_labels)
    rows = f"{n_train} training rows" + (
        f", {n_train / n_labels:.0f} a label" if n_train >= SMALL_DATA_ROWS and small else ""
    )
    kind = tasks.get(task)
    if small:
        pick("learning_rate", 1e-4, f"small data ({rows}): larger steps, more of them")
    elif kind.rare_labels:
        pick(
            "learning_rate",
            1e-4,
            f"{kind.word} with {n_labels} labels: rare labels need larger steps than 5e-5",
        )
    else:
        pick("learning_rate", 5e-5, f"the usual fine-tuning rate for a small BERT ({task})")
    steps_per_epoch = max(1, n_train // 16)
    if small:
        steps = int(np.ceil(n_train / 8))
        epochs = int(min(30, max(10, np.ceil(SMALL_DATA_STEPS / steps))))
        why = (
            f"small data ({rows}, {steps} steps an epoch): up to about {SMALL_DATA_STEPS} "
            "steps (10 to 30 epochs), the best epoch kept"
        )
    elif n_train < 1000:
        epochs, why = (
            8,
            f"only {n_train} training rows ({steps_per_epoch} steps an epoch): more passes, the best kept",
        )
    elif n_train > 50_000 and not kind.rare_labels:
        epochs, why = 2, f"{n_train} training rows: two passes are enough"
    else:
        epochs, why = kind.usual_epochs, kind.epochs_why.format(n_labels=n_labels)
    pick("num_train_epochs", epochs, why)
    if small:
        batch, why = 8, f"small data ({rows}): more update steps"
    elif n_train > 20_000:
        batch, why = 32, f"{n_train} rows: larger batches, fewer steps"
    else:
        batch, why = 16, "more update steps than 32"
    pick("train_batch_size", batch, why)
    pick(
        "use_early_stopping",
        not small,
        "a validation split of a handful of rows would stop training after a few lucky epochs"
        if small
        else "stop once validation has not improved for early_stopping_patience epochs",
    )
    start = probe_start_helps(task, n_train, n_labels)
    if start and body_unsuited is None:
        case = (
            f"small data ({rows})"
            if small
            else f"multi-label with {n_train / n_labels:.0f} training rows a label (rare labels learn slowly "
            "from a fresh head on [CLS], which this body never trained)"
        )
        pick(
            "probe_start",
            True,
            f"{case} on a mean-pooled sentence-transformers body: the head reads its "
            "mean through an appended pooling layer and starts as the frozen probe",
        )
    else:
        pick("probe_start", False, body_unsuited if start else "enough rows to train the head from scratch")
    pick(
        "warmup_ratio",
        0.1 if kind.rare_labels else 0.06,
        "a short linear warm-up keeps early steps from wrecking the pretrained weights",
    )
    if kind.threshold_tuning != "one":
        pick(
            "tune_binary_threshold",
            False,
            "not a binary task"
            + (f" ({kind.word} always tunes per-label thresholds)" if kind.threshold_tuning else ""),
        )
    elif validation_positives >= MIN_POSITIVES_TO_TUNE:
        pick(
            "tune_binary_threshold",
            True,
            f"{validation_positives} validation positives: the decision threshold "
            "is tuned there for minority-class F1 (the 0.5 cut-off is reported beside it)",
        )
    else:
        pick(
            "tune_binary_threshold",
            False,
            f"only {validation_positives} validation positives (< "
            f"{MIN_POSITIVES_TO_TUNE}): a tuned threshold would follow one or two texts; 0.5 kept",
        )
    _check_resolved(cfg, chosen, AUTO_KEYS)
    return chosen, reasons


def use_sub_batches(setting: Any) -> bool:
    """Whether training batches run as sub-batches (the sub_batches setting resolved). "auto": on when
    training on the CPU in one process, where one more pass costs tens of token positions (measured by
    the training steps, pass_cost.py); off on a GPU, where sub-batches were not measured end to end, and
    with several processes."""
    from scripts.training import distributed

    several_ranks = distributed.current().distributed
    if setting is True and several_ranks:
        raise UserError(
            "sub_batches=true cannot run with several processes (DistributedDataParallel takes one forward "
            "pass a step): set sub_batches to auto or false"
        )
    if setting != "auto":
        return bool(setting)
    import torch

    return not torch.cuda.is_available() and not several_ranks


def choose_runtime(cfg: dict[str, Any], rows_per_epoch: int) -> tuple[dict[str, Any], list[str]]:
    """length_grouping and threads when "auto", from the run's length (after choose()) and the machine."""
    from scripts.common.runtime import physical_cores

    chosen: dict[str, Any] = {}
    reasons: list[str] = []
    if "auto" in (cfg["length_grouping"], cfg["grouping_class_mix"]):
        steps = int(np.ceil(rows_per_epoch / cfg["train_batch_size"]) * cfg["num_train_epochs"])
        grouped, mix = grouping(
            cfg["length_grouping"],
            cfg["grouping_class_mix"],
            rows_per_epoch,
            cfg["train_batch_size"],
            cfg["num_train_epochs"],
        )
        chosen.update(
            {k: v for k, v in (("length_grouping", grouped), ("grouping_class_mix", mix)) if cfg[k] == "auto"}
        )
        reasons.append(
            f"length_grouping={grouped}, grouping_class_mix={mix}: {steps} training steps: "
            + (
                "batches of similar length"
                + (
                    f", each with its group's class mix (under {GROUPING_MIN_STEPS} steps, batches of one "
                    "class cost minority-class F1)"
                    if mix
                    else ""
                )
                if grouped
                else "random batches"
            )
        )
    if cfg["sub_batches"] == "auto":
        chosen["sub_batches"] = use_sub_batches("auto")
        reasons.append(
            f"sub_batches={chosen['sub_batches']}: "
            + (
                "training on the CPU: a batch of mixed lengths runs as sub-batches of similar length, "
                "one optimizer step"
                if chosen["sub_batches"]
                else "a GPU or several processes: each batch in one pass"
            )
        )
    else:
        use_sub_batches(cfg["sub_batches"])  # refuses what cannot run here
    if cfg["threads"] == "auto":
        chosen["threads"] = physical_cores()
        reasons.append(f"threads={chosen['threads']}: torch CPU threads = the physical cores")
    _check_resolved(cfg, chosen, RUNTIME_AUTO_KEYS)
    return chosen, reasons


def _check_resolved(cfg: dict[str, Any], chosen: dict[str, Any], keys: tuple[str, ...]) -> None:
    """Every key this home resolves leaves it resolved: no "auto" reaches training."""
    left = [k for k in keys if cfg.get(k) == "auto" and k not in chosen]
    if left:
        raise AssertionError(f"recipes left {left} unresolved")
