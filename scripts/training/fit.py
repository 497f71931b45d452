"""The training call: fine-tune through Simple Transformers (its adapter is training/st/, the only package
that imports it) and keep the best epoch on validation.
"""

from __future__ import annotations

import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.common.runtime import quiet_environment, seed_everything
from scripts.model import architectures, probe_start
from scripts.model.base_model import folds_case, load_tokenizer, safe_model_path
from scripts.model.head_scale import fold_scale_into_head
from scripts.training import distributed, pair_order, tracking
from scripts.training.checkpoints import copy_model_files, epoch_checkpoint, validation_probabilities
from scripts.training.st.batching import GROUP_BATCHES, PASS_COST_POSITIONS
from scripts.training.st.trainer import model_classes

# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    model_dir: Path | None  # None: a k-fold fold, which keeps no model
    history: Any  # pandas DataFrame of per-epoch scores
    best_metric: float | None
    global_step: int
    best_epoch: int
    validation_probs: np.ndarray  # as computed during training, for checking the saved model
    pass_cost: float | None = None  # sub-batches: the pass cost in token positions the cuts used last
    fine_tuned: bool = True  # False: k-fold shipped the frozen probe (training/probe_candidate.py)


# Simple Transformers' settings that every run here needs, the benches included: its feature cache key
# ignores the data (never read a cache), and its forked worker pools deadlock eval after train on a CPU.
OFFLINE_SAFE = {
    "overwrite_output_dir": True,
    "reprocess_input_data": True,
    "no_cache": True,
    "use_multiprocessing": False,
    "use_multiprocessing_for_evaluation": False,
}


def simpletransformers_args(
    cfg: Mapping[str, Any], work: Path, max_seq_length: int, metric_name: str, precision: str = "fp32"
) -> dict[str, Any]:
    """The Simple Transformers args: the user's hyperparameters plus what makes it safe offline and on CPU."""
    return {
        **{
            k: cfg[k]
            for k in (
                "num_train_epochs",
                "learning_rate",
                "train_batch_size",
                "eval_batch_size",
                "warmup_ratio",
                "weight_decay",
                "gradient_accumulation_steps",
                "max_grad_norm",
                "manual_seed",
                "use_early_stopping",
                "early_stopping_patience",
            )
        },
        "max_seq_length": max_seq_length,
        "output_dir": str(work / "checkpoints"),
        "best_model_dir": str(work / "checkpoints" / "best"),
        "cache_dir": str(work / "cache"),
        "tensorboard_dir": str(work / "tensorboard"),
        **OFFLINE_SAFE,
        "use_cached_eval_features": False,
        "dataloader_num_workers": 0,
        "process_count": 1,
        "evaluate_during_training": True,
        "evaluate_during_training_steps": 0,
        "evaluate_each_epoch": True,
        "evaluate_during_training_verbose": False,
        "early_stopping_metric": metric_name,
        "early_stopping_metric_minimize": False,
        "early_stopping_consider_epochs": True,
        "early_stopping_delta": 0.0,
        "save_steps": -1,
        "save_model_every_epoch": True,
        "save_eval_checkpoints": False,
        "save_optimizer_and_scheduler": True,
        **tracking.simpletransformers_args(cfg.get("report_to", "none"), work.name, work),
        "silent": False,
        "logging_steps": 1,  # TensorBoard: loss and learning rate at every step
        # bf16 is autocast by the st trainer; Simple Transformers' own switch is fp16 (autocast + GradScaler)
        "fp16": precision == "fp16",
        "n_gpu": 1,
    }


def train(
    task: str,
    architecture: str,
    model_name: str,
    label_names: list[str],
    train_df,
    eval_df,
    cfg: Mapping[str, Any],
    work: Path,
    max_seq_length: int,
    metric_name: str,
    metric_fn: Callable,
    class_weight: list[float] | None = None,
    pos_weight: list[float] | None = None,
    resume_from: Path | None = None,
    start_epoch: int = 0,
    precision: str = "fp32",
    on_epoch: Callable[[int, float], None] | None = None,
) -> TrainResult | None:
    """Fine-tune with Simple Transformers; returns the best model (on validation) copied to work/model
    (None on ranks other than 0 of a multi-process run, which keep nothing).
    on_epoch(epoch, validation metric) is called after each epoch's evaluation (a sweep prunes there)."""
    from transformers.utils import logging as hf_logging

    quiet_environment()
    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning, module="simpletransformers")
    seed_everything(cfg["manual_seed"])
    world = distributed.current()
    args = simpletransformers_args(cfg, work, max_seq_length, metric_name, precision)
    args["silent"] = not world.main  # one progress bar, rank 0's
    # Simple Transformers' single-label classes pass do_lower_case to the tokenizer (default False): with an
    # uncased vocabulary every capitalised word would become [UNK]. Follow what the base tokenizer does.
    args["do_lower_case"] = folds_case(load_tokenizer(model_name))
    source = _starting_point(
        model_name, resume_from, cfg, task, len(label_names), train_df, max_seq_length, work
    )
    kind = tasks.get(task)
    model = _load_model(
        kind, architecture, model_name, source, len(label_names), args, class_weight, pos_weight
    )
    shutil.rmtree(work / "probe_start", ignore_errors=True)  # loaded: the fine-tune saves its own
    _configure(model, cfg, world, precision, start_epoch, resume_from, on_epoch, metric_name)
    model.task_kind = kind
    train_frame, eval_frame = _frames(train_df, eval_df)
    if cfg.get("swap_pairs") is True:  # after the folds are cut: a swap never sits beside its pair's fold
        train_frame = pair_order.with_swaps(train_frame)
    _score_per_document(model, eval_df)
    eval_key = "eval_df" if kind.head == "multi" else "eval_data"  # the two classes name it differently
    with _no_torchvision_formatting():
        global_step, details = model.train_model(
            train_frame, **{eval_key: eval_frame, metric_name: metric_fn}
        )
    if not world.main:
        return None  # rank 0 keeps the checkpoints and picks the best epoch
    checkpoints, scale = Path(args["output_dir"]), cfg.get("target_scale")
    return _keep_best_epoch(
        model, details, work, checkpoints, resume_from, metric_name, kind, global_step, scale
    )


def _frames(train_df, eval_df) -> tuple[Any, Any]:
    """The training and validation frames as Simple Transformers takes them: text (a pair as text_a and
    text_b, which its training path hands to CompactTokens) and the encoded labels."""
    import pandas as pd

    pair = "text_b" in train_df
    first = "text_a" if pair else "text"
    train_frame = pd.DataFrame({first: train_df["text"].tolist(), "labels": train_df["encoded"].tolist()})
    if pair:
        train_frame.insert(1, "text_b", train_df["text_b"].tolist())
    columns = [c for c in ("text", "text_b") if c in eval_df]
    return train_frame, eval_df[columns].assign(labels=eval_df["encoded"].tolist())


def _starting_point(model_name, resume_from, cfg, task, n_labels, train_df, max_seq_length, work) -> str:
    """What the fine-tune loads: the checkpoint resumed from, the base model, or (probe_start) the base
    with its mean-pooling layer and the head fitted as the probe on these training rows."""
    if resume_from:  # a resumed run's checkpoint has the layer and head already
        return str(resume_from)
    if cfg.get("probe_start") is not True:
        return safe_model_path(model_name)
    rows = tasks.Inputs(pair="text_b" in train_df).rows(train_df), train_df["encoded"].tolist()
    seed = int(cfg["manual_seed"])
    return str(
        probe_start.build(model_name, *rows, task, n_labels, max_seq_length, work / "probe_start", seed)
    )


def _load_model(kind, architecture, model_name, source, num_labels, args, class_weight, pos_weight):
    """Simple Transformers' single- or multi-label model (quickfit's subclasses) on the base weights; a
    regression is its single-label class with `regression` and one output a target."""
    import torch

    classes = model_classes()
    st_type = architectures.simpletransformers_type(architecture)
    use_cuda = torch.cuda.is_available()
    if not kind.classifies:
        args = {**args, "regression": True, "config": {"problem_type": kind.problem_type}}
    try:
        if kind.head == "multi":
            model = classes["multi"](
                st_type, source, num_labels=num_labels, pos_weight=pos_weight, args=args, use_cuda=use_cuda
            )
        else:
            model = classes["single"](st_type, source, num_labels=num_labels, args=args, use_cuda=use_cuda)
            model.set_loss_weight(class_weight)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"could not load model {model_name!r} as {architecture!r}: {str(exc).splitlines()[0][:200]}; "
            "check model_type and model_name (and the network for a Hub id)"
        ) from exc
    # Master weights in fp32 whatever the checkpoint's dtype: transformers 5 keeps a checkpoint's fp16/bf16,
    # which is many times slower on a CPU and breaks fp16 loss scaling on a GPU.
    model.model.float()
    return model


def _score_per_document(model, eval_df) -> None:
    """long_texts=chunks: the validation frame holds windows; the model pools them per document."""
    if "document" in eval_df:
        model.window_owners = eval_df["document"].to_numpy()
        model.document_labels = eval_df.drop_duplicates("document")["encoded"].tolist()


def _configure(model, cfg, world, precision, start_epoch, resume_from, on_epoch, metric_name) -> None:
    """What quickfit's training loop reads from the model: processes, precision, resume point, batching."""
    model.world = world
    model.keep_last_epoch = bool(cfg.get("keep_last_epoch"))
    model.checkpoint_files = cfg.get("checkpoint_files", "all")  # k-fold's trainings keep less
    model.schedule_factor = cfg.get("schedule_epochs", cfg["num_train_epochs"]) / cfg["num_train_epochs"]
    model.precision = precision
    model.start_epoch = start_epoch
    model.resume_dir = resume_from
    model.epoch_callback = (lambda epoch, result: on_epoch(epoch, result[metric_name])) if on_epoch else None
    earlier = Path(model.args.output_dir).parent / "history_before_resume.csv"
    if resume_from and earlier.exists():  # a resumed run's best epoch may be one it ran before
        import pandas as pd

        model.epoch_scores = pd.read_csv(earlier)[metric_name].tolist()
    model.group_batches = GROUP_BATCHES if cfg["length_grouping"] is True else 1  # resolved by recipes.choose
    model.keep_class_mix = bool(cfg.get("grouping_class_mix", False))
    model.pass_cost = PASS_COST_POSITIONS if cfg.get("sub_batches") is True else None  # resolved by recipes


def _keep_best_epoch(
    model, details, work, checkpoints, resume_from, metric_name, kind, global_step, scale=None
):
    """history.csv over every epoch (a resumed run's earlier ones included) and the best epoch's model (a
    regression's target scale folded into its head, so it outputs the data's units)."""
    import pandas as pd

    history = pd.DataFrame(details)
    earlier = work / "history_before_resume.csv"
    if resume_from and earlier.exists():
        history = pd.concat([pd.read_csv(earlier), history], ignore_index=True)
    history["epoch"] = range(1, len(history) + 1)
    history.to_csv(work / "history.csv", index=False)
    # k-fold chose the epoch count on out-of-fold scores: the last epoch is the model (its "validation"
    # was the training rows)
    best_row = history.iloc[-1] if model.keep_last_epoch else history.loc[history[metric_name].idxmax()]
    checkpoint = epoch_checkpoint(checkpoints, int(best_row["epoch"]))
    kept = model.checkpoint_files != "outputs"  # a fold: only its out-of-fold outputs are read
    if kept:
        copy_model_files(checkpoint, work / "model")
        if scale:
            fold_scale_into_head(work / "model", scale)
    return TrainResult(
        model_dir=work / "model" if kept else None,
        history=history,
        best_metric=float(best_row[metric_name]),
        global_step=int(global_step),
        best_epoch=int(best_row["epoch"]),
        validation_probs=validation_probabilities(checkpoint, kind, scale),
        pass_cost=_pass_cost_used(model),
    )


def _pass_cost_used(model) -> float | None:
    """The fixed pass cost, or (bench variant CF) the one fitted from the steps; None: no sub-batches."""
    timer = model.pass_timer
    return timer.measured if timer is not None and timer.fitted else model.pass_cost


@contextmanager
def _no_torchvision_formatting() -> Iterator[None]:
    """Simple Transformers' batches pass through datasets' torch formatter, which (datasets 3.6) imports
    torchvision.io.VideoReader whenever torchvision is installed; recent torchvision (Colab, Kaggle, the
    GPU check's image) has none, and training stopped at its first batch. quickfit has no images. The
    switch is datasets' own module flag, restored afterwards."""
    import datasets.config

    before = datasets.config.TORCHVISION_AVAILABLE
    datasets.config.TORCHVISION_AVAILABLE = False
    try:
        yield
    finally:
        datasets.config.TORCHVISION_AVAILABLE = before
